"""Smoke test of the scale benchmark: one small size, every system measured and checked."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("wordfreq")

from bot.bench import main


def test_bench_small(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--sizes", "1000",
            "--queries", "5",
            "--vocab", "5000",
            "--answer-rounds", "0",
            "--cold-runs", "0",
            "--parse-sentences", "1000",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.lstrip().startswith("1,000 ")]
    for label in ("ours (Index)", "bm25s bm25+", "rank-bm25 Plus", "tokenize (ours)"):
        assert any(label in row for row in rows), (label, out)
    assert "top-10 agreement, ours vs rank-bm25: 5/5 queries over all sizes: full agreement" in out
    # The same sentences saved as plain text and as Markdown split into the same sentences.
    counts = re.findall(r"^  (plain text|Markdown) .*\(([\d,]+) sentences\)$", out, re.MULTILINE)
    assert [label for label, _ in counts] == ["plain text", "Markdown"]
    assert counts[0][1] == counts[1][1]
