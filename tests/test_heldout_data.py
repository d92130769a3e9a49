"""The blind held-out sets stay sound: `tests/data/build_heldout.py --check` passes on them and fails,
naming the problem, on a copy broken in each way it checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DATA

BUILD = DATA / "build_heldout.py"


def _check(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUILD), "--check", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_held_out_sets_pass_their_checks() -> None:
    result = _check(DATA)
    assert result.returncode == 0, result.stderr
    assert "rhine.json: 112 answerable, 9 is_impossible" in result.stdout
    assert "questions.jsonl: 24 lexical, 10 meta, 29 paraphrase, 10 unrelated" in result.stdout


def _edit_line(data: Path, number: int, change: Callable[[dict[str, object]], None]) -> None:
    """Change line `number` of the multi-document set's questions."""
    path = data / "multidoc_heldout" / "questions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[number - 1])
    change(row)
    lines[number - 1] = json.dumps(row, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _gold_across_sentences(data: Path) -> None:
    # Two sentences of the Nairobi page, joined: no one sentence holds it.
    gold = "supplied every day. The city needs"
    _edit_line(data, 28, lambda row: row.update(gold=[gold]))


def _gold_in_another_document(data: Path) -> None:
    _edit_line(data, 11, lambda row: row.update(gold=["government"]))


def _unrelated_with_a_document(data: Path) -> None:
    _edit_line(data, 64, lambda row: row.update(document="article.txt"))


def _repeated_dev_question(data: Path) -> None:
    _edit_line(data, 64, lambda row: row.update(q="Who is the author?"))


def _wrong_offset(data: Path) -> None:
    path = data / "heldout" / "docs" / "encyclopedia.json"
    squad = json.loads(path.read_text(encoding="utf-8"))
    squad["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
    path.write_text(json.dumps(squad, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _edited_document(data: Path) -> None:
    path = data / "heldout" / "docs" / "rhine.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Swiss Alps", "Alps of Switzerland"), encoding="utf-8")


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_gold_across_sentences, "is not inside one sentence of nairobi-to-ration"),
        (_gold_in_another_document, "'government' also stands in"),
        (_unrelated_with_a_document, "unrelated questions, and only they, have no gold and no document"),
        (_repeated_dev_question, "'Who is the author?' repeats a question of eval/dev.jsonl"),
        (_wrong_offset, "encyclopedia.json enc-p00-q0: answer_start 122 does not point at 'Faxaflói Bay'"),
        (_edited_document, "rhine ¶0: answer 'Swiss Alps' of 'In which mountain range"),
    ],
)
def test_a_broken_set_fails_naming_the_problem(
    tmp_path: Path, breakage: Callable[[Path], None], message: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data, ignore=shutil.ignore_patterns("__pycache__"))
    breakage(data)
    result = _check(data)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
