"""Asking: `/ask`, mentions and DMs, and the buttons that widen and page through an answer."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.composer import Answer, Excerpt, QuestionError
from bot.discord_bot.views import help_embed, message_kwargs, question_of, respond

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

QUESTION_MAX = 250  # fits an embed title whole, so buttons can read it back after a restart
DEFER_AFTER = 1.5  # seconds: answer directly when faster, else defer (Discord allows 3)
CONTEXT_STEPS = 3  # "More context" widens by one sentence a side, this many times


def reply_parts(
    bot: ArticleBot, answer: Answer, page: int = 0, widen: tuple[int, int] | None = None
) -> tuple[str | None, discord.Embed, discord.ui.View | None]:
    """Content, embed and buttons for an answer: one page of `top_k` excerpts, and excerpt
    `widen[0]` of it shown with `widen[1]` sentences of context a side."""
    if answer.abstained:
        return (
            render.ABSTAIN_MESSAGE,
            discord.Embed.from_dict(render.abstain_embed(answer.question, answer.closest)),
            None,
        )
    k = bot.settings.top_k
    shown = answer.excerpts[page * k : (page + 1) * k]
    widened: dict[int, tuple[str, str]] = {}
    if widen is not None and widen[0] < len(shown):
        before, after = bot.composer.context(shown[widen[0]], widen[1])
        widened[widen[0]] = (" ".join(s.text for s in before), " ".join(s.text for s in after))
    embed = render.excerpts_embed(answer.question, shown, first_number=page * k + 1, widened=widened)
    view = answer_view(
        bot,
        shown,
        page,
        has_next=len(answer.excerpts) > (page + 1) * k,
        radius=widen[1] if widen else 0,
        widened=widen[0] if widen else -1,
    )
    return None, discord.Embed.from_dict(embed), view


def answer_view(
    bot: ArticleBot,
    shown: tuple[Excerpt, ...],
    page: int,
    *,
    has_next: bool,
    radius: int = 0,
    widened: int = -1,
) -> discord.ui.View:
    """Buttons: more context for each excerpt, and the previous/next excerpts."""
    view = discord.ui.View(timeout=None)
    for n, excerpt in enumerate(shown):
        if not excerpt.sentence_ids:
            continue
        step = radius + 1 if n == widened else 1
        view.add_item(MoreContextButton(page, n, step, bot.corpus_tag, disabled=step > CONTEXT_STEPS))
    if page > 0:
        view.add_item(PageButton(page - 1, bot.corpus_tag, label="Previous excerpts"))
    if has_next:
        view.add_item(PageButton(page + 1, bot.corpus_tag, label="Next excerpts"))
    return view


class MoreContextButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ab:ctx:(?P<page>\d+):(?P<n>\d+):(?P<r>\d+):(?P<tag>[0-9a-f]{8})",
):
    """Widens one excerpt by a sentence a side, in place; its state is all in the custom_id."""

    def __init__(self, page: int, n: int, radius: int, tag: str, *, disabled: bool = False) -> None:
        label = f"More context ({n + 1})" if radius <= CONTEXT_STEPS else f"Full context ({n + 1})"
        super().__init__(
            discord.ui.Button(
                label=label[: render.LABEL_MAX],
                style=discord.ButtonStyle.secondary,
                custom_id=f"ab:ctx:{page}:{n}:{radius}:{tag}",
                disabled=disabled,
            )
        )
        self.page, self.n, self.radius, self.tag = page, n, radius, tag

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MoreContextButton:
        return cls(int(match["page"]), int(match["n"]), int(match["r"]), match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _update(interaction, self.tag, self.page, widen=(self.n, self.radius))


class PageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"ab:page:(?P<page>\d+):(?P<tag>[0-9a-f]{8})"
):
    """Shows another page of excerpts for the same question."""

    def __init__(self, page: int, tag: str, *, label: str = "Next excerpts") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.primary, custom_id=f"ab:page:{page}:{tag}"
            )
        )
        self.page, self.tag = page, tag

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PageButton:
        return cls(int(match["page"]), match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _update(interaction, self.tag, self.page, widen=None)


async def _update(
    interaction: discord.Interaction[Any], tag: str, page: int, widen: tuple[int, int] | None
) -> None:
    """Re-answer the message's question and edit the message in place."""
    bot = cast("ArticleBot", interaction.client)
    question = question_of(interaction.message)
    if tag != bot.corpus_tag or question is None:
        await respond(interaction, "The articles have changed since this answer; please ask again.")
        return
    k = bot.settings.top_k
    answer = await bot.answer(question, limit=(page + 2) * k)  # this page, and is there a next?
    if answer.abstained or not answer.excerpts[page * k : (page + 1) * k]:
        await respond(interaction, "There is nothing more to show for this question.")
        return
    await interaction.response.edit_message(**message_kwargs(reply_parts(bot, answer, page, widen)))


class AskCog(commands.Cog):
    """Questions: the /ask command, and mentions or DMs answered as replies."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        # Per user, per bot (not per process); stale buckets are pruned by the mapping itself.
        self.cooldowns: commands.CooldownMapping[discord.Interaction[Any]] = commands.CooldownMapping(
            app_commands.Cooldown(bot.settings.ask_cooldown_rate, bot.settings.ask_cooldown_seconds),
            lambda interaction: interaction.user.id,
        )

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """The /ask rate limit: CommandOnCooldown goes to the tree's error handler."""
        if interaction.command is not None and interaction.command.name == "ask":
            bucket = self.cooldowns.get_bucket(interaction)
            retry_after = bucket.update_rate_limit() if bucket is not None else None
            if retry_after:
                assert bucket is not None
                raise app_commands.CommandOnCooldown(bucket, retry_after)
        return True

    @app_commands.command(name="ask")
    @app_commands.describe(question="Your question about the article, e.g. How old is Kim Ju-ae?")
    async def ask(
        self, interaction: discord.Interaction[Any], question: app_commands.Range[str, 1, QUESTION_MAX]
    ) -> None:
        """Ask a question; get the article's sentences that answer it, cited."""
        task = asyncio.ensure_future(self.bot.answer(question, limit=2 * self.bot.settings.top_k))
        done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
        if not done:
            await interaction.response.defer(thinking=True)  # within Discord's 3 seconds
        try:
            answer = await task
        except QuestionError as exc:
            await respond(interaction, f"I can't answer that: {exc}.")
            return
        parts = message_kwargs(reply_parts(self.bot, answer))
        if interaction.response.is_done():
            await interaction.edit_original_response(**parts)
        else:
            await interaction.response.send_message(**parts)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A mention in a channel, or any DM, is a question; the answer comes as a reply."""
        me = self.bot.user
        if message.author.bot or me is None:
            return
        mention = re.compile(rf"<@!?{me.id}>")
        is_dm = isinstance(message.channel, discord.DMChannel)
        if not is_dm and me not in message.mentions and not mention.search(message.content):
            return
        question = mention.sub(" ", message.content).strip()
        if not question:
            await message.reply(embed=discord.Embed.from_dict(help_embed()))
            return
        try:  # two pages: is there a next?
            answer = await self.bot.answer(question, limit=2 * self.bot.settings.top_k)
        except QuestionError as exc:
            await message.reply(f"I can't answer that: {exc}.")
            return
        await message.reply(**message_kwargs(reply_parts(self.bot, answer)))
