"""The bot end to end: the real discord.py client against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answer import render
from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot, intents
from bot.discord_bot.ask import QUESTION_MAX
from bot.discord_bot.reference import QuoteError, about_embed, quote_embed
from tests.conftest import ROOT
from tests.discord_helpers import (
    EPHEMERAL,
    PRIVILEGED,
    bot_environ,
    bot_process,
    bot_settings,
    custom_ids,
    embed_length,
    embed_of,
    within_limits,
)
from tests.fake_discord import DEFAULT_TOKEN, FakeDiscord, running_bot

SLASH_COMMANDS = {"ask", "about", "help", "quote", "reload", "forget", "add", "remove"}


@pytest.mark.asyncio
async def test_identify_asks_for_no_privileged_intent(fake: FakeDiscord, bot: ArticleBot) -> None:
    sent = fake.identifies[-1]["intents"]
    assert sent == intents().value
    assert sent & PRIVILEGED == 0
    assert sent & (1 << 9) and sent & (1 << 12)  # guild messages, direct messages


@pytest.mark.asyncio
async def test_commands_synced_to_the_guild_with_limits(fake: FakeDiscord, bot: ArticleBot) -> None:
    slash = {c["name"]: c for c in fake.commands[fake.guild_id] if c.get("type", 1) == 1}
    assert set(slash) == SLASH_COMMANDS
    assert all(c["description"] for c in slash.values())
    option, private, document = slash["ask"]["options"]
    assert option["name"] == "question" and option["type"] == 3 and option["required"]
    assert (option["min_length"], option["max_length"]) == (1, QUESTION_MAX)
    assert option["description"]
    assert private["name"] == "private" and private["type"] == 5 and not private.get("required")
    assert document["name"] == "document" and document["autocomplete"] and not document.get("required")
    assert all(o["description"] for c in slash.values() for o in c.get("options", []))
    (menu,) = (c for c in fake.commands[fake.guild_id] if c.get("type", 1) != 1)
    assert menu["type"] == 3 and menu["name"] == "Ask the article"  # a message context menu


@pytest.mark.asyncio
async def test_ask_answers_with_cited_excerpts(fake: FakeDiscord, bot: ArticleBot) -> None:
    handle = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"})
    response = await fake.wait_response(handle)
    assert response["type"] == 4  # answered directly, no defer needed
    assert response["elapsed"] < 3
    data = response["data"]
    within_limits(data)
    embed = embed_of(data)
    assert embed["title"] == "How old is Kim Ju\\-ae?"
    short, first = embed["description"].split("\n\n")[:2]
    assert short == "**about 12 years old** — article.txt ¶2.3"  # the short answer, above the excerpts
    assert first.startswith("**1.**") and "12 years **old**" in first and "article.txt ¶2.3" in first
    assert data["allowed_mentions"] == {"parse": []}
    ids = custom_ids(data)
    assert any(i.startswith("ab:ctx:0:0:") for i in ids)


@pytest.mark.asyncio
async def test_everyone_in_a_question_pings_nobody(fake: FakeDiscord, bot: ArticleBot) -> None:
    handle = await fake.send_slash("ask", {"question": "@everyone <@&123> how old is Kim Ju-ae?"})
    data = (await fake.wait_response(handle))["data"]
    assert data["allowed_mentions"] == {"parse": []}
    title = embed_of(data)["title"]
    assert "@everyone" not in title.replace("\\@everyone", "")
    assert "<@&123>" not in title


@pytest.mark.asyncio
async def test_unrelated_question_says_the_article_does_not_say(fake: FakeDiscord, bot: ArticleBot) -> None:
    handle = await fake.send_slash("ask", {"question": "What is the tallest mountain in Africa?"})
    data = (await fake.wait_response(handle))["data"]
    assert data["content"] == render.ABSTAIN_MESSAGE
    description = embed_of(data)["description"]
    assert description.startswith(f"*{render.CLOSEST_LABEL}*") or description == "No passage comes close."
    assert not custom_ids(data)


@pytest.mark.asyncio
@pytest.mark.parametrize("dm", [False, True])
async def test_mention_and_dm_get_a_reply(fake: FakeDiscord, bot: ArticleBot, dm: bool) -> None:
    text = "How old is Kim Ju-ae?" if dm else f"<@{fake.bot_id}> How old is Kim Ju-ae?"
    message_id = await fake.send_message(text, mention_bot=not dm, dm=dm)
    reply = await fake.wait_channel_message(reply_to=message_id)
    assert reply["message_reference"]["message_id"] in (message_id, str(message_id))
    assert "12 years **old**" in embed_of(reply)["description"]
    assert reply["allowed_mentions"]["parse"] == []
    assert reply["allowed_mentions"].get("replied_user", False) is False  # Discord's default: no ping


@pytest.mark.asyncio
async def test_more_context_and_next_excerpts_edit_the_message(fake: FakeDiscord, bot: ArticleBot) -> None:
    handle = await fake.send_slash("ask", {"question": "What did Kim call the soldiers killed in Kursk?"})
    data = (await fake.wait_response(handle))["data"]
    before = embed_of(data)["description"]
    more = next(i for i in custom_ids(data) if i.startswith("ab:ctx:0:0:"))
    assert handle.message is not None
    click = await fake.click(handle.message, more)
    update = await fake.wait_response(click)
    assert update["type"] == 7  # the message itself is updated
    after = embed_of(update["data"])["description"]
    assert len(after.split("\n\n")[0]) > len(before.split("\n\n")[0])
    within_limits(update["data"])
    page = next(i for i in custom_ids(data) if i.startswith("ab:page:1:"))
    click = await fake.click(handle.message, page)
    update = await fake.wait_response(click)
    assert update["type"] == 7
    assert embed_of(update["data"])["description"].startswith("**4.**")


@pytest.mark.asyncio
async def test_buttons_work_after_a_restart(fake: FakeDiscord, composer: Composer) -> None:
    first = ArticleBot(composer, bot_settings())
    async with running_bot(fake, first):
        handle = await fake.send_slash("ask", {"question": "What did Kim call the soldiers killed in Kursk?"})
        data = (await fake.wait_response(handle))["data"]
    assert handle.message is not None
    second = ArticleBot(composer, bot_settings())
    async with running_bot(fake, second):
        click = await fake.click(handle.message, custom_ids(data)[0])
        assert (await fake.wait_response(click))["type"] == 7


@pytest.mark.asyncio
async def test_cooldown_answers_ephemerally(fake: FakeDiscord, composer: Composer) -> None:
    client = ArticleBot(composer, bot_settings(ask_cooldown_rate=2, ask_cooldown_seconds=60))
    async with running_bot(fake, client):
        responses = []
        for _ in range(3):
            handle = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"}, user_id=4242)
            responses.append(await fake.wait_response(handle))
        other = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"}, user_id=4343)
        assert (await fake.wait_response(other))["data"].get("embeds")
    assert [r["data"].get("flags", 0) & EPHEMERAL for r in responses] == [0, 0, EPHEMERAL]
    assert "Slow down" in responses[2]["data"]["content"]


@pytest.mark.asyncio
async def test_resume_after_a_dropped_socket(fake: FakeDiscord, bot: ArticleBot) -> None:
    session = fake.session_id
    await fake.drop_connection(4000)
    resumed = await fake.wait_resumed()
    assert resumed["session_id"] == session
    handle = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"})
    assert "¶2.3" in embed_of((await fake.wait_response(handle))["data"])["description"]


@pytest.mark.asyncio
async def test_thirty_simultaneous_asks(fake: FakeDiscord, bot: ArticleBot) -> None:
    questions = ["How old is Kim Ju-ae?", "What peninsula did Russia seize?", "Who is the author?"]
    handles = await asyncio.gather(
        *(fake.send_slash("ask", {"question": questions[i % 3]}, user_id=5000 + i) for i in range(30))
    )
    responses = await asyncio.gather(*(fake.wait_response(h, timeout=10) for h in handles))
    assert all(r["elapsed"] < 3 for r in responses)
    assert all(r["type"] in (4, 5) for r in responses)
    assert all(r["data"].get("embeds") or r["type"] == 5 for r in responses)


@pytest.mark.asyncio
async def test_about_help_and_quote(fake: FakeDiscord, bot: ArticleBot) -> None:
    about = (await fake.wait_response(await fake.send_slash("about")))["data"]
    field = embed_of(about)["fields"][0]
    assert "Frances Martel" in field["value"] and "sentences" in field["value"]
    helped = (await fake.wait_response(await fake.send_slash("help")))["data"]
    assert helped["flags"] & EPHEMERAL and "/ask" in embed_of(helped)["description"]
    quoted = (await fake.wait_response(await fake.send_slash("quote", {"citation": "¶2.3"})))["data"]
    assert "**Kim Ju\\-ae is believed to be about 12 years old.**" in embed_of(quoted)["description"]
    missing = (await fake.wait_response(await fake.send_slash("quote", {"citation": "¶99.1"})))["data"]
    assert missing["flags"] & EPHEMERAL


def test_quote_and_about_embeds_stay_in_limits(composer: Composer) -> None:
    assert quote_embed(composer, "article.txt ¶2.3")["description"]
    for missing in ("nonsense", "other.txt ¶2.3", "¶99.1"):
        with pytest.raises(QuoteError):
            quote_embed(composer, missing)
    embed = about_embed(composer)
    assert embed_length(embed) <= render.EMBED_TOTAL_MAX


# -- the real process: `python -m bot run`, as the independent check runs it ----------------------


@pytest.mark.asyncio
async def test_run_process_answers_and_stops_on_sigterm(fake: FakeDiscord, tmp_path: Path) -> None:
    process = bot_process(fake, tmp_path)
    try:
        await fake.wait_ready(timeout=30)
        await fake.wait_request(
            "PUT", f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands", 30
        )
        handle = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"})
        assert "¶2.3" in embed_of((await fake.wait_response(handle))["data"])["description"]
        message_id = await fake.send_message(f"<@{fake.bot_id}> Who is the author?")
        reply = await fake.wait_channel_message(reply_to=message_id)
        assert "Frances Martel" in embed_of(reply)["description"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.to_thread(process.communicate, timeout=20)
    assert process.returncode == 0, err
    assert DEFAULT_TOKEN not in out + err
    assert "answered in" in err and "abstained=False" in err


@pytest.mark.asyncio
async def test_run_process_with_a_rejected_token(tmp_path: Path) -> None:
    async with FakeDiscord(token="the-right-token") as server:
        process = bot_process(server, tmp_path, DISCORD_TOKEN="a-wrong-token")
        out, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 1
    assert err.strip().splitlines()[-1] == "error: Discord rejected the token in DISCORD_TOKEN"
    assert "Traceback" not in err and "a-wrong-token" not in out + err


@pytest.mark.asyncio
async def test_run_process_without_discord(tmp_path: Path) -> None:
    async with FakeDiscord() as server:
        env = server.env()
    # The server is closed now: nothing listens on its port.
    process = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "run_patched.py"), "run"],
        cwd=tmp_path,
        env=bot_environ(env, tmp_path),  # the token, the corpus, a cache and votes of its own
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1].startswith("error: cannot reach Discord")
    assert "Traceback" not in process.stderr and DEFAULT_TOKEN not in process.stderr


@pytest.mark.asyncio
async def test_sync_publishes_the_commands_globally(tmp_path: Path) -> None:
    async with FakeDiscord() as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "tests" / "run_patched.py"),
            "sync",
            cwd=tmp_path,
            env=bot_environ(server.env(), tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        assert {c["name"] for c in server.commands[None]} == {*SLASH_COMMANDS, "Ask the article"}
        assert server.identifies == []  # HTTP only: no gateway session
    assert f"synced {len(SLASH_COMMANDS) + 1} commands globally" in out.decode()
