"""Loading at scale, measured as a user meets it: real `python -m bot ask` processes over folders
of prose-like files, side by side with a bm25s process over the same files.

Run by `python -m benchmarks.bench --load 100000` (see its `--help`), or alone by
`python -m benchmarks.bench_load --sizes 10000,100000`, which with `--plot PNG` also draws the
cold, warm and after-a-change start-up against corpus size (docs/img/start-up.png). For each size
it writes a corpus of files (`--per-file` sentences each) and measures, interleaved run by run so
that a busy machine slows both alike:

* cold: `python -m bot ask` with no cache (`USE_CACHE=false`), and with an empty cache (which it
  then fills), against a bm25s process that reads the same files, splits them into sentences,
  tokenises, indexes and answers the same question;
* warm: `python -m bot ask` with the cache filled;
* after one file changed: `python -m bot ask` with the cache filled before the change;
* reload: in this process, `engine.load(previous=...)` after one file changed, with a thread
  answering questions from the old composer throughout (as the bot does);
* memory: the peak resident set of each process tree (the command and any workers it starts),
  each process's high-water mark read from /proc while it runs, summed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

# The bm25s side: bm25s has no sentence splitter, so it gets the cheapest one a user could write
# (blank-line paragraphs, then a split after . ! or ?); front matter is dropped.
BM25S_INDEX = r"""
import json, re, sys
from pathlib import Path
import bm25s, Stemmer
folder = Path(sys.argv[1])
front = re.compile(r"\A---\n.*?\n---\n", re.S)
split = re.compile(r"(?<=[.!?])\s+")
sentences = []
for path in sorted(folder.rglob("*")):
    if path.suffix in (".txt", ".md") and path.is_file():
        body = front.sub("", path.read_text(encoding="utf-8"))
        for paragraph in re.split(r"\n\s*\n", body):
            sentences.extend(s for s in split.split(" ".join(paragraph.split())) if s)
stemmer = Stemmer.Stemmer("english")
tokens = bm25s.tokenize(sentences, stopwords="en", stemmer=stemmer, show_progress=False)
model = bm25s.BM25(method="bm25+")
model.index(tokens, show_progress=False)

def best(question, k):
    query = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    docs, scores = model.retrieve(query, k=k, show_progress=False)
    return [sentences[int(d)] for d in docs[0]]
"""
# Its answer to the question given as the second argument.
BM25S_FIRST_ANSWER = BM25S_INDEX + "print(best(sys.argv[2], 3)[0])\n"
# Its three best sentences for each line of standard input, a JSON line each, as `ask --json -` answers.
BM25S_ANSWERS = (
    BM25S_INDEX + "for line in sys.stdin:\n    print(json.dumps(best(line.strip(), 3)), flush=True)\n"
)


# ----------------------------------------------------------------------------- a corpus of files


def prose(rng: np.random.Generator, words: list[str], p: npt.NDArray[np.float64], n: int) -> list[str]:
    """`n` prose-like sentences: Zipfian words, capitalised, with names, commas, numbers and
    dates, quotations with their attribution (curly quotes half the time), questions,
    abbreviations; the mix the splitter and the tokeniser meet in news text."""
    names = [w.capitalize() for w in words[2000:6000] if w.isalpha()]
    lengths = rng.integers(6, 28, size=n)
    drawn = np.asarray(words, dtype=object)[rng.choice(len(words), size=int(lengths.sum()), p=p)].tolist()
    rolls = rng.random((n, 4)).tolist()
    picks = rng.integers(0, 1 << 30, size=(n, 3)).tolist()
    out: list[str] = []
    at = 0
    for length, (kind, name_roll, comma_roll, quote_roll), (a, b, c) in zip(
        lengths.tolist(), rolls, picks, strict=True
    ):
        ws = drawn[at : at + length]
        at += length
        if name_roll < 0.3:
            ws[1 + a % (length - 1)] = names[b % len(names)]
        if comma_roll < 0.35 and length > 8:
            ws[2 + c % (length - 4)] += ","
        body = " ".join(ws)
        body = body[0].upper() + body[1:]
        name = names[c % len(names)]
        if kind < 0.08:
            left, right = ("“", "”") if quote_roll < 0.5 else ('"', '"')
            out.append(f"{left}{body},{right} {name} said.")
        elif kind < 0.12:
            out.append(f"{body}?")
        elif kind < 0.13:
            out.append(f"{body}!")
        elif kind < 0.17:
            out.append(f"{body} in {1900 + a % 125}, up {b % 90}.{c % 10} percent.")
        elif kind < 0.19:
            out.append(f"Mr. {name} told the U.S. {body.lower()}.")
        else:
            out.append(f"{body}.")
    return out


def write_corpus(folder: Path, sentences: Sequence[str], per_file: int, rng: np.random.Generator) -> int:
    """Files of `per_file` sentences in paragraphs of one to six, with front matter; a third are
    Markdown with a heading. Returns the number of files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = 0
    for start in range(0, len(sentences), per_file):
        chunk = sentences[start : start + per_file]
        cuts = np.cumsum(rng.integers(1, 7, size=len(chunk))).tolist()
        paragraphs = [" ".join(chunk[a:b]) for a, b in zip([0, *cuts], cuts, strict=False) if a < len(chunk)]
        title = " ".join(chunk[0].split()[:6]).strip('“”",.?!')
        head = f"---\ntitle: {title}\nauthor: Staff Writer\npublished: 2024-05-{1 + files % 28:02d}\n---\n\n"
        markdown = files % 3 == 0
        body = (f"# {title}\n\n" if markdown else "") + "\n\n".join(paragraphs) + "\n"
        (folder / f"article{files:05d}.{'md' if markdown else 'txt'}").write_text(
            head + body, encoding="utf-8"
        )
        files += 1
    return files


# ----------------------------------------------------------------------------- a measured process


@dataclass
class Measured:
    """One process run: wall time, peak memory of its process tree, its output."""

    wall: float
    peak: float  # bytes: the sum over the process and its descendants of each one's peak RSS
    code: int
    out: str
    err: str


def _tree(root: int) -> set[int]:
    """`root` and every process below it (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                    parents[int(entry.name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return tree


def _high_water(pid: int) -> int:
    """A process's peak resident set so far (VmHWM; it starts afresh at exec), in bytes."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            return next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def measure(cmd: Sequence[str], env: dict[str, str]) -> Measured:
    """Run a command to its end, reading its process tree's peak memory meanwhile.

    Each process's own high-water mark is kept, and the peaks are summed: for a command with
    worker processes this is an upper bound of its memory at any one moment. (`wait4`'s
    ru_maxrss is no use here: Linux carries the parent's size into a child across exec.)
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        peaks: dict[int, int] = {}
        stop = threading.Event()

        def sample() -> None:
            # The process list is read once a second (a scan of /proc costs milliseconds, and
            # the command needs both cores); the known processes' peaks every 50 ms.
            known = {proc.pid}
            for tick in itertools.count():
                if stop.wait(0.05):
                    break
                if tick % 20 == 0:
                    known |= _tree(proc.pid)
                for pid in known:
                    peaks[pid] = max(peaks.get(pid, 0), _high_water(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        return Measured(
            wall,
            float(sum(peaks.values())),
            code,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
        )


def _ask(corpus: Path, question: str, cache: Path | None) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "USE_CACHE": "true" if cache else "false",
        "CACHE_DIR": str(cache or ROOT / ".cache"),
    }
    env.pop("DISCORD_TOKEN", None)
    return [sys.executable, "-m", "bot", "ask", "--corpus", str(corpus), question], env


def _checked(m: Measured, what: str) -> Measured:
    if m.code != 0 or not m.out.strip():
        tail = (m.err.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{what} failed (exit {m.code}): {tail}")
    return m


# ----------------------------------------------------------------------------- the report


def _spread(values: Sequence[float], unit: str = "s", scale: float = 1.0) -> str:
    vs = [v / scale for v in values]
    if len(vs) == 1:
        return f"{vs[0]:,.2f} {unit}"
    return (
        f"median {statistics.median(vs):,.2f} {unit} (min {min(vs):,.2f}, max {max(vs):,.2f}, {len(vs)} runs)"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def _touch_one(folder: Path, run: int) -> Path:
    """Change one file of the corpus (a sentence added), differently each run."""
    files = sorted(folder.glob("article*"))
    path = files[len(files) // 2]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\nA correction was added to this article, revision {run} of the day.\n")
    return path


@dataclass(frozen=True)
class StartUps:
    """The start-up times of `python -m bot ask` at one corpus size, in seconds, one a run."""

    sentences: int
    cold: list[float]  # no cache
    warm: list[float]  # the cache filled
    after: list[float]  # one file changed since the cache was filled
    bm25s: list[float]  # a bm25s process over the same files (it has no cache: always cold)


def load_size(
    n: int,
    sentences: Sequence[str],
    question: str,
    per_file: int,
    runs: int,
    rng: np.random.Generator,
    log: Callable[[str], None],
) -> tuple[list[str], StartUps]:
    """Every load measurement at `n` sentences; report lines, and the start-up times."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        files = write_corpus(folder, sentences[:n], per_file, rng)
        size = sum(p.stat().st_size for p in folder.iterdir())
        log(f"{n:,} sentences: wrote {files:,} files ({size / MIB:,.1f} MiB) in {folder}")
        bm25s_cmd = [sys.executable, "-c", BM25S_FIRST_ANSWER, str(folder), question]
        env = {**os.environ}
        cold, filling, bm25s = [], [], []
        for r in range(runs):
            cmd, ask_env = _ask(folder, question, None)
            cold.append(_checked(measure(cmd, ask_env), "ask (no cache)"))
            bm25s.append(_checked(measure(bm25s_cmd, env), "bm25s"))
            cmd, ask_env = _ask(folder, question, Path(tmp) / f"empty{r}")
            filling.append(_checked(measure(cmd, ask_env), "ask (empty cache)"))
            log(
                f"  run {r + 1}: ours {cold[-1].wall:.2f}s, bm25s {bm25s[-1].wall:.2f}s, "
                f"ours filling the cache {filling[-1].wall:.2f}s"
            )
        cache = Path(tmp) / "empty0"  # filled by the first run above
        warm = []
        for _ in range(runs):
            cmd, ask_env = _ask(folder, question, cache)
            warm.append(_checked(measure(cmd, ask_env), "ask (warm)"))
        after = []
        for r in range(runs):
            _touch_one(folder, r)
            cmd, ask_env = _ask(folder, question, cache)
            after.append(_checked(measure(cmd, ask_env), "ask (one file changed)"))
        log(f"  warm {_spread([m.wall for m in warm])}; after a change {_spread([m.wall for m in after])}")
        reload = reload_times(folder, cache, question, runs)
        log(f"  reload {_spread(reload.seconds)}")

    med = statistics.median
    ratios = [o.wall / b.wall for o, b in zip(cold, bm25s, strict=True)]
    cold_s = med(m.wall for m in cold)
    after_share = med(m.wall for m in after) / cold_s
    ours_mem, bm25s_mem = max(m.peak for m in cold), max(m.peak for m in bm25s)
    lines = [
        f"load at {n:,} sentences in {files:,} files of {per_file} ({size / MIB:,.1f} MiB), "
        f"question {question!r}:",
        f"  cold, no cache      python -m bot ask   {_spread([m.wall for m in cold])}",
        f"  cold                bm25s process       {_spread([m.wall for m in bm25s])}",
        f"  ours / bm25s, run by run: {', '.join(f'{x:.2f}' for x in ratios)} (median {med(ratios):.2f})",
        f"  cold, empty cache   python -m bot ask   {_spread([m.wall for m in filling])} "
        "(writes the cache too)",
        f"  warm, cache filled  python -m bot ask   {_spread([m.wall for m in warm])}",
        f"  one file changed    python -m bot ask   {_spread([m.wall for m in after])} "
        f"= {after_share:.2f} of its cold start",
        f"  reload, one file changed, engine.load(previous=...) in a thread: {_spread(reload.seconds)}; "
        f"answers meanwhile: {reload.answers}, slowest {reload.slowest_ms:.0f} ms",
        "  peak memory (summed peak RSS of the process tree): ours cold "
        f"{_spread([m.peak for m in cold], 'MiB', MIB)}, "
        f"warm {_spread([m.peak for m in warm], 'MiB', MIB)}; "
        f"bm25s {_spread([m.peak for m in bm25s], 'MiB', MIB)}",
    ]
    if n == 100_000:
        lines += [
            f"  target: cold first answer <= 0.5 x bm25s's: {med(ratios):.2f} x  "
            f"{_verdict(med(ratios) <= 0.5)}",
            f"  target: reload <= 1 s: {med(reload.seconds):.2f} s  {_verdict(med(reload.seconds) <= 1.0)}",
            f"  target: ask after one change <= 1/3 of its cold start: {after_share:.2f}  "
            f"{_verdict(after_share <= 1 / 3)}",
        ]
    if n == 1_000_000:
        warm_s = med(m.wall for m in warm)
        lines += [
            f"  target: cold first answer <= 20 s: {cold_s:.1f} s  {_verdict(cold_s <= 20)}",
            f"  target: warm start <= 2 s: {warm_s:.2f} s  {_verdict(warm_s <= 2)}",
            f"  target: peak memory <= bm25s's: {ours_mem / MIB:,.0f} vs {bm25s_mem / MIB:,.0f} MiB  "
            f"{_verdict(ours_mem <= bm25s_mem)}",
        ]
    lines.append(
        f"  machine load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        "(other processes share the cores: a busy machine slows ours, which needs two, more)"
    )
    walls = [[m.wall for m in ms] for ms in (cold, warm, after, bm25s)]
    return lines, StartUps(n, *walls)


@dataclass
class Reloads:
    """Reload times, and the questions answered by another thread meanwhile."""

    seconds: list[float]
    answers: int
    slowest_ms: float


def reload_times(folder: Path, cache: Path, question: str, runs: int) -> Reloads:
    """`engine.load(previous=...)` after one file changed, `runs` times, in a worker thread
    while this thread answers questions from the old composer (as the bot does)."""
    from bot import engine
    from bot.config import Settings

    settings = Settings(_env_file=None, corpus_dir=folder, cache_dir=cache, use_cache=True)
    composer = engine.load(settings)
    seconds: list[float] = []
    latencies: list[float] = []
    for r in range(runs):
        _touch_one(folder, 100 + r)
        result: dict[str, Any] = {}

        def reload(old: Any = composer, out: dict[str, Any] = result) -> None:
            started = time.perf_counter()
            out["composer"] = engine.load(settings, previous=old)
            out["seconds"] = time.perf_counter() - started

        worker = threading.Thread(target=reload)
        worker.start()
        while worker.is_alive():  # a busy bot: a question every 10 ms
            t0 = time.perf_counter()
            composer.answer(question)
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.01)
        worker.join()
        composer = result["composer"]
        seconds.append(result["seconds"])
    return Reloads(seconds, len(latencies), max(latencies, default=0.0) * 1e3)


def main(
    sizes: Sequence[int],
    per_file: int,
    runs: int,
    rng: np.random.Generator,
    words: list[str],
    p: npt.NDArray[np.float64],
    question: str,
    log: Callable[[str], None],
    *,
    plot: Path | None = None,
    command: str = "",
) -> list[str]:
    """The load benchmark at each size; report lines. With `plot`, the start-up times are drawn
    into that PNG, titled with the `command` that measured them."""
    if not sys.platform.startswith("linux"):
        return ["load benchmark: skipped (it samples process memory from Linux's /proc)"]
    # Words as prose has them: wordfreq's list also holds emoji and symbols from social media.
    keep = [i for i, w in enumerate(words) if _WORD.fullmatch(w)]
    words, p = [words[i] for i in keep], p[keep] / p[keep].sum()
    sentences = prose(rng, words, p, max(sizes))
    lines = [
        "load: prose-like sentences (Zipfian words; names, commas, numbers, dates, quotations with",
        "      attributions, questions, abbreviations) in files with front matter; times are whole",
        "      processes, start to exit; memory is the peak summed RSS of each process tree.",
    ]
    measured: list[StartUps] = []
    for n in sizes:
        more, startups = load_size(n, sentences, question, per_file, runs, rng, log)
        lines += more
        measured.append(startups)
    if plot is not None:
        draw(measured, plot, command)
        lines.append(f"start-up drawn into {plot}")
    return [re.sub(r"\s+$", "", line) for line in lines]


def draw(measured: Sequence[StartUps], path: Path, command: str) -> None:
    """Cold, warm and after-a-change start-up against corpus size (median, and the runs' range),
    bm25s's cold start beside them, as a chart saying which command drew it."""
    from benchmarks.figures import pyplot, save

    plt = pyplot()

    sizes = [m.sentences for m in measured]
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    # Labels above the line for the slower of two lines that come close (after a change, warm).
    for label, times, style, color, above in (
        ("cold: no cache", [m.cold for m in measured], "o-", "C0", True),
        ("after one file changed", [m.after for m in measured], "s-", "C1", True),
        ("warm: the cache filled", [m.warm for m in measured], "^-", "C2", False),
        ("bm25s process (no cache: always cold)", [m.bm25s for m in measured], "x--", "grey", False),
    ):
        median = [statistics.median(t) for t in times]
        spread = [
            [m - min(t) for m, t in zip(median, times, strict=True)],
            [max(t) - m for m, t in zip(median, times, strict=True)],
        ]
        ax.errorbar(
            sizes,
            median,
            yerr=spread,
            fmt=style,
            capsize=3,
            label=label,
            color=color,
        )
        for x, y in zip(sizes, median, strict=True):
            at = (6, 4) if above else (6, -10)
            ax.annotate(f"{y:.2f} s", (x, y), textcoords="offset points", xytext=at, fontsize=7, color=color)
    ax.set_xscale("log")  # sizes a decade apart
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("corpus size, sentences")
    ax.set_ylabel("one process, start to exit (s)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path, "start-up, median and range of the runs", command, width=110, rect=(0, 0, 1, 0.95))


def command(argv: Sequence[str] | None = None) -> int:
    """The load benchmark alone, on the workload `python -m benchmarks.bench` draws; `--plot` draws it."""
    # Its workload's words, question and sizes, and its machine line: one way to make each.
    from benchmarks.bench import _stderr, machine, queries, size_list, vocabulary

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_load", description=(__doc__ or "").split("\n\n")[0]
    )
    add = parser.add_argument
    add(
        "--sizes",
        type=size_list,
        default=[1000, 10_000, 100_000],
        help="corpus sizes in sentences, comma-separated (default 1,000, 10,000 and 100,000)",
    )
    add("--per-file", type=int, default=100, help="sentences a file (default 100)")
    add("--runs", type=int, default=3, help="runs of each measurement (default 3)")
    add("--seed", type=int, default=13, help="seed of the corpus and the question")
    add("--vocab", type=int, default=50_000, help="wordfreq vocabulary size (default 50,000)")
    add("--plot", type=Path, metavar="PNG", help="draw cold, warm and after-a-change start-up into this PNG")
    args = parser.parse_args(argv)
    if not args.sizes:
        parser.error("--sizes needs at least one size")
    import wordfreq

    print("\n".join(machine()), flush=True)
    rng = np.random.default_rng(args.seed)
    words, p = vocabulary(wordfreq, args.vocab)
    question = queries(rng, words, p, 1)[0]
    said = " ".join(["python -m benchmarks.bench_load", *(sys.argv[1:] if argv is None else argv)])
    lines = main(
        args.sizes, args.per_file, args.runs, rng, words, p, question, _stderr, plot=args.plot, command=said
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(command())
