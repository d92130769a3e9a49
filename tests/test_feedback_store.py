"""The feedback store on both backends (SQLite, PostgreSQL): schema and migration, salted voters,
replaced votes, privacy (kept text, retention, forgetting), export and stats, copying, the reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import annotated_types
import psycopg
import pytest

from bot.config import Settings, redact
from bot.stores import feedback as feedback_store
from bot.stores.database import StoreError, UnavailableError
from bot.stores.documents import open_documents
from bot.stores.feedback import CALL_DEADLINE, SCHEMA_VERSION, Feedback, Shown, copy_votes, open_feedback
from tests.conftest import DATA, ROOT, mirror_of
from tests.stalling_proxy import StallingProxy
from tests.test_cli import run

USER = 1100000000000000300
SHOWN = (
    Shown("article.txt ¶2.3", "Kim Ju-ae is believed to be about 12 years old."),
    Shown("article.txt ¶2.2", "The presence of his daughter ..."),
)


def _vote(vote: str = "up", question: str = "How old is Kim Ju-ae?", **extra: object) -> Feedback:
    return Feedback(question=question, shown=SHOWN, corpus="c0ffee" * 10, vote=vote, **extra)  # type: ignore[arg-type]


def _stored(address: str, sql: str) -> list[tuple[object, ...]]:
    """Rows straight from the database, around the store."""
    if address.startswith("postgresql://"):
        with psycopg.connect(address) as db:
            return [tuple(r) for r in db.execute(sql).fetchall()]
    db = sqlite3.connect(address)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _v1_file(path: Path, rows: list[tuple[str, str]]) -> None:
    """A feedback file as the bot shipped it before schema 2 (the question NOT NULL, no seq)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE votes (answer_key TEXT NOT NULL, voter TEXT NOT NULL, vote TEXT NOT NULL, "
        "question TEXT NOT NULL, shown TEXT NOT NULL, corpus TEXT NOT NULL, abstained INTEGER NOT NULL, "
        "time TEXT NOT NULL, PRIMARY KEY (answer_key, voter))"
    )
    db.execute("INSERT INTO meta VALUES ('salt', ?)", ("ab" * 32,))
    for n, (vote, question) in enumerate(rows):
        db.execute(
            "INSERT INTO votes VALUES (?, ?, ?, ?, '[]', 'c', 0, ?)",
            (f"key{n}", f"voter{n}", vote, question, f"2025-01-0{n + 1}T10:00:00+00:00"),
        )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_a_second_vote_by_the_same_person_replaces_the_first(feedback_address: str) -> None:
    with open_feedback(feedback_address) as store:
        assert store.record(_vote("up"), USER) == (1, 0)
        assert store.record(_vote("down"), USER) == (0, 1)  # replaced, not added
        assert store.record(_vote("up"), USER + 1) == (1, 1)  # another person counts apart
        other_answer = _vote("up", question="Who is the author?")
        assert store.record(other_answer, USER) == (1, 0)
        assert [e.count for e in store.export()] == [1, 1, 1]


def test_no_user_id_in_clear_and_the_salt_survives_reopening(feedback_address: str, tmp_path: Path) -> None:
    with open_feedback(feedback_address) as store:
        store.record(_vote(), USER)
        first = store.voter(USER)
    with open_feedback(feedback_address) as store:
        assert store.voter(USER) == first  # a restart keeps recognising the same person
        store.record(_vote("down"), USER)
        assert store.tally(_vote().answer_key) == (0, 1)
    with open_feedback(tmp_path / "other.sqlite3") as other:
        assert other.voter(USER) != first  # another database, another salt
    rows = _stored(feedback_address, "SELECT voter, vote FROM votes")
    assert rows == [(first, "down")] and str(USER) not in first
    if not feedback_address.startswith("postgresql://"):
        path = Path(feedback_address)
        for blob in (
            path.read_bytes(),
            Path(f"{path}-wal").read_bytes() if Path(f"{path}-wal").exists() else b"",
        ):
            assert str(USER).encode() not in blob


def test_schema_version_and_a_newer_schema_refused(feedback_address: str) -> None:
    open_feedback(feedback_address).close()
    if feedback_address.startswith("postgresql://"):
        assert _stored(feedback_address, "SELECT store, version FROM schema_versions") == [
            ("feedback", SCHEMA_VERSION)
        ]
        with psycopg.connect(feedback_address) as db:
            db.execute("UPDATE schema_versions SET version = version + 1")
    else:
        db = sqlite3.connect(feedback_address)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.commit()
        db.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="knows up to"):
            open_feedback(feedback_address, read_only=read_only)


def test_a_broken_or_missing_sqlite_file_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite3"):
        open_feedback(junk)
    with pytest.raises(StoreError, match="no feedback database"):
        open_feedback(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_a_shipped_version_1_file_is_migrated_keeping_its_votes_in_order(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    _v1_file(path, [("down", "Why?"), ("up", "How old is Kim Ju-ae?")])
    with open_feedback(path) as store:
        assert [(e.feedback.vote, e.feedback.question) for e in store.export()] == [
            ("down", "Why?"),
            ("up", "How old is Kim Ju-ae?"),
        ]
        assert store.voter(1) == open_feedback(path).voter(1)  # its salt kept
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    notnull = {row[1]: row[3] for row in db.execute("PRAGMA table_info(votes)")}
    assert notnull["question"] == 0  # a vote on someone else's question keeps no text


def test_two_processes_opening_a_new_postgres_database_at_once_migrate_it_once(postgres_url: str) -> None:
    start = dt.datetime.now().timestamp() + 3
    code = (
        "import sys, time; from bot.stores.feedback import open_feedback\n"
        f"time.sleep(max(0, {start} - time.time()))\n"
        f"s = open_feedback({postgres_url!r}); print(s.voter(7)); s.close()\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err for _, err in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1  # one salt: every process hashes a voter alike
    assert _stored(postgres_url, "SELECT COUNT(*) FROM meta") == [(1,)]
    assert _stored(postgres_url, "SELECT version FROM schema_versions") == [(SCHEMA_VERSION,)]


def test_export_lines_follow_the_eval_format(feedback_address: str) -> None:
    with open_feedback(feedback_address) as store:
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


def test_stats_by_day_share_and_most_reported(feedback_address: str) -> None:
    day1 = dt.datetime(2025, 1, 2, 10, tzinfo=dt.UTC)
    day2 = dt.datetime(2025, 1, 3, 23, 59, tzinfo=dt.UTC)
    with open_feedback(feedback_address) as store:
        store.record(_vote("up", time=day1), 1)
        store.record(_vote("down", question="Why?", time=day1), 1)
        store.record(_vote("down", question="Why?", time=day2), 2)
        store.record(_vote("down", question="Where?", time=day2), 2)
        stats = store.stats()
    assert stats.by_day == (("2025-01-02", 1, 1), ("2025-01-03", 0, 2))
    assert stats.most_reported[0] == ("Why?", 2)
    text = "\n".join(stats.lines())
    assert "votes: 4 (1 up, 3 down), 25% up" in text and "2025-01-03" in text


def test_a_question_is_kept_only_with_a_vote_by_its_writer(feedback_address: str) -> None:
    # Issue 15 #11: "Ask the article" on someone's message, then a vote: their text was kept forever.
    phone = "Call me on 0170 5555 1234, how old is Kim Ju-ae?"
    with open_feedback(feedback_address) as store:
        assert store.record(_vote("up", question=phone, writer_voted=False), USER) == (1, 0)
        assert list(store.export()) == []  # nothing to make a test question of
        assert store.stats().up == 1  # still counted
        store.record(_vote("up", question=phone), USER + 1)  # the writer votes too: now it is kept
        (line,) = [e.as_eval_line() for e in store.export()]
    assert line["q"] == phone and line["votes"] == 2
    texts = [q for (q,) in _stored(feedback_address, "SELECT question FROM votes ORDER BY seq")]
    assert texts == [None, phone]


def test_old_votes_are_pruned_and_a_person_can_forget_theirs(feedback_address: str) -> None:
    now = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    with open_feedback(feedback_address) as store:
        store.record(_vote("up", time=now - dt.timedelta(days=31)), USER)
        store.record(_vote("up", question="Why?", time=now - dt.timedelta(days=29)), USER)
        store.record(_vote("down", question="Why?", time=now - dt.timedelta(days=1)), USER + 1)
        assert store.prune(30, now=now) == 1
        assert [e.feedback.question for e in store.export()] == ["Why?", "Why?"]
        assert store.forget(USER) == 1
        assert store.forget(USER) == 0
        assert [(e.feedback.question, e.feedback.vote) for e in store.export()] == [("Why?", "down")]
    assert _stored(feedback_address, "SELECT COUNT(*) FROM votes") == [(1,)]


def test_cli_feedback_export_and_stats(feedback_address: str) -> None:
    with open_feedback(feedback_address) as store:
        store.record(_vote("up"), USER)
        store.record(_vote("down", question="Who won the war?"), USER)
    result = run("feedback", "export", FEEDBACK_DB=feedback_address)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["q"], r["kind"]) for r in rows] == [
        ("How old is Kim Ju-ae?", "feedback"),
        ("Who won the war?", "reported"),
    ]
    for args in (
        ("--db", feedback_address, "export", "--vote", "down"),
        ("export", "--db", feedback_address, "--vote", "down"),
    ):
        downs = run("feedback", *args)  # issue 15 #12: --db before or after the action
        assert downs.returncode == 0, downs.stderr
        assert [json.loads(line)["gold"] for line in downs.stdout.splitlines()] == [None]
    stats = run("feedback", "stats", FEEDBACK_DB=feedback_address)
    assert stats.returncode == 0 and "50% up" in stats.stdout and "Who won the war?" in stats.stdout


def test_sqlite_and_postgres_exports_of_the_same_votes_are_identical(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite_path = str(tmp_path / "fb.sqlite3")
    day = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    for address in (sqlite_path, postgres_url):
        with open_feedback(address) as store:
            store.record(_vote("up", time=day), USER)
            store.record(_vote("down", question="Zebra?", time=day), USER)
            store.record(_vote("down", question="Zebra?", time=day + dt.timedelta(days=1)), USER + 1)
            store.record(_vote("up", question="apple?", time=day, abstained=True), USER + 2)
            store.record(_vote("down", question="Ünïcode — “quotes”?", time=day), USER + 2)
            store.record(_vote("up", question="kept out", time=day, writer_voted=False), USER + 3)
    for args in (("export",), ("export", "--vote", "up"), ("stats",)):
        outputs = [run("feedback", *args, FEEDBACK_DB=a) for a in (sqlite_path, postgres_url)]
        assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
        assert outputs[0].stdout == outputs[1].stdout and outputs[0].stdout.strip()


def test_copy_moves_votes_and_salt_to_postgres_and_back(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "fb.sqlite3"
    with open_feedback(source) as store:
        store.record(_vote("up"), USER)
        store.record(_vote("down", question="Why?"), USER + 1)
        store.record(_vote("up", question="hidden", writer_voted=False), USER + 2)
        voter = store.voter(USER)
    moved = run("feedback", "--db", str(source), "copy", "--to", postgres_url)
    assert moved.returncode == 0, moved.stderr
    assert "copied 3 votes" in moved.stdout
    with open_feedback(postgres_url) as pg:
        assert pg.voter(USER) == voter  # the salt came along
        assert pg.record(_vote("down"), USER) == (0, 1)  # so a later vote still replaces the first
    back = tmp_path / "back.sqlite3"
    assert run("feedback", "copy", "--db", postgres_url, "--to", str(back)).returncode == 0
    exports = [run("feedback", "export", FEEDBACK_DB=a).stdout for a in (postgres_url, str(back))]
    assert exports[0] == exports[1] and '"vote": "down"' in exports[0]
    again = run("feedback", "--db", str(source), "copy", "--to", postgres_url)
    assert again.returncode == 2 and "already holds 3 votes" in again.stderr
    with (
        pytest.raises(StoreError, match="already holds"),
        open_feedback(source) as a,
        open_feedback(back) as b,
    ):
        copy_votes(a, b)


def test_cli_feedback_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = run("feedback", "stats", FEEDBACK_DB=str(tmp_path / "nothing.sqlite3"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().count("\n") == 0 and "FEEDBACK_DB" in result.stderr
    assert not (tmp_path / "nothing.sqlite3").exists()
    bad = run("feedback", "export", "--vote", "sideways", FEEDBACK_DB=str(tmp_path / "x"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def run_bot(**env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot run` with a token Discord is never asked about: for what fails before it is."""
    return run("run", DISCORD_TOKEN="not-used", **env)


def test_an_unreachable_database_is_one_line_naming_host_and_port_without_the_password() -> None:
    with socketless_port() as port:
        address = f"postgresql://bot:s3cret-pw@127.0.0.1:{port}/votes"
        results = [run("feedback", action, FEEDBACK_DB=address) for action in ("stats", "export")]
        results.append(run_bot(CORPUS_DB=address))
        for result in results:
            assert result.returncode == 2, result.stderr
            (line,) = result.stderr.strip().splitlines()
            assert f"127.0.0.1:{port}" in line and "s3cret" not in line and "Traceback" not in line


# Addresses libpq accepts (or nearly), each with the parts of its password that must never be shown,
# and whether libpq reads a server to try from it (one it cannot read, or would read other than
# meant, is refused before anything is tried).
ADDRESSES = [
    ("postgresql://bot:S3cr#t@127.0.0.1:{port}/x", ("S3cr", "cr#t"), True),  # '#': no fragment to libpq
    ("postgresql://bot@127.0.0.1:{port}/x?password=my%20s3cret", ("my s3cret", "my%20s3cret"), True),
    ("postgresql://bot@127.0.0.1:{port}/x?password=my s3cret", ("my s3cret", "s3cret"), False),
    ("postgresql://bot:hunter@2word@127.0.0.1:{port}/x", ("hunter", "2word"), False),  # libpq: host 2word@...
    ("postgresql://bot:Wk7/Qz9@127.0.0.1:{port}/x", ("Wk7", "Qz9"), False),  # libpq: host bot, port Wk7
    ("postgresql://bot:pa%zzss@127.0.0.1:{port}/x", ("pa%zz", "zzss"), False),  # a bad percent-escape
    ("host=127.0.0.1 port={port} user=bot password=Kv9-pw dbname=x", ("Kv9",), True),
    ("host=127.0.0.1 port={port} password=Zq9 Xk7", ("Zq9", "Xk7"), False),  # an unquoted space
]


@pytest.mark.parametrize(("template", "secrets", "tried"), ADDRESSES)
def test_no_part_of_a_password_is_shown_whatever_the_address(
    template: str, secrets: tuple[str, ...], tried: bool
) -> None:
    # Issue 25 #10: a '#' in the password was a traceback ending in part of it, libpq's parse error
    # quoted `my s3cret`, an '@' showed `2word@127.0.0.1` beside "at 127.0.0.1", and a key=value
    # string was taken for a file name and printed whole.
    with socketless_port() as port:
        address = template.format(port=port)
        settings = Settings(_env_file=None, feedback_db=address, corpus_db=address)  # type: ignore[call-arg]
        shown = [repr(settings), str(settings.feedback_db), redact(address)]  # as logs and messages show it
        for open_store, setting in ((open_feedback, "FEEDBACK_DB"), (open_documents, "CORPUS_DB")):
            with pytest.raises(StoreError) as refused:
                open_store(address)
            message = str(refused.value)
            # The server libpq really tried (not the one another parser reads), or the setting to mend.
            assert f"127.0.0.1:{port}" in message if tried else setting in message, message
            shown.append(message)
    assert not [text for text in shown for secret in secrets if secret in text]


def test_every_command_says_a_bad_address_in_one_line_without_its_password() -> None:
    page = str(DATA / "pages" / "wire-sag-awards.html")
    # The '#' that was a traceback, and the key=value string taken for a file name.
    cases = [case for case in ADDRESSES if case[1][0] in ("S3cr", "Kv9")]
    with socketless_port() as port, ThreadPoolExecutor(4) as threads:
        runs = []
        for template, secrets, _ in cases:
            address = template.format(port=port)
            runs += [
                (secrets, threads.submit(run, "feedback", "stats", FEEDBACK_DB=address)),
                (secrets, threads.submit(run_bot, FEEDBACK_DB=address)),
                (secrets, threads.submit(run_bot, CORPUS_DB=address)),
                (secrets, threads.submit(run, "add", page, CORPUS_DB=address)),
            ]
        results = [(secrets, future.result()) for secrets, future in runs]
    for secrets, result in results:
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()  # one line, no traceback
        assert f"127.0.0.1:{port}" in line and result.stdout == "", line
        assert not any(secret in line for secret in secrets), line


class socketless_port:  # noqa: N801 - a context manager read as a phrase
    """A port on 127.0.0.1 that nothing listens on, for the block."""

    def __enter__(self) -> int:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))  # bound, not listening: a connection is refused
        return int(self._socket.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._socket.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reports_open_read_only_and_never_migrate(tmp_path: Path) -> None:
    # Issue 15 #12: `stats` on an empty file made it a database with a schema and a salt; an older
    # schema was upgraded by a report.
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    for action in ("stats", "export"):
        result = run("feedback", action, FEEDBACK_DB=str(empty))
        assert result.returncode == 2 and "no feedback database yet" in result.stderr
    assert empty.stat().st_size == 0
    old = tmp_path / "v1.sqlite3"
    _v1_file(old, [("up", "Why?")])
    before = _digest(old)
    result = run("feedback", "stats", FEEDBACK_DB=str(old))
    assert result.returncode == 2 and "schema 1, older than this bot's" in result.stderr
    assert _digest(old) == before
    assert sqlite3.connect(old).execute("PRAGMA user_version").fetchone()[0] == 1


def _runnable_by_others() -> bool:
    """Whether another user can run this checkout's Python on it (every folder on the way readable)."""
    needed = [ROOT, Path(sys.executable), Path(sys.executable).resolve()]
    return all(p.stat().st_mode & 0o005 for path in needed for p in (path, *path.parents) if p.is_dir())


def test_reports_read_a_file_they_cannot_write(tmp_path: Path) -> None:
    # Issue 15 #12: "attempt to write a readonly database" where plain SQLite reads it.
    folder = Path(tempfile.mkdtemp(prefix="article-bot-ro-"))
    path = folder / "fb.sqlite3"
    try:
        with open_feedback(path) as store:
            store.record(_vote("up"), USER)
        before = _digest(path)
        with open_feedback(path, read_only=True) as report, pytest.raises(StoreError, match="readonly"):
            report.record(_vote("down"), USER)  # opened read-only: even root cannot write through it
        assert _digest(path) == before
        path.chmod(0o444)
        folder.chmod(0o555)  # nor can anything be made beside it (a journal, a -shm file)
        user = None
        if os.geteuid() == 0:  # root writes anything: read as a user who cannot
            if not _runnable_by_others():
                pytest.skip("as root, and this checkout's Python cannot be run by another user")
            user = "nobody"
        for action in ("stats", "export"):
            result = subprocess.run(
                [sys.executable, "-m", "bot", "feedback", action, "--db", str(path)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
                check=False,
                user=user,
                env={**os.environ, "HOME": str(folder)},
            )
            assert result.returncode == 0, result.stderr
            assert "Kim Ju-ae" in result.stdout or "100% up" in result.stdout
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_feedback_path_does_not_import_discord_or_psycopg(tmp_path: Path) -> None:
    open_feedback(tmp_path / "fb.sqlite3").close()
    code = (
        "import sys; from bot.cli import main; "
        f"main(['feedback', '--db', {str(tmp_path / 'fb.sqlite3')!r}, 'stats']); "
        "print('discord' in sys.modules, 'psycopg' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_run_checks_both_databases_before_loading_the_corpus(tmp_path: Path, postgres_url: str) -> None:
    # Issue 25 #16: an unreachable FEEDBACK_DB was said only once the whole corpus had loaded (and the
    # shared corpus had been mirrored into the folder).
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "walrus.txt").write_text("The walrus lives on the ice.\n", encoding="utf-8")
    publisher = mirror_of(postgres_url, shared)
    try:
        assert publisher.publish().sent == ["walrus.txt"]
    finally:
        publisher.store.close()
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(ROOT / "corpus" / "article.txt", folder / "article.txt")
    with socketless_port() as port:
        unreachable = f"postgresql://bot@127.0.0.1:{port}/votes"
        for env in ({}, {"CORPUS_DB": postgres_url}):
            result = run_bot(FEEDBACK_DB=unreachable, CORPUS_DIR=str(folder), **env)
            assert result.returncode == 2, result.stderr
            (line,) = result.stderr.strip().splitlines()  # no line of the corpus loading before it
            assert f"127.0.0.1:{port}" in line and "feedback database" in line
    assert sorted(p.name for p in folder.iterdir()) == ["article.txt"]  # nothing mirrored either


def test_calls_on_a_server_that_stops_answering_fail_in_time_and_the_pool_recovers(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 25 #7: a vote on a connection whose server stopped answering waited for ever, and four
    # took every connection, so /forget and pruning waited too. A proxy that stops forwarding (and
    # goes on acknowledging, as a frozen host's path does) stands for the server.
    monkeypatch.setattr(feedback_store, "PRUNE_DEADLINE", 2.0)  # as the votes' deadline, for the test's sake
    with StallingProxy(postgres_url) as proxy, open_feedback(proxy.url) as store:
        store.record(_vote("up"), USER)
        proxy.stall()
        with ThreadPoolExecutor(7) as threads:
            try:  # more calls at once than the pool has connections: each fails in time, on its own
                calls = [threads.submit(store.record, _vote("down"), USER + n) for n in range(5)]
                calls += [threads.submit(store.forget, USER), threads.submit(store.prune, 30)]
                for call in calls:
                    with pytest.raises(UnavailableError, match=r"not answering \(no answer within"):
                        call.result(timeout=CALL_DEADLINE + 10)
            finally:
                proxy.resume()  # a call the test gave up on finishes, and its thread with it
        assert store.record(_vote("down"), USER) == (0, 1)  # the first call after it answers again
        assert store.forget(USER) == 1
        assert store.prune(30) == 0


def test_a_new_sqlite_feedback_database_is_its_owners_alone(tmp_path: Path) -> None:
    # Issue 25 #8: it was made 0644 under the usual umask, though it holds the salt, the voters'
    # hashes and their questions.
    umask = os.umask(0o022)
    try:
        with open_feedback(tmp_path / "fb.sqlite3") as store:
            store.record(_vote(), USER)
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        os.umask(umask)
    assert modes == {"fb.sqlite3": 0o600, "fb.sqlite3-wal": 0o600, "fb.sqlite3-shm": 0o600}
    copy = tmp_path / "copy.sqlite3"
    copied = run("feedback", "--db", str(tmp_path / "fb.sqlite3"), "copy", "--to", str(copy), umask=0o022)
    assert copied.returncode == 0, copied.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_the_longest_retention_allowed_prunes_and_a_longer_one_is_refused_at_start(tmp_path: Path) -> None:
    # Issue 25 #9: FEEDBACK_RETENTION_DAYS=1000000 was accepted, then the hourly prune died with an
    # OverflowError traceback.
    field = Settings.model_fields["feedback_retention_days"]
    longest = next(m.le for m in field.metadata if isinstance(m, annotated_types.Le))
    with open_feedback(tmp_path / "fb.sqlite3") as store:
        store.record(_vote(time=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)), USER)
        assert store.prune(longest) == 0 and store.prune(1) == 1
    for days in ("1000000", str(longest + 1)):
        result = run_bot(FEEDBACK_RETENTION_DAYS=days, FEEDBACK_DB=str(tmp_path / "fb.sqlite3"))
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert "FEEDBACK_RETENTION_DAYS" in line
