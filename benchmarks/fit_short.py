"""Fitting the short answer's gate on named question sets, and measuring it on others.

    python -m benchmarks.fit_short --fit notre_dame dev --write   # store it in bot/answer/short_answer.json
    python -m benchmarks.fit_short --fit notre_dame dev --report heldout_article reykjavik gw_news

Each question is answered as the bot answers it; the candidate `bot.answer.short.propose` makes of
its top excerpt is scored against the question's answer texts (SQuAD's token F1). For each kind of
question (when, how many, who, where, other) a grid of the gate's three parameters (the least
confidence, `short.confidence`; the least support, the share of the question's weight the top
excerpt holds; the least gap to a rival candidate) is searched for the largest
sum over the questions given a short answer of (F1 - break-even): a short answer is worth giving
when it is better than the break-even, and a wrong one costs the break-even, more than a right one
earns. The fitting sets' questions asked of each other's documents count as ones to decline. The
other sets are scored with the chosen gate, never tuned on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.fit.sets import SETS, composer_for, documents_of
from bot.answer import short
from bot.answer.composer import Composer
from bot.evaluate import (
    DEPTH,
    Case,
    ShortTally,
    question_kind,
    read_question_set,
    short_scores,
    within_answer,
)

CONFIDENCES = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
SUPPORTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
GAPS = (1, 2, 3, 5, 8)
BREAK_EVEN = 0.8  # the F1 a short answer must beat to be worth giving (the targets' F1)


@dataclass(frozen=True)
class Scored:
    """One question: its kind, whether it is answerable, and the candidate proposed with its scores."""

    kind: str
    answerable: bool
    proposal: short.Proposal | None
    f1: float
    em: float
    within: bool


def score_set(name: str, asked: Sequence[str] = ()) -> tuple[list[Scored], list[Scored]]:
    """Every question of a set answered over its documents, with the candidate proposed for it;
    and the questions of the sets `asked` (of other documents) asked of them, as ones to decline."""
    spec = SETS[name]
    documents = documents_of(spec)
    composer = composer_for(documents)  # re-ranked, every vector in, as the bot answers
    own = [_scored(composer, case) for case in read_question_set(spec.questions).cases]
    others = [
        _scored(composer, case)
        for other in asked
        if set(documents_of(SETS[other])) != set(documents)
        for case in read_question_set(SETS[other].questions).off_topic().cases
    ]
    return own, others


def _scored(composer: Composer, case: Case) -> Scored:
    answer = composer.answer(case.question, limit=DEPTH)
    proposal = short.propose(composer.corpus, answer, composer.ranker.question(case.question))
    f1, em = short_scores(proposal.best.text, case) if proposal else (0.0, 0.0)
    within = proposal is not None and within_answer(proposal.best.text, case)
    return Scored(question_kind(case.question), case.answerable, proposal, f1, em, within)


def _gate(
    confidence: dict[str, float | None], support: dict[str, float], gap: dict[str, int | None]
) -> short.Gate:
    return short.Gate(
        {k: confidence.get(k) for k in short.KINDS},
        {k: support.get(k, 0.0) for k in short.KINDS},
        {k: gap.get(k) for k in short.KINDS},
    )


def fit(rows: Sequence[Scored], break_even: float) -> short.Gate:
    """Per kind, the grid point with the largest sum of (F1 - break-even) over the answers given;
    among equals the strictest (none at all when nothing beats giving none)."""
    confidence: dict[str, float | None] = {}
    support: dict[str, float] = {}
    gap: dict[str, int | None] = {}
    for kind in short.KINDS:
        mine = [r for r in rows if r.kind == kind and r.proposal is not None]
        points = []
        for least, least_support, least_gap in itertools.product(CONFIDENCES, SUPPORTS, (*GAPS, None)):
            gate = _gate({kind: least}, {kind: least_support}, {kind: least_gap})
            utility = sum(r.f1 - break_even for r in mine if r.proposal and gate.admits(r.proposal))
            # Equal utility: the stricter ("no rival" the widest gap).
            wide = FAR_GAP if least_gap is None else least_gap
            points.append((round(utility, 9), least, least_support, wide, least_gap))
        utility, least, least_support, _, least_gap = max(points)
        if utility > 0:
            confidence[kind], support[kind], gap[kind] = least, least_support, least_gap
    return _gate(confidence, support, gap)


FAR_GAP = 1_000_000  # "only without rivals" is the strictest gap


def measure(rows: Sequence[Scored], gate: short.Gate) -> dict[str, ShortTally]:
    """Coverage, F1 and exact match per kind (and "all"; "to decline": short answers given to
    questions to decline, in `given`) with a gate."""
    tallies = {k: ShortTally() for k in (*short.KINDS, "all", "to decline")}
    for r in rows:
        given = r.proposal is not None and gate.admits(r.proposal)
        if not r.answerable:
            tallies["to decline"].questions += 1
            tallies["to decline"].given += given
            continue
        for key in (r.kind, "all"):
            tallies[key].questions += 1
            if given:
                tallies[key].given += 1
                tallies[key].f1 += r.f1
                tallies[key].em += r.em
                tallies[key].within += r.within
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    """Fit the gate on some sets, report on others; optionally store it."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fit_short", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--fit", nargs="+", choices=sorted(SETS), metavar="SET", required=True)
    parser.add_argument("--report", nargs="*", choices=sorted(SETS), default=None, metavar="SET")
    parser.add_argument("--break-even", type=float, default=BREAK_EVEN, metavar="F1")
    parser.add_argument("--write", action="store_true", help=f"store the gate in {short.PARAMS_FILE.name}")
    args = parser.parse_args(argv)
    report = args.report if args.report is not None else [s for s in SETS if s not in args.fit]
    names = list(dict.fromkeys([*args.fit, *report]))
    # Each set's documents are asked its own questions and, as ones to decline, the other sets'
    # questions: the fitting sets' among themselves (a short answer to those costs the
    # break-even), every set's of the sets reported on.
    scored = {name: score_set(name, args.fit if name in args.fit else names) for name in names}
    gate = fit([r for name in args.fit for rows in scored[name] for r in rows], args.break_even)
    print(f"fitted on {', '.join(args.fit)} (break-even F1 {args.break_even}):")
    for kind in short.KINDS:
        print(
            f"  {kind:9} least confidence {gate.min_confidence[kind]}, support {gate.min_support[kind]}, "
            f"gap {gate.min_gap[kind]}"
        )
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        role = "fitted on" if name in args.fit else "out of sample"
        own, others = scored[name]
        tallies = measure(own, gate)
        off_topic = measure(others, gate)["to decline"]
        figures[name] = {k: t.figures() for k, t in tallies.items()} | {"off-topic": off_topic.figures()}
        print(f"{name} ({role}): " + tallies["all"].line("short answers"))
        for kind in short.KINDS:
            if tallies[kind].questions:
                print("  " + tallies[kind].line(f"{kind}:"))
        if tallies["to decline"].questions:
            print(f"  to decline: {tallies['to decline'].given}/{tallies['to decline'].questions} given one")
        if off_topic.questions:
            print(f"  other sets' questions: {off_topic.given}/{off_topic.questions} given one")
    if args.write:
        record = {
            "gate": {
                k: {
                    "min_confidence": gate.min_confidence[k],
                    "min_support": gate.min_support[k],
                    "min_gap": gate.min_gap[k],
                }
                for k in short.KINDS
            },
            "break_even": args.break_even,
            "fitted_on": args.fit,
            "command": "python -m benchmarks.fit_short " + " ".join(sys.argv[1:] if argv is None else argv),
            "figures": figures,
        }
        short.PARAMS_FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {short.PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
