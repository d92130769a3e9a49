"""Several articles through the fake Discord: /ask's document option and its autocomplete, metadata
asked by subject, outlet and author, one cooldown for every way to ask (issue 15 #9), and /quote
taking every citation the bot prints (issue 15 #10)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot import engine
from bot.answer import render
from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot
from tests.conftest import NEWSROOM
from tests.discord_helpers import EPHEMERAL, ask, bot_settings, custom_ids, embed_of, within_limits
from tests.fake_discord import FakeDiscord, running_bot


@pytest_asyncio.fixture
async def newsroom_bot(fake: FakeDiscord, newsroom_composer: Composer) -> AsyncIterator[ArticleBot]:
    """The bot over the newsroom's five articles."""
    client = ArticleBot(newsroom_composer, bot_settings(discord_guild_id=fake.guild_id))
    async with running_bot(fake, client) as running:
        yield running


def cited_documents(description: str) -> set[str]:
    """The documents an answer's embed cites."""
    text = render.unescape_markdown(description)
    return {name for name in NEWSROOM if f"{name} " in text}


@pytest.mark.asyncio
async def test_ask_has_an_optional_document_option_with_autocomplete(
    fake: FakeDiscord, newsroom_bot: ArticleBot
) -> None:
    slash = next(c for c in fake.commands[fake.guild_id] if c["name"] == "ask")
    option = next(o for o in slash["options"] if o["name"] == "document")
    assert option["type"] == 3 and option["autocomplete"] and not option.get("required")
    assert option["description"] and option["max_length"] == 100


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("typed", "expected"), [("", set(NEWSROOM)), ("bike", {"bike-lanes.md", "lakeview.md"})]
)
async def test_document_autocomplete_offers_documents_that_pin_the_answer(
    fake: FakeDiscord, newsroom_bot: ArticleBot, typed: str, expected: set[str]
) -> None:
    handle = await fake.send_autocomplete(
        "ask", {"question": "How much did it cost?", "document": typed}, "document"
    )
    choices = (await fake.wait_response(handle))["data"]["choices"]
    assert {c["value"] for c in choices} == expected
    titles = {d.name: d.title for d in newsroom_bot.composer.corpus.documents}
    assert all(c["name"] == titles[c["value"]] for c in choices)  # people pick by title
    for choice in choices:
        _, data = await ask(fake, "How much did it cost?", document=choice["value"])
        if data.get("embeds") and not data.get("content"):
            assert cited_documents(embed_of(data)["description"]) == {choice["value"]}


@pytest.mark.asyncio
async def test_document_autocomplete_keeps_to_discord_limits(fake: FakeDiscord, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(30):
        title = f"Council story number {n} " + "with a headline that goes on and on " * 4
        (folder / f"story-{n:02d}.md").write_text(f"---\ntitle: {title}\n---\n\nThe council met.\n")
    composer = engine.load(bot_settings(corpus_dir=folder))
    async with running_bot(fake, ArticleBot(composer, bot_settings(discord_guild_id=fake.guild_id))):
        handle = await fake.send_autocomplete("ask", {"question": "q", "document": "council"}, "document")
        choices = (await fake.wait_response(handle))["data"]["choices"]
    assert len(choices) == 25
    assert all(1 <= len(c["name"]) <= 100 and 1 <= len(c["value"]) <= 100 for c in choices)


@pytest.mark.asyncio
async def test_a_pinned_answer_keeps_its_document_on_every_button(
    fake: FakeDiscord, newsroom_bot: ArticleBot
) -> None:
    message, data = await ask(fake, "How much did it cost?", document="lakeview.md")
    within_limits(data)
    embed = embed_of(data)
    assert cited_documents(embed["description"]) == {"lakeview.md"}
    assert embed["footer"]["text"] == "Document: lakeview.md"
    more = next(i for i in custom_ids(data) if i.startswith("ab:ctx:0:0:"))
    update = await fake.wait_response(await fake.click(message, more))
    assert update["type"] == 7
    assert cited_documents(embed_of(update["data"])["description"]) == {"lakeview.md"}
    assert embed_of(update["data"])["footer"]["text"] == "Document: lakeview.md"


@pytest.mark.asyncio
async def test_an_unknown_document_is_a_clear_error(fake: FakeDiscord, newsroom_bot: ArticleBot) -> None:
    _, data = await ask(fake, "How much did it cost?", document="the moon landing")
    assert data["flags"] & EPHEMERAL and not data.get("embeds")
    assert data["content"].startswith("I can't answer that: no document matches 'the moon landing'")


@pytest.mark.asyncio
async def test_a_pinned_document_that_does_not_answer_declines_by_name(
    fake: FakeDiscord, newsroom_bot: ArticleBot
) -> None:
    _, data = await ask(fake, "Who is the chief executive of Acme?", document="volcano.txt")
    assert data["content"].startswith("volcano.txt (“Volcano”) doesn't say")
    assert embed_of(data)["footer"]["text"] == "Document: volcano.txt"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who wrote the article about the Grindavik eruption?", "volcano.txt doesn't say who wrote it."),
        ("Which outlet published the story about Main Street?", "Great Lakes Press"),
        ("Who wrote the Market Street Journal story?", "Priya Natarajan and David Okafor"),
        ("What else did Maria Lopez write?", "Downtown garages raise parking fees"),
    ],
)
async def test_metadata_asked_by_subject_outlet_and_author(
    fake: FakeDiscord, newsroom_bot: ArticleBot, question: str, expected: str
) -> None:
    _, data = await ask(fake, question)
    within_limits(data)
    shown = (data.get("content") or "") + render.unescape_markdown(embed_of(data)["description"])
    assert expected in shown.replace("**", "")


@pytest.mark.asyncio
async def test_authors_of_two_documents_on_one_subject(fake: FakeDiscord, newsroom_bot: ArticleBot) -> None:
    _, data = await ask(fake, "Who wrote the article about bike lanes?")
    description = render.unescape_markdown(embed_of(data)["description"]).replace("**", "")
    assert "Maria Lopez" in description and "Tom Becker" in description
    assert cited_documents(description) == {"bike-lanes.md", "lakeview.md"}


@pytest.mark.asyncio
@pytest.mark.parametrize("dm", [False, True])
async def test_mentions_and_dms_share_the_ask_cooldown(
    fake: FakeDiscord, composer: Composer, dm: bool
) -> None:
    # Issue 15 #9: a user rate-limited on /ask was answered 8 times of 8 by mention or DM.
    client = ArticleBot(composer, bot_settings(ask_cooldown_rate=1, ask_cooldown_seconds=60))
    async with running_bot(fake, client):
        first = await fake.wait_response(await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"}))
        assert not first["data"].get("flags", 0) & EPHEMERAL
        text = "How old is Kim Ju-ae?" if dm else f"<@{fake.bot_id}> How old is Kim Ju-ae?"
        replies = []
        for _ in range(3):
            message_id = await fake.send_message(text, mention_bot=not dm, dm=dm)
            replies.append(await fake.wait_channel_message(reply_to=message_id))
        # The other way round: a mention spends the limit that /ask then meets.
        other = 5150
        spent = await fake.send_message(text, mention_bot=not dm, dm=dm, author_id=other)
        assert embed_of(await fake.wait_channel_message(reply_to=spent))["description"]
        late = await fake.wait_response(
            await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"}, user_id=other)
        )
    assert all(r["content"].startswith("Slow down") and not r.get("embeds") for r in replies)
    assert late["data"]["flags"] & EPHEMERAL and "Slow down" in late["data"]["content"]


@pytest.mark.asyncio
async def test_quote_takes_the_range_citations_answers_print(fake: FakeDiscord, bot: ArticleBot) -> None:
    # Issue 15 #10: `article.txt ¶9.1–2` (two sentences shown together) was "no sentence".
    answer = bot.composer.answer("What did Zelensky offer North Korean soldiers?")
    ranged = next(e for e in answer.excerpts if "–" in e.citation)
    for citation in (render.where(ranged), ranged.citation, render.where(ranged).replace("–", "-")):
        quoted = await fake.wait_response(await fake.send_slash("quote", {"citation": citation}))
        description = embed_of(quoted["data"])["description"]
        bold = [render.unescape_markdown(part) for part in description.split("**")[1::2]]
        assert len(bold) == len(ranged.sentence_ids) > 1 and " ".join(bold) == ranged.text, citation


@pytest.mark.asyncio
async def test_quote_takes_metadata_and_title_citations(fake: FakeDiscord, newsroom_bot: ArticleBot) -> None:
    for citation, shown in (
        ("acme.md metadata: author", "authors:\n- Priya Natarajan\n- David Okafor"),
        ("lakeview.md metadata: published, from the dateline", "LAKEVIEW, Mich., March 5"),
        ("acme.md ¶0.1", "**Acme's profit doubles as warehouses automate**"),
    ):
        quoted = await fake.wait_response(await fake.send_slash("quote", {"citation": citation}))
        assert not quoted["data"].get("flags", 0) & EPHEMERAL, quoted["data"]
        assert shown in render.unescape_markdown(embed_of(quoted["data"])["description"])


@pytest.mark.asyncio
async def test_a_bare_citation_among_several_documents_asks_for_the_document(
    fake: FakeDiscord, newsroom_bot: ArticleBot
) -> None:
    # Issue 15 #10: "try a citation like ¶2.3" answered a ¶2.3 that was ambiguous.
    data = (await fake.wait_response(await fake.send_slash("quote", {"citation": "¶2.1"})))["data"]
    assert data["flags"] & EPHEMERAL
    message = render.unescape_markdown(data["content"])
    assert "needs the document's name" in message
    assert all(name in message for name in NEWSROOM)  # each has a ¶2.1: all are offered
