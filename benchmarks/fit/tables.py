"""Each answerable question's candidate sentences and their features, and how well weights rank them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from benchmarks.fit.sets import METADATA, SETS, documents_of, load_set, ranker_for
from bot.evaluate import Case, read_question_set
from bot.search.features import MEANING, SEMANTIC
from bot.search.ranking import Ranker, reranked_order
from bot.search.retriever import Bm25Params
from bot.text import fold_space

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Scored:
    """One answerable question: its candidates' feature rows (every column, the cosines too), and
    which candidates hold the answer."""

    features: F32
    ids: npt.NDArray[np.int32]
    gold: npt.NDArray[np.bool_]
    factor: F32 | None = field(default=None)  # each candidate's factor (a sentence that asks: less)

    def factors(self) -> F32:
        return self.factor if self.factor is not None else np.ones(len(self.ids), np.float32)


def gold_sentences(ranker: Ranker, case: Case) -> set[int]:
    corpus = ranker.corpus
    found: set[int] = set()
    for i in range(len(corpus)):
        s = corpus.sentence(i)
        if any(s.document.name == a.document and s.start <= a.start < s.end for a in case.spans):
            found.add(i)
        if any(fold_space(g) in s.text for g in case.gold) and case.document in ("", s.document.name):
            found.add(i)
    return found


def load_together(
    names: Sequence[str], params: Bm25Params | None = None, *, blind: bool = True
) -> dict[str, list[Scored]]:
    """Every named set scored over one corpus holding all the sets' documents (the blind sets'
    too, unless `blind` is False: when fitting)."""
    documents: dict[str, str] = {}
    for spec in SETS.values():
        if blind or not spec.blind:
            documents.update(documents_of(spec))
    ranker = ranker_for(documents, params)
    return {name: list(tables(ranker, read_question_set(SETS[name].questions).cases)) for name in names}


def fitting_tables(names: Sequence[str], params: Bm25Params) -> list[list[Scored]]:
    """Each fitting set's tables: asked of its own documents, and beside every other (not blind)
    document, both of which should rank well."""
    together = load_together(names, params, blind=False)
    return [[*tables(*load_set(name, params)), *together[name]] for name in names]


_QUESTION_VECTORS: dict[str, F32] = {}  # a question's vector, the same in every corpus


def question_vectors(ranker: Ranker, questions: Iterable[str]) -> dict[str, F32]:
    """The model's vectors of `questions` (computed in one batch, then remembered)."""
    wanted = list(dict.fromkeys(questions))
    if ranker.semantic is not None:
        todo = [q for q in wanted if q not in _QUESTION_VECTORS]
        if todo:
            _QUESTION_VECTORS.update(zip(todo, ranker.semantic.model.embed(todo), strict=True))
    return {q: _QUESTION_VECTORS[q] for q in wanted if q in _QUESTION_VECTORS}


def tables(ranker: Ranker, cases: Sequence[Case]) -> Iterator[Scored]:
    """The candidates of every answerable question, with their features (the cosines of every
    candidate too, whatever the pool, so that the pool size can be fitted)."""
    answerable = [c for c in cases if c.answerable and c.kind != METADATA]
    vectors = question_vectors(ranker, (c.question for c in answerable))
    semantic = ranker.semantic
    for case in answerable:
        gold = gold_sentences(ranker, case)
        question = ranker.question(case.question)
        ranked = ranker.rank(question, rerank=False)
        features = ranked.features.copy()
        if semantic is not None and case.question in vectors and len(ranked.ids):
            vector = vectors[case.question]
            features[:, SEMANTIC:MEANING] = ranker.table.cosines(vector, ranked.ids, semantic.vectors)
            features[:, MEANING] = ranker.meaning_of_documents(question, ranked.ids)
        yield Scored(features, ranked.ids, np.isin(ranked.ids, sorted(gold)), ranker.factors(ranked.ids))


def measure(scored: Sequence[Scored], weights: F32, pool: int = 0) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@3 of the answer sentence: lexical order (`pool` 0), or re-ranked."""
    h1 = h3 = rr = 0.0
    for s in scored:
        if not len(s.ids):
            continue
        if pool > 0:
            order = reranked_order(s.features, s.ids, s.factors(), weights, pool)[0][:3]
        else:
            lexical = s.features[:, :SEMANTIC] @ weights[:SEMANTIC] * s.factors()
            order = np.lexsort((s.ids, -lexical))[:3].astype(np.int32)
        hits = np.flatnonzero(s.gold[order])
        if len(hits):
            rank = int(hits[0]) + 1
            h1 += rank == 1
            h3 += 1
            rr += 1 / rank
    n = len(scored) or 1
    return h1 / n, h3 / n, rr / n
