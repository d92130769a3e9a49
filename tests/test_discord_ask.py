"""Asking through the fake Discord: private answers, "Ask the article" on a message, /quote autocomplete."""

from __future__ import annotations

import pytest

from bot.answer import render
from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot
from bot.discord_bot.ask import ASK_MESSAGE, NOTHING_TO_ASK
from tests.discord_helpers import EPHEMERAL, bot_settings, custom_ids, embed_of, within_limits
from tests.fake_discord import FakeDiscord, running_bot


@pytest.mark.asyncio
async def test_private_answers_are_ephemeral_and_their_buttons_work(
    fake: FakeDiscord, bot: ArticleBot
) -> None:
    question = "What did Kim call the soldiers killed in Kursk?"
    public = await fake.wait_response(await fake.send_slash("ask", {"question": question}))
    assert not public["data"].get("flags", 0) & EPHEMERAL
    handle = await fake.send_slash("ask", {"question": question, "private": True})
    private = await fake.wait_response(handle)
    assert private["type"] == 4 and private["data"]["flags"] & EPHEMERAL
    assert embed_of(private["data"])["description"] == embed_of(public["data"])["description"]
    assert handle.message is not None
    more = next(i for i in custom_ids(private["data"]) if i.startswith("ab:ctx:0:0:"))
    update = await fake.wait_response(await fake.click(handle.message, more))
    assert update["type"] == 7  # the ephemeral message is edited in place
    assert len(embed_of(update["data"])["description"]) > len(embed_of(private["data"])["description"])


@pytest.mark.asyncio
async def test_ask_the_article_answers_a_message_linking_to_it_and_pinging_nobody(
    fake: FakeDiscord, bot: ArticleBot
) -> None:
    author = 4711
    target = await fake.send_message("how old is Kim Ju-ae these days?", mention_bot=False, author_id=author)
    handle = await fake.send_message_command(ASK_MESSAGE, target)
    response = await fake.wait_response(handle)
    data = response["data"]
    assert response["type"] == 4 and not data.get("flags", 0) & EPHEMERAL
    within_limits(data)
    link = f"https://discord.com/channels/{fake.guild_id}/{fake.channel_id}/{target}"
    assert link in data["content"]
    assert "12 years **old**" in embed_of(data)["description"]
    assert data["allowed_mentions"] == {"parse": []}
    assert str(author) not in data["content"]
    assert custom_ids(data)  # the usual buttons


@pytest.mark.asyncio
async def test_ask_the_article_on_an_image_only_message(fake: FakeDiscord, bot: ArticleBot) -> None:
    target = await fake.send_message("", mention_bot=False, attachments=[("cat.png", b"\x89PNG fake")])
    response = await fake.wait_response(await fake.send_message_command(ASK_MESSAGE, target))
    assert response["data"]["flags"] & EPHEMERAL
    assert response["data"]["content"] == NOTHING_TO_ASK


@pytest.mark.asyncio
@pytest.mark.parametrize("typed", ["", "Kim Ju", "daughter ", "¶2", "article.txt ¶4.", "zzzz"])
async def test_quote_autocomplete_offers_valid_citations(
    fake: FakeDiscord, bot: ArticleBot, typed: str
) -> None:
    handle = await fake.send_autocomplete("quote", {"citation": typed}, "citation")
    response = await fake.wait_response(handle)
    assert response["type"] == 8 and response["status"] == 200
    choices = response["data"]["choices"]
    assert len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and 1 <= len(c["value"]) <= 100 for c in choices)
    if typed == "zzzz":
        assert choices == []
        return
    assert choices
    words = [w.lower() for w in typed.replace("¶", " ").split() if w.isalpha()]
    for choice in choices:
        # every value is a citation /quote accepts, and shows the sentence it names
        quoted = await fake.wait_response(await fake.send_slash("quote", {"citation": choice["value"]}))
        assert not quoted["data"].get("flags", 0) & EPHEMERAL, choice
        sentence = render.unescape_markdown(embed_of(quoted["data"])["description"].split("**")[1])
        assert choice["name"].startswith(choice["value"] + " — ")
        assert choice["name"].split(" — ", 1)[1].rstrip("…") in sentence
        if typed.startswith("¶") or "¶" in typed:
            assert choice["value"].startswith(typed.rsplit(maxsplit=1)[-1])
        if words:
            assert any(w[:3] in sentence.lower() for w in words)
    if words == ["kim", "ju"]:
        assert choices[0]["value"] == "¶2.3"  # "Kim Ju-ae is believed to be about 12 years old."


@pytest.mark.asyncio
@pytest.mark.parametrize("dm", [False, True])
async def test_buttons_on_a_long_mention_question_re_ask_the_whole_question(
    fake: FakeDiscord, bot: ArticleBot, dm: bool
) -> None:
    # Over an embed title's 256 characters, under the 500 a mention or DM may have; the words that
    # matter come last, so a question cut to the title's length has nothing to answer.
    polite = "Could you tell me, if it is not too much trouble for you, and if you would be so kind, "
    question = polite * 3 + "what did Kim call the soldiers who were killed in Kursk?"
    assert render.TITLE_MAX < len(question) <= bot.settings.max_question_chars
    message_id = await fake.send_message(question, mention_bot=not dm, dm=dm)
    reply = await fake.wait_channel_message(reply_to=message_id)
    within_limits(reply)
    first = embed_of(reply)["description"]
    next_page = next(i for i in custom_ids(reply) if i.startswith("ab:page:1:"))
    update = await fake.wait_response(await fake.click(int(reply["id"]), next_page))
    assert update["type"] == 7, update["data"].get("content")  # edited, not "nothing more to show"
    within_limits(update["data"])
    expected = bot.composer.answer(question, limit=2 * bot.settings.top_k).excerpts[bot.settings.top_k :]
    second = embed_of(update["data"])["description"]
    assert second.startswith("**4.**") and second != first
    shown = render.unescape_markdown(second)
    assert all(render.where(e) in shown for e in expected), ([render.where(e) for e in expected], shown)
    back = next(i for i in custom_ids(update["data"]) if i.startswith("ab:page:0:"))
    again = await fake.wait_response(await fake.click(int(reply["id"]), back))
    assert embed_of(again["data"])["description"] == first  # the same whole question, page 1 again


@pytest.mark.asyncio
async def test_ask_and_the_message_menu_share_one_rate_limit(fake: FakeDiscord, composer: Composer) -> None:
    client = ArticleBot(composer, bot_settings(ask_cooldown_rate=1, ask_cooldown_seconds=60))
    async with running_bot(fake, client):
        first = await fake.wait_response(await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"}))
        target = await fake.send_message("Who is the author?", mention_bot=False)
        second = await fake.wait_response(await fake.send_message_command(ASK_MESSAGE, target))
    assert not first["data"].get("flags", 0) & EPHEMERAL
    assert second["data"]["flags"] & EPHEMERAL and "Slow down" in second["data"]["content"]
