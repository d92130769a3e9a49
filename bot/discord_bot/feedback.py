"""Feedback: 👍 and 👎 under every answer, each vote stored before the click is acknowledged;
`/forget`, which deletes a person's votes; and the pruning of votes past their retention.

The store (`bot.stores.feedback`) is called through `votes.Votes`, off the event loop. A vote the
store cannot take (its database server down or restarting) gets an ephemeral "not saved, try again"
and leaves the buttons as they were; the answer itself keeps working. What is kept of a vote: see
`bot.stores.feedback` (the question's text only when the voter wrote it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.answer import render
from bot.discord_bot.views import Reply, answer_again, respond
from bot.stores.database import StoreError
from bot.stores.feedback import Feedback, Shown, Tally, Vote

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

log = logging.getLogger(__name__)

_EMOJI: dict[Vote, str] = {"up": "👍", "down": "👎"}
_CHOSEN_STYLE: dict[Vote, discord.ButtonStyle] = {
    "up": discord.ButtonStyle.success,
    "down": discord.ButtonStyle.danger,
}
_VOTE_ID = re.compile(r"ab:vote:(?P<vote>up|down):(?P<page>\d+):(?P<tag>[0-9a-f]{8})")
DEFER_AFTER = 1.5  # seconds: acknowledge at once when the store is quicker, else defer (Discord allows 3)
PRUNE_EVERY = 3600.0  # seconds between deletions of votes past FEEDBACK_RETENTION_DAYS
NOT_SAVED = "Your vote was not saved (the vote database is not answering). Please try again in a moment."


def shown_excerpts(reply: Reply, page: int, top_k: int) -> tuple[Shown, ...]:
    """The excerpts a page of the answer shows (the closest passages when it declined)."""
    answer = reply.answer
    excerpts = answer.closest if answer.abstained else answer.excerpts[page * top_k : (page + 1) * top_k]
    return tuple(Shown(render.where(e), e.text) for e in excerpts)


def vote_buttons(reply: Reply, page: int) -> list[VoteButton]:
    """👍 and 👎 for one page of an answer."""
    return [VoteButton(vote, page, reply.tag) for vote in ("up", "down")]


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_VOTE_ID.pattern):
    """A vote on the page of the answer it sits under; its state is all in the custom_id."""

    def __init__(self, vote: Vote, page: int, tag: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji=_EMOJI[vote],
                style=discord.ButtonStyle.secondary,
                custom_id=f"ab:vote:{vote}:{page}:{tag}",
            )
        )
        self.vote, self.page, self.tag = vote, page, tag

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(cast(Vote, match["vote"]), int(match["page"]), match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await record_vote(interaction, self.vote, self.page, self.tag)


def question_writer(message: discord.Message | None) -> int | None:
    """Who wrote the question an answer message answers: the author of the message it replies to (a
    mention, a DM, or the message "Ask the article" was used on, which Discord references from the
    answer), else the person who used the command; None when Discord no longer says."""
    if message is None:
        return None
    if message.reference is not None:
        resolved = message.reference.resolved
        return resolved.author.id if isinstance(resolved, discord.Message) else None
    meta = message.interaction_metadata
    return meta.user.id if meta is not None else None


async def record_vote(interaction: discord.Interaction[Any], vote: Vote, page: int, tag: str) -> None:
    """Store the vote on the answer the message shows, then show it on the buttons."""
    bot = cast("ArticleBot", interaction.client)
    if bot.votes is None:
        await respond(interaction, "Votes are not being recorded here.")
        return
    k = bot.settings.top_k
    reply = await answer_again(interaction, tag, limit=(page + 1) * k)
    if reply is None:
        return
    shown = shown_excerpts(reply, page, k)
    feedback = Feedback(
        question=reply.answer.question,
        shown=shown,
        corpus=reply.composer.corpus.content_hash,
        vote=vote,
        abstained=reply.answer.abstained,
        writer_voted=question_writer(interaction.message) == interaction.user.id,
    )
    saving = asyncio.ensure_future(bot.votes.record(feedback, interaction.user.id))
    done, _ = await asyncio.wait({saving}, timeout=DEFER_AFTER)
    if not done:  # a slow database: acknowledge within Discord's 3 s, edit the buttons once stored
        await interaction.response.defer()
    try:
        tally = await saving  # committed before we acknowledge
    except StoreError as exc:
        log.warning("vote %s not saved: %s", vote, exc)  # no identity
        await respond(interaction, NOT_SAVED)
        return
    bot.metrics.voted(vote)
    top = shown[0].citation if shown else "-"
    log.info("vote %s on %s%s", vote, top, " (declined)" if feedback.abstained else "")  # no identity
    view = _voted_view(interaction.message, vote, tally)
    if interaction.response.is_done():
        await interaction.edit_original_response(view=view)
    else:
        await interaction.response.edit_message(view=view)


def _voted_view(message: discord.Message | None, vote: Vote, tally: Tally) -> discord.ui.View:
    """The message's own buttons, with the vote buttons showing the tally and the vote just cast."""
    view = discord.ui.View.from_message(message, timeout=None) if message else discord.ui.View(timeout=None)
    for item in view.children:
        m = _VOTE_ID.fullmatch(getattr(item, "custom_id", None) or "")
        if m is None or not isinstance(item, discord.ui.Button):
            continue
        which = cast(Vote, m["vote"])
        count = tally.up if which == "up" else tally.down
        item.label = str(count) if count else None
        item.style = _CHOSEN_STYLE[which] if which == vote else discord.ButtonStyle.secondary
    return view


class FeedbackCog(commands.Cog):
    """/forget, and the pruning of votes past their retention while the bot runs."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        self.prune.change_interval(seconds=PRUNE_EVERY)

    async def cog_load(self) -> None:
        if self.bot.votes is not None:
            self.prune.start()  # its first run is now: a bot that was off a while catches up at once

    async def cog_unload(self) -> None:
        self.prune.cancel()

    @tasks.loop(seconds=PRUNE_EVERY)
    async def prune(self) -> None:
        """Delete the votes older than FEEDBACK_RETENTION_DAYS."""
        votes, days = self.bot.votes, self.bot.settings.feedback_retention_days
        if votes is None:
            return
        try:
            gone = await votes.prune(days)
        except StoreError as exc:  # the next round tries again
            log.warning("pruning old votes failed: %s", exc)
            return
        if gone:
            log.info("deleted %d vote(s) older than %d days", gone, days)

    @app_commands.command(name="forget")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        """Delete every 👍/👎 vote you gave (only you see the reply)."""
        if self.bot.votes is None:
            await respond(interaction, "No votes are kept here.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            deleted = await self.bot.votes.forget(interaction.user.id)
        except StoreError as exc:
            log.warning("/forget failed: %s", exc)
            text = "Your votes could not be deleted just now (the vote database is not answering); try again."
        else:
            text = f"Deleted your {deleted} vote(s)." if deleted else "There are no votes of yours to delete."
        await interaction.edit_original_response(content=text)


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`): the vote buttons work after a restart."""
    bot.add_dynamic_items(VoteButton)
    await bot.add_cog(FeedbackCog(bot))
