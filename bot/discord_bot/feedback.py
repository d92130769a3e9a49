"""Feedback: 👍 and 👎 under every answer, each vote stored before the click is acknowledged.

The store (`bot.stores.feedback`) is called through `votes.Votes`, off the event loop.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.answer import render
from bot.discord_bot.views import Reply, answer_again, respond
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
    )
    tally = await bot.votes.record(feedback, interaction.user.id)  # on disk before we acknowledge
    bot.metrics.voted(vote)
    top = shown[0].citation if shown else "-"
    log.info("vote %s on %s%s", vote, top, " (declined)" if feedback.abstained else "")  # no identity
    await interaction.response.edit_message(view=_voted_view(interaction.message, vote, tally))


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


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`): the vote buttons work after a restart."""
    bot.add_dynamic_items(VoteButton)
