"""Turning a question into an answer: ranked sentences become cited excerpts, or an abstention.

The ranking is `bot.ranking`'s; here are the excerpts (whole sentences; a quotation with the
sentence that opens it, a sentence that refers back with the one it refers to), questions about
the documents themselves (answered from their metadata), and the decision to decline: the best
excerpts cover too little of the question's weight, or the question names something no document
mentions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.corpus import Corpus, Document, Sentence
from bot.ranking import AnswerType, Groups, Question, Ranker, Weights, answer_type, holds_type
from bot.retriever import Index
from bot.text import fold_space, term_spans, tokenize

__all__ = ["Answer", "AnswerType", "Composer", "Excerpt", "QuestionError", "answer_type", "holds_type"]

# Declining (chosen on the open question sets, see README "Quality"): the best passage must cover
# this share of the question's IDF weight, and more when the question names something unknown.
MIN_COVERAGE = 0.2
NAMED_COVERAGE = 0.6  # "What is X called in English?": a name the corpus lacks, the rest well covered
DEPTH = 3  # excerpts judged for abstention, whatever the bot shows (TOP_K)


class QuestionError(ValueError):
    """A question that cannot be asked (empty, or longer than the limit)."""


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
    cut: tuple[bool, bool] = (False, False)  # an over-long sentence shown in part: cut at start, at end

    @property
    def truncated(self) -> bool:
        """Whether only part of the sentence is shown."""
        return any(self.cut)

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
    note: str = ""  # when abstaining for a known reason: what the documents do not state


# Questions about a document itself: the words that ask for each metadata field, and words that
# name the document. Matched as words, not stems, so "What did KCNA report?" is not a byline
# question ("reporter" and "report" share a stem).
_META_FIELDS = {
    "author": (
        "author",
        "authors",
        "writer",
        "wrote",
        "write",
        "written",
        "byline",
        "journalist",
        "reporter",
    ),
    "title": ("title", "headline", "called", "named"),
    "published": ("published", "publish", "publication", "dated", "date"),
    "source_url": ("source", "url", "link", "website", "outlet", "site"),
}
_META_LABELS = {
    "author": "who wrote it",
    "title": "its title",
    "published": "when it was published",
    "source_url": "where it comes from",
}
_DOCUMENT_WORDS = frozenset("article story piece report document post text page this it".split())
_WH = frozenset("who whom whose what which when where how".split())


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
        weights: Weights | None = None,
        grouped: Groups | None = None,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.ranker = Ranker(corpus, index, weights, grouped)
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        self.max_excerpt_chars = max_excerpt_chars
        self._term_spans = lru_cache(maxsize=4096)(term_spans)  # excerpts repeat: highlight once

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

    # -- answering ------------------------------------------------------------------------------

    def answer(self, question: str, limit: int | None = None) -> Answer:
        """The answer to `question` (checked with `check`): up to `limit` excerpts (`top_k`)."""
        limit = limit or self.top_k
        q = self.check(question)
        asked = self.ranker.question(q)
        terms = asked.terms
        if not terms:
            return Answer(q, abstained=True)
        meta = self._about_documents(q, asked)
        if meta is not None:
            return meta
        ranked = self.ranker.rank(asked)
        if not len(ranked.ids):
            return Answer(q, abstained=True, terms=terms)
        excerpts = self._excerpts(ranked.ids.tolist(), ranked.scores.tolist(), asked, max(limit, DEPTH))
        best = self._coverage(excerpts[:DEPTH], asked)
        needed = NAMED_COVERAGE if self.ranker.names_unknown(asked) else MIN_COVERAGE
        if best < needed:
            return Answer(q, abstained=True, closest=excerpts[: self.top_k], coverage=best, terms=terms)
        return Answer(q, abstained=False, excerpts=excerpts[:limit], coverage=best, terms=terms)

    def _coverage(self, excerpts: Sequence[Excerpt], asked: Question) -> float:
        """The largest share of the question's IDF weight found in one excerpt and its paragraph
        neighbours; an excerpt that holds no term itself counts for nothing (neighbours only add)."""
        same = self.corpus.same_paragraph
        around = {
            e: [
                *([first - 1] if same(first, first - 1) else []),
                *range(first, last + 1),
                *([last + 1] if same(last, last + 1) else []),
            ]
            for e in excerpts
            if e.sentence_ids
            for first, last in [(e.sentence_ids[0], e.sentence_ids[-1])]
        }
        held = self.ranker.held_terms(asked, sorted({j for ids in around.values() for j in ids}))
        best = 0.0
        for e, ids in around.items():
            if not any(held[i] for i in e.sentence_ids):
                continue
            terms = set().union(*(held[j] for j in ids))
            best = max(best, sum(asked.weights[n] for n in terms) / asked.total if asked.total else 0.0)
        return best

    def _excerpts(
        self, ids: Sequence[int], scores: Sequence[float], asked: Question, depth: int
    ) -> tuple[Excerpt, ...]:
        """Best-first excerpts, each a sentence with what it needs to be read, merged if they meet."""
        groups: list[tuple[float, list[int]]] = []
        for score, i in zip(scores, ids, strict=True):
            members = self._readable(i)
            merged = False
            for g, (g_score, g_ids) in enumerate(groups):
                if set(members) & set(g_ids):
                    union = sorted(set(members) | set(g_ids))
                    if self._span_length(union) <= self.max_excerpt_chars:
                        groups[g] = (max(g_score, score), union)
                    merged = True
                    break
            if not merged:
                groups.append((score, members))
            if len(groups) >= depth + 2:
                break
        # Only the excerpts that can be shown are built (highlighting is the costly part).
        return tuple(self._excerpt(members, score, asked) for score, members in groups[:depth])

    def _readable(self, i: int) -> list[int]:
        """Sentence i with the sentence it cannot be read without, when it fits.

        A quotation with no attribution of its own goes with the sentence that opens it, a
        sentence that opens with "It" or "This" with the sentence that names what it means, and an
        answer with its question.
        """
        corpus = self.corpus
        if (corpus.same_paragraph(i, i - 1) and corpus.sentence(i).quoted) or self.ranker.leans_on_previous(
            i
        ):
            pair = [i - 1, i]
        elif corpus.same_paragraph(i, i + 1) and corpus.sentence(i + 1).quoted:
            pair = [i, i + 1]
        else:
            return [i]
        return pair if self._span_length(pair) <= self.max_excerpt_chars else [i]

    def _span_length(self, ids: Sequence[int]) -> int:
        """Characters of the excerpt made of sentences `ids` (consecutive), as shown."""
        return sum(len(self.corpus.sentence(i).text) for i in ids) + len(ids) - 1

    def _excerpt(self, ids: list[int], score: float, asked: Question) -> Excerpt:
        first, last = self.corpus.sentence(ids[0]), self.corpus.sentence(ids[-1])
        doc = first.document
        text = " ".join(self.corpus.sentence(i).text for i in ids)
        cut = (False, False)
        if len(text) > self.max_excerpt_chars:
            text, cut = self._window(text, asked)
        citation = str(first.citation)
        if len(ids) > 1:
            citation += f"–{last.citation.sentence}"
        return Excerpt(
            document=doc,
            citation=citation,
            text=text,
            score=round(score, 4),
            start=first.start,
            end=last.end,
            matches=tuple(self.highlight(text, asked)),
            sentence_ids=tuple(ids),
            cut=cut,
        )

    def _window(self, text: str, asked: Question) -> tuple[str, tuple[bool, bool]]:
        """The part of an over-long sentence with the most matched weight, cut at clauses or words."""
        limit = self.max_excerpt_chars
        weight = {t: asked.weights[n] for n, t in enumerate(asked.terms)}
        owner = {q.term: asked.terms[n] for q, n in zip(asked.query, asked.owner, strict=True)}
        matches = [(s.start, s.end, weight[owner[s.term]]) for s in term_spans(text) if s.term in owner]
        # Starts to choose from: the text's start, clause boundaries, then word boundaries.
        starts = [0] + [m.end() for m in re.finditer(r"[,;:—–()]\s+", text)]
        starts += [m.end() for m in re.finditer(r"\s+", text)]
        best_start, best_weight = 0, -1.0
        for start in sorted(set(starts)):
            if start > len(text) - limit // 2 and best_weight >= 0:
                break
            held: dict[str, float] = {}
            for s, e, w in matches:
                if s >= start and e <= start + limit:
                    held[text[s:e].lower()] = w
            # Prefer a clause boundary (or the start) over a mid-clause word break at equal weight.
            total = sum(held.values()) + (
                0.001 if start == 0 or text[start - 2 : start - 1] in ",;:—–()" else 0
            )
            if total > best_weight:
                best_start, best_weight = start, total
        piece = text[best_start : best_start + limit]
        cut_end = best_start + limit < len(text)
        if cut_end and " " in piece:
            piece = piece[: piece.rfind(" ")]
        return piece.strip(" ,;:—–"), (best_start > 0, cut_end)

    def highlight(self, text: str, asked: Question) -> list[tuple[int, int]]:
        """Spans of `text` whose words match a question term or one of its stand-ins."""
        wanted = {q.term for q in asked.query}
        return [(s.start, s.end) for s in self._term_spans(text) if s.term in wanted]

    # -- questions about the documents themselves -----------------------------------------------

    def _about_documents(self, question: str, asked: Question) -> Answer | None:
        """The answer to a question about the documents (who wrote it, when), or None.

        A question is about a document when it asks for a metadata field and its other words
        are only words that name a document ("this article") or words of one document's title.
        """
        ws = [w for w in asked.words if w not in _WH]
        fields = [name for name, field_words in _META_FIELDS.items() if set(field_words) & set(ws)]
        if not fields:
            return None
        field_words = {w for name in fields for w in _META_FIELDS[name]}
        content = [w for w in ws if w not in field_words and w not in _DOCUMENT_WORDS]
        rest = tokenize(" ".join(content))
        documents = [d for d in self.corpus.documents if rest and _names_title(rest, d.title)]
        if rest and not documents:
            return None  # "What did Kim write about the war?" is about the content
        documents = documents or self.corpus.documents
        found = [e for d in documents for name in fields if (e := self._metadata_excerpt(d, name, asked))]
        if found:
            return Answer(
                question,
                abstained=False,
                excerpts=tuple(found[: self.top_k]),
                coverage=1.0,
                terms=asked.terms,
            )
        which = "The article doesn't" if len(documents) == 1 else "The articles don't"
        asked_for = " or ".join(_META_LABELS[name] for name in fields)
        return Answer(question, abstained=True, terms=asked.terms, note=f"{which} say {asked_for}.")

    def _metadata_excerpt(self, doc: Document, name: str, asked: Question) -> Excerpt | None:
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
        spans += self.highlight(text, asked)
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


def _names_title(terms: Sequence[str], title: str) -> bool:
    """Whether the terms are words of the title, and at least half of them."""
    title_terms = {s.term for s in term_spans(title)}
    return set(terms) <= title_terms and 2 * len(set(terms)) >= len(title_terms)
