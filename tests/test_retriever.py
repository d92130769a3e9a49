from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search.retriever import (
    Bm25Params,
    Index,
    QueryTerm,
    idf_formula,
    rank_bm25_idf,
    rank_bm25_model,
    variants,
)

VOCAB = [f"w{i}" for i in range(30)]


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12), min_size=1, max_size=60),
    query=st.lists(st.sampled_from([*VOCAB, "unseen"]), min_size=1, max_size=6),
)
def test_scores_equal_rank_bm25(variant: str, corpus: list[list[str]], query: list[str]) -> None:
    params = Bm25Params(variant=variant, delta=0.5 if variant == "l" else 1.0)  # type: ignore[arg-type]
    index = Index.build(corpus, params)
    reference = rank_bm25_model(params, corpus).get_scores(query)
    np.testing.assert_allclose(index.scores(query), reference, rtol=1e-5, atol=1e-5)
    # rank() returns the best sentences by the same scores (ties in any order).
    k = 5
    ranking = index.rank(query, k)
    matched = sorted({i for q in query for i in index.postings(q)[0].tolist()})
    want = min(k, len(matched))
    assert len(ranking.ids) == want
    assert len(set(ranking.ids.tolist())) == want
    best = np.sort(reference[matched])[::-1][:want]
    np.testing.assert_allclose(reference[ranking.ids], best, rtol=1e-5, atol=1e-5)


def test_rank_scores_neighbours_and_weights() -> None:
    corpus = [["a"], ["b", "c"], ["a", "b"], ["c"]]
    index = Index.build(corpus)
    ranking = index.rank(["a"], 10)
    assert sorted(ranking.ids.tolist()) == [0, 2]
    by_id = dict(
        zip(
            ranking.ids.tolist(),
            zip(ranking.prev_scores.tolist(), ranking.next_scores.tolist(), strict=True),
            strict=True,
        )
    )
    assert by_id[0] == (0.0, 0.0)  # sentence 1 has no "a"
    assert by_id[2][0] == 0.0 and by_id[2][1] == 0.0
    # Weights scale a term's contribution; the buffer is clean between calls.
    full = index.rank([QueryTerm("b", 1.0)], 10).scores
    half = index.rank([QueryTerm("b", 0.5)], 10).scores
    np.testing.assert_allclose(half, full / 2, rtol=1e-6)
    assert len(index.rank(["zzz"], 3).ids) == 0


def test_neighbour_scores_come_from_the_same_query() -> None:
    index = Index.build([["x"], ["y"], ["x", "y"]])
    ranking = index.rank(["x", "y"], 3)
    scores = dict(zip(ranking.ids.tolist(), ranking.scores.tolist(), strict=True))
    for i, prev, nxt in zip(
        ranking.ids.tolist(), ranking.prev_scores.tolist(), ranking.next_scores.tolist(), strict=True
    ):
        assert prev == pytest.approx(scores.get(i - 1, 0.0))
        assert nxt == pytest.approx(scores.get(i + 1, 0.0))


def test_variants_join_derived_forms_only() -> None:
    index = Index.build([["agreement"], ["successor"], ["success"], ["communiti"], ["warrior"]])
    assert variants(index, "agre") == ["agreement"]
    assert "successor" in variants(index, "succeed")
    assert variants(index, "war") == []  # too short to guess from
    assert variants(index, "kim") == []


def test_empty_index() -> None:
    index = Index.build([])
    assert len(index) == 0
    assert len(index.rank(["a"], 3).ids) == 0


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12), min_size=1, max_size=40),
    unused=st.lists(st.sampled_from(["x1", "x2", "w3"]), max_size=3),
)
def test_index_from_term_ids_equals_index_from_tokens(
    variant: str, corpus: list[list[str]], unused: list[str]
) -> None:
    # A vocabulary as a reload has it: terms of other sentences, in another order, some unused.
    params = Bm25Params(variant=variant)  # type: ignore[arg-type]
    corpus = [*corpus, []]  # a sentence with no terms (all stop words) has length 0
    vocabulary = list(dict.fromkeys([*unused, *reversed([t for s in corpus for t in s])]))
    position = {t: i for i, t in enumerate(vocabulary)}
    flat = np.array([position[t] for s in corpus for t in s], dtype=np.int32)
    lengths = np.array([len(s) for s in corpus], dtype=np.int32)
    built, from_ids = Index.build(corpus, params), Index.from_ids(vocabulary, flat, lengths, params)
    assert from_ids.terms == built.terms and from_ids.n_docs == built.n_docs
    for name in ("offsets", "doc_ids"):
        np.testing.assert_array_equal(getattr(from_ids, name), getattr(built, name))
    # Okapi's mean IDF is a sum in vocabulary order: equal within rounding, which float32 impacts
    # can carry into their last bit. Plus and L take each IDF from its frequency alone: exact.
    rtol = 1e-6 if variant == "okapi" else 0.0
    for name in ("impacts", "baseline", "idf"):
        np.testing.assert_allclose(getattr(from_ids, name), getattr(built, name), rtol=rtol, atol=0)


@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8), min_size=1, max_size=40),
    cuts=st.lists(st.booleans(), min_size=40, max_size=40),
    query=st.lists(st.sampled_from([*VOCAB, "unseen"]), min_size=1, max_size=5),
)
def test_grouped_index_scores_paragraphs_as_rank_bm25(
    corpus: list[list[str]], cuts: list[bool], query: list[str]
) -> None:
    # Runs of consecutive sentences (paragraphs); each paragraph as rank-bm25 would see it: the
    # distinct terms of each of its sentences, end to end.
    group = np.cumsum([0] + [int(c) for c in cuts[: len(corpus) - 1]]).astype(np.int32)
    paragraphs: list[list[str]] = [[] for _ in range(int(group[-1]) + 1)]
    for sentence, g in zip(corpus, group.tolist(), strict=True):
        paragraphs[g].extend(dict.fromkeys(sentence))
    grouped = Index.build(corpus).grouped(group).index
    reference = rank_bm25_model(Bm25Params(), paragraphs).get_scores(query)
    np.testing.assert_allclose(grouped.scores(query), reference, rtol=1e-5, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8), min_size=1, max_size=40),
    query=st.lists(st.sampled_from([*VOCAB, "unseen"]), min_size=1, max_size=5, unique=True),
    picks=st.lists(st.integers(min_value=0, max_value=39), min_size=1, max_size=10),
)
def test_impacts_at_are_each_terms_share_of_the_score(
    corpus: list[list[str]], query: list[str], picks: list[int]
) -> None:
    index = Index.build(corpus)
    ids = np.array([p % len(corpus) for p in picks], dtype=np.int32)
    impacts = index.impacts_at(query, ids)
    for row, term in enumerate(query):
        # A term's impact on a sentence: its part of the sentence's score beyond the baseline
        # every sentence gets (BM25Plus), where the sentence holds it; 0 where it does not.
        base = float(index.baseline[index.term_id[term]]) if term in index.term_id else 0.0
        holds = np.array([term in corpus[i] for i in ids.tolist()])
        expected = np.where(holds, index.scores([term])[ids] - base, 0.0)
        np.testing.assert_allclose(impacts[row], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", ["okapi", "plus", "l"])
@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 500), st.integers(1, 500)), min_size=1, max_size=20))
def test_idf_formula_is_rank_bm25s(variant: str, sizes: list[tuple[int, int]]) -> None:
    params = Bm25Params(variant=variant)  # type: ignore[arg-type]
    for n, df in ((max(a, b), min(a, b)) for a, b in sizes):
        if variant == "okapi" and 2 * df > n:
            continue  # a negative Okapi IDF is floored by the mean of a whole vocabulary
        expected = rank_bm25_idf(params, n, {"t": df})["t"]
        found = idf_formula(params, np.array([float(n)]), np.array([float(df)]))[0]
        assert found == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8), min_size=2, max_size=40),
    cut=st.integers(min_value=1, max_value=39),
    query=st.lists(st.sampled_from([*VOCAB, "unseen"]), min_size=1, max_size=5, unique=True),
)
def test_within_a_group_a_term_weighs_what_it_weighs_in_the_group_alone(
    corpus: list[list[str]], cut: int, query: list[str]
) -> None:
    # Two documents; with b = 0 a sentence's length does not count, so a term's impact on a
    # sentence is its IDF times the same function of its frequency, here or in its document alone.
    cut = min(cut, len(corpus) - 1)
    params = Bm25Params(b=0.0)
    group = np.array([0] * cut + [1] * (len(corpus) - cut), dtype=np.int32)
    sizes = np.bincount(group).astype(np.int32)
    index = Index.build(corpus, params)
    ids = np.arange(len(corpus), dtype=np.int32)
    grouped = index.grouped(group)
    at = grouped.index.locate(query, group[ids])  # each term's posting in each sentence's group
    local = index.impacts_at(query, ids) * np.where(at >= 0, index.within(grouped, sizes)[at], 1.0)
    for start, end in ((0, cut), (cut, len(corpus))):
        alone = Index.build(corpus[start:end], params)
        scale = np.log(len(corpus) + 1) / np.log(end - start + 1)  # a term in one sentence weighs alike
        expected = alone.impacts_at(query, np.arange(end - start, dtype=np.int32)) * scale
        np.testing.assert_allclose(local[:, start:end], expected, rtol=1e-4, atol=1e-5)
    # With one group, nothing changes.
    one = index.within(index.grouped(np.zeros(len(corpus), np.int32)), np.array([len(corpus)], np.int32))
    np.testing.assert_allclose(one, 1.0, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    corpus=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12), min_size=1, max_size=60),
    query=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 60), min_size=2, max_size=6),
)
def test_rank_within_ranges_is_the_best_of_those_sentences(
    corpus: list[list[str]], query: list[str], cuts: list[int]
) -> None:
    # A server's view (issue 27): only the parts of the posting lists in the ranges are read; the
    # answer is the best sentences among those ranges', by the same scores.
    index = Index.build(corpus)
    edges = sorted(min(c, len(corpus)) for c in cuts)
    ranges = list(zip(edges[::2], edges[1::2], strict=False))
    inside = np.zeros(len(corpus), dtype=bool)
    for lo, hi in ranges:
        inside[lo:hi] = True
    ranking = index.rank(query, 5, ranges=ranges)
    scores = index.scores(query)
    matched = [i for i in sorted({i for q in query for i in index.postings(q)[0].tolist()}) if inside[i]]
    assert set(ranking.ids.tolist()) <= set(matched) and len(ranking.ids) == min(5, len(matched))
    best = np.sort(scores[matched])[::-1][: len(ranking.ids)]
    np.testing.assert_allclose(scores[ranking.ids], best, rtol=1e-5, atol=1e-5)
    assert not index._buffer().any()  # the buffer is clean for the next question
