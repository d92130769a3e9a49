"""Turning a question into an answer: ranked sentences become cited excerpts, or an abstention.

Past plain BM25 it uses four general signals, each measured on the dev set (README):
- morphological variants of the question's terms (agree/agreement) at a lower weight;
- a sentence's neighbours in its paragraph as context;
- the kind of answer the question asks for (when -> a date, how many -> a number, who -> a name);
- questions about the document itself (who wrote it) answered from its metadata.
It abstains when the best sentences cover too little of the question's IDF weight.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

import numpy as np

from bot.corpus import Corpus, Document, Sentence, sentence_text
from bot.retriever import Index, QueryTerm, variants
from bot.text import fold_space, term_spans, tokenize, words

VARIANT_WEIGHT = 0.5  # a derived form counts half as much as the word itself
PRESENT_VARIANT_SHARE = 0.2  # ... and a fifth of that when the word itself is in the corpus
CONTEXT_WEIGHT = 0.25  # share of the neighbours' scores a sentence borrows
TYPE_BONUS = 0.3  # relative boost for a sentence holding the kind of answer asked for
MIN_COVERAGE = 0.25  # share of the question's IDF weight the best passage must cover
QUESTION_SENTENCE_FACTOR = 0.5  # a sentence that asks a question rarely answers one
CANDIDATES = 40  # sentences re-ranked with context and answer type


class QuestionError(ValueError):
    """A question that cannot be asked (empty, or longer than the limit)."""


class AnswerType(Enum):
    NONE = "none"
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"


@dataclass(frozen=True)
class Excerpt:
    """Whole sentences of one document that answer (part of) a question."""

    document: Document
    citation: str  # "¶2.3", "¶2.3–4" for two sentences, or "metadata: author"
    text: str  # as it stands in the document, white space folded, no markup
    score: float
    start: int  # span in the document's text
    end: int
    matches: tuple[tuple[int, int], ...] = ()  # spans of `text` that matched the question
    sentence_ids: tuple[int, ...] = ()  # corpus sentence ids (none for metadata)
    truncated: bool = False  # a single sentence over the length limit, cut at a clause

    @property
    def paragraph(self) -> int | None:
        """The paragraph number, for sentence excerpts."""
        m = re.match(r"¶(\d+)", self.citation)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class Answer:
    """The answer to one question: excerpts best first, or an abstention."""

    question: str
    abstained: bool
    excerpts: tuple[Excerpt, ...] = ()
    closest: tuple[Excerpt, ...] = ()  # when abstaining: nearest passages, not an answer
    coverage: float = 0.0
    terms: tuple[str, ...] = field(default=())


_NUMBER = re.compile(
    r"\b(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"dozens?|hundreds?|thousands?|millions?|billions?|half)\b",
    re.IGNORECASE,
)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS})|\b(?:1[5-9]|20)\d\d\b|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this|earlier|later)\s+"
    r"(?:week|month|year|decade|century)\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]*[a-z][\w’'-]*")
_PLACE = re.compile(r"\b(?:in|at|to|from|near|into|outside|inside)\s+(?:the\s+)?([A-Z][\w’'-]+)")
_SPATIAL = re.compile(
    r"\b(?:next to|near|beside|behind|outside|inside|across from|along|opposite|located|situated|"
    r"(?:north|south|east|west)(?:ern)? of)\b",
    re.IGNORECASE,
)

_CLOSERS = " \"'”’»)]*_"
_QUESTION_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_DATE_NOUNS = frozenset({"year", "date", "month", "day", "time", "decade", "century"})
_NUMBER_NOUNS = frozenset({"many", "much", "old", "long", "far", "big", "large", "often", "tall"})
_PLACE_NOUNS = frozenset({"city", "country", "place", "region", "town", "nation", "state", "capital"})
_PERSON_NOUNS = frozenset({"person", "man", "woman", "leader", "official", "president", "name"})


def answer_type(question: str) -> AnswerType:
    """The kind of answer a question asks for, from its question words (English)."""
    ws = list(words(question))
    for i, w in enumerate(ws):
        nxt = ws[i + 1] if i + 1 < len(ws) else ""
        if w == "when":
            return AnswerType.DATE
        if w == "how" and nxt in _NUMBER_NOUNS:
            return AnswerType.NUMBER
        if w in {"what", "which"} and nxt in _DATE_NOUNS:
            return AnswerType.DATE
        if w in {"what", "which"} and nxt in _PLACE_NOUNS:
            return AnswerType.PLACE
        if w in {"what", "which"} and nxt in {"age", "number", "percentage", "amount"}:
            return AnswerType.NUMBER
        if w in {"who", "whom", "whose"} or (w in {"what", "which"} and nxt in _PERSON_NOUNS):
            return AnswerType.PERSON
        if w == "where":
            return AnswerType.PLACE
    return AnswerType.NONE


def type_evidence(sentence: str, kind: AnswerType) -> tuple[frozenset[str], ...]:
    """What in a sentence could be the kind of answer asked for: the terms of each candidate
    (a number, a date, a name, a place); an empty set stands for evidence that needs no check."""
    if kind is AnswerType.NUMBER:
        return (frozenset(),) if _NUMBER.search(sentence) else ()
    if kind is AnswerType.DATE:
        return (frozenset(),) if _DATE.search(sentence) else ()
    if kind is AnswerType.PLACE and _SPATIAL.search(sentence):
        return (frozenset(),)
    pattern = _CAPITALISED if kind is AnswerType.PERSON else _PLACE if kind is AnswerType.PLACE else None
    if pattern is None:
        return ()
    return tuple(frozenset(tokenize(name)) for name in pattern.findall(sentence))


def holds_type(sentence: str, kind: AnswerType, question_terms: frozenset[str]) -> bool:
    """Whether a sentence holds the kind of thing asked for, beyond the question's own words."""
    return _holds(type_evidence(sentence, kind), question_terms)


def _holds(evidence: tuple[frozenset[str], ...], question_terms: frozenset[str]) -> bool:
    # A name counts when it is more than the question's own words ("Kim" does not answer "who").
    return any(not terms or terms - question_terms for terms in evidence)


# Metadata fields and the words that ask for them; the document words say a question is about
# the document itself rather than its content.
_META_WORDS = {
    "author": "author authors writer wrote write written byline journalist reporter correspondent",
    "title": "title headline",
    "published": "published publish publication date dated",
    "source_url": "source url link website outlet",
}
_DOCUMENT_WORDS = "article story piece report document post text"


@lru_cache(maxsize=1)
def _meta_terms() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    fields = {name: frozenset(tokenize(ws)) for name, ws in _META_WORDS.items()}
    return fields, frozenset(tokenize(_DOCUMENT_WORDS))


def _names_title(terms: Sequence[str], title: str) -> bool:
    """Whether the terms are words of the title, and at least half of them."""
    title_terms = set(tokenize(title))
    return set(terms) <= title_terms and 2 * len(set(terms)) >= len(title_terms)


class Composer:
    """Answers questions over one corpus and its index."""

    def __init__(
        self,
        corpus: Corpus,
        index: Index,
        *,
        top_k: int = 3,
        max_question_chars: int = 500,
        max_excerpt_chars: int = 500,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        self.max_excerpt_chars = max_excerpt_chars
        self._max_idf = index.max_idf()
        self._variants = lru_cache(maxsize=50_000)(lambda t: variants(index, t))
        self._term_spans = lru_cache(maxsize=4096)(term_spans)
        self._evidence = lru_cache(maxsize=8192)(lambda i, kind: type_evidence(corpus.sentence(i).text, kind))
        self._sentence_terms = lru_cache(maxsize=4096)(lambda i: frozenset(tokenize(corpus.sentence(i).text)))

    # -- the question ---------------------------------------------------------------------------

    def check(self, question: str) -> str:
        """The question, trimmed; QuestionError if it is empty or too long."""
        q = question.strip()
        if not q:
            raise QuestionError("the question is empty")
        if len(q) > self.max_question_chars:
            raise QuestionError(
                f"the question is {len(q)} characters long; the limit is {self.max_question_chars}"
            )
        return q

    def _weight(self, term: str) -> float:
        # A term no sentence has weighs as much as the rarest one: the article lacks it.
        idf = self.index.term_idf(term)
        return self._max_idf if idf is None else max(idf, 0.0)

    def _expand(self, terms: Sequence[str]) -> list[QueryTerm]:
        query: dict[str, float] = {}
        for t in terms:
            present = self.index.term_idf(t) is not None
            if present:
                query[t] = max(query.get(t, 0.0), 1.0)
            # A variant stands in for a word the corpus lacks more than it adds to one it has.
            weight = VARIANT_WEIGHT * (PRESENT_VARIANT_SHARE if present else 1.0)
            for v in self._variants(t):
                query[v] = max(query.get(v, 0.0), weight)
        return [QueryTerm(t, w) for t, w in query.items()]

    def _names_unknown(self, question: str) -> bool:
        """Whether the question names something (a capitalised word) that no document mentions.

        "Who is the president of France?" asks about France; an article that never names it
        cannot answer, however well "president" matches. Title-cased questions are skipped.
        """
        ws = _QUESTION_WORD.findall(question)
        names = [w for w in ws[1:] if w[:1].isupper() and w != "I"]
        if not names or len(names) > len(ws[1:]) / 2:
            return False
        for name in names:
            for term in tokenize(name):
                if self.index.term_idf(term) is None and not self._variants(term):
                    return True
        return False

    def _covered(self, terms: Sequence[str], passage_terms: set[str]) -> set[str]:
        return {t for t in terms if t in passage_terms or any(v in passage_terms for v in self._variants(t))}

    # -- answering ------------------------------------------------------------------------------

    def answer(self, question: str, limit: int | None = None) -> Answer:
        """The answer to `question` (checked with `check`): up to `limit` excerpts (`top_k`)."""
        limit = limit or self.top_k
        q = self.check(question)
        terms = list(dict.fromkeys(tokenize(q)))
        if not terms:
            return Answer(q, abstained=True)
        meta = self._metadata_excerpts(q, terms)
        if meta is not None:
            return Answer(q, abstained=False, excerpts=meta[:limit], coverage=1.0, terms=tuple(terms))

        if self._names_unknown(q):
            return Answer(q, abstained=True, terms=tuple(terms))
        ranking = self.index.rank(self._expand(terms), CANDIDATES)
        if not len(ranking.ids):
            return Answer(q, abstained=True, terms=tuple(terms))
        kind = answer_type(q)
        term_set = frozenset(terms)
        # Context: a share of the neighbours' scores, for neighbours in the same document.
        ids, doc_of, last = ranking.ids, self.corpus.doc_of, len(self.corpus) - 1
        prev_same = (ids > 0) & (doc_of[np.maximum(ids - 1, 0)] == doc_of[ids])
        next_same = (ids < last) & (doc_of[np.minimum(ids + 1, last)] == doc_of[ids])
        context = ranking.prev_scores * prev_same + ranking.next_scores * next_same
        scored: list[tuple[float, int]] = []
        for i, base in zip(ids.tolist(), (ranking.scores + CONTEXT_WEIGHT * context).tolist(), strict=True):
            typed = kind is not AnswerType.NONE and _holds(self._evidence(i, kind), term_set)
            score = base * (1 + TYPE_BONUS) if typed else base
            # A question in the text (an interview's "Q:") echoes the question; it does not answer it.
            if self.corpus.sentence(i).text.rstrip(_CLOSERS).endswith("?"):
                score *= QUESTION_SENTENCE_FACTOR
            scored.append((score, i))
        scored.sort(key=lambda item: (-item[0], item[1]))

        excerpts = self._excerpts(scored, terms, limit)
        total = sum(self._weight(t) for t in terms)
        best = max((self._coverage(e, terms, total) for e in excerpts[: self.top_k]), default=0.0)
        if best < MIN_COVERAGE:
            return Answer(
                q, abstained=True, closest=excerpts[: self.top_k], coverage=best, terms=tuple(terms)
            )
        return Answer(q, abstained=False, excerpts=excerpts[:limit], coverage=best, terms=tuple(terms))

    def _coverage(self, excerpt: Excerpt, terms: Sequence[str], total: float) -> float:
        """Share of the question's IDF weight found in an excerpt and its paragraph neighbours."""
        ids = set(excerpt.sentence_ids)
        for i in excerpt.sentence_ids:
            ids.update(j for j in (i - 1, i + 1) if self.corpus.same_paragraph(i, j))
        passage: set[str] = set()
        for j in ids:
            passage.update(self._sentence_terms(j))
        # The excerpt itself must hold at least one term: neighbours only add context.
        own: set[str] = set().union(*(self._sentence_terms(j) for j in excerpt.sentence_ids))
        if not self._covered(terms, own):
            return 0.0
        covered = self._covered(terms, passage)
        return sum(self._weight(t) for t in covered) / total if total else 0.0

    def _excerpts(
        self, scored: Sequence[tuple[float, int]], terms: Sequence[str], limit: int
    ) -> tuple[Excerpt, ...]:
        """Best-first excerpts, each a sentence or a quotation with its opening, merged if they meet."""
        groups: list[tuple[float, list[int]]] = []
        for score, i in scored:
            ids = [i]
            # A quotation without its own attribution goes with the sentence before it.
            if self.corpus.sentence(i).quoted and self.corpus.same_paragraph(i, i - 1):
                ids = [i - 1, i]
            elif self.corpus.same_paragraph(i, i + 1) and self.corpus.sentence(i + 1).quoted:
                ids = [i, i + 1]
            merged = False
            for g, (g_score, g_ids) in enumerate(groups):
                if set(ids) & set(g_ids):
                    union = sorted(set(ids) | set(g_ids))
                    if self._span_length(union) <= self.max_excerpt_chars:
                        groups[g] = (max(g_score, score), union)
                    merged = True
                    break
            if not merged:
                groups.append((score, ids))
            if len(groups) >= max(limit, self.top_k) + 2:
                break
        # Only the excerpts that can be shown are built (highlighting is the costly part).
        return tuple(self._excerpt(ids, score, terms) for score, ids in groups[: max(limit, self.top_k)])

    def _span_length(self, ids: Sequence[int]) -> int:
        first, last = self.corpus.sentence(ids[0]), self.corpus.sentence(ids[-1])
        return len(sentence_text(first.document, first.start, last.end))

    def _excerpt(self, ids: list[int], score: float, terms: Sequence[str]) -> Excerpt:
        if len(ids) > 1 and self._span_length(ids) > self.max_excerpt_chars:
            # Keep the sentence that scored; its quotation's opening does not fit.
            ids = [max(ids, key=lambda j: self._matched_weight(j, terms))]
        first, last = self.corpus.sentence(ids[0]), self.corpus.sentence(ids[-1])
        doc = first.document
        text = sentence_text(doc, first.start, last.end)
        start, end = first.start, last.end
        truncated = False
        if len(text) > self.max_excerpt_chars:
            text, truncated = self._window(text, terms), True
        citation = str(first.citation)
        if len(ids) > 1:
            citation += f"–{last.citation.sentence}"
        return Excerpt(
            document=doc,
            citation=citation,
            text=text,
            score=round(score, 4),
            start=start,
            end=end,
            matches=tuple(self.highlight(text, terms)),
            sentence_ids=tuple(ids),
            truncated=truncated,
        )

    def _matched_weight(self, sentence_id: int, terms: Sequence[str]) -> float:
        covered = self._covered(terms, set(self._sentence_terms(sentence_id)))
        return sum(self._weight(t) for t in covered)

    def _window(self, text: str, terms: Sequence[str]) -> str:
        """The part of an over-long sentence with the most matches, cut at clauses or words."""
        limit = self.max_excerpt_chars
        spans = self.highlight(text, terms)
        first = spans[0][0] if spans else 0
        cuts = [0] + [m.end() for m in re.finditer(r"[,;:—–]\s+", text) if m.end() <= first]
        start = next((c for c in reversed(cuts) if first - c <= limit // 2), first)
        piece = text[start : start + limit]
        if start + limit < len(text):
            piece = piece[: piece.rfind(" ")] if " " in piece else piece
        return piece.strip(" ,;:—–")

    def highlight(self, text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
        """Spans of `text` whose words match a question term or one of its variants."""
        wanted = set(terms)
        for t in terms:
            wanted.update(self._variants(t))
        spans: list[tuple[int, int]] = []
        for span in self._term_spans(text):
            if span.term in wanted:
                spans.append((span.start, span.end))
        return spans

    # -- questions about the document itself ---------------------------------------------------

    def _metadata_excerpts(self, question: str, terms: Sequence[str]) -> tuple[Excerpt, ...] | None:
        fields, document_terms = _meta_terms()
        asked = [name for name, ws in fields.items() if ws & set(terms)]
        if not asked:
            return None
        rest = [t for t in terms if t not in document_terms and not any(t in ws for ws in fields.values())]
        # "Who wrote the history of the bicycle?" names the document by its title.
        titled = [d for d in self.corpus.documents if rest and _names_title(rest, d.title)]
        if rest and not titled and not set(terms) & document_terms:
            return None  # "What did Kim write?" is about the content, not the byline
        found: list[Excerpt] = []
        for doc in titled or self.corpus.documents:
            for name in asked:
                excerpt = self._metadata_excerpt(doc, name, terms)
                if excerpt is not None:
                    found.append(excerpt)
        return tuple(found[: self.top_k]) or None

    def _metadata_excerpt(self, doc: Document, name: str, terms: Sequence[str]) -> Excerpt | None:
        value = getattr(doc, name)
        if not value:
            return None
        # Cite the line of the document that states the value (front matter or byline).
        at = doc.text.find(value)
        if at < 0:
            return None
        line_start = doc.text.rfind("\n", 0, at) + 1
        line_end = doc.text.find("\n", at)
        line_end = len(doc.text) if line_end < 0 else line_end
        text = fold_space(doc.text[line_start:line_end])
        spans = [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]
        spans += self.highlight(text, terms)
        return Excerpt(
            document=doc,
            citation=f"metadata: {name.replace('_url', '')}",
            text=text,
            score=1.0,
            start=line_start,
            end=line_end,
            matches=tuple(sorted(set(spans))),
        )

    def context(self, excerpt: Excerpt, radius: int) -> tuple[list[Sentence], list[Sentence]]:
        """Up to `radius` sentences before and after an excerpt, in its document."""
        if not excerpt.sentence_ids:
            return [], []
        first, last = excerpt.sentence_ids[0], excerpt.sentence_ids[-1]
        before = [
            self.corpus.sentence(j)
            for j in range(first - radius, first)
            if self.corpus.same_document(first, j)
        ]
        after = [
            self.corpus.sentence(j)
            for j in range(last + 1, last + 1 + radius)
            if self.corpus.same_document(last, j)
        ]
        return before, after
