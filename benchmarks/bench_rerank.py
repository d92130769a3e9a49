"""What the re-ranking stage costs: the model, sentence vectors, latency and memory.

    python -m benchmarks.bench_rerank                      # the article, and a 100,000-sentence corpus
    python -m benchmarks.bench_rerank --sizes none         # the article only

Printed, each with RERANK=true beside RERANK=false:
- the model: load time, sentence vectors per second on one thread (what the bot's background fill
  and a question's missing candidates get);
- the article: `Composer.answer` p50/p99 over the dev questions, warm (every vector in), and the
  peak memory of a whole `python -m bot ask` process;
- the article re-ranked and read, with the reader on one thread and on two (`READER_THREADS`),
  asked by one, two and four threads at once (a bot answering several people): p50/p99 of a
  question's time and the questions answered a second;
- a synthetic corpus (bench_load's prose, 100 sentences a file): the first answer of a cold
  `python -m bot ask` (no cache: the candidates' vectors computed as the question needs them),
  and, with every sentence's vector present, the added latency per question and the memory the
  vectors take. (Computing 100,000 real vectors takes about ten minutes on one core; for the
  warm figures the matrix is filled with random unit vectors, which cost the same to search.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_load import measure, prose, write_corpus
from bot import engine
from bot.answer.composer import Composer
from bot.config import PROJECT_ROOT, Settings
from bot.documents.corpus import Corpus
from bot.documents.parse import parse_document
from bot.search import semantic

DEV = PROJECT_ROOT / "tests" / "data" / "eval" / "dev.jsonl"
QUESTION = "How old is Kim Ju-ae?"


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def _percentiles(times_ns: list[int]) -> str:
    arr = np.asarray(times_ns, dtype=np.float64) / 1e6
    return f"p50 {np.median(arr):.2f} ms, p99 {np.percentile(arr, 99):.2f} ms"


def model_figures(texts: list[str]) -> list[str]:
    """Load time, memory and vectors per second of the model, in this process."""
    before = _rss_mib()
    started = time.perf_counter()
    model = semantic.MiniLM()
    load_s = time.perf_counter() - started
    loaded = _rss_mib()
    model.embed(texts[:16])
    started = time.perf_counter()
    model.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    one: list[int] = []
    for text in texts[:50]:
        t0 = time.perf_counter_ns()
        model.embed([text])
        one.append(time.perf_counter_ns() - t0)
    return [
        f"model {model.name}: loaded (hash checked) in {load_s:.2f} s, +{loaded - before:.0f} MiB resident;",
        f"  {rate:,.0f} sentences/s on one thread (batches of 16, the first {len(texts)} sentences of the "
        f"held-out documents); one question's vector {_percentiles(one)}",
    ]


def _questions() -> list[str]:
    lines = DEV.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()]


def _timed(composer: Composer, questions: list[str], rounds: int) -> list[int]:
    for q in questions:  # a warm-up round: caches fill as in a running bot
        composer.answer(q)
    times = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter_ns()
            composer.answer(q)
            times.append(time.perf_counter_ns() - t0)
    return times


def article_figures(rounds: int, cache: Path) -> list[str]:
    """Warm answer latency over the dev questions, and `ask`'s peak memory, on and off."""
    questions = _questions()
    lines = [f"the article ({len(questions)} dev questions x {rounds} rounds, warm):"]
    for rerank, read in STAGES:
        settings = Settings(_env_file=None, cache_dir=cache, rerank=rerank, reader=read)
        composer = engine.load(settings)
        times = _timed(composer, questions, rounds)
        cmd = [sys.executable, "-m", "bot", "ask", QUESTION]
        env = {**os.environ, "CACHE_DIR": str(cache), **_flags(rerank, read)}
        ask = measure(cmd, env)  # the cache is warm: vectors read, not computed
        lines.append(
            f"  {_label(rerank, read)}  Composer.answer {_percentiles(times)};  "
            f"`python -m bot ask` {ask.wall:.2f} s wall, peak {ask.peak / 2**20:.0f} MiB"
        )
    return lines


def concurrency_figures(rounds: int, cache: Path, threads: tuple[int, ...] = (1, 2)) -> list[str]:
    """Warm answer latency and throughput on the article, re-ranked and read, with the reader on
    each number of `threads`, asked by 1, 2 and 4 threads at once."""
    questions = _questions()
    lines = [f"the article, re-ranked and read, questions asked at once ({len(questions)} x {rounds} each):"]
    for reader_threads in threads:
        composer = engine.load(Settings(_env_file=None, cache_dir=cache, reader_threads=reader_threads))
        for at_once in (1, 2, 4):
            times: list[list[int]] = [[] for _ in range(at_once)]

            def ask(mine: list[int], composer: Composer = composer) -> None:
                mine.extend(_timed(composer, questions, rounds))

            askers = [threading.Thread(target=ask, args=(mine,)) for mine in times]
            started = time.perf_counter()
            for asker in askers:
                asker.start()
            for asker in askers:
                asker.join()
            wall = time.perf_counter() - started
            every = [t for ts in times for t in ts]
            answered = at_once * len(questions) * (rounds + 1)  # `_timed`'s warm-up round too
            lines.append(
                f"  READER_THREADS={reader_threads}  {at_once} at once: {_percentiles(every)};  "
                f"{answered / wall:.1f} questions/s"
            )
    return lines


# The stages measured: words alone, the re-ranker, the re-ranker and the reader.
STAGES = ((False, False), (True, False), (True, True))


def _flags(rerank: bool, read: bool) -> dict[str, str]:
    return {"RERANK": str(rerank).lower(), "READER": str(read).lower()}


def _label(rerank: bool, read: bool) -> str:
    return f"RERANK={str(rerank).lower():5} READER={str(read).lower():5}"


def _synthetic(folder: Path, sentences: int) -> list[str]:
    import wordfreq

    from benchmarks.bench import vocabulary

    rng = np.random.default_rng(11)
    words, p = vocabulary(wordfreq, 30_000)
    texts = prose(rng, words, p, sentences)
    write_corpus(folder, texts, 100, rng)
    return [" ".join(t.split()[:8]) + "?" for t in rng.choice(texts, 50, replace=False).tolist()]


def large_figures(size: int, runs: int) -> list[str]:
    """At `size` sentences: a cold first answer on and off; warm latency and memory with vectors."""
    lines = [f"{size:,} sentences in {size // 100:,} files:"]
    with tempfile.TemporaryDirectory(prefix="bench-rerank-") as tmp:
        folder = Path(tmp) / "corpus"
        questions = _synthetic(folder, size)
        for rerank, read in STAGES:
            walls = []
            for _ in range(runs):
                env = {**os.environ, "USE_CACHE": "false", **_flags(rerank, read)}
                cmd = [sys.executable, "-m", "bot", "ask", "--corpus", str(folder), questions[0]]
                walls.append(measure(cmd, env).wall)
            lines.append(
                f"  cold `python -m bot ask`, no cache, {_label(rerank, read)}: median "
                f"{statistics.median(walls):.2f} s over {runs} runs ({min(walls):.2f} to {max(walls):.2f})"
            )
        settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False, rerank=False, reader=False)
        lexical = engine.load(settings)
        before = _rss_mib()
        reranking = engine.load(settings.model_copy(update={"rerank": True}))
        stage = reranking.ranker.semantic
        assert stage is not None
        # Random unit vectors stand in for real ones (search costs the same; see the docstring).
        vectors = stage.vectors
        rng = np.random.default_rng(1)
        for at in range(0, len(vectors), 10_000):
            block = rng.standard_normal((min(10_000, len(vectors) - at), stage.model.dim), dtype=np.float32)
            vectors._vectors[at : at + len(block)] = semantic.unit(block)
        vectors._done[:] = True
        lines.append(
            f"  sentence vectors: {vectors._vectors.nbytes / 2**20:.0f} MiB (float32); "
            f"the re-ranking composer +{_rss_mib() - before:.0f} MiB resident beside the lexical one "
            "(the model's share is above)"
        )
        stage_of_reader = engine.reader_stage(settings.model_copy(update={"reader": True}))
        assert stage_of_reader is not None, "the reader cannot be loaded"
        for (rerank, reads), composer in zip(STAGES, (lexical, reranking, reranking), strict=True):
            composer.ranker.reader = stage_of_reader if reads else None  # the same composer and vectors
            times = _timed(composer, questions, 2)
            lines.append(
                f"  {_label(rerank, reads)} warm Composer.answer, {len(questions)} questions x 2: "
                + _percentiles(times)
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the re-ranking stage's costs."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_rerank", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="100000", help="synthetic corpus sizes, comma-separated, or none")
    parser.add_argument("--rounds", type=int, default=20, help="rounds over the dev questions (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="cold runs of `ask` at each size (default 3)")
    args = parser.parse_args(argv)
    sizes = [] if args.sizes == "none" else [int(s) for s in args.sizes.split(",")]
    try:
        import wordfreq  # noqa: F401
    except ImportError:
        print("the benchmark needs its extras (wordfreq): pip install -e '.[bench]'")
        return 2
    docs = PROJECT_ROOT / "tests" / "data" / "heldout" / "docs"
    parsed = [parse_document(p.name, p.read_text(encoding="utf-8")) for p in sorted(docs.glob("*.txt"))]
    texts = list(Corpus.from_parsed(parsed).texts())[:400]  # sentences as the corpus splits them
    sections = [model_figures(texts)]
    with tempfile.TemporaryDirectory(prefix="bench-rerank-cache-") as cache:
        sections.append(article_figures(args.rounds, Path(cache)))
        sections.append(concurrency_figures(args.rounds, Path(cache)))
    for size in sizes:
        sections.append(large_figures(size, args.runs))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sections.append([f"this process's peak RSS: {peak:,.0f} MiB"])
    print("\n\n".join("\n".join(s) for s in sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
