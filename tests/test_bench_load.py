"""The load benchmark run alone (`python -m benchmarks.bench_load`) and the start-up picture it draws."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("wordfreq")
pytest.importorskip("matplotlib")

from benchmarks import bench_load


def test_plot_draws_the_start_ups_it_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[tuple[list[bench_load.StartUps], Path, str]] = []
    draw = bench_load.draw

    def keep(measured: Any, path: Path, command: str) -> None:
        drawn.append((list(measured), path, command))
        draw(measured, path, command)

    monkeypatch.setattr(bench_load, "draw", keep)
    png = tmp_path / "img" / "start-up.png"
    args = ["--sizes", "200,400", "--per-file", "50", "--runs", "1", "--vocab", "5000", "--plot", str(png)]
    assert bench_load.command(args) == 0
    out = capsys.readouterr().out
    # One picture, of every size measured, titled with the command that measured it.
    [(measured, path, command)] = drawn
    assert path == png and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert command == "python -m benchmarks.bench_load " + " ".join(args)
    assert [m.sentences for m in measured] == [200, 400]
    # Its points are the times the report gives, size by size (one run: the median is that run).
    for m in measured:
        report = out.split(f"load at {m.sentences:,} sentences")[1]
        for label, times in (("cold, no cache", m.cold), ("warm, cache filled", m.warm)):
            shown = re.search(rf"{label} +python -m bot ask +([\d.,]+) s", report)
            assert shown is not None and float(shown.group(1)) == round(times[0], 2), (label, report)
        assert len(m.after) == len(m.bm25s) == 1 and min(m.after + m.bm25s) > 0
    assert f"start-up drawn into {png}" in out


def test_no_size_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_load.command(["--sizes", "none"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().endswith("--sizes needs at least one size")
