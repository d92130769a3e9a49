"""Votes through the fake Discord, on both backends: acknowledged, stored before that, replaced, kept
across kill -9; what is kept of a question, /forget, pruning, and a vote the database cannot take
(a server that refuses, one that stops answering)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from benchmarks import pgserver
from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot
from bot.discord_bot.feedback import NOT_SAVED
from bot.discord_bot.votes import Votes
from bot.stores import feedback as feedback_store
from bot.stores.feedback import Feedback, Shown, open_feedback
from tests.discord_helpers import EPHEMERAL, ask, bot_process, bot_settings, buttons, custom_ids, embed_of
from tests.fake_discord import FakeDiscord, FakeInteraction, running_bot
from tests.stalling_proxy import StallingProxy
from tests.test_cli import run
from tests.test_feedback_store import _stored

QUESTION = "How old is Kim Ju-ae?"


@pytest_asyncio.fixture
async def voting_bot(
    fake: FakeDiscord, composer: Composer, feedback_address: str
) -> AsyncIterator[ArticleBot]:
    votes = Votes(open_feedback(feedback_address))
    client = ArticleBot(composer, bot_settings(discord_guild_id=fake.guild_id), votes=votes)
    async with running_bot(fake, client) as running:
        yield running


def _vote_id(data: dict[str, object], vote: str) -> str:
    return next(i for i in custom_ids(data) if i.startswith(f"ab:vote:{vote}:"))  # type: ignore[arg-type]


def _rows(address: str) -> list[tuple[str, str, str | None]]:
    return _stored(address, "SELECT voter, vote, question FROM votes ORDER BY seq")  # type: ignore[return-value]


async def _until(condition: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_a_vote_is_acknowledged_shown_stored_and_replaced(
    fake: FakeDiscord, voting_bot: ArticleBot, feedback_address: str
) -> None:
    message, data = await ask(fake, QUESTION)
    up, down = _vote_id(data, "up"), _vote_id(data, "down")
    assert buttons(data)[up]["emoji"]["name"] == "👍" and buttons(data)[down]["emoji"]["name"] == "👎"

    click = await fake.click(message, up)
    ack = await fake.wait_response(click)
    assert ack["type"] == 7 and ack["elapsed"] < 3  # the message's buttons are updated at once
    shown = buttons(ack["data"])
    assert shown[up]["label"] == "1" and shown[up]["style"] == 3  # green: the vote just cast
    assert embed_of(fake.messages[int(message["id"])])["description"] == embed_of(data)["description"]
    rows = _rows(feedback_address)
    assert [(vote, question) for _, vote, question in rows] == [("up", QUESTION)]
    assert str(fake.user_id) not in rows[0][0]

    again = await fake.wait_response(await fake.click(message, down))  # same person changes mind
    assert buttons(again["data"])[down]["label"] == "1" and not buttons(again["data"])[up].get("label")
    assert [vote for _, vote, _ in _rows(feedback_address)] == ["down"]

    other = await fake.wait_response(await fake.click(message, up, user_id=4242))
    assert (buttons(other["data"])[up]["label"], buttons(other["data"])[down]["label"]) == ("1", "1")
    assert sorted(vote for _, vote, _ in _rows(feedback_address)) == ["down", "up"]


@pytest.mark.asyncio
async def test_a_declined_question_can_be_reported(
    fake: FakeDiscord, voting_bot: ArticleBot, feedback_address: str
) -> None:
    handle = await fake.send_slash("ask", {"question": "What is the tallest mountain in Africa?"})
    data = (await fake.wait_response(handle))["data"]
    assert handle.message is not None and data["content"] == "The article doesn't say."
    assert custom_ids(data) == [_vote_id(data, "up"), _vote_id(data, "down")]  # only the votes
    await fake.wait_response(await fake.click(handle.message, _vote_id(data, "down")))
    with open_feedback(feedback_address, read_only=True) as store:
        (line,) = [e.as_eval_line() for e in store.export()]
    assert line["kind"] == "reported" and line["abstained"] is True and line["gold"] is None


@pytest.mark.asyncio
async def test_a_vote_survives_kill_9_right_after_and_comes_out_of_export(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    process = bot_process(fake, tmp_path)
    try:
        await fake.wait_ready(timeout=30)
        await fake.wait_request(
            "PUT", f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands", 30
        )
        handle = await fake.send_slash("ask", {"question": QUESTION})
        data = (await fake.wait_response(handle))["data"]
        assert handle.message is not None
        ack = await fake.wait_response(await fake.click(handle.message, _vote_id(data, "up")))
        assert ack["type"] == 7 and ack["status"] == 200
        process.kill()  # SIGKILL the moment the click is acknowledged: no clean shutdown
    finally:
        process.kill()
        _, err = await asyncio.to_thread(process.communicate, timeout=20)
    assert process.returncode == -9
    assert "vote up on article.txt ¶2.3" in err
    result = run("feedback", "export", FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"))
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["q"] == QUESTION and line["kind"] == "feedback" and line["vote"] == "up"
    assert "12 years old" in line["gold"][0] and line["citations"][0]["citation"] == "article.txt ¶2.3"


@pytest.mark.asyncio
async def test_a_question_someone_else_wrote_is_not_kept_with_a_vote(
    fake: FakeDiscord, voting_bot: ArticleBot, feedback_address: str
) -> None:
    # Issue 15 #11: "Ask the article" on someone else's message, then a vote, kept their text forever.
    writer, asker = 4711, fake.user_id
    phone = "Ring me on 0170 5555 1234: how old is Kim Ju-ae?"
    target = await fake.send_message(phone, mention_bot=False, author_id=writer)
    handle = await fake.send_message_command("Ask the article", target)
    data = (await fake.wait_response(handle))["data"]
    assert handle.message is not None
    await fake.wait_response(await fake.click(handle.message, _vote_id(data, "up")))  # the asker votes
    message, own = await ask(fake, "How old is Kim Ju-ae?")  # the asker's own question
    await fake.wait_response(await fake.click(message, _vote_id(own, "up")))
    await fake.wait_response(await fake.click(message, _vote_id(own, "down"), user_id=9999))  # someone else
    rows = _rows(feedback_address)
    assert [(vote, question) for _, vote, question in rows] == [
        ("up", None),  # not the asker's text: not kept
        ("up", "How old is Kim Ju-ae?"),  # the asker's own
        ("down", None),  # a vote by another person keeps no text
    ]
    # No part of the writer's text anywhere in the table (not "5555" alone: a salted hex hash may hold it).
    stored = [str(row) for row in _stored(feedback_address, "SELECT * FROM votes")]
    assert not any(part in row for row in stored for part in ("0170 5555 1234", "Ring me"))
    # The writer's own vote on the answer to their message keeps it (they wrote it).
    await fake.wait_response(await fake.click(handle.message, _vote_id(data, "down"), user_id=writer))
    assert _rows(feedback_address)[-1][1:] == ("down", phone)
    assert asker != writer


@pytest.mark.asyncio
async def test_forget_deletes_only_your_votes_and_help_says_what_is_kept(
    fake: FakeDiscord, voting_bot: ArticleBot, feedback_address: str
) -> None:
    message, data = await ask(fake, "How old is Kim Ju-ae?")
    await fake.wait_response(await fake.click(message, _vote_id(data, "up")))
    await fake.wait_response(await fake.click(message, _vote_id(data, "down"), user_id=4242))
    handle = await fake.send_slash("forget")
    first = await fake.wait_response(handle)
    assert first["data"].get("flags", 0) & EPHEMERAL  # only the person sees it
    edit = await fake.wait_edit(handle)
    assert "Deleted your 1 vote" in edit["data"]["content"]
    assert [vote for _, vote, _ in _rows(feedback_address)] == ["down"]  # the other person's stays
    again = await fake.send_slash("forget")
    await fake.wait_response(again)
    assert "no votes of yours" in (await fake.wait_edit(again))["data"]["content"]
    helped = embed_of((await fake.wait_response(await fake.send_slash("help")))["data"])["description"]
    assert "kept 180 days" in helped and "/forget" in helped and "salted hash" in helped


@pytest.mark.asyncio
async def test_votes_past_their_retention_are_pruned_as_the_bot_runs(
    fake: FakeDiscord, composer: Composer, feedback_address: str
) -> None:
    shown = (Shown("article.txt ¶2.3", "Kim Ju-ae is believed to be about 12 years old."),)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with open_feedback(feedback_address) as store:
        store.record(Feedback("Old question?", shown, "c" * 64, "up", time=old), 1)
        store.record(Feedback("Recent question?", shown, "c" * 64, "up"), 1)
    settings = bot_settings(discord_guild_id=fake.guild_id, feedback_retention_days=30)
    client = ArticleBot(composer, settings, votes=Votes(open_feedback(feedback_address)))
    async with running_bot(fake, client):
        await _until(lambda: len(_rows(feedback_address)) == 1)  # the first round runs at start
        assert _rows(feedback_address)[0][2] == "Recent question?"
        with open_feedback(feedback_address) as store:  # a vote that grows old while the bot runs
            store.record(Feedback("Aged meanwhile?", shown, "c" * 64, "up", time=old), 2)
        loop = client.get_cog("FeedbackCog").prune  # type: ignore[union-attr]  # loaded as an extension
        loop.change_interval(seconds=0.2)
        loop.restart()
        await _until(lambda: [q for _, _, q in _rows(feedback_address)] == ["Recent question?"])


@pytest.mark.asyncio
async def test_a_vote_the_database_cannot_take_is_not_lost_silently_and_the_next_after_a_restart_is_stored(
    fake: FakeDiscord, composer: Composer, postgres_server: pgserver.Server, postgres_url: str
) -> None:
    if not postgres_server.can_restart:
        pytest.skip("TEST_DATABASE_URL's server is not stopped by the tests")
    client = ArticleBot(
        composer, bot_settings(discord_guild_id=fake.guild_id), votes=Votes(open_feedback(postgres_url))
    )
    async with running_bot(fake, client):
        message, data = await ask(fake, "How old is Kim Ju-ae?")
        await fake.wait_response(await fake.click(message, _vote_id(data, "up")))
        await asyncio.to_thread(postgres_server.halt)
        try:
            click = await fake.click(message, _vote_id(data, "down"))
            refused = await fake.wait_response(click, timeout=15)
            if refused["type"] == 6:  # deferred while the pool waited: the notice is a follow-up
                refused = await fake.wait_edit(click, timeout=15)
            assert refused["data"]["content"] == NOT_SAVED and refused["data"]["flags"] & EPHEMERAL
            again, _ = await ask(fake, "How old is Kim Ju-ae?")  # answering goes on without the database
        finally:
            await asyncio.to_thread(postgres_server.resume)
        click = await fake.click(message, _vote_id(data, "down"))  # the server is back: stored
        stored = await fake.wait_response(click, timeout=15)
        if stored["type"] == 6:
            stored = await fake.wait_edit(click, timeout=15)
        assert buttons(stored["data"])[_vote_id(data, "down")]["label"] == "1"
    assert [vote for _, vote, _ in _rows(postgres_url)] == ["down"]
    assert again["id"]  # answering went on while the database was down


async def _answered(fake: FakeDiscord, handle: FakeInteraction, timeout: float = 20) -> dict[str, Any]:
    """What a click or command finally said: its response, or the follow-up after a deferral."""
    response = await fake.wait_response(handle, timeout=timeout)
    if response["type"] in (5, 6):  # deferred while the store was called
        response = await fake.wait_edit(handle, timeout=timeout)
    data: dict[str, Any] = response["data"]
    return data


@pytest.mark.asyncio
async def test_votes_on_a_server_that_stops_answering_are_refused_in_time_and_forget_and_pruning_go_on(
    fake: FakeDiscord,
    composer: Composer,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 25 #7: a vote whose server stopped answering (a frozen host, a partition; here a proxy
    # that stops forwarding and goes on acknowledging) never got "not saved", and four such votes
    # took every thread and connection, so /forget and pruning hung too.
    monkeypatch.setattr(feedback_store, "PRUNE_DEADLINE", 2.0)  # the test's patience, not the bot's
    caplog.set_level(logging.WARNING, logger="bot.discord_bot.feedback")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    shown = (Shown("article.txt ¶2.3", "Kim Ju-ae is believed to be about 12 years old."),)
    with StallingProxy(postgres_url) as proxy:
        settings = bot_settings(discord_guild_id=fake.guild_id, feedback_retention_days=30)
        client = ArticleBot(composer, settings, votes=Votes(open_feedback(proxy.url)))
        async with running_bot(fake, client):
            message, data = await ask(fake, QUESTION)
            await fake.wait_response(await fake.click(message, _vote_id(data, "up")))
            proxy.stall()
            with open_feedback(postgres_url) as store:  # past its retention, beside the proxy
                store.record(Feedback("Old question?", shown, "c" * 64, "up", time=old), 1)
            try:
                # More votes at once than the bot has threads and connections: each is refused.
                clicks = [
                    await fake.click(message, _vote_id(data, "down"), user_id=5000 + n) for n in range(5)
                ]
                for click in clicks:
                    refused = await _answered(fake, click)
                    assert refused["content"] == NOT_SAVED and refused["flags"] & EPHEMERAL
                forget = await _answered(fake, await fake.send_slash("forget"))
                assert "could not be deleted" in forget["content"]
                loop = client.get_cog("FeedbackCog").prune  # type: ignore[union-attr]
                loop.change_interval(seconds=0.2)
                loop.restart()
                await _until(lambda: "pruning old votes failed" in caplog.text)
            finally:
                proxy.resume()
            await _until(lambda: "Old question?" not in [q for _, _, q in _rows(postgres_url)])  # pruned
            stored = await _answered(fake, await fake.click(message, _vote_id(data, "down")))
            assert buttons(stored)[_vote_id(data, "down")]["label"] == "1"
            forget = await _answered(fake, await fake.send_slash("forget"))
            assert "Deleted your 1 vote" in forget["content"]
