"""Votes and articles shared through PostgreSQL by every bot process (issue 16): the documents table
and its mirror, then two real `python -m bot run` processes on two shards through the fake Discord;
then what issue 25 found: a document one folder could not write was deleted or reverted everywhere,
a listener on a silently dead connection never heard again, two `add`s of one title at once kept
one page, two stores migrating one new database at once failed, a file name not UTF-8 stopped
`run`, and a document over the size caps was published."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from benchmarks import pgserver
from bot.answer import render
from bot.stores.database import StoreError
from bot.stores.documents import Shared, open_documents
from bot.stores.feedback import open_feedback
from tests.conftest import CORPUS, DATA, ROOT, mirror_of
from tests.discord_helpers import bot_environ, bot_process, custom_ids, embed_of
from tests.fake_discord import FakeDiscord, shard_of
from tests.stalling_proxy import StallingProxy
from tests.test_cli import run

PAGE = DATA / "pages" / "wire-sag-awards.html"
ABOUT_PAGE = "Which film scored a historic upset at the SAG awards?"
ABOUT_ARTICLE = "How old is Kim Ju-ae?"


def _wait_for(path: Path, seconds: float) -> bool:
    """Whether `path` exists within `seconds`."""
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def test_a_published_document_reaches_another_folder_and_so_does_its_deletion(
    tmp_path: Path, postgres_url: str
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    (here / "walrus.txt").write_text("The walrus lives on the ice.\n", encoding="utf-8")
    ours, theirs = mirror_of(postgres_url, here), mirror_of(postgres_url, there)
    ours.sync()
    assert ours.publish().sent == ["walrus.txt"]
    assert ours.publish() == ([], [], [])  # nothing changed since
    stop, heard = threading.Event(), []
    follower = threading.Thread(target=theirs.follow, args=(stop, heard.extend), daemon=True)
    follower.start()
    try:
        deadline = time.monotonic() + 10
        while not (there / "walrus.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # caught up on start: the document was published before it listened
        assert (there / "walrus.txt").read_bytes() == (here / "walrus.txt").read_bytes()
        (here / "notes").mkdir()
        (here / "notes" / "seal.md").write_bytes(b"# Seals\n\nSeals bark.\r\n")  # bytes as saved
        (here / "walrus.txt").unlink()
        assert sorted(ours.publish().sent) == ["notes/seal.md", "walrus.txt"]
        ours.store.publish([Shared("../escape.md", b"x"), Shared(".hidden.md", b"x")], {})  # never written
        seal = there / "notes" / "seal.md"
        # Two notifications, applied in either order: wait for both.
        while ((there / "walrus.txt").exists() or not seal.exists()) and time.monotonic() < deadline + 10:
            time.sleep(0.05)
        assert not (there / "walrus.txt").exists()
        assert (there / "notes" / "seal.md").read_bytes() == b"# Seals\n\nSeals bark.\r\n"
        assert theirs.publish() == ([], [], [])  # what the mirror wrote is not sent back
    finally:
        stop.set()
        follower.join(10)
    assert not (tmp_path / "escape.md").exists() and not (there / ".hidden.md").exists()
    assert {"walrus.txt", "notes/seal.md"} <= set(heard)
    ours.store.close()
    theirs.store.close()


def test_cli_add_with_corpus_db_publishes_the_page(tmp_path: Path, postgres_url: str) -> None:
    added = run("add", str(PAGE), "--corpus", str(tmp_path / "third"), CORPUS_DB=postgres_url)
    assert added.returncode == 0, added.stderr
    name = Path(added.stdout.strip()).name
    store = open_documents(postgres_url)
    try:
        (doc,) = store.fetch([name])
    finally:
        store.close()
    assert doc.content == (tmp_path / "third" / name).read_bytes()


async def _answer(fake: FakeDiscord, question: str, guild: int) -> dict[str, Any]:
    handle = await fake.send_slash("ask", {"question": question}, guild_id=guild)
    response = await fake.wait_response(handle, timeout=15)
    response["message"] = handle.message
    return response


async def _answered_from(fake: FakeDiscord, guild: int, document: str, deadline: float) -> float:
    """Ask about the page until the answer cites `document`; the time it took."""
    started = time.monotonic()
    while True:
        data = (await _answer(fake, ABOUT_PAGE, guild))["data"]
        if render.escape_markdown(document) in embed_of(data).get("description", ""):
            return time.monotonic() - started
        assert time.monotonic() < deadline, f"{document} not answered from guild {guild} in time"
        await asyncio.sleep(0.2)


def _up(data: dict[str, Any]) -> str:
    return next(i for i in custom_ids(data) if i.startswith("ab:vote:up:"))


def _with_password(server: pgserver.Server) -> tuple[str, str | None]:
    """A new database's address with a password in it, and the password: the address's own, or one
    that a cluster of our own, which trusts every local connection, ignores ('#': it ended a URL for
    Python's parser, not for libpq's). None for another server's address without one."""
    parts = urllib.parse.urlsplit(server.database())
    if parts.password or not isinstance(server, pgserver.Cluster):
        return parts.geturl(), parts.password
    password = "s3cret#pw"
    return parts._replace(
        netloc=f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    ).geturl(), password


@pytest.mark.asyncio
async def test_two_shards_share_votes_and_articles_through_postgres(
    tmp_path: Path, postgres_server: pgserver.Server
) -> None:
    # Both addresses carry a password, which no line of any process may show (issue 25 #10).
    (feedback_db, password), (corpus_db, _) = _with_password(postgres_server), _with_password(postgres_server)
    async with FakeDiscord() as fake:
        home = shard_of(fake.guild_id, 2)
        other_guild, _ = fake.add_guild(shard=(1 - home, 2))
        guild_of = {home: fake.guild_id, 1 - home: other_guild}

        def start(shard: int, folder: Path) -> subprocess.Popen[str]:
            folder.mkdir()
            shutil.copy(CORPUS / "article.txt", folder / "article.txt")
            env = {"SHARD_COUNT": "2", "SHARD_IDS": str(shard), "CORPUS_DIR": str(folder)}
            env.update(FEEDBACK_DB=feedback_db, CORPUS_DB=corpus_db, ASK_COOLDOWN_RATE="1000")
            return bot_process(fake, tmp_path, sync_guild=False, **env)

        processes = [start(0, tmp_path / "corpus0"), start(1, tmp_path / "corpus1")]
        try:
            await fake.wait_ready(timeout=60, count=2)
            # `add` from a third folder: both processes answer from the page within 10 s.
            added = await asyncio.to_thread(
                run, "add", str(PAGE), "--corpus", str(tmp_path / "third"), CORPUS_DB=corpus_db
            )
            assert added.returncode == 0, added.stderr
            name = Path(added.stdout.strip()).name
            deadline = time.monotonic() + 10
            for shard in (0, 1):
                await _answered_from(fake, guild_of[shard], name, deadline)
            assert (tmp_path / "corpus0" / name).read_bytes() == (tmp_path / "third" / name).read_bytes()

            # A 👍 in a guild of each shard; shard 1's process is killed the moment it acknowledges.
            for shard, question in ((0, ABOUT_ARTICLE), (1, ABOUT_PAGE)):
                response = await _answer(fake, question, guild_of[shard])
                ack = await fake.wait_response(
                    await fake.click(response["message"], _up(response["data"])), 15
                )
                assert ack["type"] == 7 and ack["status"] == 200
            processes[1].kill()  # SIGKILL: no clean shutdown
            await asyncio.to_thread(processes[1].wait, 20)
            exported = await asyncio.to_thread(run, "feedback", "export", FEEDBACK_DB=feedback_db)
            assert exported.returncode == 0, exported.stderr
            lines = [json.loads(x) for x in exported.stdout.splitlines()]
            assert [(x["q"], x["vote"]) for x in lines] == [(ABOUT_ARTICLE, "up"), (ABOUT_PAGE, "up")]
            assert name in lines[1]["citations"][0]["citation"]

            # A process started later, on a folder that never saw the page, has it too.
            processes.append(start(1, tmp_path / "corpus2"))
            await fake.wait_ready(timeout=60, count=3)
            await _answered_from(fake, guild_of[1], name, time.monotonic() + 10)
            assert (tmp_path / "corpus2" / name).exists()
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
            outputs = [await asyncio.to_thread(p.communicate, timeout=30) for p in processes]
    assert processes[1].returncode == -9
    assert processes[0].returncode == 0, outputs[0][1]
    for _, err in outputs:
        assert "Traceback" not in err
    if password is not None:  # nor any part of it
        assert not [err for _, err in outputs if password[:4] in err or password[-4:] in err]
        assert password[:4] not in exported.stderr + added.stderr


def _table(address: str) -> dict[str, bytes | None]:
    """The documents table's rows: name -> content (None: deleted)."""
    with psycopg.connect(address) as conn:
        rows = conn.execute("SELECT name, content FROM documents").fetchall()
    return {name: None if content is None else bytes(content) for name, content in rows}


def test_a_file_name_near_the_limit_is_received_and_never_deleted_everywhere(
    tmp_path: Path, postgres_url: str
) -> None:
    # 247 bytes, legal everywhere; the temporary name the mirror wrote it through was longer than
    # 255, so the other folder never got it, and its next publication deleted it from the table.
    name = "a" * 244 + ".md"
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    (here / name).write_text("# A long name\n\nThe file name is long but legal.\n", encoding="utf-8")
    ours, theirs = mirror_of(postgres_url, here), mirror_of(postgres_url, there)
    try:
        ours.sync()
        theirs.sync()
        assert ours.publish().sent == [name]
        assert theirs.pull([name]) == [name]  # as a notification has it
        assert (there / name).read_bytes() == (here / name).read_bytes()
        (there / "own.txt").write_text("A document of the other folder's own.\n", encoding="utf-8")
        assert theirs.publish().sent == ["own.txt"]  # an edit there publishes that, and no deletion
        assert _table(postgres_url)[name] == (here / name).read_bytes()
    finally:
        ours.store.close()
        theirs.store.close()


def test_a_document_a_folder_cannot_write_is_neither_deleted_nor_reverted_everywhere(
    tmp_path: Path, postgres_url: str
) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    (here / "notes").mkdir(parents=True)
    (here / "notes" / "seal.md").write_text("# Seals\n\nSeals bark.\n", encoding="utf-8")
    there.mkdir()
    (there / "notes").write_text("not a folder, so notes/seal.md cannot be written here", encoding="utf-8")
    ours, theirs = mirror_of(postgres_url, here), mirror_of(postgres_url, there)
    try:
        ours.sync()
        theirs.sync()
        assert ours.publish().sent == ["notes/seal.md"]
        assert theirs.pull(["notes/seal.md"]) == []  # the write failed (logged)
        (there / "own.txt").write_text("A document of the other folder's own.\n", encoding="utf-8")
        # The folder's next publication (any reload) sends its own document, not the absence of
        # the one it failed to receive.
        assert theirs.publish() == (["own.txt"], [], [])
        assert _table(postgres_url)["notes/seal.md"] == (here / "notes" / "seal.md").read_bytes()
        assert ours.pull(["notes/seal.md"]) == [] and (here / "notes" / "seal.md").exists()
        (there / "notes").unlink()  # the obstacle gone, the next sync writes it
        assert theirs.sync() == ["notes/seal.md"]
        assert (there / "notes" / "seal.md").read_bytes() == (here / "notes" / "seal.md").read_bytes()
    finally:
        ours.store.close()
        theirs.store.close()


async def _run_without_discord(
    tmp_path: Path, limit_file_bytes: int = 0, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m bot run` through to where it reaches for Discord, which is not there (exit 1);
    with `limit_file_bytes`, no file it writes may grow past that (RLIMIT_FSIZE, as a full disk)."""
    async with FakeDiscord() as server:
        fake_env = server.env()

    def limit() -> None:
        if limit_file_bytes:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "tests" / "run_patched.py"), "run"],
        cwd=tmp_path,
        env=bot_environ(fake_env, tmp_path, USE_CACHE="false", RERANK="false", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limit,
    )


STORY = "# Harbour\n\nThe harbour reopened on Monday after the storm.\n"


@pytest.mark.asyncio
async def test_run_does_not_publish_a_stale_copy_it_could_not_replace(
    tmp_path: Path, postgres_url: str
) -> None:
    # Another machine published a longer version; this one was down, holds the first, and cannot
    # write the new one (a full disk: RLIMIT_FSIZE). Its start used to publish its stale copy.
    newer = (STORY + "".join(f"\nCrews repaired berth {n} on day {n}.\n" for n in range(10_000))).encode()
    store = open_documents(postgres_url)
    try:
        assert store.publish([Shared("story.md", newer)], {}) == []
    finally:
        store.close()
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "story.md").write_text(STORY, encoding="utf-8")
    limit = len(newer) // 2
    done = await _run_without_discord(
        tmp_path, limit, CORPUS_DIR=str(folder), CORPUS_DB=postgres_url, FEEDBACK_DB=postgres_url
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot reach Discord")
    assert "cannot write" in done.stderr and "story.md" in done.stderr
    assert _table(postgres_url)["story.md"] == newer


@pytest.mark.asyncio
async def test_run_with_corpus_db_skips_a_file_name_that_is_not_utf8(
    tmp_path: Path, postgres_url: str
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS / "article.txt", folder / "article.txt")
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "wb") as fh:  # Latin-1, as an old archive has it
        fh.write(b"A file whose name is not UTF-8.\n")
    done = await _run_without_discord(tmp_path, CORPUS_DIR=str(folder), CORPUS_DB=postgres_url)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot reach Discord")
    assert "skipped caf\\xe9.txt: has a file name that is not UTF-8" in done.stderr  # as without CORPUS_DB
    assert list(_table(postgres_url)) == ["article.txt"]
    # A reload (the watcher's, once running) publishes through the same mirror: no error either.
    mirror = mirror_of(postgres_url, folder)
    try:
        mirror.sync()
        (folder / "article.txt").write_text("Edited after the start.\n", encoding="utf-8")
        assert mirror.publish() == (["article.txt"], [], [])
    finally:
        mirror.store.close()


def test_add_does_not_publish_a_document_over_the_size_cap(tmp_path: Path, postgres_url: str) -> None:
    folder = tmp_path / "corpus"
    added = run("add", str(PAGE), "--corpus", str(folder), CORPUS_DB=postgres_url, MAX_DOCUMENT_BYTES="1000")
    assert added.returncode == 2
    (line,) = added.stderr.strip().splitlines()
    (path,) = folder.glob("*.md")
    assert line == (
        f"error: {PAGE}: written to the folder but not shared ({path.name}: is larger than the "
        "1,000-byte limit (MAX_DOCUMENT_BYTES))"
    )
    assert path.stat().st_size > 1000 and _table(postgres_url) == {}


def _same_title(tmp_path: Path) -> list[Path]:
    """Two pages of one title, by different people at different addresses."""
    html = PAGE.read_text(encoding="utf-8")
    other = html.replace("Lisa Richwine", "Jane Okafor").replace(
        "parasite-scores-historic-upset-at-sag-awards-2020-01-20", "parasite-sag-upset-analysis"
    )
    assert other != html
    pages = [tmp_path / "wire.html", tmp_path / "analysis.html"]
    for page, text in zip(pages, (html, other), strict=True):
        page.write_text(text, encoding="utf-8")
    return pages


def test_two_adds_of_one_title_at_once_keep_both_pages(tmp_path: Path, postgres_url: str) -> None:
    open_documents(postgres_url).close()  # the table exists
    environ = {**os.environ, "USE_CACHE": "false", "CORPUS_DB": postgres_url}
    environ.pop("DISCORD_TOKEN", None)
    folders = [tmp_path / "one", tmp_path / "two"]
    with psycopg.connect(postgres_url) as lock, psycopg.connect(postgres_url, autocommit=True) as watch:
        # Writers wait until both have caught up, chosen the same free name and tried to publish.
        lock.execute("LOCK TABLE documents IN EXCLUSIVE MODE")  # readers pass, writers wait
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bot", "add", str(page), "--corpus", str(folder)],
                cwd=ROOT,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for page, folder in zip(_same_title(tmp_path), folders, strict=True)
        ]
        deadline = time.monotonic() + 60
        waiting = "SELECT count(*) FROM pg_locks WHERE relation = 'documents'::regclass AND NOT granted"
        while watch.execute(waiting).fetchone() != (2,):
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
            time.sleep(0.05)
        lock.commit()
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    paths = [Path(out.strip()) for out, _ in outputs]
    assert sorted(p.name for p in paths) == [
        "parasite-scores-historic-upset-at-sag-awards-2.md",
        "parasite-scores-historic-upset-at-sag-awards.md",
    ]
    table = _table(postgres_url)
    assert {table[p.name] for p in paths} == {p.read_bytes() for p in paths}  # each page, whole
    assert b"Jane Okafor" in b"".join(p.read_bytes() for p in paths)


def _open_at_once(address: str, *openers: Callable[[str], Any]) -> list[str]:
    """Open a store with each of `openers` at `address`, each in a thread, all at once; the errors."""
    start, failures = threading.Barrier(len(openers)), []

    def open_store(opener: Callable[[str], Any]) -> None:
        start.wait()
        try:
            opener(address).close()
        except StoreError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=open_store, args=(opener,)) for opener in openers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_two_stores_migrating_a_new_database_at_once(postgres_server: pgserver.Server) -> None:
    # A bot opening FEEDBACK_DB while `add` opens CORPUS_DB, the same database: both create
    # `schema_versions`; each under a lock of its own, one failed every time.
    for _ in range(3):
        address = postgres_server.database()
        assert _open_at_once(address, open_feedback, open_documents) == []
        with psycopg.connect(address) as conn:
            versions = dict(conn.execute("SELECT store, version FROM schema_versions").fetchall())
        assert set(versions) == {"feedback", "documents"}


def test_a_listener_on_a_silently_dead_connection_reconnects_and_catches_up(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = StallingProxy(postgres_url)
    through = proxy.url
    there = tmp_path / "there"
    mirror, publisher = mirror_of(through, there), open_documents(postgres_url)
    publisher.publish([Shared("before.txt", b"Published before the path died.\n")], {})
    stop = threading.Event()
    follower = threading.Thread(target=mirror.follow, args=(stop, lambda names: None), daemon=True)
    caplog.set_level(logging.INFO, logger="bot.stores")
    follower.start()
    try:
        assert _wait_for(there / "before.txt", 15)  # listening, caught up
        # Every connection open through the proxy (the listener's, the pool's) stops carrying
        # anything, both ways, and nothing says so; new ones are carried.
        assert proxy.stall(new_connections=False) >= 2
        publisher.publish([Shared("after.txt", b"Published after the path died.\n")], {})
        assert _wait_for(there / "after.txt", 30), "never mirrored"  # (a check every 5 s, 5 s to answer)
    finally:
        stop.set()
        follower.join(15)
        mirror.store.close()
        publisher.close()
        proxy.close()
    assert "did not answer within 5 s" in caplog.text and "listening again, caught up" in caplog.text
