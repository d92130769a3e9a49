"""Asking: `/ask`, the "Ask the article" message menu, mentions and DMs, and the buttons that widen
and page through an answer."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer import render
from bot.answer.composer import Composer, Excerpt, QuestionError
from bot.discord_bot.feedback import vote_buttons
from bot.discord_bot.views import (
    ASK_AGAIN_ID,
    CHOICE_MAX,
    CHOICES_MAX,
    Reply,
    answer_again,
    ask_again_button,
    document_of,
    help_embed,
    message_kwargs,
    question_of,
    respond,
)
from bot.text import fold_space

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

QUESTION_MAX = 250  # an embed title (256) shows it whole, Markdown escapes and all, most of the time
DEFER_AFTER = 1.5  # seconds: answer directly when faster, else defer (Discord allows 3)
CONTEXT_STEPS = 3  # "More context" widens by one sentence a side, this many times
ASK_MESSAGE = "Ask the article"  # the message context menu's name, as people see it
NOTHING_TO_ASK = "That message has no text to ask about."


def reply_parts(
    bot: ArticleBot, reply: Reply, page: int = 0, widen: tuple[int, int] | None = None
) -> tuple[str | None, discord.Embed, discord.ui.View | None]:
    """Content, embed and buttons for an answer: one page of `top_k` excerpts, and excerpt
    `widen[0]` of it shown with `widen[1]` sentences of context a side."""
    answer = reply.answer
    # A button asks the question again as the embed keeps it; a question too long to keep gets none.
    buttons = render.keeps_question(answer.question, reply.document)
    if answer.abstained:
        declined = discord.Embed.from_dict(
            render.abstain_embed(answer.question, answer.closest, reply.document)
        )
        view = _view(vote_buttons(reply, 0)) if buttons and bot.votes is not None else None
        return render.abstain_message(answer), declined, view
    k = bot.settings.top_k
    shown = answer.excerpts[page * k : (page + 1) * k]
    widened: dict[int, tuple[str, str]] = {}
    if widen is not None and widen[0] < len(shown):
        before, after = reply.composer.context(shown[widen[0]], widen[1])
        widened[widen[0]] = (" ".join(s.text for s in before), " ".join(s.text for s in after))
    embed = render.excerpts_embed(
        answer.question,
        shown,
        first_number=page * k + 1,
        widened=widened,
        short=answer.short if page == 0 else None,  # above the first page's excerpts
        document=reply.document,
    )
    note = answer.note or None  # an answer for each of several documents: the ones that do not say
    if not buttons:
        return note, discord.Embed.from_dict(embed), None
    view = answer_view(
        reply,
        shown,
        page,
        has_next=len(answer.excerpts) > (page + 1) * k,
        radius=widen[1] if widen else 0,
        widened=widen[0] if widen else -1,
    )
    if bot.votes is not None:
        for button in vote_buttons(reply, page):
            view.add_item(button)
    return note, discord.Embed.from_dict(embed), view


def _view(items: list[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def answer_view(
    reply: Reply,
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
        view.add_item(MoreContextButton(page, n, step, reply.tag, disabled=step > CONTEXT_STEPS))
    if page > 0:
        view.add_item(PageButton(page - 1, reply.tag, label="Previous excerpts"))
    if has_next:
        view.add_item(PageButton(page + 1, reply.tag, label="Next excerpts"))
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


class AskAgainButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ASK_AGAIN_ID):
    """On an answer from an older corpus (see `views.outdated`): the same question, answered now."""

    def __init__(self) -> None:
        super().__init__(ask_again_button())

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AskAgainButton:
        return cls()

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = cast("ArticleBot", interaction.client)
        question = question_of(interaction.message)
        if question is None:
            await respond(interaction, "I can no longer read this question; please ask again.")
            return
        try:
            reply = await bot.answer(
                question,
                limit=2 * bot.settings.top_k,
                document=document_of(interaction.message),
                server=interaction.guild_id,
            )
        except QuestionError as exc:
            await respond(interaction, f"I can't answer that: {exc}.")
            return
        await interaction.response.edit_message(**message_kwargs(reply_parts(bot, reply), edit=True))


async def _update(
    interaction: discord.Interaction[Any], tag: str, page: int, widen: tuple[int, int] | None
) -> None:
    """Re-answer the message's question and edit the message in place."""
    bot = cast("ArticleBot", interaction.client)
    k = bot.settings.top_k
    reply = await answer_again(interaction, tag, limit=(page + 2) * k)  # this page, and a next?
    if reply is None:
        return
    if reply.answer.abstained or not reply.answer.excerpts[page * k : (page + 1) * k]:
        await respond(interaction, "There is nothing more to show for this question.")
        return
    await interaction.response.edit_message(**message_kwargs(reply_parts(bot, reply, page, widen), edit=True))


def asker(source: discord.Interaction[Any] | discord.Message) -> int:
    """Who asks: an interaction's user or a message's author (one cooldown for every way to ask)."""
    return source.user.id if isinstance(source, discord.Interaction) else source.author.id


def document_choices(composer: Composer, typed: str, server: int | None = None) -> list[tuple[str, str]]:
    """Up to 25 (name, value) choices for /ask's document option: the documents `server` sees whose
    title or file name hold every word typed, the title shown (within Discord's 100 characters),
    the file name the value; a file name over 100 characters cannot be a value and is left out."""
    corpus = composer.corpus
    choices = []
    for n in corpus.matching(typed, corpus.view(server)):
        doc = corpus.documents[n]
        if len(doc.name) <= render.DOCUMENT_NAME_MAX and "\n" not in doc.name:
            choices.append((render.trim_words(doc.title, CHOICE_MAX), doc.name))
        if len(choices) == CHOICES_MAX:
            break
    return choices


class AskCog(commands.Cog):
    """Questions: /ask, the "Ask the article" message menu, and mentions or DMs answered as replies."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        # Per user, per bot (not per process), shared by /ask, the menu, mentions and DMs; the
        # mapping prunes itself.
        self.cooldowns: commands.CooldownMapping[discord.Interaction[Any] | discord.Message] = (
            commands.CooldownMapping(
                app_commands.Cooldown(bot.settings.ask_cooldown_rate, bot.settings.ask_cooldown_seconds),
                asker,
            )
        )
        # A context menu cannot be declared in a cog with a decorator; it is added to the tree.
        self.ask_message_menu = app_commands.ContextMenu(name=ASK_MESSAGE, callback=self.ask_message)
        self.ask_message_menu.add_check(self.rate_limit)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.ask_message_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(ASK_MESSAGE, type=discord.AppCommandType.message)

    def retry_after(self, source: discord.Interaction[Any] | discord.Message) -> float | None:
        """Seconds until this asker may ask again, or None when they may ask now (counted as asked)."""
        bucket = self.cooldowns.get_bucket(source)
        return bucket.update_rate_limit() if bucket is not None else None

    def rate_limit(self, interaction: discord.Interaction[Any]) -> bool:
        """The asking rate limit; CommandOnCooldown goes to the tree's error handler."""
        retry_after = self.retry_after(interaction)
        if retry_after:
            bucket = self.cooldowns.get_bucket(interaction)
            assert bucket is not None
            raise app_commands.CommandOnCooldown(bucket, retry_after)
        return True

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """/ask is rate limited (the cog's other commands are not)."""
        if interaction.command is not None and interaction.command.name == "ask":
            return self.rate_limit(interaction)
        return True

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="Your question about the article, e.g. How old is Kim Ju-ae?",
        private="Show the answer to you alone (default: everyone in the channel sees it)",
        document="Answer from this article alone: start typing its title",
    )
    async def ask(
        self,
        interaction: discord.Interaction[Any],
        question: app_commands.Range[str, 1, QUESTION_MAX],
        private: bool = False,
        document: app_commands.Range[str, 1, CHOICE_MAX] | None = None,
    ) -> None:
        """Ask a question; get the article's sentences that answer it, cited."""
        await self._answer_interaction(interaction, question, private=private, document=document)

    @ask.autocomplete("document")
    async def _complete_document(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        choices = await asyncio.to_thread(document_choices, self.bot.composer, current, interaction.guild_id)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]

    async def ask_message(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """Answer a message's text as a question, linking to it and pinging nobody."""
        text = fold_space(message.content)
        if not text:
            await respond(interaction, NOTHING_TO_ASK)
            return
        # A message can be longer than a question may be; ask with its opening words.
        question = render.trim_words(text, self.bot.settings.max_question_chars)
        await self._answer_interaction(interaction, question, about=message.jump_url)

    async def _answer_interaction(
        self,
        interaction: discord.Interaction[Any],
        question: str,
        *,
        private: bool = False,
        about: str = "",
        document: str | None = None,
    ) -> None:
        task = asyncio.ensure_future(
            self.bot.answer(
                question, limit=2 * self.bot.settings.top_k, document=document, server=interaction.guild_id
            )
        )
        done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER)
        if not done:
            await interaction.response.defer(thinking=True, ephemeral=private)  # within Discord's 3 s
        try:
            reply = await task
        except QuestionError as exc:
            await respond(interaction, f"I can't answer that: {exc}.")
            return
        parts = message_kwargs(reply_parts(self.bot, reply))
        if about:
            parts["content"] = "\n".join(x for x in (f"About {about}", parts["content"]) if x)
        if interaction.response.is_done():
            await interaction.edit_original_response(**parts)
        else:
            await interaction.response.send_message(**parts, ephemeral=private)

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
            await message.reply(embed=discord.Embed.from_dict(help_embed(self.bot.votes_kept_days)))
            return
        if retry_after := self.retry_after(message):  # the same limit as /ask and the message menu
            await message.reply(f"Slow down: you can ask again in {retry_after:.0f} s.")
            return
        try:  # two pages: is there a next?
            server = message.guild.id if message.guild is not None else None
            reply = await self.bot.answer(question, limit=2 * self.bot.settings.top_k, server=server)
        except QuestionError as exc:
            await message.reply(f"I can't answer that: {exc}.")
            return
        await message.reply(**message_kwargs(reply_parts(self.bot, reply)))


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`): the cog, and the buttons it handles."""
    await bot.add_cog(AskCog(bot))
    bot.add_dynamic_items(MoreContextButton, PageButton, AskAgainButton)
