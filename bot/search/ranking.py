"""Ranking sentences for a question: one weighted sum over the feature table, then the stages that
re-score its first candidates.

The question (`bot.search.question`) becomes weighted terms; the BM25 index proposes candidate
sentences, and the sentence after each (it may be the one that answers, its subject named before
it); each candidate gets a row of the feature table (`bot.search.features`); a weighted sum ranks
them. The re-ranking stage (`bot.search.semantic`) fills the cosine columns of the first `pool`
candidates and re-scores them with weights of its own; BM25 and the lexical features still choose
and order the candidates, and the rest follow. The reader (`bot.search.reader`) then reads the
first of that order with the question, its score one more weighted column (`read_order`).

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
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import Corpus
from bot.search.documents import DocumentStep
from bot.search.features import FEATURES, MEANING, SEMANTIC, FeatureTable
from bot.search.groups import Groups, groups
from bot.search.question import Question, Questions
from bot.search.reader import Fitted, ReaderError, Reading, Reads
from bot.search.retriever import Bm25Params, Index
from bot.search.semantic import Embedder, Relevance, SentenceVectors

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

WEIGHTS_FILE = Path(__file__).with_name("ranking_weights.json")
QUESTION_FACTOR = 0.5  # a sentence that asks a question (an interview's "Q:") echoes more than it answers
RELEVANCES_KEPT = 64  # questions whose relevance to each document is remembered
CANDIDATES = 40  # sentences proposed by BM25 for re-ranking (their followers join them)


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


@lru_cache(maxsize=1)
def fitted_params() -> Bm25Params:
    """The BM25 parameters fitted with the weights (`bot.fit`): the index is built with them."""
    data = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")).get("bm25", {})
    return Bm25Params(**{k: data[k] for k in ("variant", "k1", "b") if k in data})


# -- the combination -------------------------------------------------------------------------------


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


class Ranker:
    """Ranks the sentences of one corpus for questions: reads a question (`questions`), fills the
    feature table of its candidates (`table`) and combines it (`rank`)."""

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
        # Built when not given (the engine caches them with the index: at a million sentences
        # building them takes most of a second).
        grouped = grouped or groups(corpus, index)
        self.step = DocumentStep(corpus, grouped.documents)
        self.questions = Questions(index, self.step)
        self.table = FeatureTable(corpus, index, grouped, self.step)
        self._question_vector: Callable[[str], F32] | None = (
            lru_cache(maxsize=1024)(lambda text: semantic.model.embed([text])[0]) if semantic else None
        )
        # Asked again to decline after ranking: computed once. Only asked once every vector is in,
        # when it is never None.
        self._relevance: Callable[[str], F32 | None] = lru_cache(maxsize=RELEVANCES_KEPT)(
            lambda text: (
                semantic.relevance(self._question_vector(text))
                if semantic and self._question_vector
                else None
            )
        )
        self._text: Callable[[int], str] = corpus.text

    def question(self, text: str) -> Question:
        """The question as the ranker reads it (`Questions.read`)."""
        return self.questions.read(text)

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
        paragraph_of = self.table.paragraph_of
        follow = proposed[proposed + 1 < len(self.corpus)] + 1
        follow = follow[paragraph_of[follow - 1] == paragraph_of[follow]]
        ids = np.unique(np.concatenate([proposed, follow])).astype(np.int32)
        table = self.table.features(question, ids)
        factor = self.factors(ids)
        if rerank and self.semantic is not None:
            reranked = self._rerank(question, ids, table, factor, self.semantic)
            if reranked is not None:
                return reranked
        scores = table @ self._vector * factor
        order = np.lexsort((ids, -scores))
        return Ranked(ids[order], scores[order], table[order])

    def _rerank(
        self, question: Question, ids: I32, table: F32, factor: F32, semantic: Semantic
    ) -> Ranked | None:
        """The lexical order (with the re-ranking weights), then its first `pool` re-scored with
        the cosine features (`reranked_order`); None when their vectors are not to be had now."""
        rerank = semantic.rerank
        weights = rerank.weights.vector()
        assert self._question_vector is not None
        table[:, MEANING] = self.meaning_of_documents(question, ids)
        lexical = pool_scores(table, weights) * factor
        pool = np.lexsort((ids, -lexical))[: rerank.pool]
        if not semantic.vectors.have(self.table.needed(ids[pool])):
            return None
        vector = self._question_vector(question.text)
        table[pool, SEMANTIC:MEANING] = self.table.cosines(vector, ids[pool], semantic.vectors)
        order, scores = reranked_order(table, ids, factor, weights, rerank.pool)
        return Ranked(ids[order], scores[order], table[order], reranked=True)

    def factors(self, ids: I32) -> F32:
        """Each sentence's factor on its score: QUESTION_FACTOR for one that asks, else 1."""
        asking = self.table.asking(ids)
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
