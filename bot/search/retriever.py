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
import itertools
import logging
import math
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import rank_bm25

log = logging.getLogger(__name__)

_BLOCK = 1 << 16  # tokens (postings) handled at a time where a build works in blocks
_LOW_HALF = 0 if sys.byteorder == "little" else 1  # the low int32 of an int64, in memory

Variant = Literal["okapi", "plus", "l"]
F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]

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
    model = object.__new__(_MODELS[params.variant])
    model.corpus_size = n_docs
    model.idf = {}
    model.epsilon = params.epsilon
    model.delta = params.delta
    model._calc_idf(doc_freq)
    idf: dict[str, float] = model.idf
    return idf


def idf_values(
    params: Bm25Params,
    n_docs: int,
    doc_freq: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """The IDF of each term (by its document frequency), computed by rank-bm25's `_calc_idf`.

    Plus and L give a term's IDF from its frequency alone, so rank-bm25 is asked once a distinct
    frequency (a few thousand, not a dictionary of every term). Okapi floors negative IDFs by a
    share of the mean over all terms, so every term is passed, keyed in `order` (the terms'
    positions in order of first use, as rank-bm25 counts them).
    """
    if params.variant == "okapi":
        keys = order.tolist() if order is not None else list(range(len(doc_freq)))
        by_key = rank_bm25_idf(params, n_docs, {str(k): int(doc_freq[k]) for k in keys})
        return np.array([by_key[str(k)] for k in range(len(doc_freq))], dtype=np.float64)
    values, inverse = np.unique(doc_freq, return_inverse=True)
    by_value = rank_bm25_idf(params, n_docs, {str(v): v for v in values.tolist()})
    return np.array([by_value[str(v)] for v in values.tolist()], dtype=np.float64)[inverse]


def idf_formula(
    params: Bm25Params,
    n_docs: npt.NDArray[np.float64],
    doc_freq: npt.NDArray[np.float64],
    runs: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """rank-bm25's IDF for each (collection size, document frequency) pair, vectorised: for many
    small collections at once (`Index.within`), where a call of `_calc_idf` per collection would
    cost too much. Plus and L are rank-bm25's formulas exactly; Okapi's floor for a negative IDF
    is `epsilon` times the mean IDF of the pairs given (of each run of them, one a term, when
    `runs` gives where each starts), not of a whole vocabulary.
    """
    if params.variant == "plus":
        return np.log((n_docs + 1) / doc_freq)
    if params.variant == "l":
        return np.log(n_docs + 1) - np.log(doc_freq + 0.5)
    raw = np.log(n_docs - doc_freq + 0.5) - np.log(doc_freq + 0.5)
    if runs is None:
        floor: float | npt.NDArray[np.float64] = params.epsilon * float(raw.mean()) if raw.size else 0.0
    else:
        lengths = np.diff(np.append(runs, len(raw)))
        sums = np.add.reduceat(raw, runs) if raw.size else np.zeros(len(runs))
        floor = np.repeat(params.epsilon * sums / np.maximum(lengths, 1), lengths)
    return np.where(raw < 0, floor, raw)


def rank_bm25_model(params: Bm25Params, corpus: list[list[str]]) -> rank_bm25.BM25:
    """A rank-bm25 model with these parameters (the reference the index is checked against)."""
    if params.variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    cls = _MODELS[params.variant]
    return cls(corpus, k1=params.k1, b=params.b, delta=params.delta)


@dataclass(frozen=True)
class Grouped:
    """An index whose documents are groups of another's (`Index.grouped`) and, for each of its
    postings, how many of the group's items hold the term (its term frequency there)."""

    index: Index
    frequencies: F32


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
        term_id: dict[str, int] | None = None,
    ) -> None:
        self.params = params
        self.terms = terms  # sorted, so variants can be found by prefix
        self.term_id = term_id if term_id is not None else {t: i for i, t in enumerate(terms)}
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
        by_id, flat, doc_len = _term_ids(token_lists, progress)
        return cls.from_ids(by_id, flat, doc_len, params)

    @classmethod
    def from_ids(
        cls, vocabulary: Sequence[str], flat: I32, doc_len: I32, params: Bm25Params | None = None
    ) -> Index:
        """Index sentences given as term ids: every sentence's ids into `vocabulary`, end to end,
        and each sentence's length. Terms no sentence uses are left out.

        The IDF table is keyed in vocabulary order, as rank-bm25 keys it in order of first use;
        only Okapi's mean IDF (a sum) depends on that order, and only within rounding.
        """
        params = params or Bm25Params()
        n_docs = len(doc_len)
        used = np.flatnonzero(np.bincount(flat, minlength=len(vocabulary)))
        by_id = [vocabulary[i] for i in used.tolist()]
        n_terms = len(by_id)
        # Terms renumbered in sorted order, so that postings come out sorted by term.
        order = sorted(range(n_terms), key=by_id.__getitem__)
        rank = np.zeros(len(vocabulary), dtype=np.int64)
        rank[used[order]] = np.arange(n_terms, dtype=np.int64)
        terms = [by_id[i] for i in order]
        del order
        # One int64 key per token, (term << 32) | sentence, sorted in place: a term's postings
        # together, its sentences ascending, a sentence's repeats of the term side by side.
        keys = rank[flat]
        del flat
        keys <<= 32
        keys |= np.repeat(np.arange(n_docs, dtype=np.int32), doc_len)
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        repeats = np.flatnonzero(~first)  # a sentence's second, third... use of a term
        # A key's low 32 bits are its sentence, read in place (no int64 copy) for each posting.
        doc_ids = keys.view(np.int32)[_LOW_HALF::2][first]
        del first
        keys >>= 32  # each token's term
        doc_freq = np.bincount(keys, minlength=n_terms) - np.bincount(keys[repeats], minlength=n_terms)
        del keys
        tf = np.ones(len(doc_ids), dtype=np.float32)
        # Token i repeats posting i - (number of repeats up to and including token i).
        np.add.at(tf, repeats - np.arange(1, len(repeats) + 1), 1)
        del repeats
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(doc_freq, out=offsets[1:])
        # Document frequencies in vocabulary order (first use, as rank-bm25 counts them).
        idf = idf_values(params, n_docs, doc_freq, order=rank[used])
        return cls._scored(params, terms, offsets, doc_ids, tf, doc_len.astype(np.float64), idf)

    @classmethod
    def _scored(
        cls,
        params: Bm25Params,
        terms: list[str],
        offsets: npt.NDArray[np.int64],
        doc_ids: I32,
        tf: F32,
        lengths: npt.NDArray[np.float64],
        idf: npt.NDArray[np.float64],
        term_id: dict[str, int] | None = None,
    ) -> Index:
        """The index of these postings (term frequencies, document lengths), with their BM25 impacts."""
        avg = float(lengths.mean()) if len(lengths) else 1.0
        norm = 1 - params.b + params.b * lengths / (avg or 1.0)
        impacts, baseline = _block_impacts(params, idf, offsets, tf, doc_ids, norm)
        return cls(
            params,
            terms,
            offsets,
            doc_ids,
            impacts,
            baseline.astype(np.float32),
            idf.astype(np.float32),
            len(lengths),
            term_id=term_id,
        )

    def grouped(self, group_of: I32) -> Grouped:
        """An index whose documents are runs of consecutive sentences (paragraphs), from these
        postings, with each of its term frequencies.

        `group_of[i]` is sentence i's group, non-decreasing in i. A term's frequency in a group is
        the number of its sentences that hold the term, and a group's length the sum of its
        sentences' distinct terms: both read off the postings, so nothing is tokenised again.
        """
        n_groups = int(group_of[-1]) + 1 if len(group_of) else 0
        n_terms = len(self.terms)
        ids: list[I32] = []
        freqs: list[F32] = []
        doc_freq = np.zeros(n_terms, dtype=np.int64)
        length = np.zeros(n_groups, dtype=np.float64)
        # A block of terms at a time, so the temporaries stay small at a million sentences.
        bounds = np.searchsorted(self.offsets, np.arange(0, int(self.offsets[-1]) + _BLOCK, _BLOCK))
        bounds = np.unique(np.clip(np.append(bounds, [0, n_terms]), 0, n_terms))
        for t0, t1 in itertools.pairwise(bounds.tolist()):
            lo, hi = int(self.offsets[t0]), int(self.offsets[t1])
            if lo == hi:
                continue
            groups = group_of[self.doc_ids[lo:hi]]
            term_of = np.repeat(np.arange(t0, t1, dtype=np.int32), np.diff(self.offsets[t0 : t1 + 1]))
            # Postings are sorted by term, then sentence, so equal (term, group) pairs are adjacent.
            first = np.ones(hi - lo, dtype=bool)
            first[1:] = (groups[1:] != groups[:-1]) | (term_of[1:] != term_of[:-1])
            starts = np.flatnonzero(first)
            freqs.append(np.diff(np.append(starts, hi - lo)).astype(np.float32))
            ids.append(groups[starts].astype(np.int32))
            doc_freq += np.bincount(term_of[starts], minlength=n_terms)
            length += np.bincount(groups, minlength=n_groups)
        doc_ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int32)
        tf = np.concatenate(freqs) if freqs else np.empty(0, dtype=np.float32)
        del ids, freqs
        offsets = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(doc_freq, out=offsets[1:])
        idf = idf_values(self.params, n_groups, doc_freq)
        return Grouped(
            Index._scored(self.params, self.terms, offsets, doc_ids, tf, length, idf, self.term_id), tf
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

    def impacts_at(self, terms: Sequence[str], ids: I32) -> F32:
        """Each term's impact on each of documents `ids` (0 where it is absent): a row a term."""
        at, absent = self._found(terms, ids)
        out = self.impacts[at]
        out[absent] = 0.0
        return out

    def locate(self, terms: Sequence[str], ids: I32) -> npt.NDArray[np.int64]:
        """Where each term's posting for each of documents `ids` stands among the postings (to read
        what is kept beside them, `Index.within`): a row a term; -1 where the term is absent."""
        at, absent = self._found(terms, ids)
        at[absent] = -1
        return at

    def _found(self, terms: Sequence[str], ids: I32) -> tuple[npt.NDArray[np.int64], Flags]:
        """For each term (rows) and each of documents `ids`, the posting where the term would be
        for it (a position among the postings), and whether it is not there."""
        at = np.zeros((len(terms), len(ids)), dtype=np.int64)
        if not len(self.doc_ids):
            return at, np.ones(at.shape, dtype=bool)
        last = np.full(len(terms), -1, dtype=np.int64)  # each term's last posting; -1: no term
        # One bisection a term (its postings are sorted by document); the rest for all at once.
        for row, term in enumerate(terms):
            t = self.term_id.get(term)
            if t is not None:
                lo, hi = self.offsets[t : t + 2].tolist()
                np.add(self.doc_ids[lo:hi].searchsorted(ids), lo, out=at[row])
                last[row] = hi - 1
        np.minimum(at, last[:, None], out=at)
        np.maximum(at, 0, out=at)  # (a row of no term: any posting, marked absent)
        return at, (self.doc_ids[at] != ids) | (last < 0)[:, None]

    def within(self, grouped: Grouped, group_sizes: I32) -> F32:
        """For each posting of `grouped` (a term in a group of this index's items: a document's
        sentences, `Index.grouped`), how much the term's weight in one of the group's items changes
        when its IDF is taken among the items of the group rather than among all: the term's IDF
        in the group (`group_sizes` items, `grouped.frequencies` of them holding it), scaled to
        this index's range (a term in one item of the group weighs what a term in one item of all
        weighs), over its IDF here. 1 for a term whose IDF here is not above 0.

        A document's own name ("Riverton" in the Riverton story) stands in most of its sentences
        and says little about which of them answers; a word rare in the corpus can be common in
        the one document that holds it. Computed once, when the index is built: a question reads
        the factors of its terms in its candidates' documents off the group's postings.
        """
        index = grouped.index
        term_of = np.repeat(np.arange(len(self.terms)), np.diff(index.offsets))
        idf = self.idf[term_of].astype(np.float64)
        sizes = group_sizes[index.doc_ids].astype(np.float64)
        top = idf_formula(self.params, np.array([np.float64(self.n_docs)]), np.ones(1))[0]
        # (Okapi floors a negative IDF by a mean: over the groups that hold the term.)
        runs = index.offsets[:-1][np.diff(index.offsets) > 0]
        local_top = idf_formula(self.params, sizes, np.ones_like(sizes), runs)
        local = idf_formula(self.params, sizes, grouped.frequencies.astype(np.float64), runs)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = local / local_top * top / idf
        return np.where(idf > 0, out, 1.0).astype(np.float32)

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

    def rank(
        self,
        query: Sequence[QueryTerm] | Sequence[str],
        k: int,
        within: tuple[int, int] | None = None,
        ranges: Sequence[tuple[int, int]] | None = None,
    ) -> Ranking:
        """The `k` best sentences for the weighted query terms (weight 1 for plain strings); only
        sentences with ids in [start, end) when `within` is given, and in one of `ranges` when they
        are (a server's view: only those parts of each posting list are read, so a question's cost
        does not grow with the sentences outside it)."""
        terms = [QueryTerm(q) if isinstance(q, str) else q for q in query]
        touched: list[I32] = []
        added: list[F32] = []
        for term, weight in terms:
            for ids, impacts in self._postings_in(term, ranges):
                touched.append(ids)
                added.append(impacts if weight == 1.0 else impacts * np.float32(weight))
        if not touched:
            empty = np.empty(0, np.float32)
            return Ranking(np.empty(0, np.int32), empty, empty, empty)
        buf = self._buffer()
        view = buf[1:-1]  # sentence i lives at buf[i + 1], so i-1 and i+1 are always in range
        every = np.concatenate(touched) if len(touched) > 1 else touched[0]
        # Term after term, in the query's order, as one call: the same float sums as a loop of adds.
        np.add.at(view, every, np.concatenate(added) if len(added) > 1 else added[0])
        cand = every
        if within is not None:
            cand = cand[(cand >= within[0]) & (cand < within[1])]
        cand_scores = view[cand]
        # A sentence appears once per query term at most, so the best k * terms entries
        # hold at least k distinct sentences.
        want = min(len(cand), k * len(touched))
        if want < len(cand):
            part = np.argpartition(-cand_scores, want - 1)[:want]
            cand, cand_scores = cand[part], cand_scores[part]
        order = np.lexsort((cand, -cand_scores))
        cand = cand[order]
        # Duplicates are adjacent: equal ids carry equal scores and sort together.
        keep = np.ones(len(cand), dtype=bool)
        np.not_equal(cand[1:], cand[:-1], out=keep[1:])
        ids = cand[keep][:k].astype(np.int32)
        result = Ranking(ids, view[ids].copy(), buf[ids].copy(), buf[ids + 2].copy())
        view[every] = 0.0
        return result

    def _postings_in(self, term: str, ranges: Sequence[tuple[int, int]] | None) -> list[tuple[I32, F32]]:
        """A term's postings (`postings`), the parts of them in `ranges` when given (the ids are sorted)."""
        ids, impacts = self.postings(term)
        if not len(ids):
            return []
        if ranges is None:
            return [(ids, impacts)]
        bounds = np.searchsorted(ids, np.asarray(ranges, dtype=np.int64).ravel()).reshape(-1, 2).tolist()
        return [(ids[a:b], impacts[a:b]) for a, b in bounds if b > a]

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


def _term_ids(
    token_lists: Iterable[Sequence[str]], progress: Callable[[int], None] | None
) -> tuple[list[str], I32, I32]:
    """Terms in order of first appearance, every sentence's term ids end to end, sentence lengths."""
    # A term not seen before takes the next id. Sentences are taken 10,000 at a time so that
    # the loops over sentences and tokens run in C (and 50,000 is still a batch boundary).
    vocab: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    term_id = vocab.__getitem__
    chunks: list[I32] = []  # 4 bytes a token
    lengths: list[int] = []
    sentences = iter(token_lists)
    while batch := list(itertools.islice(sentences, 10_000)):
        lengths.extend(map(len, batch))
        chunks.append(np.array(list(map(term_id, itertools.chain.from_iterable(batch))), dtype=np.int32))
        if progress is not None and len(lengths) % 50_000 == 0:
            progress(len(lengths))
    flat = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int32)
    return list(vocab), flat, np.array(lengths, dtype=np.int32)


def _block_impacts(
    params: Bm25Params,
    idf: npt.NDArray[np.float64],
    offsets: npt.NDArray[np.int64],
    tf: F32,
    doc_ids: I32,
    doc_norm: npt.NDArray[np.float64],
) -> tuple[F32, npt.NDArray[np.float64]]:
    """`_impacts` in float64, `_BLOCK` postings at a time (no full-size temporaries), kept as float32."""
    impacts = np.empty(len(doc_ids), dtype=np.float32)
    for lo in range(0, len(doc_ids), _BLOCK):
        hi = min(lo + _BLOCK, len(doc_ids))
        first = int(np.searchsorted(offsets, lo, side="right")) - 1  # the terms with postings here
        last = int(np.searchsorted(offsets, hi, side="left"))
        count = np.minimum(offsets[first + 1 : last + 1], hi) - np.maximum(offsets[first:last], lo)
        impacts[lo:hi] = _impacts(
            params,
            np.repeat(idf[first:last], count),
            tf[lo:hi].astype(np.float64),
            doc_norm[doc_ids[lo:hi]],
            idf[first:last],
        )[0]
    empty = np.empty(0, dtype=np.float64)
    return impacts, _impacts(params, empty, empty, empty, idf)[1]


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
