"""Votes through the fake Discord: acknowledged, stored before that, replaced, and kept across kill -9."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot
from bot.discord_bot.votes import Votes
from bot.stores.feedback import FeedbackStore
from tests.discord_helpers import ask, bot_process, bot_settings, buttons, custom_ids, embed_of
from tests.fake_discord import FakeDiscord, running_bot
from tests.test_cli import run

QUESTION = "How old is Kim Ju-ae?"


@pytest_asyncio.fixture
async def voting_bot(fake: FakeDiscord, composer: Composer, tmp_path: Path) -> AsyncIterator[ArticleBot]:
    votes = Votes(FeedbackStore(tmp_path / "feedback.sqlite3"))
    client = ArticleBot(composer, bot_settings(discord_guild_id=fake.guild_id), votes=votes)
    async with running_bot(fake, client) as running:
        yield running


def _vote_id(data: dict[str, object], vote: str) -> str:
    return next(i for i in custom_ids(data) if i.startswith(f"ab:vote:{vote}:"))  # type: ignore[arg-type]


def _rows(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT voter, vote, question FROM votes").fetchall()
    finally:
        db.close()


@pytest.mark.asyncio
async def test_a_vote_is_acknowledged_shown_stored_and_replaced(
    fake: FakeDiscord, voting_bot: ArticleBot, tmp_path: Path
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
    rows = _rows(tmp_path / "feedback.sqlite3")
    assert [(vote, question) for _, vote, question in rows] == [("up", QUESTION)]
    assert str(fake.user_id) not in rows[0][0]

    again = await fake.wait_response(await fake.click(message, down))  # same person changes mind
    assert buttons(again["data"])[down]["label"] == "1" and not buttons(again["data"])[up].get("label")
    assert [vote for _, vote, _ in _rows(tmp_path / "feedback.sqlite3")] == ["down"]

    other = await fake.wait_response(await fake.click(message, up, user_id=4242))
    assert (buttons(other["data"])[up]["label"], buttons(other["data"])[down]["label"]) == ("1", "1")
    assert sorted(vote for _, vote, _ in _rows(tmp_path / "feedback.sqlite3")) == ["down", "up"]


@pytest.mark.asyncio
async def test_a_declined_question_can_be_reported(
    fake: FakeDiscord, voting_bot: ArticleBot, tmp_path: Path
) -> None:
    handle = await fake.send_slash("ask", {"question": "What is the tallest mountain in Africa?"})
    data = (await fake.wait_response(handle))["data"]
    assert handle.message is not None and data["content"] == "The article doesn't say."
    assert custom_ids(data) == [_vote_id(data, "up"), _vote_id(data, "down")]  # only the votes
    await fake.wait_response(await fake.click(handle.message, _vote_id(data, "down")))
    with FeedbackStore(tmp_path / "feedback.sqlite3") as store:
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
