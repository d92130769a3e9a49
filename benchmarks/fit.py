"""Fitting the ranking weights on named question sets, and measuring them on others.

    python -m bot.fit --fit notre_dame --report dev heldout_article reykjavik ssh_guide gw_news
    python -m bot.fit --fit notre_dame --write     # store the weights in bot/ranking_weights.json
    python -m bot.fit --declines                   # off-topic: each set asked of the others' documents
    python -m bot.fit --squad-together             # the SQuAD-format sets alone and in one corpus

A coarse grid over the weights of `bot.ranking.FEATURES` (the sentence's own BM25 fixed at 1) is
searched for the best MRR@3 of the answer sentence on the fitting sets; the others are scored
with the chosen weights, never tuned on. Figures here are for ranked sentences (is the answer's
sentence first, in the first three); `python -m bot eval` scores whole answers (excerpts, merging,
abstention) and is the figure to report.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot import engine
from bot.config import PROJECT_ROOT, Settings
from bot.documents.corpus import document_files
from bot.evaluate import Case, read_question_set
from bot.search.ranking import FEATURES, WEIGHTS_FILE, Ranker, Weights, fitted_params
from bot.search.retriever import Bm25Params
from bot.text import fold_space

DATA = PROJECT_ROOT / "tests" / "data"
CORPUS = PROJECT_ROOT / "corpus"


@dataclass(frozen=True)
class SetSpec:
    """A question file and the corpus folder it is asked of (none: the file's own SQuAD articles).

    A blind set is only ever reported: its documents stay out of the corpus the weights are
    fitted over, as its questions stay out of the fitting."""

    questions: Path
    corpus: Path | None = None
    blind: bool = False


SETS = {
    # Crowd-written (SQuAD v1.1), given with the project.
    "notre_dame": SetSpec(DATA / "eval" / "squad" / "notre_dame.json"),
    # Written by the project's builders, about the shipped article.
    "dev": SetSpec(DATA / "eval" / "dev.jsonl", CORPUS),
    "article_extra": SetSpec(DATA / "article_extra.jsonl", CORPUS),
    "bicycle": SetSpec(DATA / "bicycle_questions.jsonl", DATA / "bicycle"),
    # Written blind (without running the bot), see tests/data/heldout/README.md.
    "heldout_article": SetSpec(DATA / "heldout" / "article_heldout.jsonl", CORPUS, blind=True),
    "reykjavik": SetSpec(DATA / "heldout" / "docs" / "encyclopedia.json"),
    "ssh_guide": SetSpec(DATA / "heldout" / "docs" / "guide.json"),
    "gw_news": SetSpec(DATA / "heldout" / "docs" / "news.json", blind=True),
    # Several news pages added with `add`, the article and the four SQuAD articles in one corpus;
    # written by this project (tests/data/multidoc/README.md).
    "multidoc": SetSpec(DATA / "multidoc" / "questions.jsonl", DATA / "multidoc" / "corpus"),
    # The article and three news pages, written blind (tests/data/multidoc_heldout/README.md).
    "multidoc_heldout": SetSpec(
        DATA / "multidoc_heldout" / "questions.jsonl", DATA / "multidoc_heldout" / "corpus", blind=True
    ),
}
METADATA = "meta"  # lines about the documents themselves: the metadata route answers them, not ranking


@dataclass(frozen=True)
class Scored:
    """One answerable question: its candidates' feature rows, and which candidates hold the answer."""

    features: npt.NDArray[np.float32]
    ids: npt.NDArray[np.int32]
    gold: npt.NDArray[np.bool_]


def _gold_sentences(ranker: Ranker, case: Case) -> set[int]:
    corpus = ranker.corpus
    found: set[int] = set()
    for i in range(len(corpus)):
        s = corpus.sentence(i)
        if any(s.document.name == a.document and s.start <= a.start < s.end for a in case.spans):
            found.add(i)
        if any(fold_space(g) in s.text for g in case.gold) and case.document in ("", s.document.name):
            found.add(i)
    return found


def _documents(spec: SetSpec) -> dict[str, str]:
    """The documents a set is asked of, by file name: its corpus folder's and its SQuAD articles."""
    documents: dict[str, str] = {}
    if spec.corpus is not None:
        for name, path in document_files(spec.corpus):
            documents[name] = Path(path).read_bytes().decode("utf-8")
    documents.update(read_question_set(spec.questions).documents)
    return documents


def ranker_for(documents: dict[str, str], params: Bm25Params | None = None) -> Ranker:
    """A ranker over these documents, indexed with `params` (the fitted ones by default)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in documents.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", newline="")
        settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False)
        composer = engine.load(settings, params=params or fitted_params())
    return Ranker(composer.corpus, composer.index)


def load_set(name: str, params: Bm25Params | None = None) -> tuple[Ranker, list[Case]]:
    """The ranker over a set's own documents (indexed with `params`), and its questions."""
    spec = SETS[name]
    return ranker_for(_documents(spec), params), list(read_question_set(spec.questions).cases)


def load_together(
    names: Sequence[str], params: Bm25Params | None = None, *, blind: bool = True
) -> dict[str, list[Scored]]:
    """Every named set scored over one corpus holding all the sets' documents (the blind sets'
    too, unless `blind` is False: when fitting)."""
    documents: dict[str, str] = {}
    for spec in SETS.values():
        if blind or not spec.blind:
            documents.update(_documents(spec))
    ranker = ranker_for(documents, params)
    return {name: list(tables(ranker, read_question_set(SETS[name].questions).cases)) for name in names}


def tables(ranker: Ranker, cases: Sequence[Case]) -> Iterator[Scored]:
    """The candidates of every answerable question, with their features."""
    for case in cases:
        if not case.answerable or case.kind == METADATA:
            continue
        gold = _gold_sentences(ranker, case)
        question = ranker.question(case.question)
        ranked = ranker.rank(question)
        yield Scored(ranked.features, ranked.ids, np.isin(ranked.ids, sorted(gold)))


def measure(scored: Sequence[Scored], weights: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@3 of the answer sentence."""
    h1 = h3 = rr = 0.0
    for s in scored:
        if not len(s.ids):
            continue
        order = np.lexsort((s.ids, -(s.features @ weights)))[:3]
        hits = np.flatnonzero(s.gold[order])
        if len(hits):
            rank = int(hits[0]) + 1
            h1 += rank == 1
            h3 += 1
            rr += 1 / rank
    n = len(scored) or 1
    return h1 / n, h3 / n, rr / n


BM25_GRID = [Bm25Params(k1=k1, b=b) for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.3, 0.5, 0.75)]
GRID = {
    "paragraph": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "document": (0.0, 0.25, 0.5, 1.0),
    "antecedent": (0.0, 0.2, 0.4, 0.6, 0.8),
    "answer_type": (0.0, 0.1, 0.2, 0.3),
    "about": (0.0, 0.5, 1.0, 2.0, 3.0),
    "title": (0.0, -0.25, -0.5, -1.0),
    "content": (0.0, 0.25, 0.5, 1.0, 2.0),
}
_PAD_ID = np.iinfo(np.int32).max  # a padding candidate: ranks last, holds no answer


class Stacked(NamedTuple):
    """Every question's candidates in one padded array, to score a weight vector at once."""

    features: npt.NDArray[np.float32]  # questions x candidates x FEATURES
    ids: npt.NDArray[np.int64]
    gold: npt.NDArray[np.bool_]
    valid: npt.NDArray[np.bool_]


def stack(scored: Sequence[Scored]) -> Stacked:
    """The questions' candidate tables padded to one shape (questions without candidates count as misses)."""
    width = max((len(s.ids) for s in scored), default=0) or 1
    features = np.zeros((len(scored), width, len(FEATURES)), dtype=np.float32)
    ids = np.full((len(scored), width), _PAD_ID, dtype=np.int64)
    gold = np.zeros((len(scored), width), dtype=bool)
    valid = np.zeros((len(scored), width), dtype=bool)
    for q, s in enumerate(scored):
        n = len(s.ids)
        features[q, :n], ids[q, :n], gold[q, :n], valid[q, :n] = s.features, s.ids, s.gold, True
    return Stacked(features, ids, gold, valid)


def measure_stacked(stacked: Stacked, weights: npt.NDArray[np.float32]) -> tuple[float, float, float]:
    """`measure` of stacked questions: the same ranking (score, then the lower id first)."""
    scores = stacked.features @ weights  # in float32, as `measure` and the ranker score
    scores[~stacked.valid] = -np.inf
    top = np.lexsort((stacked.ids, -scores), axis=-1)[:, :3]
    hits = np.take_along_axis(stacked.gold, top, axis=-1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    n = len(first) or 1
    h1 = float(np.sum(first == 1)) / n
    h3 = float(np.sum(first > 0)) / n
    rr = float(np.sum(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0))) / n
    return h1, h3, rr


def fit(scored: Sequence[Scored]) -> tuple[Weights, tuple[float, float, float]]:
    """The grid point with the best MRR@3 (the first among equals: each grid lists its values from
    the one nearest 0)."""
    best, best_figures = Weights(), (-1.0, -1.0, -1.0)
    names = list(GRID)
    stacked = stack(scored)
    for values in itertools.product(*(GRID[n] for n in names)):
        weights = replace(Weights(), **dict(zip(names, values, strict=True)))
        figures = measure_stacked(stacked, weights.vector())
        if figures[2] > best_figures[2]:
            best, best_figures = weights, figures
    return best, best_figures


def declines() -> list[str]:
    """Each set's questions asked of every other set's documents: how many the bot declines."""
    from bot.answer.composer import Composer
    from bot.evaluate import DEPTH

    folders: dict[tuple[str, ...], list[str]] = {}
    for name, spec in SETS.items():
        folders.setdefault(tuple(sorted(_documents(spec))), []).append(name)
    documents = {name: text for spec in SETS.values() for name, text in _documents(spec).items()}
    composers = {}
    for key in folders:
        ranker = ranker_for({name: documents[name] for name in key})
        composers[key] = Composer(ranker.corpus, ranker.index)
    lines = []
    for key, composer in composers.items():
        asked = declined = 0
        for other, names in folders.items():
            if other == key:
                continue
            for name in names:
                for case in read_question_set(SETS[name].questions).cases:
                    asked += 1
                    declined += composer.answer(case.question, limit=DEPTH).abstained
        lines.append(
            f"  asked of {', '.join(key)} (the documents of {', '.join(folders[key])}): "
            f"{declined}/{asked} other sets' questions declined ({declined / asked:.0%})"
        )
    return lines


SQUAD_SETS = ("notre_dame", "reykjavik", "ssh_guide", "gw_news")  # one SQuAD-format document each


def squad_together() -> list[str]:
    """Whole answers (`python -m bot eval`'s hit@1 and hit@3) to each SQuAD-format set asked of its
    own document alone and of all four documents in one corpus."""
    from bot.answer.composer import Composer
    from bot.evaluate import DEPTH, evaluate

    def scored(documents: dict[str, str], name: str) -> tuple[float, float]:
        ranker = ranker_for(documents)
        composer = Composer(ranker.corpus, ranker.index)
        cases = read_question_set(SETS[name].questions).cases
        report = evaluate(cases, lambda q: composer.answer(q, limit=DEPTH))
        return report.hit_at_1, report.hit_at_3

    together = {n: t for name in SQUAD_SETS for n, t in _documents(SETS[name]).items()}
    head = f"  {'set':12} {'alone hit@1':>12} {'hit@3':>6}   {'together hit@1':>14} {'hit@3':>6}"
    lines = [head + f"   {'hit@1 change':>12}"]
    for name in SQUAD_SETS:
        (a1, a3), (t1, t3) = scored(_documents(SETS[name]), name), scored(together, name)
        lines.append(f"  {name:12} {a1:12.3f} {a3:6.3f}   {t1:14.3f} {t3:6.3f}   {t1 - a1:+12.3f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Fit on some sets, report on others; optionally store the weights."""
    parser = argparse.ArgumentParser(prog="python -m bot.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fit", nargs="+", choices=sorted(n for n, spec in SETS.items() if not spec.blind), metavar="SET"
    )
    parser.add_argument("--report", nargs="*", choices=sorted(SETS), default=None, metavar="SET")
    parser.add_argument(
        "--write", action="store_true", help=f"store the fitted weights in {WEIGHTS_FILE.name}"
    )
    parser.add_argument(
        "--declines", action="store_true", help="ask each set's questions of the other sets' documents"
    )
    parser.add_argument(
        "--squad-together",
        action="store_true",
        help="whole answers to each SQuAD-format set, its document alone and all four in one corpus",
    )
    args = parser.parse_args(argv)
    if args.declines:
        print("\n".join(declines()))
        return 0
    if args.squad_together:
        print("\n".join(squad_together()))
        return 0
    if not args.fit:
        parser.error("--fit SET... is needed (or --declines)")
    report = args.report if args.report is not None else [s for s in SETS if s not in args.fit]
    # The BM25 parameters are fitted with the weights: each needs its own index.
    best: tuple[float, Bm25Params, Weights] | None = None
    for params in BM25_GRID:
        # Each fitting set alone, and beside every other document: both should rank well.
        scored = [s for name in args.fit for s in tables(*load_set(name, params))]
        scored += [s for rows in load_together(args.fit, params, blind=False).values() for s in rows]
        weights, figures = fit(scored)
        print(f"  k1={params.k1} b={params.b}: MRR@3 {figures[2]:.3f} on {', '.join(args.fit)}")
        if best is None or figures[2] > best[0]:
            best = (figures[2], params, weights)
    assert best is not None
    _, params, weights = best
    names = list(dict.fromkeys([*args.fit, *report]))
    loaded = {name: list(tables(*load_set(name, params))) for name in names}
    together = load_together(names, params)
    print(
        f"fitted on {', '.join(args.fit)}: k1={params.k1} b={params.b} "
        + ", ".join(f"{n}={getattr(weights, n)}" for n in FEATURES)
    )
    rows: dict[str, dict[str, float]] = {}
    for name in names:
        kind = "fitted on" if name in args.fit else "out of sample"
        for where, scored in (("alone", loaded[name]), ("together", together[name])):
            h1, h3, mrr = measure(scored, weights.vector())
            rows[f"{name} ({where})"] = {"hit@1": round(h1, 3), "hit@3": round(h3, 3), "mrr@3": round(mrr, 3)}
            print(
                f"  {name:16} {where:8} {kind:13} hit@1 {h1:.3f}  hit@3 {h3:.3f}  MRR@3 {mrr:.3f}"
                f"  ({len(scored)} q)"
            )
    if args.write:
        record = {
            "weights": {n: getattr(weights, n) for n in FEATURES},
            "bm25": {"variant": params.variant, "k1": params.k1, "b": params.b},
            "fitted_on": args.fit,
            "command": "python -m bot.fit " + " ".join(sys.argv[1:] if argv is None else argv),
            "sentence_figures": rows,
        }
        WEIGHTS_FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
