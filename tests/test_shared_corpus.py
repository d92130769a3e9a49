"""Votes and articles shared through PostgreSQL by every bot process (issue 16): the documents table
and its mirror, then two real `python -m bot run` processes on two shards through the fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks import pgserver
from bot.answer import render
from bot.stores.documents import Mirror, Shared, open_documents
from tests.conftest import CORPUS, DATA
from tests.discord_helpers import bot_process, custom_ids, embed_of
from tests.fake_discord import FakeDiscord, shard_of
from tests.test_cli import run

PAGE = DATA / "pages" / "wire-sag-awards.html"
ABOUT_PAGE = "Which film scored a historic upset at the SAG awards?"
ABOUT_ARTICLE = "How old is Kim Ju-ae?"


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
    ours, theirs = Mirror(open_documents(postgres_url), here), Mirror(open_documents(postgres_url), there)
    ours.sync()
    assert ours.publish() == ["walrus.txt"]
    assert ours.publish() == []  # nothing changed since
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
        assert sorted(ours.publish()) == ["notes/seal.md", "walrus.txt"]
        ours.store.publish([Shared("../escape.md", b"x"), Shared(".hidden.md", b"x")])  # never written
        seal = there / "notes" / "seal.md"
        # Two notifications, applied in either order: wait for both.
        while ((there / "walrus.txt").exists() or not seal.exists()) and time.monotonic() < deadline + 10:
            time.sleep(0.05)
        assert not (there / "walrus.txt").exists()
        assert (there / "notes" / "seal.md").read_bytes() == b"# Seals\n\nSeals bark.\r\n"
        assert theirs.publish() == []  # what the mirror wrote is not sent back
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
