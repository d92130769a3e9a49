"""Smoke test of the scale benchmark: one small size, every system measured and checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("wordfreq")

from benchmarks.bench import main

# A small vocabulary, and no whole-answer or `ask` cold-start timings: only what a test checks.
_SMALL = ["--vocab", "5000", "--answer-rounds", "0", "--cold-runs", "0"]


def test_bench_small(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "img" / "speed.png"
    code = main(
        ["--sizes", "1000", "--queries", "5", "--parse-sentences", "1000", "--plot", str(plot), *_SMALL]
    )
    out = capsys.readouterr().out
    assert code == 0
    # The plot the docs show is drawn by the same run: a PNG, named in the report.
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {plot}" in out
    rows = [line for line in out.splitlines() if line.lstrip().startswith("1,000 ")]
    for label in ("ours (Index)", "bm25s bm25+", "rank-bm25 Plus", "tokenize (ours)"):
        assert any(label in row for row in rows), (label, out)
    assert "top-10 agreement, ours vs rank-bm25: 5/5 queries over all sizes: full agreement" in out
    # The same sentences saved as plain text and as Markdown split into the same sentences.
    counts = re.findall(r"^  (plain text|Markdown) .*\(([\d,]+) sentences\)$", out, re.MULTILINE)
    assert [label for label, _ in counts] == ["plain text", "Markdown"]
    assert counts[0][1] == counts[1][1]


def test_bench_load_small(capsys: pytest.CaptureFixture[str]) -> None:
    # Real processes over a folder of files: ours cold, warm and after a change; bm25s beside.
    load = ["--load", "1000", "--per-file", "50", "--load-runs", "1"]
    code = main(["--sizes", "none", "--parse-sentences", "0", *load, *_SMALL])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "load at 1,000 sentences in 20 files of 50" in out
    for label in ("cold, no cache", "bm25s process", "warm, cache filled", "one file changed", "reload"):
        assert label in out, (label, out)
    memory = re.search(r"ours cold ([\d.,]+) MiB.*bm25s ([\d.,]+) MiB", out)
    assert memory is not None and float(memory.group(1)) > 10 and float(memory.group(2)) > 10


def test_bench_parse_small(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.bench_parse import CASES
    from benchmarks.bench_parse import main as parse_main

    assert parse_main(["--sizes", "500,1000", "--repeat", "1", "--ordinary-sentences", "200"]) == 0
    out = capsys.readouterr().out
    # Every case timed at both sizes with its growth, then beside markdown-it, then ordinary Markdown.
    for case in CASES:
        row = rf"^{re.escape(case.name)} +{re.escape(case.suffix)} +[\d.]+ +[\d.]+ +(?:-?[\d.]+|nan)$"
        assert re.search(row, out, re.MULTILINE), (case, out)
    inline = out.split("inline markup alone at 1,000 characters")[1].split("ordinary Markdown")[0]
    assert all(case.name in inline for case in CASES if case.suffix == ".md")
    assert re.search(r"ordinary Markdown: [\d,]+ prose blocks .*200 sentences", out)
    assert "markdown-it inline parser" in out


def test_bench_documents_small(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.bench_documents import main as documents_main

    # Two numbers of documents over the same sentences, each through the command line beside bm25s.
    args = ["--documents", "10,40", "--sentences", "400", "--questions", "20", "--cli-runs", "1"]
    assert documents_main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^document step: [\d,]+ sentences in 10 documents", out, re.MULTILINE), out
    assert re.search(r"^document step: [\d,]+ sentences in 40 documents", out, re.MULTILINE), out
    runs = re.findall(
        r"run 1: ours +([\d.]+) ms \(CPU +([\d.]+)\), bm25s +([\d.]+) ms \(CPU +([\d.]+)\)", out
    )
    assert len(runs) == 2, out
    assert all(float(wall) > 0 and float(bm25s) > 0 for wall, _, bm25s, _ in runs), out
    assert out.count("ours / bm25s, median of the runs:") == 2


def test_bench_servers_small(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.bench_servers import main as servers_main

    args = ["--servers", "4", "--articles", "2", "--per-article", "6", "--sentences", "600"]
    assert servers_main([*args, "--documents", "10", "--questions", "30", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  no servers +[\d,]+ sentences +10 documents", out, re.MULTILINE), out
    assert re.search(r"^  with servers +[\d,]+ sentences +18 documents", out, re.MULTILINE), out
    assert re.search(r"per-question cost with servers: [\d.]+x at p50", out), out
    assert re.search(r"memory per server article: -?[\d.]+ KiB \(RSS difference over 8 articles\)", out), out
