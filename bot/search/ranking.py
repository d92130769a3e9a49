"""Ranking sentences for a question: a table of features for each candidate, one function combining them.

A question becomes weighted terms (its own, the forms stemming misses, and near spellings of words
the corpus lacks); the BM25 index proposes candidate sentences; each candidate gets the features
below; a weighted sum ranks them. Each feature is a share of the question's IDF weight (or 0/1),
so one set of weights fits questions of any length and corpora of any size.

- `sentence`: BM25 of the sentence for the question's terms;
- `paragraph`: BM25 of the sentence's paragraph, the evidence around it;
- `document`: BM25 of the sentence's document, which of several documents the question is about;
- `antecedent`: for a sentence that leans on the one before it, the question's weight that one
  holds and it lacks: a sentence opening with a pronoun or demonstrative ("It was…", "This
  mural…") names its subject only before it, and an answer follows its question (an interview's
  "Q:");
- `answer_type`: 1 when the sentence holds the kind of thing asked for (when: a date, how many: a
  number, who: a name, where: a place) beyond the question's own words;
- `about`: how well the sentence's document fits the question, by its title, subtitle, author,
  outlet and body, a name only it holds counting most (`bot.search.documents`);
- `title`: 1 for a document's title or subtitle (its paragraph 0): the words of a headline match
  many questions and answer few;
- `content`: BM25 of the sentence for the question's words that do not name the best-fitting
  documents (words of their titles, subtitles, authors and outlets): in "What did supporters of
  the Lakeview bike lane say was wrong with it?", "Lakeview bike lane" says which article, and
  every sentence of it that repeats those words is no nearer the answer. With one document, 0 (as
  `about` and `document`: the same for every sentence);
- `cos_sentence`, `cos_window`, `cos_paragraph` (the re-ranking stage, `bot.search.semantic`): the
  cosine of the question's vector and the sentence's, the sentence's with its paragraph neighbours'
  (their vectors summed), and its paragraph's. BM25 and the lexical features still choose and
  order the candidates; the model re-scores the first `pool` of them, the rest follow.

The weighted sum is halved for a sentence that is itself a question: it echoes the question
rather than answers it (the fitting sets hold no such sentence, so that factor is set, not
fitted). The weights, and BM25's k1 and b, are fitted by `python -m benchmarks.fit` on named
question sets and stored, with those names and the figures measured out of sample, in
`ranking_weights.json` beside this module: one set for lexical ranking (`RERANK=false`, or before
a sentence's vector can be had) and one, with the pool size, for re-ranking; nothing else sets them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import TITLE_PARAGRAPH, Corpus
from bot.search.documents import DocumentStep
from bot.search.reader import Fitted, ReaderError, Reading, Reads
from bot.search.retriever import Bm25Params, Index, QueryTerm, variants
from bot.search.semantic import Embedder, Relevance, SentenceVectors, unit
from bot.text import MONTHS, fold_word, term_spans, tokenize, words, written_names

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

WEIGHTS_FILE = Path(__file__).with_name("ranking_weights.json")
FEATURES = (
    "sentence",
    "paragraph",
    "document",
    "antecedent",
    "answer_type",
    "about",
    "title",
    "content",
    "cos_sentence",
    "cos_window",
    "cos_paragraph",
    "meaning_document",
)
SEMANTIC = FEATURES.index("cos_sentence")  # the columns from here on are the re-ranker's
# How close the question's meaning comes to the sentence's document (`semantic.Relevance`), with
# several documents: known before the pool is chosen, so it takes part in choosing it.
MEANING = FEATURES.index("meaning_document")
QUESTION_FACTOR = 0.5  # a sentence that asks a question (an interview's "Q:") echoes more than it answers
RELEVANCES_KEPT = 64  # questions whose relevance to each document is remembered
CANDIDATES = 40  # sentences proposed by BM25 for re-ranking (their followers join them)
VARIANT_WEIGHT = 0.5  # a derived form or a near spelling counts half as much as the word itself
PRESENT_VARIANT_SHARE = 0.2  # ... and a fifth of that when the word itself is in the corpus
MIN_TYPO_LENGTH = 6  # shorter words (and names: "Dame", "Notre") have too many near spellings to guess from
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def near_spellings(word: str) -> set[str]:
    """Words one edit away from `word`: a letter deleted, swapped with the next, replaced or added."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    found = {a + b[1:] for a, b in splits if b}
    found |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    found |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    found |= {a + c + b for a, b in splits for c in _LETTERS}
    found.discard(word)
    return found


@dataclass(frozen=True)
class Weights:
    """One weight a feature; `sentence` is 1 (the scale)."""

    sentence: float = 1.0
    paragraph: float = 0.0
    document: float = 0.0
    antecedent: float = 0.0
    answer_type: float = 0.0
    about: float = 0.0
    title: float = 0.0
    content: float = 0.0
    cos_sentence: float = 0.0
    cos_window: float = 0.0
    cos_paragraph: float = 0.0
    meaning_document: float = 0.0

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> Weights:
        """The fitted lexical weights (see `benchmarks.fit`)."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8"))["weights"])

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Weights:
        """Weights from a mapping of feature names (a missing one is 0)."""
        return cls(**{f.name: float(data.get(f.name, 0.0)) for f in fields(cls)})

    def as_dict(self) -> dict[str, float]:
        """The weights by feature name, in the order of `FEATURES`."""
        return {name: getattr(self, name) for name in FEATURES}

    def vector(self) -> F32:
        """The weights in the order of `FEATURES`."""
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float32)


@dataclass(frozen=True)
class Abstain:
    """When meaning, not only words, decides that the corpus does not answer (`bot.answer.composer`).

    `quantile`: which percentile of the off-topic questions' best cosines is the corpus's reference
    (`semantic.Relevance`); `coverage_weight`: how much covered question weight makes up for a
    meaning further from the corpus; `rescue`: a relevance this far above the reference keeps a
    question the coverage rule alone would decline (a paraphrase, a misspelling).
    """

    quantile: float = 95.0
    coverage_weight: float = 0.25
    rescue: float = 0.0
    power: float = 1.0  # how the reference's percentile rises with the number of documents


@dataclass(frozen=True)
class Rerank:
    """The re-ranking stage's fitted weights (all features, refitted together), its pool size,
    and the abstention parameters fitted with them."""

    weights: Weights
    pool: int
    abstain: Abstain = Abstain()

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> Rerank:
        """The fitted re-ranking weights (see `benchmarks.fit`)."""
        data = json.loads(path.read_text(encoding="utf-8"))["rerank"]
        abstain = Abstain(**{k: float(v) for k, v in data.get("abstain", {}).items()})
        return cls(Weights.from_dict(data["weights"]), int(data["pool"]), abstain)


@dataclass(frozen=True)
class Semantic:
    """What the re-ranking stage needs: the model, the corpus's sentence vectors, its weights, and
    how far a question's meaning is from the corpus (for declining)."""

    model: Embedder
    vectors: SentenceVectors
    rerank: Rerank
    relevance: Relevance


@dataclass(frozen=True)
class ReaderStage:
    """The reader (`bot.search.reader`) and its fitted numbers."""

    model: Reads
    fitted: Fitted


def read_order(scores: F32, read: F32, weight: float) -> tuple[I32, F32]:
    """The order after reading (positions into `scores`) and the new scores: the first
    `len(read)` candidates re-scored with the reader's score as one more weighted column and
    re-ordered; the others keep their order below them, their scores capped at the lowest read."""
    n = len(read)
    if not n:
        return np.arange(len(scores), dtype=np.int32), scores.astype(np.float32)
    fused = (scores[:n] + np.float32(weight) * read).astype(np.float32)
    head = np.argsort(-fused, kind="stable")
    new = scores.astype(np.float32)
    new[:n] = fused
    if n < len(scores):
        new[n:] = np.minimum(new[n:], fused.min())
    return np.concatenate([head, np.arange(n, len(scores))]).astype(np.int32), new


@lru_cache(maxsize=1)
def fitted_params() -> Bm25Params:
    """The BM25 parameters fitted with the weights (`bot.fit`): the index is built with them."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")).get("bm25", {})
    return Bm25Params(**{k: data[k] for k in ("variant", "k1", "b") if k in data})


# -- the kind of answer asked for ------------------------------------------------------------------


class AnswerType(Enum):
    NONE = "none"
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"


_NUMBER = re.compile(
    r"\b(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"dozens?|hundreds?|thousands?|millions?|billions?|half)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    rf"\b{MONTHS}|\b(?:1[5-9]|20)\d\d(?:s\b)?|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this|earlier|later)\s+"
    r"(?:week|month|year|decade|century)\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}(?:st|nd|rd|th)\s+century\b"
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]*[a-z][\w’'-]*")
_PLACE = re.compile(r"\b(?:in|at|near|outside|inside|around|across)\s+(?:the\s+)?([A-Z][\w’'-]+)")
_SPATIAL = re.compile(
    r"\b(?:next to|near|beside|behind|outside|inside|across from|along|opposite|located|situated|"
    r"(?:north|south|east|west)(?:ern)? of)\b",
    re.IGNORECASE,
)

# English question frames: the word after the question word (past "is the", "did") names the kind.
_FRAME_SKIP = frozenset("is was are were be been do does did has have had the a an of".split())
_DATE_NOUNS = frozenset("year years date month day time decade century era period".split())
_NUMBER_NOUNS = frozenset(
    "many much old long far big large tall high often wide deep heavy few "
    "number amount percentage percent size population age total count cost price".split()
)
_PLACE_NOUNS = frozenset(
    "city country place region town nation state capital location area continent".split()
)
_PERSON_NOUNS = frozenset(
    "person man woman leader official president name individual people player author artist king "
    "queen founder who".split()
)
_QUESTION_WORDS = frozenset("what which how when who whom whose where".split())


def answer_type(question: str | Sequence[str]) -> AnswerType:
    """The kind of answer a question asks for, from its question word and the noun after it.

    `question` is the question, or its words (`bot.text.words`)."""
    ws = list(words(question)) if isinstance(question, str) else list(question)
    for i, w in enumerate(ws):
        if w not in _QUESTION_WORDS:
            continue
        if w == "when":
            return AnswerType.DATE
        if w in {"who", "whom", "whose"}:
            return AnswerType.PERSON
        if w == "where":
            return AnswerType.PLACE
        rest = [x for x in ws[i + 1 : i + 5] if x not in _FRAME_SKIP]
        focus = rest[0] if rest else ""
        if w == "how":
            return AnswerType.NUMBER if focus in _NUMBER_NOUNS else AnswerType.NONE
        if focus in _DATE_NOUNS:
            return AnswerType.DATE
        if focus in _NUMBER_NOUNS:
            return AnswerType.NUMBER
        if focus in _PLACE_NOUNS:
            return AnswerType.PLACE
        if focus in _PERSON_NOUNS:
            return AnswerType.PERSON
        return AnswerType.NONE
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


# A sentence that opens with a pronoun or a demonstrative names its subject in the sentence before.
_REFERS_BACK = re.compile(
    r"^[\"'“‘(]?(?:it|its|he|his|she|her|they|their|them|this|these|those|such|there|"
    r"the (?:latter|former|same))\b",
    re.IGNORECASE,
)
_CLOSERS = " \"'”’»)]*_"
# What a sentence's text says of it, as bits of one mark a sentence (`Ranker._marked`).
ASKING, REFERRING = 1, 2
Marks = npt.NDArray[np.int8]
Flags = npt.NDArray[np.bool_]


def refers_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points to the sentence before it."""
    return _REFERS_BACK.match(sentence) is not None


def asks(sentence: str) -> bool:
    """Whether a sentence is itself a question."""
    return sentence.rstrip(_CLOSERS).endswith("?")


@overload
def leans(mark: int, before: int, same_paragraph: bool, same_document: bool) -> bool: ...
@overload
def leans(mark: Marks, before: Marks, same_paragraph: Flags, same_document: Flags) -> Flags: ...
def leans(mark: Any, before: Any, same_paragraph: Any, same_document: Any) -> Any:
    """Whether a sentence (its `mark`, and the one before it's) cannot be read without the one
    before it: it opens with a word that points back ("It", "This mural") in the same paragraph,
    or it follows a question (the answer to an interview's "Q:") in the same document. For one
    sentence or, as arrays, many."""
    refers = same_paragraph & (mark & REFERRING > 0)
    return refers | same_document & (before & ASKING > 0) & (mark & ASKING == 0)


# -- the question ----------------------------------------------------------------------------------


class Question(NamedTuple):
    """A question as the ranker reads it."""

    text: str
    terms: tuple[str, ...]  # its own index terms, in order, each once
    weights: tuple[float, ...]  # each term's IDF (a term no sentence has: the largest IDF)
    query: tuple[QueryTerm, ...]  # the terms, their variants and near spellings, with query weights
    owner: tuple[int, ...]  # for each query term, the position in `terms` of the term it stands for
    kind: AnswerType
    words: tuple[str, ...]  # its words, normalised, stop words included

    @property
    def total(self) -> float:
        """The question's whole IDF weight."""
        return sum(self.weights)


class Ranked(NamedTuple):
    """Candidate sentences best first, their scores and their feature rows (columns: FEATURES)."""

    ids: I32
    scores: F32
    features: F32
    reranked: bool = False  # whether the semantic stage re-scored them
    reading: Reading | None = None  # the reader's reading of the first of them, when it read them


def reranked_order(table: F32, ids: I32, factor: F32, weights: F32, pool: int) -> tuple[I32, F32]:
    """The re-ranking stage's order of candidates (positions into `ids`) and their scores.

    The lexical features and the document's meaning (`pool_scores`), weighted, order the
    candidates; the first `pool` of them are re-scored
    with every feature (their cosine columns filled) and re-ordered; the others keep their order
    below them, their scores capped at the pool's lowest so that scores fall as the order goes.
    """
    lexical = pool_scores(table, weights) * factor
    order = np.lexsort((ids, -lexical))
    pool_at, rest = order[:pool], order[pool:]
    scores = lexical.astype(np.float32)
    scores[pool_at] = table[pool_at] @ weights * factor[pool_at]
    pool_at = pool_at[np.lexsort((ids[pool_at], -scores[pool_at]))]
    if len(rest) and len(pool_at):
        scores[rest] = np.minimum(scores[rest], scores[pool_at].min())
    return np.concatenate([pool_at, rest]).astype(np.int32), scores


def pool_scores(table: F32, weights: F32) -> F32:
    """The scores that choose the re-ranking pool: the lexical columns and the document's meaning."""
    return np.asarray(table[:, :SEMANTIC] @ weights[:SEMANTIC] + table[:, MEANING] * weights[MEANING])


class Groups(NamedTuple):
    """The paragraph and document indexes read beside the sentence index (`Index.grouped`)."""

    paragraphs: Index
    documents: Index


def paragraph_numbers(corpus: Corpus) -> I32:
    """Each sentence's paragraph, numbered 0.. in order across the corpus."""
    para = corpus.paragraph_of
    group = np.zeros(len(para), dtype=np.int32)
    if len(para) > 1:
        np.cumsum(para[1:] != para[:-1], out=group[1:])
    return group


def groups(corpus: Corpus, index: Index) -> Groups:
    """The paragraph and document indexes of a corpus, from its sentence index's postings."""
    return Groups(index.grouped(paragraph_numbers(corpus)), index.grouped(corpus.doc_of))


class DocumentGroups(NamedTuple):
    """How many sentences and paragraphs each document has, and each paragraph's document: what
    the sentence and paragraph features need to weigh a term by its IDF within its document."""

    sentences: I32  # sentences per document
    paragraph_document: I32  # each paragraph's document
    paragraphs: I32  # paragraphs per document

    @classmethod
    def of(cls, corpus: Corpus, paragraph_of: I32) -> DocumentGroups:
        """A corpus's, given each sentence's paragraph (`paragraph_numbers`)."""
        n = len(corpus.documents)
        starts = (
            np.flatnonzero(np.diff(paragraph_of, prepend=-1)) if len(paragraph_of) else np.empty(0, np.int64)
        )
        document = corpus.doc_of[starts].astype(np.int32)
        sentences = np.bincount(corpus.doc_of, minlength=n).astype(np.int32)
        return cls(sentences, document, np.bincount(document, minlength=n).astype(np.int32))


class Ranker:
    """Ranks the sentences of one corpus for questions."""

    def __init__(
        self,
        corpus: Corpus,
        index: Index,
        weights: Weights | None = None,
        grouped: Groups | None = None,
        semantic: Semantic | None = None,
        reader: ReaderStage | None = None,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.weights = weights or Weights.load()
        self._vector = self.weights.vector()
        self.semantic = semantic
        self.reader = reader
        self.paragraph_of = paragraph_numbers(corpus)
        # Where each sentence's paragraph starts and ends (paragraph numbers run in order).
        self._paragraph_start = np.searchsorted(self.paragraph_of, self.paragraph_of, side="left").astype(
            np.int32
        )
        self._paragraph_end = np.searchsorted(self.paragraph_of, self.paragraph_of, side="right").astype(
            np.int32
        )
        self._question_vector: Callable[[str], F32] | None = (
            lru_cache(maxsize=1024)(lambda text: semantic.model.embed([text])[0]) if semantic else None
        )
        # Built when not given (the engine caches them with the index: at a million sentences
        # building them takes most of a second).
        self.paragraphs, self.documents = grouped or groups(corpus, index)
        self.within = DocumentGroups.of(corpus, self.paragraph_of)
        self.step = DocumentStep(corpus, self.documents)
        self._titles = np.asarray(corpus.columns()["para_no"] == TITLE_PARAGRAPH)
        self._max_idf = index.max_idf()
        # Asked again to decline after ranking: computed once. Only asked once every vector is in,
        # when it is never None.
        self._relevance: Callable[[str], F32 | None] = lru_cache(maxsize=RELEVANCES_KEPT)(
            lambda text: (
                semantic.relevance(self._question_vector(text))
                if semantic and self._question_vector
                else None
            )
        )
        self.variants = lru_cache(maxsize=50_000)(lambda t: tuple(variants(index, t)))
        self.spellings = lru_cache(maxsize=10_000)(self._spellings)
        self._text: Callable[[int], str] = corpus.text
        # What each sentence's text says of it (`ASKING`, `REFERRING`), read when first needed; -1 unknown.
        self._marks = np.full(len(corpus), -1, dtype=np.int8)
        self._evidence: Callable[[int, AnswerType], tuple[frozenset[str], ...]] = lru_cache(maxsize=16_384)(
            lambda i, kind: type_evidence(self._text(i), kind)
        )

    def _spellings(self, word: str) -> tuple[str, ...]:
        """Index terms of the words one edit from `word` (a typo: "Nore Dame", "Cavanugh")."""
        folded = fold_word(word)
        if len(folded) < MIN_TYPO_LENGTH or not folded.isalpha():
            return ()
        found = {t for w in near_spellings(folded) for t in tokenize(w)}
        return tuple(sorted(t for t in found if self.index.term_idf(t) is not None))

    def _mark(self, i: int) -> int:
        """Sentence i's mark (`_marked`'s scalar path)."""
        mark = int(self._marks[i])
        if mark < 0:
            text = self._text(i)
            mark = self._marks[i] = ASKING * asks(text) | REFERRING * refers_back(text)
        return mark

    def _marked(self, ids: I32) -> npt.NDArray[np.int8]:
        """The marks (`ASKING`, `REFERRING`) of sentences `ids`, each read off its text once."""
        for i in ids[self._marks[ids] < 0].tolist():
            self._mark(i)
        return self._marks[ids]

    def _leaning(self, ids: I32) -> npt.NDArray[np.bool_]:
        """Whether each of sentences `ids` cannot be read without the one before it (`leans`)."""
        before = np.maximum(ids - 1, 0)
        after_one = ids > 0
        marks_before = np.zeros(len(ids), dtype=np.int8)
        marks_before[after_one] = self._marked(before[after_one])
        corpus = self.corpus
        same_paragraph = after_one & (corpus.paragraph_of[ids] == corpus.paragraph_of[before])
        same_document = after_one & (corpus.doc_of[ids] == corpus.doc_of[before])
        return np.asarray(leans(self._marked(ids), marks_before, same_paragraph, same_document))

    def leans_on_previous(self, i: int) -> bool:
        """Whether sentence i goes with the sentence before it (`leans`)."""
        if i <= 0:
            return False
        corpus = self.corpus
        same_paragraph = bool(corpus.paragraph_of[i] == corpus.paragraph_of[i - 1])
        same_document = bool(corpus.doc_of[i] == corpus.doc_of[i - 1])
        return bool(leans(self._mark(i), self._mark(i - 1), same_paragraph, same_document))

    def names_unknown(self, question: Question, document: int | None = None) -> bool:
        """Whether the question names something (a capitalised word) that no document mentions,
        or, given a `document`, that this document does not mention (in its text or descriptions).

        "Who is the president of France?" asks about France; an article that never names it
        cannot answer, however well "president" matches. A name that has a near spelling in the
        corpus (a typo) or an acronym ("TV") is not such a name; title-cased questions are skipped.
        """
        names = written_names(question.text)
        if not names:
            return False
        stood_for: dict[str, list[str]] = {}
        for q, n in zip(question.query, question.owner, strict=True):
            stood_for.setdefault(question.terms[n], []).append(q.term)
        for name in names:
            described = self.step.naming(name)  # an outlet's or author's name, say: not in the text
            for t in tokenize(name):
                if t not in stood_for and not described:
                    return True
                if document is None or document in described:
                    continue
                # In the document's text: the name itself, or (a name the corpus lacks) its near
                # spellings; not its derived forms ("Lakeview" is not "lake").
                known = [t] if self.index.term_idf(t) is not None else stood_for.get(t, [])
                if not any(self.mentions(document, q) for q in known):
                    return True
        return False

    def mentions(self, document: int, term: str) -> bool:
        """Whether a document's text (its title included) holds a term."""
        ids, _ = self.documents.postings(term)
        at = int(np.searchsorted(ids, document))
        return at < len(ids) and int(ids[at]) == document

    def weight(self, term: str) -> float:
        """A term's IDF; a term no sentence has weighs as much as the rarest one."""
        idf = self.index.term_idf(term)
        return self._max_idf if idf is None else max(idf, 0.0)

    def question(self, text: str) -> Question:
        """The question's terms, their weights, and the query that stands for them."""
        spans = term_spans(text)
        said = tuple(words(text))
        terms = tuple(dict.fromkeys(s.term for s in spans))
        query: dict[str, tuple[float, int]] = {}
        for n, t in enumerate(terms):
            present = self.index.term_idf(t) is not None
            if present:
                query[t] = (1.0, n)
            # A variant stands in for a word the corpus lacks more than it adds to one it has.
            share = VARIANT_WEIGHT * (PRESENT_VARIANT_SHARE if present else 1.0)
            stand_ins = list(self.variants(t))
            if not present:
                written = {text[s.start : s.end] for s in spans if s.term == t}
                stand_ins += [v for w in written for v in self.spellings(w)]
            for v in stand_ins:
                if query.get(v, (0.0, n))[0] < share:
                    query[v] = (share, n)
        return Question(
            text=text,
            terms=terms,
            weights=tuple(self.weight(t) for t in terms),
            query=tuple(QueryTerm(t, w) for t, (w, _) in query.items()),
            owner=tuple(n for _, n in query.values()),
            kind=answer_type(said),
            words=said,
        )

    def about(self, question: Question) -> F32:
        """How well each document fits the question (`DocumentStep.fit`)."""
        return self.step.fit(question.text, question.terms, question.weights)

    def sentences_of(self, document: int) -> tuple[int, int]:
        """The ids [start, end) of a document's sentences (they are consecutive)."""
        doc_of = self.corpus.doc_of
        return int(np.searchsorted(doc_of, document)), int(np.searchsorted(doc_of, document, side="right"))

    def rank(
        self,
        question: Question,
        k: int = CANDIDATES,
        document: int | None = None,
        *,
        rerank: bool = True,
        read: bool = True,
        server: int | None = None,
    ) -> Ranked:
        """Up to `k` candidates and their followers, ranked by the weighted features; only the
        sentences of `document` when it is given, else of the documents `server` sees (its view of
        the corpus, `Corpus.spans`); with the re-ranking stage (and `rerank`), the first `pool` of
        them re-scored by meaning too; with the reader (and `read`), the first `candidates` of that
        order read with the question and re-ordered (`read_order`)."""
        ranked = self._ranked(question, k, document, rerank, server)
        if not read or self.reader is None or not len(ranked.ids):
            return ranked
        fitted = self.reader.fitted
        head = ranked.ids[: fitted.candidates].tolist()
        try:
            reading = self.reader.model.read(question.text, [self._text(i) for i in head])
        except ReaderError as exc:  # loaded in the background (`reader.Loading`): it failed there
            log.warning("reader off: %s", exc)
            self.reader = None
            return ranked
        order, scores = read_order(ranked.scores, reading.scores, fitted.weight)
        first = order[: len(head)]
        return Ranked(
            ranked.ids[order],
            scores[order],
            ranked.features[order],
            ranked.reranked,
            Reading(reading.scores[first], tuple(reading.spans[i] for i in first)),
        )

    def _ranked(
        self, question: Question, k: int, document: int | None, rerank: bool, server: int | None
    ) -> Ranked:
        within = None if document is None else self.sentences_of(document)
        ranges = None if within is not None else self.corpus.spans(server)
        proposed = self.index.rank(question.query, k, within=within, ranges=ranges).ids
        if not len(proposed):
            empty = np.empty(0, np.float32)
            return Ranked(np.empty(0, np.int32), empty, np.empty((0, len(FEATURES)), np.float32))
        # The sentence after a candidate may be the one that answers, its subject named before it.
        follow = proposed[proposed + 1 < len(self.corpus)] + 1
        follow = follow[self._same_paragraph(follow - 1, follow)]
        ids = np.unique(np.concatenate([proposed, follow])).astype(np.int32)
        table = self.features(question, ids)
        factor = self.factors(ids)
        if rerank and self.semantic is not None:
            reranked = self._rerank(question, ids, table, factor, self.semantic.rerank)
            if reranked is not None:
                return reranked
        scores = table @ self._vector * factor
        order = np.lexsort((ids, -scores))
        return Ranked(ids[order], scores[order], table[order])

    def _rerank(self, question: Question, ids: I32, table: F32, factor: F32, rerank: Rerank) -> Ranked | None:
        """The lexical order (with the re-ranking weights), then its first `pool` re-scored with
        the cosine features (`reranked_order`); None when their vectors are not to be had now."""
        weights = rerank.weights.vector()
        assert self._question_vector is not None and self.semantic is not None
        table[:, MEANING] = self.meaning_of_documents(question, ids)
        lexical = pool_scores(table, weights) * factor
        pool = np.lexsort((ids, -lexical))[: rerank.pool]
        spans = self._spans(ids[pool])
        needed = self._needed(spans)
        if not self.semantic.vectors.have(needed):
            return None
        vector = self._question_vector(question.text)
        table[pool, SEMANTIC:MEANING] = self._cosines(vector, ids[pool], spans, needed)
        order, scores = reranked_order(table, ids, factor, weights, rerank.pool)
        return Ranked(ids[order], scores[order], table[order], reranked=True)

    def factors(self, ids: I32) -> F32:
        """Each sentence's factor on its score: QUESTION_FACTOR for one that asks, else 1."""
        asking = self._marked(ids) & ASKING > 0
        return np.where(asking, np.float32(QUESTION_FACTOR), np.float32(1.0)).astype(np.float32)

    def relevance(self, question: Question) -> F32 | None:
        """How much closer the question comes to each document's meaning than off-topic questions
        do (`semantic.Relevance`); None without the re-ranking stage or before every vector is in."""
        if self.semantic is None or self._question_vector is None or not self.semantic.vectors.complete:
            return None  # (the question's vector is not computed for nothing)
        return self._relevance(question.text)

    def meaning_of_documents(self, question: Question, ids: I32) -> F32:
        """The `meaning_document` column of sentences `ids`: their document's relevance to the
        question; 0 with one document (the same for every sentence) or before every vector is in."""
        relevance = self.relevance(question) if len(self.corpus.documents) > 1 else None
        if relevance is None:
            return np.zeros(len(ids), dtype=np.float32)
        return np.asarray(relevance[self.corpus.doc_of[ids]], dtype=np.float32)

    def _spans(self, ids: I32) -> list[tuple[int, int]]:
        """Each sentence's paragraph, as [start, end) sentence ids."""
        starts, ends = self._paragraph_start[ids], self._paragraph_end[ids]
        return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]

    @staticmethod
    def _needed(spans: list[tuple[int, int]]) -> I32:
        """The sentences whose vectors the cosine features read: every sentence of these paragraphs."""
        if not spans:
            return np.empty(0, np.int32)
        return np.unique(np.concatenate([np.arange(s, e) for s, e in spans])).astype(np.int32)

    def cosines(self, question_vector: F32, ids: I32) -> F32:
        """The cosine features of sentences `ids` (columns `cos_sentence`, `cos_window`,
        `cos_paragraph`); computes the vectors they need that are not yet there."""
        spans = self._spans(ids)
        return self._cosines(question_vector, ids, spans, self._needed(spans))

    def _cosines(self, question_vector: F32, ids: I32, spans: list[tuple[int, int]], needed: I32) -> F32:
        assert self.semantic is not None
        where = {int(i): n for n, i in enumerate(needed)}
        vectors = self.semantic.vectors.get(needed)
        own = vectors[[where[int(i)] for i in ids]]
        window = np.stack(
            [
                vectors[[where[j] for j in range(max(int(i) - 1, s), min(int(i) + 2, e))]].sum(axis=0)
                for i, (s, e) in zip(ids, spans, strict=True)
            ]
        )
        paragraph = np.stack([vectors[where[s] : where[e - 1] + 1].sum(axis=0) for s, e in spans])
        out = np.empty((len(ids), MEANING - SEMANTIC), dtype=np.float32)
        out[:, 0] = own @ question_vector
        out[:, 1] = unit(window) @ question_vector
        out[:, 2] = unit(paragraph) @ question_vector
        return out

    def _same_paragraph(self, a: I32, b: I32) -> npt.NDArray[np.bool_]:
        return np.asarray(self.paragraph_of[a] == self.paragraph_of[b])

    def features(self, question: Question, ids: I32) -> F32:
        """The feature table of sentences `ids` for a question: one row a sentence, FEATURES columns."""
        table = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
        total = question.total
        if not len(ids) or not question.query or total <= 0:
            return table
        terms = [q.term for q in question.query]
        query_weight = np.array([q.weight for q in question.query], dtype=np.float32)
        # Impacts of every query term on the candidates and on the sentences before them.
        before = np.maximum(ids - 1, 0)
        impacts = self.index.impacts_at(terms, np.concatenate([ids, before]))
        own, prev = impacts[:, : len(ids)], impacts[:, len(ids) :]
        para = self.paragraph_of[ids]
        paragraph = self.paragraphs.impacts_at(terms, para)
        if len(self.documents) > 1:  # with one document it is the same for every sentence
            table[:, 2] = query_weight @ self.documents.impacts_at(terms, self.corpus.doc_of[ids]) / total
            # Which sentence of a document answers is told by the terms rare in that document.
            own = own * self.index.within(terms, ids, self.corpus.doc_of, self.within.sentences)
            paragraph *= self.paragraphs.within(
                terms, para, self.within.paragraph_document, self.within.paragraphs
            )
        table[:, 0] = query_weight @ own / total
        table[:, 1] = query_weight @ paragraph / total
        # Which of the question's own terms (or their stand-ins) each sentence holds.
        owner = np.zeros((len(question.terms), len(terms)), dtype=np.float32)
        owner[list(question.owner), np.arange(len(terms))] = 1.0
        term_weight = np.array(question.weights, dtype=np.float32)
        holds = owner @ (own > 0) > 0
        held_before = owner @ (prev > 0) > 0
        gain = term_weight @ (held_before & ~holds)
        # Whether a sentence leans on the one before is read off its text: only where it counts.
        leans = np.zeros(len(ids), dtype=bool)
        leans[gain > 0] = self._leaning(ids[gain > 0])
        table[:, 3] = leans * gain / total
        if question.kind is not AnswerType.NONE:
            asked = frozenset(question.terms)
            table[:, 4] = [_holds(self._evidence(int(i), question.kind), asked) for i in ids]
        table[:, 6] = self._titles[ids]
        if len(self.documents) > 1:
            about = self.about(question)
            table[:, 5] = about[self.corpus.doc_of[ids]]
            naming = self.step.in_best_descriptions(question.terms, about)
            table[:, 7] = (query_weight * ~naming[list(question.owner)]) @ own / total
        return table

    def held_terms(self, question: Question, ids: Sequence[int]) -> dict[int, set[int]]:
        """For each sentence id, the positions (in `question.terms`) of the terms it holds."""
        if not ids or not question.query:
            return {i: set() for i in ids}
        impacts = self.index.impacts_at([q.term for q in question.query], np.asarray(ids, dtype=np.int32))
        rows, cols = np.nonzero(impacts)
        held: dict[int, set[int]] = {i: set() for i in ids}
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            held[ids[c]].add(question.owner[r])
        return held
