"""BM25 ranking over sentences, scored as rank-bm25 scores them, precomputed per posting.

rank-bm25 loops over every document for every query term. Here each term's postings hold the
sentence ids that contain it and the BM25 contribution ("impact") the term makes to each of
them, computed once at index time with rank-bm25's own IDF code and parameters. A query then
costs the length of its terms' postings, not the size of the corpus.

rank-bm25's BM25Plus gives every document a baseline for each query term, even one without
it; that baseline is the same for all documents, so it is kept per term and added
back only where a caller asks for rank-bm25's exact scores.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import rank_bm25

log = logging.getLogger(__name__)

Variant = Literal["okapi", "plus", "l"]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

_MODELS: dict[str, type[rank_bm25.BM25]] = {
    "okapi": rank_bm25.BM25Okapi,
    "plus": rank_bm25.BM25Plus,
    "l": rank_bm25.BM25L,
}


@dataclass(frozen=True)
class Bm25Params:
    """The scoring model: a rank-bm25 variant and its parameters (rank-bm25's defaults)."""

    variant: Variant = "plus"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # okapi: floor for negative IDF, as a share of the mean IDF
    delta: float = 1.0  # plus: 1.0, l: 0.5 in rank-bm25


class QueryTerm(NamedTuple):
    """A query term and its weight (1 for the question's own terms, less for variants)."""

    term: str
    weight: float = 1.0


class Ranking(NamedTuple):
    """Sentence ids best first, their scores, and the scores of each one's neighbours."""

    ids: I32
    scores: F32
    prev_scores: F32  # the score of sentence id-1 (0 for the first sentence)
    next_scores: F32  # the score of sentence id+1 (0 for the last sentence)


def rank_bm25_idf(params: Bm25Params, n_docs: int, doc_freq: dict[str, int]) -> dict[str, float]:
    """IDF of each term, computed by rank-bm25's own `_calc_idf` for the chosen variant."""
    model = _MODELS[params.variant].__new__(_MODELS[params.variant])
    model.corpus_size = n_docs
    model.idf = {}
    model.epsilon = params.epsilon
    model.delta = params.delta
    model._calc_idf(doc_freq)
    idf: dict[str, float] = model.idf
    return idf


def rank_bm25_model(params: Bm25Params, corpus: list[list[str]]) -> rank_bm25.BM25:
    """A rank-bm25 model with these parameters (the reference the index is checked against)."""
    if params.variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    cls = _MODELS[params.variant]
    return cls(corpus, k1=params.k1, b=params.b, delta=params.delta)


class Index:
    """An inverted index of BM25 impacts: term -> (sentence ids int32, impacts float32)."""

    def __init__(
        self,
        params: Bm25Params,
        terms: list[str],
        offsets: npt.NDArray[np.int64],
        doc_ids: I32,
        impacts: F32,
        baseline: F32,
        idf: F32,
        n_docs: int,
    ) -> None:
        self.params = params
        self.terms = terms  # sorted, so variants can be found by prefix
        self.term_id = {t: i for i, t in enumerate(terms)}
        self.offsets = offsets
        self.doc_ids = doc_ids
        self.impacts = impacts
        self.baseline = baseline
        self.idf = idf
        self.n_docs = n_docs
        self._buffers = threading.local()

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        params: Bm25Params | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Index:
        """Index tokenised sentences, streamed; `progress(n)` is told every 50,000 sentences."""
        params = params or Bm25Params()
        vocab: dict[str, int] = {}
        flat = np.empty(1 << 20, dtype=np.int32)  # every sentence's term ids, end to end
        used = 0
        lengths: list[int] = []
        for tokens in token_lists:
            ids = [vocab.setdefault(t, len(vocab)) for t in tokens]
            if used + len(ids) > len(flat):
                flat = np.resize(flat, max(2 * len(flat), used + len(ids)))
            flat[used : used + len(ids)] = ids
            used += len(ids)
            lengths.append(len(ids))
            if progress is not None and len(lengths) % 50_000 == 0:
                progress(len(lengths))
        n_docs = len(lengths)
        doc_len = np.asarray(lengths, dtype=np.int32)
        del lengths
        n_terms = len(vocab)
        # (term, sentence) pairs sorted by term then sentence, with their term frequencies.
        sentence_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
        keys = flat[:used].astype(np.int64) * max(n_docs, 1) + sentence_of
        del flat, sentence_of
        keys.sort()
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if used else np.empty(0, np.int64)
        tf = np.diff(np.r_[starts, used]).astype(np.float32)
        keys = keys[starts]
        del starts
        term_of = (keys // max(n_docs, 1)).astype(np.int32)
        doc_ids = (keys % max(n_docs, 1)).astype(np.int32)
        del keys
        doc_freq = np.bincount(term_of, minlength=n_terms)
        # Terms renumbered in sorted order, postings reordered to match.
        by_id = list(vocab)
        order = sorted(range(n_terms), key=by_id.__getitem__)
        rank = np.empty(n_terms, dtype=np.int32)
        rank[order] = np.arange(n_terms, dtype=np.int32)
        sorted_terms = [by_id[i] for i in order]
        idf_map = rank_bm25_idf(params, n_docs, {by_id[i]: int(doc_freq[i]) for i in range(n_terms)})
        idf = np.array([idf_map[t] for t in sorted_terms], dtype=np.float64)
        new_term = rank[term_of]
        del term_of
        perm = np.argsort(new_term, kind="stable")
        new_term, doc_ids, tf = new_term[perm], doc_ids[perm], tf[perm]
        del perm
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_term, minlength=n_terms), out=offsets[1:])
        avgdl = float(doc_len.sum()) / n_docs if n_docs else 1.0
        norm = (1 - params.b + params.b * doc_len.astype(np.float64) / (avgdl or 1.0))[doc_ids]
        term_idf = idf[new_term]
        del new_term
        impacts, baseline = _impacts(params, term_idf, tf.astype(np.float64), norm, idf)
        return cls(
            params,
            sorted_terms,
            offsets,
            doc_ids,
            impacts.astype(np.float32),
            baseline.astype(np.float32),
            idf.astype(np.float32),
            n_docs,
        )

    def __len__(self) -> int:
        return self.n_docs

    def postings(self, term: str) -> tuple[I32, F32]:
        """The sentence ids containing `term` and the term's impact on each."""
        t = self.term_id.get(term)
        if t is None:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        lo, hi = int(self.offsets[t]), int(self.offsets[t + 1])
        return self.doc_ids[lo:hi], self.impacts[lo:hi]

    def term_idf(self, term: str) -> float | None:
        """The term's IDF, or None when no sentence has it."""
        t = self.term_id.get(term)
        return None if t is None else float(self.idf[t])

    def max_idf(self) -> float:
        """The IDF a term in a single sentence gets: the most any known term weighs."""
        return float(self.idf.max()) if len(self.idf) else 1.0

    def with_prefix(self, prefix: str) -> list[str]:
        """Indexed terms that start with `prefix`."""
        lo = bisect.bisect_left(self.terms, prefix)
        hi = bisect.bisect_left(self.terms, prefix + "\U0010ffff")
        return self.terms[lo:hi]

    def _buffer(self) -> F32:
        buf: F32 | None = getattr(self._buffers, "scores", None)
        if buf is None:  # one per thread: ranking may run in several threads at once
            buf = np.zeros(self.n_docs + 2, dtype=np.float32)
            self._buffers.scores = buf
        return buf

    def rank(self, query: Sequence[QueryTerm] | Sequence[str], k: int) -> Ranking:
        """The `k` best sentences for the weighted query terms (weight 1 for plain strings)."""
        terms = [QueryTerm(q) if isinstance(q, str) else q for q in query]
        buf = self._buffer()
        view = buf[1:-1]  # sentence i lives at buf[i + 1], so i-1 and i+1 are always in range
        touched: list[I32] = []
        for term, weight in terms:
            ids, impacts = self.postings(term)
            if len(ids):
                view[ids] += impacts if weight == 1.0 else impacts * np.float32(weight)
                touched.append(ids)
        if not touched:
            empty = np.empty(0, np.float32)
            return Ranking(np.empty(0, np.int32), empty, empty, empty)
        cand = np.concatenate(touched) if len(touched) > 1 else touched[0]
        cand_scores = view[cand]
        # A sentence appears once per query term at most, so the best k * terms entries
        # hold at least k distinct sentences.
        want = min(len(cand), k * len(touched))
        if want < len(cand):
            part = np.argpartition(-cand_scores, want - 1)[:want]
            cand, cand_scores = cand[part], cand_scores[part]
        order = np.lexsort((cand, -cand_scores))
        cand = cand[order]
        keep = np.r_[True, cand[1:] != cand[:-1]] if len(cand) > 1 else np.ones(len(cand), bool)
        # Duplicates are adjacent: equal ids carry equal scores and sort together.
        ids = cand[keep][:k].astype(np.int32)
        result = Ranking(ids, view[ids].copy(), buf[ids].copy(), buf[ids + 2].copy())
        for t in touched:
            view[t] = 0.0
        return result

    def scores(self, query: Sequence[QueryTerm] | Sequence[str]) -> npt.NDArray[np.float64]:
        """Every sentence's score, exactly as rank-bm25's `get_scores` gives it (for checks)."""
        terms = [QueryTerm(q) if isinstance(q, str) else q for q in query]
        out = np.zeros(self.n_docs, dtype=np.float64)
        for term, weight in terms:
            ids, impacts = self.postings(term)
            t = self.term_id.get(term)
            if t is not None:
                out += weight * float(self.baseline[t])
            out[ids] += weight * impacts.astype(np.float64)
        return out


def _impacts(
    params: Bm25Params,
    posting_idf: npt.NDArray[np.float64],
    tf: npt.NDArray[np.float64],
    norm: npt.NDArray[np.float64],
    idf: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-posting impacts and per-term baselines, by rank-bm25's formulas for each variant."""
    k1, delta = params.k1, params.delta
    if params.variant == "okapi":
        return posting_idf * tf * (k1 + 1) / (tf + k1 * norm), np.zeros_like(idf)
    if params.variant == "plus":
        return posting_idf * tf * (k1 + 1) / (k1 * norm + tf), idf * delta
    ctd = tf / norm  # rank-bm25's BM25L multiplies by tf, so a sentence without the term gets 0
    return posting_idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta), np.zeros_like(idf)


def variants(index: Index, term: str, min_prefix: int = 4, share: float = 0.7) -> list[str]:
    """Indexed terms that look like other forms of `term` (agree/agreement, succeed/successor).

    Snowball stemming leaves derivations apart; two stems are taken as one word's forms when
    one is a prefix of the other (at least `min_prefix` letters), or when they share a prefix of
    at least `min_prefix + 1` letters that covers `share` of the shorter one.
    """
    if len(term) < min_prefix:
        return []
    found: set[str] = set()
    for cut in range(min_prefix, len(term)):  # shorter stems that are prefixes of the term
        if term[:cut] in index.term_id:
            found.add(term[:cut])
    stem = term[: max(min_prefix, math.ceil(share * min(len(term), min_prefix + 1)))]
    for other in index.with_prefix(stem):
        common = _common_prefix(term, other)
        shorter = min(len(term), len(other))
        if common == shorter or (common >= min_prefix + 1 and common >= share * shorter):
            found.add(other)
    found.discard(term)
    return sorted(found)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
