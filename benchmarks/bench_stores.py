"""Vote latency on SQLite and on PostgreSQL, and the time from `add` to the page being in another
process's corpus folder and answered from it.

    python -m benchmarks.bench_stores [--votes 500] [--adds 5]

PostgreSQL is `TEST_DATABASE_URL`'s server or a throwaway cluster started here (Debian's
postgresql package; see `benchmarks/pgserver.py`), with its default durability (fsync on).
A vote is `FeedbackStore.record` as the bot calls it: one transaction that writes the vote and
reads the answer's tally, committed (SQLite: WAL, synchronous=FULL) before it returns.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import pgserver
from bot.config import Settings
from bot.stores.documents import open_mirror
from bot.stores.feedback import Feedback, Shown, open_feedback

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "tests" / "data" / "pages" / "wire-sag-awards.html"
QUESTION = "Which film scored a historic upset at the SAG awards?"


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def vote_latency(address: str, votes: int) -> tuple[float, float]:
    """p50 and p99 of `record` in ms: `votes` votes by 50 people on 20 answers (replacements included)."""
    shown = (Shown("article.txt ¶2.3", "Kim Ju-ae is believed to be about 12 years old."),)
    times = []
    with open_feedback(address) as store:
        for n in range(votes):
            feedback = Feedback(f"Question {n % 20}?", shown, "c" * 64, "up" if n % 3 else "down")
            started = time.perf_counter()
            store.record(feedback, 1_000 + n % 50)
            times.append(time.perf_counter() - started)
    return _percentiles(times)


def add_to_answered(server: pgserver.Server, adds: int) -> list[tuple[float, float]]:
    """For each page: seconds from starting `python -m bot add` to the page answered from another
    folder's corpus, and of those the seconds `add` itself ran (a process: start-up, extraction, publishing).

    The other side is what a bot process runs: the mirror following the table in a thread, then a
    load of its folder (the watcher's settle time, RELOAD_SETTLE_SECONDS, comes on top in the bot).
    """
    from bot import engine

    results = []
    for n in range(adds):
        work = Path(tempfile.mkdtemp(prefix="article-bot-bench-"))
        corpus_db = server.database()  # a new table each round: the same page is new to it
        try:
            there = work / "there"
            settings = Settings(_env_file=None, corpus_dir=there, corpus_db=corpus_db, use_cache=False)
            mirror = open_mirror(settings)
            stop, arrived = threading.Event(), threading.Event()
            follower = threading.Thread(target=mirror.follow, args=(stop, _setter(arrived)), daemon=True)
            follower.start()
            time.sleep(1.0)  # listening, caught up
            page = work / f"page-{n}.html"
            shutil.copy(PAGE, page)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bot", "add", str(page), "--corpus", str(work / "here")],
                check=True, capture_output=True, cwd=ROOT, env={**os.environ, "CORPUS_DB": corpus_db},
            )  # fmt: skip
            added = time.perf_counter()
            if not arrived.wait(30):
                raise RuntimeError("the page never arrived")
            answer = engine.load(settings).answer(QUESTION)
            if answer.abstained or not answer.excerpts:
                raise RuntimeError("the page arrived but was not answered from")
            results.append((time.perf_counter() - started, added - started))
            stop.set()
            follower.join(10)
            mirror.store.close()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return results


def _setter(event: threading.Event) -> Callable[[list[str]], None]:
    return lambda names: event.set()


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_stores", description=__doc__)
    parser.add_argument("--votes", type=int, default=500, help="votes timed on each backend")
    parser.add_argument("--adds", type=int, default=5, help="pages added and timed to answered")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="article-bot-bench-") as tmp, pgserver.running() as server:
        print(f"{dt.date.today()}: {args.votes} votes a backend; PostgreSQL: {pgserver.describe(server)}")
        print(f"{'vote latency':<22}{'p50 ms':>10}{'p99 ms':>10}")
        for label, address in (
            ("SQLite (WAL, FULL)", str(Path(tmp) / "fb.sqlite3")),
            ("PostgreSQL", server.database()),
        ):
            p50, p99 = vote_latency(address, args.votes)
            print(f"{label:<22}{p50:>10.2f}{p99:>10.2f}")
        timed = add_to_answered(server, args.adds)
        total, own = [t for t, _ in timed], [a for _, a in timed]
        print(
            f"add -> answered on another process, {len(timed)} pages (plus RELOAD_SETTLE_SECONDS in a bot):"
        )
        print(f"  median {statistics.median(total):.2f} s, max {max(total):.2f} s from starting `add`")
        print(f"  of which `add` itself ran {statistics.median(own):.2f} s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
