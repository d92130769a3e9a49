"""A question's cost with many servers' own articles (issue 27) beside a shared corpus, against the
same shared corpus with none; and the memory a server's article takes.

    python -m benchmarks.bench_servers        # 1,000 servers x 10 articles beside 100,000 shared sentences
    python -m benchmarks.bench_servers --servers 100 --sentences 10000 --questions 100

Writes a shared corpus of `--sentences` prose-like sentences in `--documents` documents
(`bench_documents.write_documents`, front matter as `add` writes it), and `--servers` folders of
`--articles` articles of `--per-article` sentences each (`SERVERS_DIR`). Then, in a child process
each, so that neither's memory is in the other's figure: the shared corpus alone, and the shared
corpus with every server's articles in its one index. Each child loads (`engine.load`, no cache,
by words: `RERANK=false`; the re-ranker's cost is `bench_rerank`'s), reads its resident memory
(VmRSS, after a garbage collection), and answers the same questions: words of the shared corpus's
sentences, half of them naming the document's outlet, asked with no server in the first child and
each in a server drawn at random in the second (its view a mask over the candidates). The runs
alternate `--runs` times; a question's cost is its `Composer.answer` wall time, p50 and p99 over
the questions after the first `WARM`, the best run's kept. Needs the bench extras and Linux.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench import _status_kib, vocabulary
from benchmarks.bench_documents import questions, write_documents
from bot import engine
from bot.config import Settings

WARM = 20  # questions not counted: the first pay for what is built on first use


def _child(
    corpus: Path, servers_dir: Path | None, asked: list[str], server_ids: list[int]
) -> dict[str, float]:
    """Load the corpus (with the servers' articles when `servers_dir`), then answer; the figures."""
    settings = Settings(
        _env_file=None,
        corpus_dir=corpus,
        servers_dir=servers_dir or corpus.parent / "no-servers",
        use_cache=False,
        rerank=False,
    )
    started = time.perf_counter()
    composer = engine.load(settings)
    loaded = time.perf_counter() - started
    gc.collect()
    rss = _status_kib("VmRSS") or 0
    rng = np.random.default_rng(1)
    times = []
    for question in asked:
        server = int(server_ids[int(rng.integers(len(server_ids)))]) if servers_dir and server_ids else None
        t = time.perf_counter()
        composer.answer(question, server=server)
        times.append(time.perf_counter() - t)
    counted = sorted(times[WARM:])
    return {
        "sentences": len(composer.corpus),
        "documents": len(composer.corpus.documents),
        "load_s": loaded,
        "rss_kib": rss,
        "p50_ms": statistics.median(counted) * 1000,
        "p99_ms": counted[min(len(counted) - 1, int(0.99 * len(counted)))] * 1000,
        "mean_ms": statistics.fmean(counted) * 1000,
    }


def _write_servers(
    folder: Path, rng: np.random.Generator, words: list[str], p: np.ndarray, args: argparse.Namespace
) -> list[int]:
    """`--servers` folders of `--articles` articles each; the servers' ids (Discord-sized)."""
    ids = [1_100_000_000_000_000_000 + n for n in range(args.servers)]
    for server in ids:
        target = folder / str(server)
        target.mkdir(parents=True)
        write_documents(target, rng, words, p, args.articles, args.per_article)
    return ids


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100_000, help="shared sentences")
    parser.add_argument("--documents", type=int, default=1_000, help="shared documents")
    parser.add_argument("--servers", type=int, default=1_000)
    parser.add_argument("--articles", type=int, default=10, help="articles a server")
    parser.add_argument("--per-article", type=int, default=20, help="sentences an article")
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--child", nargs=4, metavar=("CORPUS", "SERVERS", "QUESTIONS", "IDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        corpus, servers_dir, asked_file, ids_file = args.child
        asked = json.loads(Path(asked_file).read_text(encoding="utf-8"))
        ids = json.loads(Path(ids_file).read_text(encoding="utf-8"))
        figures = _child(Path(corpus), Path(servers_dir) if servers_dir != "-" else None, asked, ids)
        print(json.dumps(figures))
        return 0

    import wordfreq

    rng = np.random.default_rng(args.seed)
    words, p = vocabulary(wordfreq, 20_000)
    keep = [i for i, w in enumerate(words) if w.isalpha()]
    words, p = [words[i] for i in keep], p[keep] / p[keep].sum()
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp:
        root = Path(tmp)
        corpus, servers_dir = root / "corpus", root / "servers"
        corpus.mkdir()
        fields = write_documents(corpus, rng, words, p, args.documents, args.sentences // args.documents)
        ids = _write_servers(servers_dir, rng, words, p, args)
        shared = engine.load(
            Settings(
                _env_file=None, corpus_dir=corpus, servers_dir=root / "none", use_cache=False, rerank=False
            )
        )
        asked = list(dict.fromkeys(questions(rng, shared, fields, 2 * args.questions)[::2]))  # content ones
        del shared
        (root / "asked.json").write_text(json.dumps(asked), encoding="utf-8")
        (root / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("CORPUS_DB", "DISCORD_TOKEN")}
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.runs):
            for kind, folder in (("no servers", "-"), ("with servers", str(servers_dir))):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_servers",
                        "--child",
                        str(corpus),
                        folder,
                        str(root / "asked.json"),
                        str(root / "ids.json"),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                if kind not in best or figures["p50_ms"] < best[kind]["p50_ms"]:
                    best[kind] = figures
    articles = args.servers * args.articles
    none, many = best["no servers"], best["with servers"]
    print(
        f"{args.servers:,} servers x {args.articles} articles of {args.per_article} sentences beside "
        f"{none['sentences']:,.0f} shared sentences; {len(asked) - WARM} questions counted, "
        f"best of {args.runs} runs"
    )
    for kind, f in best.items():
        print(
            f"  {kind:13} {f['sentences']:>9,.0f} sentences {f['documents']:>7,.0f} documents  "
            f"load {f['load_s']:6.1f} s  RSS {f['rss_kib'] / 1024:7.1f} MiB  "
            f"question p50 {f['p50_ms']:7.3f} ms  p99 {f['p99_ms']:7.3f} ms  mean {f['mean_ms']:7.3f} ms"
        )
    print(
        f"  per-question cost with servers: {many['p50_ms'] / none['p50_ms']:.2f}x at p50, "
        f"{many['mean_ms'] / none['mean_ms']:.2f}x mean"
    )
    print(
        f"  memory per server article: {(many['rss_kib'] - none['rss_kib']) / articles:.1f} KiB "
        f"(RSS difference over {articles:,} articles)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
