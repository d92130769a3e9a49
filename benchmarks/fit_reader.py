"""The reader's fitted numbers (`bot/search/reader.json`), and its whole answers scored per article.

    python -m benchmarks.fit_reader --fit tests/data/eval/squad/dev_fit.json --write
    python -m benchmarks.fit_reader --report tests/data/eval/squad/dev_report.json

Each SQuAD article is its own corpus (as the hidden sets are asked). `--fit` asks every question
of the fitting file with the reader off, reads the ranker's first eight candidates of each, and fits:
how many candidates the reader reads and its score's weight beside the ranker's (hit@1 plus hit@3
of the answer's sentence, the fewest candidates within `TOLERANCE` of the best), the best score under
which the bot declines (the most unanswerable and other articles' questions declined, at most
`--max-false` more answerable ones declined than without the reader), and the span probability
from which the reader's span is the short answer (the lowest whose answers average token F1 ≥
`--min-f1`). `--report` answers every question of SQuAD files (each article its own corpus, with
other articles' questions to decline) or of named sets of `benchmarks.fit` at three stages (by
words alone, re-ranked, read) and prints hit@1, hit@3, declines and short answers; `--plot PNG`
draws hit@1 and hit@3 per set and stage. A figure on the fitting file is in sample.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.fit.sets import METADATA, SETS, composer_for, documents_of
from bot.answer.composer import Composer
from bot.evaluate import (
    OFF_TOPIC,
    Case,
    Report,
    evaluate,
    read_question_set,
    squad_articles,
    token_f1,
    within_answer,
)
from bot.search import reader
from bot.search.ranking import ReaderStage, read_order

F32 = npt.NDArray[np.float32]
READ = 8  # candidates read when fitting: the most the reader may be fitted to read
CANDIDATES = (2, 3, 4, 5, 6, 8)
WEIGHTS = tuple(float(w) for w in np.geomspace(0.02, 4.0, 28))
TOLERANCE = 0.003  # hit@1 + hit@3 this close to the best: the fewest candidates read (each costs time)
OFF_TOPIC_PER_ARTICLE = 30
# This project's own sets that the ranker was fitted on (news pages, the article, a guide): the
# reader's lines must suit them as well as SQuAD's encyclopedia articles.
ALSO = (
    "dev",
    "multidoc",
    "multidoc2",
    "multidoc4",
    "multidoc5",
)  # other articles' questions asked of each article


@dataclass
class Row:
    """One question asked of one article: the ranker's first candidates and the reader's reading."""

    kind: str  # "answerable", "unanswerable" or OFF_TOPIC
    declined: bool  # declined with the reader off
    scores: F32  # the ranker's scores of its first READ candidates
    gold: npt.NDArray[np.bool_]  # which of them hold the answer
    read: F32  # the reader's scores of them
    spans: list[str]  # the reader's span in each, as text
    probabilities: F32  # and its probability
    answers: list[str]
    group: str = "squad"  # the set it comes from: SQuAD's articles, or a named set of this project


def articles(path: Path) -> list[tuple[dict[str, str], list[Case]]]:
    """Each article of a SQuAD file as its own corpus (name -> text) and its questions."""
    return [(found.documents, list(found.cases)) for found in squad_articles(path)]


def off_topic(
    all_articles: Sequence[tuple[dict[str, str], list[Case]]], n: int, seed: int
) -> list[list[Case]]:
    """For each article, `n` answerable questions of the other articles, to be declined."""
    rng = random.Random(seed)
    out = []
    for at in range(len(all_articles)):
        others = [c for k, (_, cases) in enumerate(all_articles) if k != at for c in cases if c.answerable]
        out.append([Case(c.question, kind=OFF_TOPIC) for c in rng.sample(others, min(n, len(others)))])
    return out


def collect(
    composer: Composer, model: reader.Reader, cases: Sequence[Case], group: str = "squad"
) -> list[Row]:
    """Each question asked with the reader off, and its first READ candidates read."""
    from benchmarks.fit.tables import gold_sentences

    ranker = composer.ranker
    ranker.reader = None
    rows = []
    for case in cases:
        declined = composer.answer(case.question).abstained
        ranked = ranker.rank(ranker.question(case.question))
        ids = ranked.ids[:READ].tolist()
        gold = gold_sentences(ranker, case) if case.answerable else set()
        texts = [ranker.corpus.text(i) for i in ids]
        reading = model.read(case.question, texts)
        kind = "answerable" if case.answerable else case.kind or "unanswerable"
        rows.append(
            Row(
                kind,
                declined,
                ranked.scores[:READ].astype(np.float32),
                np.array([i in gold for i in ids], dtype=bool),
                reading.scores,
                [t[s.start : s.end] if s else "" for t, s in zip(texts, reading.spans, strict=True)],
                np.array([s.probability if s else 0.0 for s in reading.spans], np.float32),
                [a.text for a in case.spans] or list(case.gold),
                group,
            )
        )
    return rows


def kept_rows(path: Path | None, key: str, read: Callable[[], list[Row]]) -> list[Row]:
    """Questions read (`read`), or as `path` kept them from an earlier run with the same `key` (the
    question file's and the model's hashes): reading them is most of a fit's time."""
    if path is not None and path.exists():
        kept = pickle.loads(path.read_bytes())
        if kept.get("key") == key:
            rows: list[Row] = kept["rows"]
            return rows
    rows = read()
    if path is not None:
        path.write_bytes(pickle.dumps({"key": key, "rows": rows}))
    return rows


def read_rows(
    args: argparse.Namespace,
    found: Sequence[tuple[dict[str, str], list[Case]]],
    extra: Sequence[list[Case]],
    model: reader.Reader,
) -> list[Row]:
    """Every question of the SQuAD file read (`collect`), kept in `--rows`."""

    def read() -> list[Row]:
        rows: list[Row] = []
        started = time.monotonic()
        for (documents, cases), others in zip(found, extra, strict=True):
            rows += collect(composer_for(documents), model, [*cases, *others])
            print(f"{len(rows)} questions read, {time.monotonic() - started:.0f} s", file=sys.stderr)
        return rows

    key = f"{reader.sha256_of(args.fit)}-{reader.sha256_of(args.model)}"
    return kept_rows(args.rows, key, read)


def set_rows(name: str, args: argparse.Namespace, model: reader.Reader) -> list[Row]:
    """A named set of this project's (`benchmarks.fit.SETS`) read over its own corpus, kept beside
    `--rows` as `read_rows` keeps SQuAD's."""
    spec = SETS[name]

    def read() -> list[Row]:
        cases = [c for c in read_question_set(spec.questions).cases if c.kind != METADATA]
        return collect(composer_for(documents_of(spec)), model, cases, name)

    key = f"{reader.sha256_of(spec.questions)}-{reader.sha256_of(args.model)}"
    kept_at = None if args.rows is None else args.rows.with_name(f"{args.rows.stem}-{name}.pickle")
    return kept_rows(kept_at, key, read)


def hits(rows: Sequence[Row], candidates: int, weight: float) -> tuple[float, float]:
    """hit@1 and hit@3 of the answer's sentence over the answerable rows, read as the bot would."""
    one = three = n = 0
    for row in rows:
        if row.kind != "answerable":
            continue
        n += 1
        k = min(candidates, len(row.scores))
        order, _ = read_order(row.scores, row.read[:k], weight)
        one += bool(len(order)) and bool(row.gold[order[0]])
        three += bool(row.gold[order[:3]].any())
    return one / max(n, 1), three / max(n, 1)


def best_of(rows: Sequence[Row], candidates: int, weight: float) -> list[tuple[Row, int, float]]:
    """Each row with the position of the reader's first sentence and its best score."""
    out = []
    for row in rows:
        k = min(candidates, len(row.scores))
        if not k:
            continue
        order, _ = read_order(row.scores, row.read[:k], weight)
        out.append((row, int(order[0]), float(row.read[:k].max())))
    return out


def fit_decline(
    rows: Sequence[Row], candidates: int, weight: float, max_false: float, *, decline: bool = True
) -> tuple[float | None, float | None]:
    """The best score under which to decline and the one from which to answer what the bot
    would decline without the reader: the most questions to decline declined, with at most
    `max_false` of each set's answerable questions declined (or as many as without the reader,
    if more): a line that suits SQuAD's articles must not decline a news page's answers."""
    best = best_of(rows, candidates, weight)
    others = [(r.declined, m) for r, _, m in best if r.kind != "answerable"]
    groups: dict[str, list[tuple[bool, float]]] = {}
    for r, _, m in best:
        if r.kind == "answerable":
            groups.setdefault(r.group, []).append((r.declined, m))
    allowed = {g: max(max_false, sum(d for d, _ in a) / len(a)) for g, a in groups.items()}
    scores = [m for _, _, m in best]
    lines = np.unique(np.quantile(scores, np.linspace(0, 1, 81)).round(2)).tolist()
    chosen: tuple[float | None, float | None] = (None, None)
    most = -1.0
    for line in [None, *lines] if decline else [None]:
        for rescue in [None, *[r for r in lines if line is None or r > line]]:

            def declined(d: bool, m: float, line: float | None = line, rescue: float | None = rescue) -> bool:
                return (line is not None and m < line) or (d and (rescue is None or m < rescue))

            if any(sum(declined(d, m) for d, m in a) / len(a) > allowed[g] for g, a in groups.items()):
                continue
            caught = sum(declined(d, m) for d, m in others) / max(len(others), 1)
            if caught > most + 1e-9:
                chosen, most = (line, rescue), caught
    return chosen


def fit_span(
    rows: Sequence[Row], candidates: int, weight: float, decline: float | None, min_f1: float
) -> float | None:
    """The lowest span probability from which the short answers (the first sentence's span, of
    questions not declined) are right often enough in every kind of set: on SQuAD's articles their
    token F1 averages ≥ `min_f1`; on this project's sets, whose gold strings are phrases around the
    answer, that share of them stand within one (`within_answer`). None when no line does."""
    given: list[tuple[float, float, bool]] = []
    for row, first, most in best_of(rows, candidates, weight):
        if row.kind != "answerable" or row.declined or (decline is not None and most < decline):
            continue
        span, squad = row.spans[first], row.group == "squad"
        if squad:
            right = max((token_f1(span, a) for a in row.answers), default=0.0)
        else:
            right = float(within_answer(span, Case("", gold=tuple(row.answers))))
        given.append((float(row.probabilities[first]), right, squad))
    given.sort(reverse=True)
    chosen = None
    totals = {True: [0.0, 0], False: [0.0, 0]}
    for probability, right, squad in given:
        totals[squad][0] += right
        totals[squad][1] += 1
        if totals[True][1] >= 20 and all(n == 0 or total / n >= min_f1 for total, n in totals.values()):
            chosen = probability
    return chosen


def figures(report: Report) -> dict[str, float]:
    """A report's figures: hit@1, hit@3, declines by kind, short answers."""
    short = report.short_total
    return {
        "questions": report.answerable,
        "hit@1": round(report.hit_at_1, 3),
        "hit@3": round(report.hit_at_3, 3),
        "false declines": round(report.false_abstentions / max(report.answerable, 1), 4),
        **{
            f"{kind} declined": round(report.declined.get(kind, 0) / report.to_decline[kind], 3)
            for kind in sorted(report.to_decline)
        },
        "short given": round(short.given / max(short.questions, 1), 3),
        "short F1": round(short.f1 / max(short.given, 1), 3),
        "short EM": round(short.em / max(short.given, 1), 3),
    }


def merged(reports: Sequence[Report]) -> Report:
    """One report of several articles' (their counts summed)."""
    total = Report()
    for r in reports:
        total.answerable += r.answerable
        total.hits1 += r.hits1
        total.hits3 += r.hits3
        total.false_abstentions += r.false_abstentions
        for kind, n in r.to_decline.items():
            total.to_decline[kind] = total.to_decline.get(kind, 0) + n
        for kind, n in r.declined.items():
            total.declined[kind] = total.declined.get(kind, 0) + n
        for kind, tally in r.short.items():
            total.short[kind].add(tally)
    return total


STAGES = ("words alone", "re-ranked", "read")


def stage_reports(composer: Composer, cases: Sequence[Case], stage: ReaderStage) -> dict[str, Report]:
    """The cases answered at each stage: by words alone (`RERANK=false`), re-ranked, and read."""
    semantic = composer.ranker.semantic
    out = {}
    for name in STAGES:
        composer.ranker.semantic = None if name == "words alone" else semantic
        composer.ranker.reader = stage if name == "read" else None
        out[name] = evaluate(cases, composer.answer)
    composer.ranker.semantic, composer.ranker.reader = semantic, stage
    return out


def report(name: str, stage: ReaderStage, seed: int) -> dict[str, dict[str, float]]:
    """A set's figures at each stage: a SQuAD file's articles each its own corpus (with
    `OFF_TOPIC_PER_ARTICLE` of the other articles' questions each, to decline), or a named set
    of `benchmarks.fit.SETS` over its own corpus (its metadata questions left to their route)."""
    reports: dict[str, list[Report]] = {s: [] for s in STAGES}
    if name in SETS:
        spec = SETS[name]
        cases = [c for c in read_question_set(spec.questions).cases if c.kind != METADATA]
        for s, r in stage_reports(composer_for(documents_of(spec)), cases, stage).items():
            reports[s].append(r)
    else:
        found = articles(Path(name))
        for (documents, cases), others in zip(
            found, off_topic(found, OFF_TOPIC_PER_ARTICLE, seed), strict=True
        ):
            for s, r in stage_reports(composer_for(documents), [*cases, *others], stage).items():
                reports[s].append(r)
    return {s: figures(merged(r)) for s, r in reports.items()}


def plot(reported: dict[str, dict[str, dict[str, float]]], path: Path, command: str) -> None:
    """hit@1 and hit@3 per set at each stage, as a bar chart saying which command drew it."""
    from benchmarks.figures import pyplot, save

    plt = pyplot()

    names = list(reported)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.9 + 0.55 * len(names) * len(STAGES) / 2), sharey=True)
    height = 0.8 / len(STAGES)
    for ax, measure in zip(axes, ("hit@1", "hit@3"), strict=True):
        for k, s in enumerate(STAGES):
            values = [reported[n][s][measure] for n in names]
            at = [i + (k - (len(STAGES) - 1) / 2) * height for i in range(len(names))]
            bars = ax.barh(at, values, height, label=s)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
        ax.set_yticks(range(len(names)), [Path(n).stem for n in names])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.1)
        ax.set_title(measure)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(STAGES), fontsize=8, frameon=False)
    save(fig, path, "whole answers at each stage", command, width=150, rect=(0, 0.06, 1, 0.97))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fit_reader", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--fit", type=Path, help="a SQuAD file to fit on (v2.0: with unanswerable questions)")
    parser.add_argument(
        "--also", nargs="*", default=list(ALSO), help="benchmarks.fit's sets fitted on beside the SQuAD file"
    )
    parser.add_argument(
        "--report", nargs="*", default=[], help="SQuAD files, or names of benchmarks.fit's sets, to report on"
    )
    parser.add_argument("--plot", type=Path, help="draw the reported figures into this PNG")
    parser.add_argument("--model", type=Path, default=reader.MODEL_FILE, help="the reader's ONNX file")
    parser.add_argument("--max-false", type=float, default=0.005, help="answerable declined added at most")
    parser.add_argument("--min-f1", type=float, default=0.8, help="short answers' least mean token F1")
    parser.add_argument(
        "--no-decline", action="store_true", help="fit no line to decline under (the rescue line alone)"
    )
    parser.add_argument(
        "--no-span", action="store_true", help="fit no span gate (short answers by the rules)"
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--rows", type=Path, help="keep the questions read here, and read them from here next time"
    )
    parser.add_argument(
        "--write", action="store_true", help=f"store the fitted numbers in {reader.FITTED_FILE.name}"
    )
    args = parser.parse_args(argv)
    if args.write and args.fit is None:
        parser.error("--write stores what --fit fits: give --fit")
    model = reader.Reader(args.model, reader.sha256_of(args.model), threads=2)
    fitted = reader.Fitted.load()
    record: dict[str, Any] = {}
    if args.fit is not None:
        started = time.monotonic()
        found = articles(args.fit)
        extra = off_topic(found, OFF_TOPIC_PER_ARTICLE, args.seed)
        rows = read_rows(args, found, extra, model)
        for name in args.also:
            rows += set_rows(name, args, model)
        print(f"{len(rows)} questions read, {time.monotonic() - started:.0f} s", file=sys.stderr)
        table = {(n, w): hits(rows, n, w) for n in CANDIDATES for w in WEIGHTS}
        for n in CANDIDATES:
            w = max(WEIGHTS, key=lambda w: sum(table[(n, w)]))
            one, three = table[(n, w)]
            print(f"reading {n}: best weight {w:.3f}, hit@1 {one:.3f}, hit@3 {three:.3f}", file=sys.stderr)
        best = max(sum(h) for h in table.values())
        candidates, weight = min(
            (key for key, h in table.items() if sum(h) >= best - TOLERANCE),
            key=lambda k: (k[0], -sum(table[k])),
        )
        decline, rescue = fit_decline(rows, candidates, weight, args.max_false, decline=not args.no_decline)
        span = None if args.no_span else fit_span(rows, candidates, weight, decline, args.min_f1)
        fitted = reader.Fitted(
            candidates, round(weight, 4), decline, rescue, None if span is None else round(span, 4)
        )
        without = hits(rows, 1, 0.0)
        record = {
            "fitted": asdict(fitted),
            "fitted_on": [str(args.fit), *args.also],
            "in_sample": {
                "answer sentence hit@1, hit@3, reader off": [round(x, 3) for x in without],
                "answer sentence hit@1, hit@3, reader on": [round(x, 3) for x in table[(candidates, weight)]],
            },
        }
        print(json.dumps(record, indent=2))
    stage = ReaderStage(model, fitted)
    command = " ".join(["python -m benchmarks.fit_reader", *(argv if argv is not None else sys.argv[1:])])
    reported: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.report:
        reported[name] = report(name, stage, args.seed)
        print(name, json.dumps(reported[name], indent=2), flush=True)
    if reported:
        record["reported (out of sample unless fitted on)"] = reported
    if args.plot is not None and reported:
        plot(reported, args.plot, command)
    if args.write:
        reader.FITTED_FILE.write_text(
            json.dumps({**record, "command": command}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
