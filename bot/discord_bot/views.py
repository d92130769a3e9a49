"""What the features share: ephemeral replies, message arguments, the question an answer keeps."""

from __future__ import annotations

from typing import Any

import discord

from bot import render

FAILED_MESSAGE = "Sorry, something went wrong answering that. Please try again."


async def respond(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral message, as the first response or a follow-up."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def message_kwargs(parts: tuple[str | None, discord.Embed, discord.ui.View | None]) -> dict[str, Any]:
    """Keyword arguments for send/reply/edit; no view at all when there are no buttons."""
    content, embed, view = parts
    kwargs: dict[str, Any] = {"content": content, "embed": embed}
    if view is not None:
        kwargs["view"] = view
    return kwargs


def question_of(message: discord.Message | None) -> str | None:
    """The question an answer message answers, read back from the embed title."""
    if message is None or not message.embeds or not message.embeds[0].title:
        return None
    return render.unescape_markdown(message.embeds[0].title)


def help_embed() -> dict[str, Any]:
    """How to ask, with examples."""
    return {
        "title": "Ask me about the article",
        "description": (
            "• `/ask question: How old is Kim Ju-ae?` answers with the article's own sentences, "
            "each cited (document ¶paragraph.sentence), the words that matched in **bold**.\n"
            "• Mention me with a question, or send me a DM: same answer, as a reply.\n"
            "• **More context** widens an excerpt; **Next excerpts** shows more.\n"
            "• `/quote citation: ¶2.3` shows a cited sentence in its paragraph.\n"
            "• `/about` lists the articles I read.\n"
            "If the article doesn't say, I tell you so rather than guess."
        ),
    }
