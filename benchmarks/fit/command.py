"""Fitting the ranking weights on named question sets, and measuring them on others.

    python -m benchmarks.fit --fit notre_dame dev --write   # store the weights in ranking_weights.json
    python -m benchmarks.fit --fit notre_dame dev --report heldout_article reykjavik
    python -m benchmarks.fit --declines                     # off-topic: each set asked of the others
    python -m benchmarks.fit --squad-together               # the SQuAD-format sets alone and in one corpus
    python -m benchmarks.fit --fit notre_dame dev multidoc --only about title content --write
    python -m benchmarks.fit --fit notre_dame dev multidoc --abstain --write   # declining only

Three fits, all on the `--fit` sets only; the other sets are scored with what was chosen, never
tuned on:
- the lexical weights (`RERANK=false`, and before a sentence's vector can be had): a coarse grid
  over the weights of `bot.search.features.FEATURES`' first lexical columns (the sentence's own
  BM25 fixed at 1) and BM25's k1 and b, for the best MRR@3 of the answer sentence, then the
  document step's columns (`about`, `title`, `content`) with them by coordinate descent;
- the re-ranking weights: every feature, the cosine ones included, and the pool size, by
  coordinate descent from the lexical weights (a full grid over eight weights is too large);
- declining by meaning (`bot.search.ranking.Abstain`): the percentile of the off-topic questions'
  cosines that is each document's reference, how it rises with the number of documents (`power`),
  and how much covered weight makes up for distance, for the most declined off-topic questions at
  ten times the cost of a falsely declined answerable one, each corpus counting alike
  (`--abstain`: these alone; `--abstain --only power`: the power alone).

With `--only NAME...`, only those weights are fitted, lexical and re-ranking both, by coordinate
descent, every other weight, k1 and b, the pool and declining held as `ranking_weights.json` has
them: how the document step's columns were fitted without moving what one-document corpora see.

Figures here are for ranked sentences (is the answer's sentence first, in the first three) and,
for declining, whole answers; `python -m bot eval` scores whole answers and is the figure to report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from benchmarks.fit.declining import asked_of, declines_report, fit_abstain, folders
from benchmarks.fit.sets import SETS, SQUAD_SETS, cases_of, composer_for, documents_of, load_set
from benchmarks.fit.tables import Scored, fitting_tables, load_together, measure, tables
from benchmarks.fit.weights import BM25_GRID, RERANK_GRID, balanced, descend, fit, fit_rerank
from bot.evaluate import DEPTH, evaluate
from bot.search.features import FEATURES, SEMANTIC
from bot.search.ranking import WEIGHTS_FILE, Abstain, Rerank, Weights, fitted_params
from bot.search.retriever import Bm25Params


def squad_together() -> list[str]:
    """Whole answers (`python -m bot eval`'s hit@1 and hit@3, re-ranked) to each SQuAD-format set
    asked of its own document alone and of all four documents in one corpus."""

    def scored(documents: dict[str, str], name: str) -> tuple[float, float]:
        composer = composer_for(documents)
        report = evaluate(cases_of(name), lambda q: composer.answer(q, limit=DEPTH))
        return report.hit_at_1, report.hit_at_3

    together = {n: t for name in SQUAD_SETS for n, t in documents_of(SETS[name]).items()}
    head = f"  {'set':12} {'alone hit@1':>12} {'hit@3':>6}   {'together hit@1':>14} {'hit@3':>6}"
    lines = [head + f"   {'hit@1 change':>12}"]
    for name in SQUAD_SETS:
        (a1, a3), (t1, t3) = scored(documents_of(SETS[name]), name), scored(together, name)
        lines.append(f"  {name:12} {a1:12.3f} {a3:6.3f}   {t1:14.3f} {t3:6.3f}   {t1 - a1:+12.3f}")
    return lines


def _print_figures(
    names: Sequence[str], fitted: Sequence[str], weights: Weights, pool: int, params: Bm25Params, label: str
) -> dict[str, dict[str, float]]:
    loaded = {name: list(tables(*load_set(name, params))) for name in names}
    together = load_together(names, params)
    rows: dict[str, dict[str, float]] = {}
    for name in names:
        kind = "fitted on" if name in fitted else "out of sample"
        for where, scored in (("alone", loaded[name]), ("together", together[name])):
            h1, h3, mrr = measure(scored, weights.vector(), pool)
            rows[f"{name} ({where})"] = {"hit@1": round(h1, 3), "hit@3": round(h3, 3), "mrr@3": round(mrr, 3)}
            print(
                f"  {label:9} {name:16} {where:8} {kind:13} hit@1 {h1:.3f}  hit@3 {h3:.3f}  MRR@3 {mrr:.3f}"
                f"  ({len(scored)} q)"
            )
    return rows


def _command(argv: Sequence[str] | None) -> str:
    """The command that fitted what is written, as a person would type it."""
    return "python -m benchmarks.fit " + " ".join(sys.argv[1:] if argv is None else argv)


def _write(record: dict[str, object]) -> None:
    WEIGHTS_FILE.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS_FILE}")


def _print_declining(abstain: Abstain, counts: tuple[int, int, int, int]) -> None:
    print(
        f"declining: quantile={abstain.quantile} coverage_weight={abstain.coverage_weight} "
        f"rescue={abstain.rescue} power={abstain.power}: on the fitting sets {counts[2]}/{counts[3]} "
        f"declined, {counts[0]}/{counts[1]} falsely",
        flush=True,
    )


def _fit_abstain_only(
    fit_sets: Sequence[str], only: Sequence[str] | None, write: bool, argv: Sequence[str] | None
) -> int:
    """`--abstain`: declining's parameters on the fitting sets' corpora and questions, the
    ranking held (`--only power`: that alone, the rest as stored); with `write`, stored with the
    command that chose them."""
    if only and set(only) != {"power"}:
        raise SystemExit("--abstain --only takes power alone")
    fitting = folders(fit_sets, together=True)
    held = Rerank.load().abstain if only else None
    rows = asked_of(fitting, fit_sets)
    abstain, counts = fit_abstain(rows, {",".join(f.key): f.off_topic for f in fitting}, held)
    _print_declining(abstain, counts)
    if write:
        stored = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        stored["rerank"]["abstain"] = asdict(abstain)
        stored["abstain_command"] = _command(argv)
        _write(stored)
    print("\n".join(declines_report(abstain)))
    return 0


def _fit_only(
    fit_sets: Sequence[str],
    report: Sequence[str],
    only: Sequence[str],
    write: bool,
    argv: Sequence[str] | None,
) -> int:
    """`--only`: the named weights, lexical and re-ranking, by coordinate descent from the stored
    ones; everything else held."""
    stored = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    params, rerank = fitted_params(), Rerank.load()
    scored = fitting_tables(fit_sets, params)
    grid = {name: RERANK_GRID[name] for name in only}
    start = Weights.load()
    weights, lexical = descend(scored, start, balanced(scored, start.vector()), grid)
    reranked, figures = descend(
        scored, rerank.weights, balanced(scored, rerank.weights.vector(), rerank.pool), grid, rerank.pool
    )
    print(
        f"fitted {', '.join(only)} on {', '.join(fit_sets)}, the rest held: "
        f"lexical {', '.join(f'{n}={getattr(weights, n)}' for n in only)} (MRR@3 {lexical[2]:.3f}); "
        f"reranked {', '.join(f'{n}={getattr(reranked, n)}' for n in only)} (MRR@3 {figures[2]:.3f})",
        flush=True,
    )
    names = list(dict.fromkeys([*fit_sets, *report]))
    figures_lexical = _print_figures(names, fit_sets, weights, 0, params, "lexical")
    figures_reranked = _print_figures(names, fit_sets, reranked, rerank.pool, params, "reranked")
    if write:
        held = {key: stored[key] for key in ("fitted_on", "command") if key in stored}
        stored["weights"] = weights.as_dict()
        stored["rerank"]["weights"] = reranked.as_dict()
        stored["held_from"] = stored.get("held_from", held)  # what fitted the weights held
        stored["fitted_on"] = list(fit_sets)
        stored["command"] = _command(argv)
        stored["sentence_figures"] = {"lexical": figures_lexical, "reranked": figures_reranked}
        _write(stored)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Fit on some sets, report on others; optionally store the weights."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit", description=__doc__.split("\n\n")[0])
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
        "--only",
        nargs="+",
        choices=[*FEATURES[1:], "power"],
        metavar="NAME",
        help="fit only these weights, holding the others, k1, b, the pool and declining as stored "
        "(with --abstain: power, declining's other numbers held)",
    )
    parser.add_argument(
        "--abstain",
        action="store_true",
        help="fit only declining's parameters (percentile, covered weight, power), the ranking held",
    )
    parser.add_argument(
        "--squad-together",
        action="store_true",
        help="whole answers to each SQuAD-format set, its document alone and all four in one corpus",
    )
    args = parser.parse_args(argv)
    if args.declines:
        print("\n".join(declines_report()))
        return 0
    if args.squad_together:
        print("\n".join(squad_together()))
        return 0
    if not args.fit:
        parser.error("--fit SET... is needed (or --declines)")
    report = args.report if args.report is not None else [s for s in SETS if s not in args.fit]
    if args.only and "power" in args.only and not args.abstain:
        parser.error("power is declining's: --abstain --only power")
    if args.abstain:
        return _fit_abstain_only(args.fit, args.only, args.write, argv)
    if args.only:
        return _fit_only(args.fit, report, args.only, args.write, argv)
    # The BM25 parameters are fitted with the lexical weights: each needs its own index.
    best: tuple[float, Bm25Params, Weights, list[list[Scored]]] | None = None
    for params in BM25_GRID:
        scored = fitting_tables(args.fit, params)
        weights, figures = fit(scored)
        print(f"  k1={params.k1} b={params.b}: MRR@3 {figures[2]:.3f} on {', '.join(args.fit)}", flush=True)
        if best is None or figures[2] > best[0]:
            best = (figures[2], params, weights, scored)
    assert best is not None
    _, params, weights, scored = best
    reranked, pool, figures = fit_rerank(scored, weights)
    print(
        f"fitted on {', '.join(args.fit)}: k1={params.k1} b={params.b}\n"
        f"  lexical:   " + ", ".join(f"{n}={getattr(weights, n)}" for n in FEATURES[:SEMANTIC]) + "\n"
        "  reranked:  " + ", ".join(f"{n}={getattr(reranked, n)}" for n in FEATURES) + f", pool={pool}"
        f" (MRR@3 {figures[2]:.3f} on the fitting sets)",
        flush=True,
    )
    names = list(dict.fromkeys([*args.fit, *report]))
    figures_lexical = _print_figures(names, args.fit, weights, 0, params, "lexical")
    figures_reranked = _print_figures(names, args.fit, reranked, pool, params, "reranked")
    # Declining: fitted on the fitting sets' corpora and questions only.
    fitting = folders(args.fit)
    abstain, counts = fit_abstain(
        asked_of(fitting, args.fit), {",".join(f.key): f.off_topic for f in fitting}
    )
    _print_declining(abstain, counts)
    if args.write:
        record = {
            "weights": weights.as_dict(),
            "bm25": {"variant": params.variant, "k1": params.k1, "b": params.b},
            "rerank": {
                "weights": reranked.as_dict(),
                "pool": pool,
                "abstain": asdict(abstain),
            },
            "fitted_on": args.fit,
            "command": _command(argv),
            "sentence_figures": {"lexical": figures_lexical, "reranked": figures_reranked},
        }
        _write(record)
        fitted_params.cache_clear()  # the declines below answer with what was just written
        print("\n".join(declines_report()))
    return 0
