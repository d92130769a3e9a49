"""The feedback store: schema and migration, salted voters, replaced votes, export and stats."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.stores.feedback import SCHEMA_VERSION, Feedback, FeedbackError, FeedbackStore, Shown
from tests.conftest import ROOT
from tests.test_cli import run

USER = 1100000000000000300
SHOWN = (
    Shown("article.txt ¶2.3", "Kim Ju-ae is believed to be about 12 years old."),
    Shown("article.txt ¶2.2", "The presence of his daughter ..."),
)


def _vote(vote: str = "up", question: str = "How old is Kim Ju-ae?", **extra: object) -> Feedback:
    return Feedback(question=question, shown=SHOWN, corpus="c0ffee" * 10, vote=vote, **extra)  # type: ignore[arg-type]


def test_a_second_vote_by_the_same_person_replaces_the_first(tmp_path: Path) -> None:
    with FeedbackStore(tmp_path / "fb.sqlite3") as store:
        assert store.record(_vote("up"), USER) == (1, 0)
        assert store.record(_vote("down"), USER) == (0, 1)  # replaced, not added
        assert store.record(_vote("up"), USER + 1) == (1, 1)  # another person counts apart
        other_answer = _vote("up", question="Who is the author?")
        assert store.record(other_answer, USER) == (1, 0)
        assert [e.count for e in store.export()] == [1, 1, 1]


def test_no_user_id_in_clear_and_the_salt_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    with FeedbackStore(path) as store:
        store.record(_vote(), USER)
        first = store.voter(USER)
    with FeedbackStore(path) as store:
        assert store.voter(USER) == first  # a restart keeps recognising the same person
        store.record(_vote("down"), USER)
        assert store.tally(_vote().answer_key) == (0, 1)
    with FeedbackStore(tmp_path / "other.sqlite3") as other:
        assert other.voter(USER) != first  # another file, another salt
    for blob in (
        path.read_bytes(),
        Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b"",
    ):
        assert str(USER).encode() not in blob
    rows = sqlite3.connect(path).execute("SELECT voter FROM votes").fetchall()
    assert rows == [(first,)] and str(USER) not in first


def test_schema_version_and_migration_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()  # a version-0 file: every migration runs
    with FeedbackStore(empty):
        pass
    db = sqlite3.connect(empty)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(FeedbackError, match="knows up to"):
        FeedbackStore(empty)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(FeedbackError, match=r"junk\.sqlite3"):
        FeedbackStore(junk)
    with pytest.raises(FeedbackError, match="no feedback database"):
        FeedbackStore(tmp_path / "missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_export_lines_follow_the_eval_format(tmp_path: Path) -> None:
    with FeedbackStore(tmp_path / "fb.sqlite3") as store:
        store.record(_vote("up"), USER)
        store.record(_vote("up"), USER + 1)
        store.record(_vote("down", question="What is the capital of France?", abstained=True), USER)
        store.record(_vote("up", question="Who discovered penicillin?", abstained=True), USER)
        lines = [e.as_eval_line() for e in store.export()]
        downs = [e.as_eval_line() for e in store.export("down")]
    up, reported, declined = lines
    assert up["q"] == "How old is Kim Ju-ae?" and up["gold"] == [SHOWN[0].text] and up["kind"] == "feedback"
    assert up["votes"] == 2 and up["citations"][0]["citation"] == "article.txt ¶2.3"
    assert reported["gold"] is None and reported["kind"] == "reported" and reported["vote"] == "down"
    assert declined["gold"] == []  # a rightly declined question is an unanswerable test question
    assert downs == [reported]


def test_stats_by_day_share_and_most_reported(tmp_path: Path) -> None:
    day1 = dt.datetime(2025, 1, 2, 10, tzinfo=dt.UTC)
    day2 = dt.datetime(2025, 1, 3, 23, 59, tzinfo=dt.UTC)
    with FeedbackStore(tmp_path / "fb.sqlite3") as store:
        store.record(_vote("up", time=day1), 1)
        store.record(_vote("down", question="Why?", time=day1), 1)
        store.record(_vote("down", question="Why?", time=day2), 2)
        store.record(_vote("down", question="Where?", time=day2), 2)
        stats = store.stats()
    assert stats.by_day == (("2025-01-02", 1, 1), ("2025-01-03", 0, 2))
    assert stats.most_reported[0] == ("Why?", 2)
    text = "\n".join(stats.lines())
    assert "votes: 4 (1 up, 3 down), 25% up" in text and "2025-01-03" in text


def test_cli_feedback_export_and_stats(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    with FeedbackStore(path) as store:
        store.record(_vote("up"), USER)
        store.record(_vote("down", question="Who won the war?"), USER)
    result = run("feedback", "export", FEEDBACK_DB=str(path))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["q"], r["kind"]) for r in rows] == [
        ("How old is Kim Ju-ae?", "feedback"),
        ("Who won the war?", "reported"),
    ]
    downs = run("feedback", "--db", str(path), "export", "--vote", "down")
    assert [json.loads(line)["gold"] for line in downs.stdout.splitlines()] == [None]
    stats = run("feedback", "stats", FEEDBACK_DB=str(path))
    assert stats.returncode == 0 and "50% up" in stats.stdout and "Who won the war?" in stats.stdout


def test_cli_feedback_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = run("feedback", "stats", FEEDBACK_DB=str(tmp_path / "nothing.sqlite3"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "FEEDBACK_DB" in result.stderr
    assert not (tmp_path / "nothing.sqlite3").exists()
    bad = run("feedback", "export", "--vote", "sideways", FEEDBACK_DB=str(tmp_path / "x"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_feedback_path_does_not_import_discord(tmp_path: Path) -> None:
    FeedbackStore(tmp_path / "fb.sqlite3").close()
    code = (
        "import sys; from bot.cli import main; "
        f"main(['feedback', '--db', {str(tmp_path / 'fb.sqlite3')!r}, 'stats']); "
        "print('discord' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
