"""The lexical and re-ranking weights' search: a coarse grid, then coordinate descent."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from benchmarks.fit.tables import F32, Scored, measure
from bot.search.ranking import Weights
from bot.search.retriever import Bm25Params

BM25_GRID = [Bm25Params(k1=k1, b=b) for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.3, 0.5, 0.75)]
GRID = {
    "paragraph": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "document": (0.0, 0.25, 0.5, 1.0),
    "antecedent": (0.0, 0.2, 0.4, 0.6, 0.8),
    "answer_type": (0.0, 0.1, 0.2, 0.3),
}
# The document step's columns, fitted with the others by coordinate descent from the grid's best.
DOCUMENT_GRID = {
    "about": (0.0, 0.25, 0.5, 1.0, 2.0, 3.0),
    "title": (0.0, -0.25, -0.5, -1.0),
    "content": (0.0, 0.25, 0.5, 1.0, 2.0),
}
LEXICAL_GRID = {**GRID, **DOCUMENT_GRID}
COSINE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
RERANK_GRID = {
    **LEXICAL_GRID,
    "cos_sentence": COSINE_GRID,
    "cos_window": COSINE_GRID,
    "cos_paragraph": COSINE_GRID,
    "meaning_document": (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0),
}
POOLS = (10, 20, 40, 1000)  # 1000: every candidate (BM25's 40 and their followers)


def balanced(groups: Sequence[Sequence[Scored]], weights: F32, pool: int = 0) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@3 averaged over the fitting sets, each counting alike whatever its
    size (Notre Dame's 269 questions would otherwise outweigh the article's 23)."""
    figures = np.array([measure(group, weights, pool) for group in groups if group])
    h1, h3, mrr = figures.mean(axis=0).tolist()
    return h1, h3, mrr


def fit(groups: Sequence[Sequence[Scored]]) -> tuple[Weights, tuple[float, float, float]]:
    """The lexical grid point with the best balanced MRR@3 (the smallest weights among equals),
    then every lexical weight, the document step's too, by coordinate descent from it."""
    best, best_figures = Weights(), (-1.0, -1.0, -1.0)
    names = list(GRID)
    for values in itertools.product(*(GRID[n] for n in names)):
        weights = replace(Weights(), **dict(zip(names, values, strict=True)))
        figures = balanced(groups, weights.vector())
        if figures[2] > best_figures[2]:
            best, best_figures = weights, figures
    return descend(groups, best, best_figures, LEXICAL_GRID)


def descend(
    groups: Sequence[Sequence[Scored]],
    start: Weights,
    figures: tuple[float, float, float],
    grid: dict[str, tuple[float, ...]],
    pool: int = 0,
    rounds: int = 6,
) -> tuple[Weights, tuple[float, float, float]]:
    """Coordinate descent: each weight of `grid` in turn set to its best value, the others held,
    until none improves the balanced MRR@3 (`pool` 0: the lexical order), `rounds` at most."""
    best_weights, best = start, figures
    for _ in range(rounds):
        improved = False
        for name, values in grid.items():
            for value in values:
                weights = replace(best_weights, **{name: value})
                candidate = balanced(groups, weights.vector(), pool)
                if candidate[2] > best[2] + 1e-9:
                    best, best_weights, improved = candidate, weights, True
        if not improved:
            break
    return best_weights, best


def fit_rerank(
    groups: Sequence[Sequence[Scored]], start: Weights
) -> tuple[Weights, int, tuple[float, float, float]]:
    """The re-ranking weights and pool with the best balanced MRR@3, by coordinate descent from
    `start`: each weight in turn set to its grid's best value, all others held, until none improves."""
    best_weights, best_pool = start, POOLS[-1]
    best = balanced(groups, best_weights.vector(), best_pool)
    for _ in range(6):
        weights, figures = descend(groups, best_weights, best, RERANK_GRID, best_pool, rounds=1)
        improved = figures[2] > best[2] + 1e-9
        best_weights, best = weights, figures
        for pool in POOLS:
            figures = balanced(groups, best_weights.vector(), pool)
            if figures[2] > best[2] + 1e-9:
                best, best_pool, improved = figures, pool, True
        if not improved:
            break
    return best_weights, best_pool, best
