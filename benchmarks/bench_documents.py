"""The cost of the document step (which document a question is about) at scale, and of a whole
question through the command line, beside bm25s.

    python -m benchmarks.bench_documents          # 100,000 sentences in 1,000, then in 10,000 documents
    python -m benchmarks.bench_documents --documents 100 --sentences 10000 --questions 50

For each number of documents (`--documents`), writes a corpus of the same sentences
(`--sentences`, shared out evenly) of prose-like documents (`bench_load.prose`: Zipfian words from
wordfreq, names, numbers, quotations) with front matter as `add` writes it (a title, a subtitle,
an author, a site and a source address, drawn from a few hundred names and outlets), loads it,
and times, question by question: the document step's fit over every document
(`DocumentStep.fit`), the metadata route (`bot.answer.metadata`, which runs the step on a
question's remaining words), and the whole answer by words (`RERANK=false READER=false`: the
re-ranker's and the reader's own costs are `bench_rerank`'s to measure). Content questions are
drawn from the corpus's sentences, half of them naming a document's outlet ("What does the Daily
Ledger story say about ...?": every document of that outlet fits it as well); metadata questions
name a document by its subject, outlet or author.

Then the question as a user asks it: `python -m bot ask --json -` (its cache filled) given every
question on standard input, beside a bm25s process that indexes the same files and answers each
line with its three best sentences (`bench_load.BM25S_ANSWERS`), the two run in turn
`--cli-runs` times. A question's cost is the time from one answer to the next, in wall time and
in the process's own CPU time (read from /proc, less disturbed by other processes on a busy
machine), over the answers after the first `WARM` (which pay for what is built on first use).
Each question is asked once: what a question reads the first time (its sentences' texts, its
words' variants) is in its cost. Needs the bench extras (`pip install -e '.[bench]'`) and Linux.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from benchmarks.bench import size_list, vocabulary
from benchmarks.bench_load import BM25S_ANSWERS, ROOT, prose
from bot import engine
from bot.answer import metadata
from bot.answer.composer import Composer
from bot.config import Settings


def write_documents(
    folder: Path, rng: np.random.Generator, words: list[str], p: np.ndarray, documents: int, per_file: int
) -> list[dict[str, str]]:
    """`documents` Markdown files of `per_file` sentences with front matter; their fields."""
    names = [w.capitalize() for w in words[2000:6000] if w.isalpha()]
    authors = [f"{names[i]} {names[i + 1]}" for i in range(0, 600, 2)]
    outlets = [f"The {names[i]} {names[i + 1]}" for i in range(1000, 1200, 2)]
    sentences = prose(rng, words, p, documents * per_file)
    fields = []
    for d in range(documents):
        chunk = sentences[d * per_file : (d + 1) * per_file]
        paragraphs = [" ".join(chunk[i : i + 4]) for i in range(0, len(chunk), 4)]
        outlet = outlets[int(rng.integers(len(outlets)))]
        field = {
            "title": " ".join(chunk[0].split()[:8]).strip('“”",.?!'),
            "subtitle": " ".join(chunk[1].split()[:14]).strip('“”",.?!'),
            "author": authors[int(rng.integers(len(authors)))],
            "site": outlet,
            "host": outlet.lower().replace("the ", "").replace(" ", ""),
        }
        front = (
            f"---\ntitle: {field['title']}\nsubtitle: {field['subtitle']}\nauthor: {field['author']}\n"
            f"site: {field['site']}\nsource: https://www.{field['host']}.com/news/{d}\n---\n\n"
        )
        (folder / f"story{d:05d}.md").write_text(front + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        fields.append(field)
    return fields


def questions(
    rng: np.random.Generator, composer: Composer, fields: list[dict[str, str]], n: int
) -> list[str]:
    """Half content questions (words of a sentence, every other one naming the outlet of the
    sentence's document), half metadata questions naming a document."""
    corpus = composer.corpus
    asked = []
    for i in range(n):
        if i % 2 == 0:
            at = int(rng.integers(len(corpus)))
            words = " ".join(corpus.sentence(at).text.split()[:8]).strip('“”",.?!')
            site = fields[int(corpus.doc_of[at])]["site"]
            asked.append(
                f"What does the {site} story say about {words}?" if i % 4 else f"What about {words}?"
            )
            continue
        field = fields[int(rng.integers(len(fields)))]
        subject = " ".join(field["title"].split()[:4])
        asked.append(
            [
                f"Who wrote the article about {subject}?",
                f"When was the {field['site']} story published?",
                f"What else did {field['author']} write?",
            ][i // 2 % 3]
        )
    return asked


def timed(call: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def spread(seconds: Sequence[float]) -> str:
    """p50 and p99 in milliseconds."""
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms"


def run(documents: int, per_file: int, n_questions: int, seed: int, cli_runs: int) -> list[str]:
    """Build the corpus, time the document step and, `cli_runs` times, questions through the
    command line beside bm25s; the report lines."""
    import wordfreq

    rng = np.random.default_rng(seed)
    words, p = vocabulary(wordfreq, 20_000)
    keep = [i for i, w in enumerate(words) if w.isalpha()]
    words, p = [words[i] for i in keep], p[keep] / p[keep].sum()
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        fields = write_documents(folder, rng, words, p, documents, per_file)
        # The document step is lexical; the re-ranker (timed by bench_rerank) would embed 100,000
        # sentences first.
        settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False, rerank=False, reader=False)
        composer = engine.load(settings)
        asked = list(dict.fromkeys(questions(rng, composer, fields, n_questions)))  # each asked once
        lines = _in_process(composer, asked)
        if cli_runs > 0:
            lines += through_cli(folder, Path(tmp) / "cache", asked, cli_runs)
    return lines


def _in_process(composer: Composer, asked: list[str]) -> list[str]:
    """The document step's parts, question by question, in this process."""
    ranker = composer.ranker
    build = timed(ranker.step.described)  # the descriptions' postings, built on first use
    parsed = [ranker.question(q) for q in asked]
    for q in parsed[:10]:  # warm the caches a running bot has warm
        composer.answer(q.text)
    fit = [timed(lambda q=q: ranker.table.about(q)) for q in parsed]  # type: ignore[misc]
    # Which of a question's words name the best-fitting documents when every document fits as well.
    tied = np.ones(len(composer.corpus.documents), dtype=np.float32)
    naming = [timed(lambda q=q: ranker.step.in_best_descriptions(q.terms, tied)) for q in parsed]  # type: ignore[misc]
    route = [
        timed(lambda q=q: metadata.about_documents(composer.corpus, q.text, q, ranker, composer.highlight))  # type: ignore[misc]
        for q in parsed
    ]
    whole = [timed(lambda q=q: composer.answer(q.text)) for q in parsed]  # type: ignore[misc]
    # The feature table of each question's candidates (with several documents, its document-level
    # columns and within-document factors are read off the document index's postings).
    candidates = [ranker.rank(q).ids for q in parsed]
    table = [
        timed(lambda q=q, ids=ids: ranker.table.features(q, ids))  # type: ignore[misc]
        for q, ids in zip(parsed, candidates, strict=True)
    ]
    meta = sum(
        1
        for q in asked
        if not composer.answer(q).excerpts or composer.answer(q).excerpts[0].citation.startswith("metadata")
    )
    return [
        f"document step: {len(composer.corpus):,} sentences in {len(composer.corpus.documents):,} documents, "
        f"{len(asked)} questions (half naming a document by subject, outlet or author)",
        f"  descriptions' postings, built once on first use  {build * 1000:8.1f} ms",
        f"  fit over every document, per question           {spread(fit)}",
        f"  naming words, every document fitting as well     {spread(naming)}",
        f"  metadata route (field words, fit, choice)        {spread(route)}",
        f"  feature table of the candidates                 {spread(table)}",
        f"  whole answer, for scale                         {spread(whole)}",
        f"  ({meta} of {len(asked)} answered from metadata or declined)",
    ]


WARM = 10  # answers not counted: the first questions pay for what is built on first use


def through_cli(folder: Path, cache: Path, asked: list[str], runs: int) -> list[str]:
    """A question's cost through `python -m bot ask --json -` and through a bm25s process, run in
    turn; the report lines."""
    if not sys.platform.startswith("linux"):
        return ["  through the command line: skipped (a process's CPU time is read from Linux's /proc)"]
    if len(asked) <= WARM + 1:
        return [f"  through the command line: skipped (it needs more than {WARM + 1} questions)"]
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CORPUS_DB", "FEEDBACK_DB")}
    ours_env = {**env, "RERANK": "false", "READER": "false", "USE_CACHE": "true", "CACHE_DIR": str(cache)}
    ours = [sys.executable, "-m", "bot", "ask", "--json", "--corpus", str(folder), "-"]
    theirs = [sys.executable, "-c", BM25S_ANSWERS, str(folder)]
    lines = [
        f"  through the command line, a question's cost from one answer to the next (answers {WARM + 1} "
        f"to {len(asked)}): `python -m bot ask --json -` (RERANK=false READER=false, cache filled by its "
        "first run) and a bm25s process, in turn:"
    ]
    ratios: list[tuple[float, float]] = []
    for run in range(runs):
        wall, cpu = answer_times(ours, ours_env, asked)
        bm25s_wall, bm25s_cpu = answer_times(theirs, env, asked)
        # CPU time counts in clock ticks (10 ms): a few questions of a small corpus may show none.
        ratios.append((wall / bm25s_wall, cpu / bm25s_cpu if bm25s_cpu else math.nan))
        lines.append(
            f"    run {run + 1}: ours {wall * 1000:6.3f} ms (CPU {cpu * 1000:6.3f}), "
            f"bm25s {bm25s_wall * 1000:6.3f} ms (CPU {bm25s_cpu * 1000:6.3f}): "
            f"ours / bm25s {ratios[-1][0]:.2f} (CPU {ratios[-1][1]:.2f})"
        )
    median = statistics.median
    lines.append(
        f"    ours / bm25s, median of the runs: {median(r for r, _ in ratios):.2f} wall, "
        f"{median(c for _, c in ratios):.2f} CPU"
    )
    return lines


def answer_times(cmd: list[str], env: dict[str, str], asked: list[str]) -> tuple[float, float]:
    """Seconds a question, wall and CPU, from the `WARM`th answer to the last, of a process that
    answers a line of standard input with a line."""
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    feeder = threading.Thread(target=_feed, args=(proc.stdin, asked))  # a full pipe must not stop us
    feeder.start()
    marks: list[tuple[float, float]] = []
    answers = 0
    for _ in proc.stdout:
        answers += 1
        if answers in (WARM, len(asked)):
            marks.append((time.perf_counter(), _cpu_seconds(proc.pid)))
    feeder.join()
    if proc.wait() != 0 or answers != len(asked):
        raise RuntimeError(
            f"{cmd[1:3]} answered {answers} of {len(asked)} questions (exit {proc.returncode})"
        )
    (wall0, cpu0), (wall1, cpu1) = marks
    return (wall1 - wall0) / (len(asked) - WARM), (cpu1 - cpu0) / (len(asked) - WARM)


def _feed(stdin: TextIO, asked: list[str]) -> None:
    stdin.write("".join(q + "\n" for q in asked))
    stdin.close()


def _cpu_seconds(pid: int) -> float:
    """A process's user and system CPU time so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_documents", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--documents",
        type=size_list,
        default=[1000, 10_000],
        help="numbers of documents (default 1000,10000)",
    )
    parser.add_argument(
        "--sentences",
        type=int,
        default=100_000,
        help="sentences, shared out among the documents (default 100,000)",
    )
    parser.add_argument("--questions", type=int, default=200, help="questions timed (default 200)")
    parser.add_argument(
        "--cli-runs",
        type=int,
        default=3,
        help="runs of each process through the command line; 0 skips (default 3)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for documents in args.documents:
        per_file = max(1, args.sentences // documents)
        print("\n".join(run(documents, per_file, args.questions, args.seed, args.cli_runs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
