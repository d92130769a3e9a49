"""What the features share: an answer and the corpus it came from, ephemeral replies, message
arguments, the question an answer message keeps, and the help embed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol, cast

import discord

from bot.answer import render
from bot.answer.composer import Answer, Composer, QuestionError

# /help and /about: how a server gets articles of its own.
ADD_HINT = (
    "Moderators (members who can manage the server) can add articles for this server alone: "
    "`/add url:` a web address, or `/add file:` a saved page (.html), a .md or .txt file; "
    "`/remove` takes one away."
)
FAILED_MESSAGE = "Sorry, something went wrong answering that. Please try again."
CHOICES_MAX = 25  # Discord's limits on autocomplete: 25 choices,
CHOICE_MAX = 100  # each name and value at most 100 characters


@dataclass(frozen=True)
class Reply:
    """An answer and the composer that gave it: its buttons must speak of that corpus, not a newer one.
    `document` is the file name of the document the question was pinned to, if it was."""

    composer: Composer
    answer: Answer
    document: str | None = None
    server: int | None = None  # the server asked in (its view of the corpus); None in a DM

    @property
    def tag(self) -> str:
        """The corpus tag the buttons carry, so a click can tell the corpus changed since."""
        return corpus_tag(self.composer, self.server)


class Answering(Protocol):
    """What the shared pieces need of the bot (`app.ArticleBot` is one): they depend on this
    interface, not on the module that assembles the bot."""

    def tag_of(self, server: int | None) -> str: ...

    async def answer(
        self,
        question: str,
        limit: int | None = None,
        *,
        asked: bool = True,
        document: str | None = None,
        server: int | None = None,
    ) -> Reply: ...


def corpus_tag(composer: Composer, server: int | None = None) -> str:
    """A short tag of the corpus content a server sees (its hash's first 8 hex digits): an article
    another server adds does not make this server's buttons out of date."""
    corpus = composer.corpus
    view = corpus.view(server)
    if view is None:
        return corpus.content_hash[:8]
    digest = hashlib.sha256()
    for n in corpus.visible(view):
        digest.update(f"{corpus.documents[n].name}\0{corpus.documents[n].content_hash}\0".encode())
    return digest.hexdigest()[:8]


async def respond(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral message, as the first response or a follow-up."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def message_kwargs(
    parts: tuple[str | None, discord.Embed, discord.ui.View | None], *, edit: bool = False
) -> dict[str, Any]:
    """Keyword arguments for send/reply, or with `edit` for editing a message in place.

    A new message without buttons gets no view at all; an edited one gets `view=None`, which removes
    the buttons it had.
    """
    content, embed, view = parts
    kwargs: dict[str, Any] = {"content": content, "embed": embed}
    if view is not None or edit:
        kwargs["view"] = view
    return kwargs


def question_of(message: discord.Message | None) -> str | None:
    """The whole question an answer message answers, as its embed keeps it (`render.question_fields`)."""
    if message is None or not message.embeds:
        return None
    return render.kept_question(dict(message.embeds[0].to_dict()))


def document_of(message: discord.Message | None) -> str | None:
    """The document an answer message's question was pinned to, as its embed keeps it."""
    if message is None or not message.embeds:
        return None
    return render.kept_document(dict(message.embeds[0].to_dict()))


ASK_AGAIN_ID = "ab:again"  # handled by ask.AskAgainButton
CHANGED_MESSAGE = "The article has changed since this answer."


async def outdated(interaction: discord.Interaction[Any]) -> None:
    """A button on an answer from an older corpus: say so on the message, and offer to ask again,
    rather than page through sentences that have moved."""
    if question_of(interaction.message) is None:
        await respond(interaction, f"{CHANGED_MESSAGE} Please ask again.")
        return
    view = discord.ui.View(timeout=None)
    view.add_item(ask_again_button())
    await interaction.response.edit_message(content=CHANGED_MESSAGE, view=view)


async def answer_again(interaction: discord.Interaction[Any], tag: str, limit: int) -> Reply | None:
    """The answer a button's message shows, computed again from the question it keeps; None, the
    message saying the article changed, when the corpus is no longer the one of button's `tag`."""
    bot = cast(Answering, interaction.client)
    question = question_of(interaction.message)
    if question is None or tag != bot.tag_of(interaction.guild_id):
        await outdated(interaction)
        return None
    try:
        reply = await bot.answer(
            question,
            limit=limit,
            asked=False,
            document=document_of(interaction.message),
            server=interaction.guild_id,
        )
    except QuestionError:  # the limits changed since it was asked
        reply = None
    if reply is None or reply.tag != tag:  # or a reload swapped the corpus meanwhile
        await outdated(interaction)
        return None
    return reply


def ask_again_button() -> discord.ui.Button[Any]:
    """The button that asks an outdated answer's question again (ask.AskAgainButton handles it)."""
    return discord.ui.Button(label="Ask again", style=discord.ButtonStyle.primary, custom_id=ASK_AGAIN_ID)


def help_embed(votes_kept_days: int | None = None) -> dict[str, Any]:
    """How to ask, with examples; and, when votes are kept (for `votes_kept_days`), what of them."""
    kept = (
        f"\n**Your votes**: kept {votes_kept_days} days, with the question only if you wrote it, the "
        "excerpts shown and a salted hash of your account id (never the id itself). `/forget` deletes "
        "all of yours."
        if votes_kept_days is not None
        else ""
    )
    return {
        "title": "Ask me about the article",
        "description": (
            "• `/ask question: How old is Kim Ju-ae?` answers with the article's own sentences, "
            "each cited (document ¶paragraph.sentence), the words that matched in **bold**. "
            "Add `private: True` to see the answer alone.\n"
            "• Mention me with a question, or send me a DM: same answer, as a reply.\n"
            "• Right-click any message, **Apps → Ask the article**: I answer that message's text.\n"
            "• **More context** widens an excerpt; **Next excerpts** shows more; 👍 and 👎 tell me "
            "whether the answer was right.\n"
            "• `/ask question: ... document: ...` answers from one article alone: start typing its "
            "title and pick it.\n"
            "• `/quote citation: ¶2.3` shows a cited sentence in its paragraph (with several articles, "
            "name it: `article.txt ¶2.3`; `¶0.1` is an article's title).\n"
            "• Ask about the articles themselves, naming one by its subject, outlet or author: "
            "*Who wrote the article about bike lanes? When was the Ledger story published?*\n"
            "• `/about` lists the articles I read.\n"
            f"• {ADD_HINT}\n"
            "If the article doesn't say, I tell you so rather than guess."
            f"{kept}"
        ),
    }
