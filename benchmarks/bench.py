"""Speed at scale: this project's index against rank-bm25 and bm25s on synthetic corpora.

`python -m bot bench [options]` or `python -m bot.bench [options]`; needs the bench extras
(`pip install -e '.[bench]'`).

Corpora of 1k to 1M sentences are drawn from a Zipfian English vocabulary (wordfreq's top
words, weighted by their frequency); queries of 3-8 words come from the same vocabulary with
a bias towards mid-frequency words, as real questions have. The three systems are measured in
one process on the same tokens (our `tokenize`), each query on every system before the next:

* ours: `Index.build` / `Index.rank(terms, k=10)`;
* bm25s: `BM25(method="bm25+", k1, b, delta)`, the same scoring formula and IDF as rank-bm25's
  BM25Plus, indexed from our token lists, `retrieve([terms], k=10)` (numpy backend, 1 thread);
* rank-bm25: `BM25Plus(token_lists)` / `get_scores(terms)` (scores only, no top-k).

It also times the whole answer over the article (`engine.load` then `Composer.answer`),
the cold start of `python -m bot ask`, and parsing the same sentences saved as plain text and
as Markdown. With `--load SIZES` it measures loading folders of files as a user meets it, beside
a bm25s process (`bot/bench_load.py`). `--plot PNG` draws the query times against the corpus
size (docs/img/speed-retrieval.png), the command that drew it written in the figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.search.retriever import Bm25Params, Index, rank_bm25_model
from bot.text import tokenize

ROOT = Path(__file__).resolve().parent.parent
F64 = npt.NDArray[np.float64]
K = 10
MIB = 1 << 20
SYSTEMS = ("ours", "bm25s", "rank-bm25")
LABELS = {"ours": "ours (Index)", "bm25s": "bm25s bm25+", "rank-bm25": "rank-bm25 Plus"}
COLD_QUESTION = "How old is Kim Ju-ae?"


@dataclass
class Result:
    """One system at one corpus size."""

    system: str
    build_s: float = float("nan")
    peak_bytes: float = float("nan")  # tracemalloc peak during the build, above what was before it
    rss_bytes: float = float("nan")  # growth of the resident set's high-water mark during the build
    latencies_ns: list[int] = field(default_factory=list)

    def p50_us(self) -> float:
        return statistics.median(self.latencies_ns) / 1e3 if self.latencies_ns else float("nan")

    def p99_us(self) -> float:
        if not self.latencies_ns:
            return float("nan")
        return float(np.percentile(np.asarray(self.latencies_ns, dtype=np.float64), 99)) / 1e3


@dataclass
class SizeRun:
    """Everything measured at one corpus size."""

    n: int
    tokenize_s: float
    tokens: int
    results: dict[str, Result]
    checked: int = 0  # queries whose top-10 was checked against rank-bm25
    ours_agree: int = 0
    bm25s_agree: int = 0


# ----------------------------------------------------------------------------- workload


def vocabulary(wordfreq: ModuleType, size: int) -> tuple[list[str], F64]:
    """wordfreq's `size` most frequent English words and their frequencies, normalised."""
    words: list[str] = wordfreq.top_n_list("en", size)
    freq = np.array([wordfreq.word_frequency(w, "en") for w in words], dtype=np.float64)
    return words, freq / freq.sum()


def sentences(rng: np.random.Generator, words: list[str], p: F64, n: int) -> list[str]:
    """`n` sentences of 8-30 words drawn independently from the Zipfian distribution `p`."""
    lengths = rng.integers(8, 31, size=n)
    drawn = np.asarray(words, dtype=object)[rng.choice(len(words), size=int(lengths.sum()), p=p)].tolist()
    out: list[str] = []
    start = 0
    for end in np.cumsum(lengths).tolist():
        out.append(" ".join(drawn[start:end]))
        start = end
    return out


def queries(rng: np.random.Generator, words: list[str], p: F64, n: int) -> list[str]:
    """`n` queries of 3-8 distinct words, mid-frequency words favoured.

    Words ranked 100-20,000 are drawn with weight frequency^0.5: the top hundred (mostly stop
    words) never, rare words seldom. Queries whose every word is a stop word are drawn again.
    """
    lo, hi = min(100, len(words) // 10), min(20_000, len(words))
    weights = p[lo:hi] ** 0.5
    weights /= weights.sum()
    out: list[str] = []
    while len(out) < n:
        picked = rng.choice(hi - lo, size=int(rng.integers(3, 9)), replace=False, p=weights)
        text = " ".join(words[lo + int(i)] for i in picked)
        if tokenize(text):
            out.append(text)
    return out


# ----------------------------------------------------------------------------- measuring


def _status_kib(name: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_rss_peak() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM), where Linux allows it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def timed_build(build: Callable[[], Any]) -> tuple[Any, float, float]:
    """The built object, its wall time, and the growth of peak RSS while it was built."""
    gc.collect()
    exact = _reset_rss_peak()
    rss_before = _status_kib("VmRSS") if exact else None
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    built = build()
    elapsed = time.perf_counter() - started
    hwm = _status_kib("VmHWM") if exact else None
    if rss_before is not None and hwm is not None:
        growth = float(hwm - rss_before) * 1024
    else:  # only the process-wide maximum: growth shows only when this build set a new one
        growth = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before) * 1024
    return built, elapsed, growth


def traced_peak(build: Callable[[], Any]) -> float:
    """Peak bytes allocated (Python objects and NumPy buffers) while `build` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        built = build()
        peak = tracemalloc.get_traced_memory()[1] - base
        del built
    finally:
        tracemalloc.stop()
    return float(peak)


def top_k_agrees(ids: Sequence[int], reference: F64, k: int, floor: float, rel: float) -> bool:
    """Whether `ids` are a valid top-k of `reference` scores, ties at the cut aside.

    `floor` is the score of a sentence without any query term (BM25Plus's baseline); a system
    that returns only matching sentences must return min(k, number matching) of them.
    """
    picked = np.asarray(ids, dtype=np.int64)
    if len(set(picked.tolist())) != len(picked):
        return False
    tol = rel * max(1.0, float(np.abs(reference).max(initial=0.0)))
    matching = int(np.count_nonzero(reference > floor + tol))
    if len(picked) < min(k, matching) or len(picked) > k:
        return False
    if not len(picked):
        return True
    cut = float(np.partition(reference, len(reference) - len(picked))[len(reference) - len(picked)])
    got = reference[picked]
    return bool(np.all(got >= cut - tol) and np.all(np.diff(got) <= tol))


def run_size(
    n: int,
    texts: list[str],
    query_tokens: list[list[str]],
    bm25s: ModuleType,
    params: Bm25Params,
    rank_bm25_queries: int,
    memory: bool,
) -> SizeRun:
    """Build the three systems on the first `n` sentences and run the queries interleaved."""
    log = _stderr
    started = time.perf_counter()
    token_lists = [tokenize(t) for t in texts[:n]]
    tokenize_s = time.perf_counter() - started
    tokens = sum(map(len, token_lists))
    log(f"{n:,} sentences: tokenised in {tokenize_s:.2f}s ({tokens:,} terms)")
    k = min(K, n)

    def build_ours() -> Index:
        return Index.build(token_lists, params)

    def build_bm25s() -> Any:
        model = bm25s.BM25(method="bm25+", k1=params.k1, b=params.b, delta=params.delta)
        model.index(token_lists, show_progress=False)
        return model

    def build_rank_bm25() -> Any:
        return rank_bm25_model(params, token_lists)

    builders: dict[str, Callable[[], Any]] = {"ours": build_ours, "bm25s": build_bm25s}
    if rank_bm25_queries > 0:
        builders["rank-bm25"] = build_rank_bm25
    results = {name: Result(name) for name in builders}
    built: dict[str, Any] = {}
    for name, build in builders.items():
        built[name], results[name].build_s, results[name].rss_bytes = timed_build(build)
        log(f"  {name}: built in {results[name].build_s:.2f}s")
    if memory:  # rebuilt under tracemalloc, which slows Python code: never timed
        for name, build in builders.items():
            results[name].peak_bytes = traced_peak(build)
            log(f"  {name}: peak {results[name].peak_bytes / MIB:.1f} MiB")

    index: Index = built["ours"]
    retriever = built["bm25s"]
    model = built.get("rank-bm25")
    run = SizeRun(n, tokenize_s, tokens, results)
    clock = time.perf_counter_ns
    for i, terms in enumerate(query_tokens):
        t0 = clock()
        ranking = index.rank(terms, k)
        t1 = clock()
        docs, _ = retriever.retrieve([terms], k=k, show_progress=False, n_threads=0)
        t2 = clock()
        results["ours"].latencies_ns.append(t1 - t0)
        results["bm25s"].latencies_ns.append(t2 - t1)
        if model is None or i >= rank_bm25_queries:
            continue
        t3 = clock()
        reference = np.asarray(model.get_scores(terms), dtype=np.float64)
        t4 = clock()
        results["rank-bm25"].latencies_ns.append(t4 - t3)
        floor = params.delta * sum(float(model.idf.get(t) or 0.0) for t in terms)
        run.checked += 1
        ours_ok = top_k_agrees(ranking.ids.tolist(), reference, k, floor, 1e-5)
        ours_ok &= bool(
            np.allclose(
                ranking.scores.astype(np.float64) + floor, reference[ranking.ids], rtol=1e-5, atol=1e-6
            )
        )
        run.ours_agree += ours_ok
        run.bm25s_agree += top_k_agrees(np.asarray(docs[0]).tolist(), reference, k, -np.inf, 1e-4)
    del built, index, retriever, model
    gc.collect()
    return run


# ----------------------------------------------------------------------------- whole answer


def answer_latency(corpus: Path, dev: Path, rounds: int) -> list[str]:
    """p50/p99 of `Composer.answer` over the dev questions, after `engine.load`."""
    from bot import engine
    from bot.config import Settings

    questions = [
        json.loads(line)["q"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    started = time.perf_counter()
    composer = engine.load(Settings(), corpus)
    load_s = time.perf_counter() - started
    for q in questions:  # one untimed round: the composer's caches warm up as in a running bot
        composer.answer(q)
    times: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for q in questions:
            t0 = clock()
            composer.answer(q)
            times.append(clock() - t0)
    if not times:
        return [f"whole answer: engine.load {load_s:.3f}s; no timed rounds"]
    arr = np.asarray(times, dtype=np.float64) / 1e3
    return [
        f"whole answer ({corpus}, {len(composer.index):,} sentences; engine.load {load_s:.3f}s with "
        "Settings() defaults, on-disk index cache on):",
        f"  Composer.answer, {len(questions)} dev questions x {rounds} rounds after 1 warm-up round: "
        f"p50 {np.median(arr):,.0f} us, p99 {np.percentile(arr, 99):,.0f} us, max {arr.max():,.0f} us",
    ]


def cold_start(runs: int) -> list[str]:
    """Median wall time of `python -m bot ask` in fresh processes, and whether discord loads."""
    if not (ROOT / "bot" / "cli.py").exists() or not (ROOT / "bot" / "__main__.py").exists():
        return ["cold start: skipped (bot/cli.py or bot/__main__.py not there yet)"]
    cmd = [sys.executable, "-m", "bot", "ask", COLD_QUESTION]
    walls: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return [f"cold start: `python -m bot ask` failed (exit {done.returncode}): {tail}"]
    traced = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)\s*$", traced.stderr, re.MULTILINE)
    heavy = sorted({m.split(".")[0] for m in imported} & {"discord", "aiohttp", "bm25s", "wordfreq"})
    return [
        f'cold start: `python -m bot ask "{COLD_QUESTION}"`, {runs} runs: median '
        f"{statistics.median(walls) * 1e3:,.0f} ms wall "
        f"(min {min(walls) * 1e3:,.0f}, max {max(walls) * 1e3:,.0f})",
        f"  -X importtime: {len(imported)} modules imported; discord "
        f"{'IMPORTED' if 'discord' in heavy else 'not imported'}"
        + (
            f"; also heavy: {', '.join(h for h in heavy if h != 'discord')}"
            if set(heavy) - {"discord"}
            else ""
        ),
    ]


# ----------------------------------------------------------------------------- parsing


def saved_documents(texts: list[str], per_file: int = 100) -> tuple[list[bytes], list[bytes]]:
    """The same sentences saved as plain-text files and as Markdown files with everyday markup.

    Paragraphs of four sentences, every fifth one a bulleted list; in Markdown also a heading
    every five paragraphs and a bold word and a link in every paragraph.
    """
    plain: list[bytes] = []
    marked: list[bytes] = []
    for first in range(0, len(texts), per_file):
        sents = [f"{t[:1].upper()}{t[1:]}." for t in texts[first : first + per_file]]
        paragraphs = [sents[i : i + 4] for i in range(0, len(sents), 4)]
        texts_plain: list[str] = []
        blocks: list[str] = []
        for n, para in enumerate(paragraphs):
            listed = n % 5 == 4
            texts_plain.append("\n".join(f"- {s}" for s in para) if listed else " ".join(para))
            if n % 5 == 0:
                blocks.append(f"## Section {n // 5 + 1}")
            words = " ".join(para).split(" ")
            words[2] = f"**{words[2]}**"
            words[-3] = f"[{words[-3]}](https://example.org/{n}/{words[-3]})"
            marked_para = " ".join(words)
            blocks.append("\n".join(f"- {s}" for s in para) if listed else marked_para)
        plain.append("\n\n".join(texts_plain).encode())
        marked.append("\n\n".join(blocks).encode())
    return plain, marked


def parsing(texts: list[str]) -> list[str]:
    """Time `parse.parse_bytes` over the same sentences saved as plain text and as Markdown."""
    from bot.documents.document import TITLE_PARAGRAPH, ParsedDocument
    from bot.documents.parse import parse_bytes

    plain, marked = saved_documents(texts)
    lines = [f"parsing (parse.parse_bytes) {len(texts):,} sentences in {len(plain):,} files, best of 3:"]
    seconds: dict[str, float] = {}
    for label, suffix, docs in (("plain text", "txt", plain), ("Markdown", "md", marked)):
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            count = 0
            for i, raw in enumerate(docs):
                parsed = parse_bytes(f"d{i}.{suffix}", raw)
                if isinstance(parsed, ParsedDocument):  # a title sentence (paragraph 0) is not text
                    count += sum(1 for para_no, *_ in parsed.sentences if para_no != TITLE_PARAGRAPH)
            best = min(best, time.perf_counter() - started)
        seconds[label] = best
        lines.append(f"  {label:<10} {best:6.2f} s  {count / best:>9,.0f} sentences/s  ({count:,} sentences)")
    lines.append(f"  Markdown / plain text: {seconds['Markdown'] / seconds['plain text']:.2f}x")
    return lines


# ----------------------------------------------------------------------------- report


def machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for dist in ("numpy", "rank-bm25", "bm25s", "wordfreq", "PyStemmer"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} ?")
    return [
        f"machine: {platform.platform()}; CPU {cpu}; {os.cpu_count()} cores ({usable} usable)",
        f"python {platform.python_version()} ({platform.python_implementation()}); {', '.join(versions)}",
    ]


def _num(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"  # NaN: not measured


def table(runs: list[SizeRun], n_queries: int) -> list[str]:
    head = (
        f"{'sentences':>10}  {'system':<15}{'build s':>9}{'build x':>9}{'peak MiB':>10}{'dRSS MiB':>10}"
        f"{'queries':>9}{'p50 us':>11}{'p99 us':>12}{'p50 x':>9}"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        ours = run.results["ours"]
        for name in SYSTEMS:
            r = run.results.get(name)
            if r is None:
                continue
            mark = "*" if 0 < len(r.latencies_ns) < n_queries else " "
            lines.append(
                f"{run.n:>10,}  {LABELS[name]:<15}{_num(r.build_s, 2):>9}{_num(r.build_s / ours.build_s):>9}"
                f"{_num(r.peak_bytes / MIB):>10}{_num(r.rss_bytes / MIB):>10}"
                f"{len(r.latencies_ns):>8}{mark}{_num(r.p50_us()):>11}{_num(r.p99_us()):>12}"
                f"{_num(r.p50_us() / ours.p50_us()):>9}"
            )
        lines.append(
            f"{run.n:>10,}  {'tokenize (ours)':<15}{_num(run.tokenize_s, 2):>9}"
            f"{'':>9}{'':>10}{'':>10}{'':>9}  {run.tokens:,} terms; ours build + tokenize "
            f"{ours.build_s + run.tokenize_s:,.2f}s"
        )
    return lines


def targets(run: SizeRun) -> list[str]:
    ours, other, ref = run.results["ours"], run.results["bm25s"], run.results.get("rank-bm25")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    out = [f"targets at {run.n:,} sentences:"]
    q = other.p50_us() / ours.p50_us()
    out.append(f"  query p50  bm25s / ours      = {q:8.1f}x  (>= 10x)   {verdict(q >= 10)}")
    if ref is not None and ref.latencies_ns:
        r = ref.p50_us() / ours.p50_us()
        out.append(f"  query p50  rank-bm25 / ours  = {r:8.1f}x  (>= 100x)  {verdict(r >= 100)}")
    out.append(
        f"  build      ours {ours.build_s:.2f}s vs bm25s {other.build_s:.2f}s (no slower)  "
        f"{verdict(ours.build_s <= other.build_s)}; "
        f"ours with its tokenisation {ours.build_s + run.tokenize_s:.2f}s"
    )
    if not math.isnan(ours.peak_bytes):
        out.append(
            f"  peak mem   ours {ours.peak_bytes / MIB:.0f} MiB vs bm25s {other.peak_bytes / MIB:.0f} MiB "
            f"(no more)  {verdict(ours.peak_bytes <= other.peak_bytes)}"
        )
    return out


def plot(runs: list[SizeRun], path: Path, command: str) -> None:
    """Each system's query time (p50, and p99 dashed) against the corpus size, on log scales, as a
    PNG saying which command drew it."""
    from benchmarks.figures import pyplot, save

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 5))
    for name in SYSTEMS:
        measured = [
            (r.n, r.results[name]) for r in runs if name in r.results and r.results[name].latencies_ns
        ]
        if not measured:
            continue
        sizes = [n for n, _ in measured]
        p50 = [res.p50_us() / 1000 for _, res in measured]
        p99 = [res.p99_us() / 1000 for _, res in measured]
        (line,) = ax.plot(sizes, p50, marker="o", label=f"{LABELS[name]}, p50")
        ax.plot(
            sizes, p99, linestyle="--", linewidth=0.8, color=line.get_color(), label=f"{LABELS[name]}, p99"
        )
        for n, value in zip(sizes, p50, strict=True):
            ax.annotate(f"{value:,.3g}", (n, value), textcoords="offset points", xytext=(5, -10), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sentences in the corpus")
    ax.set_ylabel(f"one query, top {K}: milliseconds")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    save(fig, path, "query time against corpus size", command, width=110, rect=(0, 0, 1, 0.95))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def size_list(text: str) -> list[int]:
    """An argument's comma-separated positive sizes, sorted, each once ("none": no size)."""
    if text.strip().lower() == "none":
        return []
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from exc
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.bench", description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add(
        "--sizes",
        type=size_list,
        default=[1000, 10_000, 100_000, 1_000_000],
        help="corpus sizes, comma-separated; none leaves the index comparison out",
    )
    add("--queries", type=int, default=200, help="queries per size (default 200)")
    add("--seed", type=int, default=13, help="seed of the corpus and the queries")
    add("--vocab", type=int, default=50_000, help="wordfreq vocabulary size (default 50,000)")
    add(
        "--skip-rank-bm25-above",
        type=int,
        default=100_000,
        metavar="N",
        help="above N sentences rank-bm25 runs only --rank-bm25-queries queries (default 100,000)",
    )
    add(
        "--rank-bm25-queries",
        type=int,
        default=20,
        help="rank-bm25's queries above that size; 0 leaves rank-bm25 out there (default 20)",
    )
    add("--no-memory", action="store_true", help="skip the tracemalloc rebuilds (no peak MiB)")
    add("--corpus", type=Path, default=ROOT / "corpus", help="article corpus for the whole-answer timing")
    add(
        "--dev",
        type=Path,
        default=ROOT / "tests" / "data" / "eval" / "dev.jsonl",
        help="dev questions (JSON lines)",
    )
    add("--answer-rounds", type=int, default=50, help="timed rounds over the dev questions; 0 skips")
    add("--cold-runs", type=int, default=5, help="runs of `python -m bot ask`; 0 skips")
    add("--parse-sentences", type=int, default=100_000, help="sentences for the parsing timing; 0 skips")
    add(
        "--load",
        type=size_list,
        default=[],
        metavar="SIZES",
        help="also measure loading corpora of files of these many sentences, comma-separated "
        "(cold, warm, after a change, reload, memory; beside a bm25s process)",
    )
    add("--per-file", type=int, default=100, help="sentences per file in --load corpora (default 100)")
    add("--load-runs", type=int, default=3, help="runs of each --load measurement (default 3)")
    add("--plot", type=Path, metavar="PNG", help="draw the query times against corpus size into this PNG")
    return parser


def _preamble(
    args: argparse.Namespace, params: Bm25Params, n_words: int, query_tokens: list[list[str]]
) -> str:
    terms = statistics.mean(map(len, query_tokens)) if query_tokens else 0.0
    return "\n".join(
        [
            f"workload: wordfreq's top {n_words:,} English words, weighted by frequency (Zipf);",
            f"       seed {args.seed}; sentences of 8-30 words; {len(query_tokens)} queries of 3-8 words "
            f"({terms:.1f} terms each)",
            f"scoring: BM25Plus k1={params.k1} b={params.b} delta={params.delta} in all three (bm25s "
            'method="bm25+": the formula and IDF of rank-bm25 BM25Plus)',
            "build: index construction from the same pre-tokenised sentences (our tokenize), all systems;",
            "       tokenisation is timed on its own 'tokenize' row and is in no build figure.",
            "       peak MiB: tracemalloc peak of a separate untimed rebuild (Python objects + NumPy);",
            "       dRSS MiB: growth of the process's peak resident set in the timed build (VmHWM reset).",
            f"query: one query from its terms, k={K}: ours Index.rank; bm25s retrieve (numpy backend,",
            "       n_threads=0); rank-bm25 get_scores only. Interleaved: query i on every system before",
            "       query i+1. Query tokenisation is not in the latencies. x: this system / ours.",
            f"       * rank-bm25 ran only the first {args.rank_bm25_queries} queries above "
            f"{args.skip_rank_bm25_above:,} sentences (its p99 is about its max).",
        ]
    )


def _agreement(runs: list[SizeRun]) -> list[str]:
    lines = [
        f"top-{K} vs rank-bm25 get_scores at {r.n:,}: ours {r.ours_agree}/{r.checked}, "
        f"bm25s {r.bm25s_agree}/{r.checked} (ties at the cut aside; our scores within 1e-5)"
        for r in runs
        if r.checked
    ]
    total = sum(r.checked for r in runs)
    agree = sum(r.ours_agree for r in runs)
    if total:
        verdict = "full agreement" if agree == total else f"DISAGREEMENT on {total - agree} queries"
        lines.append(
            f"top-{K} agreement, ours vs rank-bm25: {agree}/{total} queries over all sizes: {verdict}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot is not None and not args.sizes:
        parser.error("--plot draws the index comparison: give --sizes")
    command = " ".join(["python -m benchmarks.bench", *(argv if argv is not None else sys.argv[1:])])
    if args.answer_rounds > 0:  # a section asked for and not measured would read as measured
        for path in (args.corpus, args.dev):
            if not path.exists():
                parser.error(
                    f"{path} not found (the whole-answer timing needs it; --answer-rounds 0 skips it)"
                )
    try:
        import bm25s
        import wordfreq
    except ImportError as exc:
        print(f"the benchmark needs its extras ({exc.name} is missing): pip install -e '.[bench]'")
        return 2
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    params = Bm25Params()
    print("\n".join(machine()), flush=True)
    rng = np.random.default_rng(args.seed)
    words, p = vocabulary(wordfreq, args.vocab)
    wanted = max([*args.sizes, args.parse_sentences], default=0)
    texts = sentences(rng, words, p, wanted) if wanted else []
    question_texts = queries(rng, words, p, args.queries)
    query_tokens = [tokenize(q) for q in question_texts]
    sections: list[list[str]] = []
    if args.sizes:
        print(_preamble(args, params, len(words), query_tokens), flush=True)
        runs: list[SizeRun] = []
        for n in args.sizes:
            limit = len(query_tokens) if n <= args.skip_rank_bm25_above else args.rank_bm25_queries
            runs.append(run_size(n, texts, query_tokens, bm25s, params, limit, not args.no_memory))
        sections += [table(runs, len(query_tokens)), _agreement(runs), targets(runs[-1])]
        if args.plot is not None:
            plot(runs, args.plot, command)
            sections.append([f"plot: {args.plot}"])
    parse_lines = parsing(texts[: args.parse_sentences]) if args.parse_sentences > 0 else []
    del texts
    if parse_lines:
        sections.append(parse_lines)
    if args.load:
        from benchmarks import bench_load

        question = question_texts[0]
        sections.append(
            bench_load.main(args.load, args.per_file, args.load_runs, rng, words, p, question, _stderr)
        )
    if args.answer_rounds > 0:
        sections.append(answer_latency(args.corpus, args.dev, args.answer_rounds))
    if args.cold_runs > 0:
        sections.append(cold_start(args.cold_runs))
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sections.append([f"process peak RSS (ru_maxrss) over the whole run: {maxrss:,.0f} MiB"])
    print()
    print("\n\n".join("\n".join(lines) for lines in sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
