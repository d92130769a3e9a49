"""The Discord skin: slash commands, mentions and DMs, persistent buttons, on the same core.

Everything here turns a Discord event into a call on the `Composer` and its `Answer` into a
message; retrieval and answering live in the core and never import discord.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.composer import Answer, Composer, Excerpt, QuestionError
from bot.config import Settings

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
QUESTION_MAX = 250  # fits an embed title whole, so buttons can read it back after a restart
DEFER_AFTER = 1.5  # seconds: answer directly when faster, else defer (Discord allows 3)
CONTEXT_STEPS = 3  # "More context" widens by one sentence a side, this many times
FAILED_MESSAGE = "Sorry, something went wrong answering that. Please try again."


def intents() -> discord.Intents:
    """Guild and DM message events, no privileged intent: Discord sends the content of messages
    that mention the bot, and of DMs, without the message-content intent."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    return chosen


class ArticleTree(app_commands.CommandTree[Any]):
    """Cooldowns and failures reach the user as a short ephemeral message; the bot goes on."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.CommandOnCooldown):
            text = f"Slow down: you can ask again in {error.retry_after:.0f} s."
        else:
            log.error("command failed", exc_info=error)
            text = FAILED_MESSAGE
        await respond(interaction, text)


class ArticleBot(commands.AutoShardedBot):
    """The bot: its composer and settings arrive as constructor arguments."""

    def __init__(self, composer: Composer, settings: Settings) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: mentions are questions (on_message)
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=settings.shard_count,
            help_command=None,
            tree_cls=ArticleTree,
        )
        self.composer = composer
        self.settings = settings
        self.corpus_tag = composer.corpus.content_hash[:8]

    async def setup_hook(self) -> None:
        await self.add_cog(AskCog(self))
        self.add_dynamic_items(MoreContextButton, PageButton)
        if self.settings.discord_guild_id is not None:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.discord_guild_id)

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))

    async def answer(self, question: str, limit: int | None = None) -> Answer:
        """The composer's answer, computed off the event loop (large corpora can take a while)."""
        started = time.perf_counter()
        answer = await asyncio.to_thread(self.composer.answer, question, limit)
        top = answer.excerpts[0] if answer.excerpts else None
        log.info(
            "answered in %.1f ms abstained=%s top=%s",
            (time.perf_counter() - started) * 1000,
            answer.abstained,
            render.where(top) if top else "-",
        )
        return answer

    async def on_message(self, message: discord.Message) -> None:
        """A mention in a channel, or any DM, is a question; the answer comes as a reply."""
        if message.author.bot or self.user is None:
            return
        mention = re.compile(rf"<@!?{self.user.id}>")
        is_dm = isinstance(message.channel, discord.DMChannel)
        if not is_dm and self.user not in message.mentions and not mention.search(message.content):
            return
        question = mention.sub(" ", message.content).strip()
        if not question:
            await message.reply(embed=discord.Embed.from_dict(help_embed()))
            return
        try:
            answer = await self.answer(question, limit=2 * self.settings.top_k)  # 2 pages: is there a next?
        except QuestionError as exc:
            await message.reply(f"I can't answer that: {exc}.")
            return
        await message.reply(**message_kwargs(reply_parts(self, answer)))


async def respond(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral message, as the first response or a follow-up."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def reply_parts(
    bot: ArticleBot, answer: Answer, page: int = 0, widen: tuple[int, int] | None = None
) -> tuple[str | None, discord.Embed, discord.ui.View | None]:
    """Content, embed and buttons for an answer: one page of `top_k` excerpts, and excerpt
    `widen[0]` of it shown with `widen[1]` sentences of context a side."""
    if answer.abstained:
        return (
            render.abstain_message(answer),
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


def message_kwargs(parts: tuple[str | None, discord.Embed, discord.ui.View | None]) -> dict[str, Any]:
    """Keyword arguments for send/reply/edit; no view at all when there are no buttons."""
    content, embed, view = parts
    kwargs: dict[str, Any] = {"content": content, "embed": embed}
    if view is not None:
        kwargs["view"] = view
    return kwargs


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


def _question_of(interaction: discord.Interaction[Any]) -> str | None:
    """The question a button's message answers, read back from the embed title."""
    message = interaction.message
    if message is None or not message.embeds or not message.embeds[0].title:
        return None
    return render.unescape_markdown(message.embeds[0].title)


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
        bot = interaction.client
        assert isinstance(bot, ArticleBot)
        await _update(interaction, bot, self.tag, self.page, widen=(self.n, self.radius))


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
        bot = interaction.client
        assert isinstance(bot, ArticleBot)
        await _update(interaction, bot, self.tag, self.page, widen=None)


async def _update(
    interaction: discord.Interaction[Any], bot: ArticleBot, tag: str, page: int, widen: tuple[int, int] | None
) -> None:
    """Re-answer the message's question and edit the message in place."""
    question = _question_of(interaction)
    if tag != bot.corpus_tag or question is None:
        await respond(interaction, "The articles have changed since this answer; please ask again.")
        return
    k = bot.settings.top_k
    answer = await bot.answer(question, limit=(page + 2) * k)  # this page, and is there a next?
    if answer.abstained or not answer.excerpts[page * k : (page + 1) * k]:
        await respond(interaction, "There is nothing more to show for this question.")
        return
    await interaction.response.edit_message(**message_kwargs(reply_parts(bot, answer, page, widen)))


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


class AskCog(commands.Cog):
    """The slash commands."""

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

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        """List the articles I answer from: title, author, source, date, size."""
        await interaction.response.send_message(embed=discord.Embed.from_dict(about_embed(self.bot.composer)))

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """How to ask me questions, with examples."""
        await interaction.response.send_message(embed=discord.Embed.from_dict(help_embed()), ephemeral=True)

    @app_commands.command(name="quote")
    @app_commands.describe(citation="A citation from an answer, e.g. article.txt ¶2.3 or ¶2.3")
    async def quote(
        self, interaction: discord.Interaction[Any], citation: app_commands.Range[str, 1, 200]
    ) -> None:
        """Show a cited sentence in its paragraph."""
        embed = quote_embed(self.bot.composer, citation)
        if embed is None:
            await respond(
                interaction, f"No sentence at {render.escape_markdown(citation)}; try a citation like ¶2.3."
            )
            return
        await interaction.response.send_message(embed=discord.Embed.from_dict(embed))


_CITATION = re.compile(r"^\s*(?:(?P<doc>.+?)\s+)?¶?\s*(?P<p>\d+)\.(?P<s>\d+)\s*$")


def quote_embed(composer: Composer, citation: str) -> dict[str, Any] | None:
    """The sentence at a citation, in bold inside its paragraph; None if there is none."""
    m = _CITATION.match(citation)
    if m is None:
        return None
    docs = composer.corpus.documents
    name = m["doc"] or (docs[0].name if len(docs) == 1 else None)
    if name is None:
        return None
    found = composer.corpus.find(name, int(m["p"]), int(m["s"]))
    if found is None:
        return None
    parts = []
    for j in composer.corpus.paragraph_range(found):
        text = render.escape_markdown(composer.corpus.sentence(j).text)
        parts.append(f"**{text}**" if j == found else text)
    sentence = composer.corpus.sentence(found)
    return {
        "title": render.trim_words(f"{sentence.document.title} {sentence.citation}", render.TITLE_MAX),
        "description": render.trim_sentences(" ".join(parts), render.DESCRIPTION_MAX),
        "footer": {"text": f"{sentence.document.name} ¶{sentence.citation.paragraph}"},
    }


def about_embed(composer: Composer) -> dict[str, Any]:
    """The corpus: each document's metadata, sentence count and content hash."""
    fields = []
    for doc in composer.corpus.documents[: render.FIELDS_MAX]:
        lines = [
            f"by {render.escape_markdown(doc.author)}" if doc.author else None,
            doc.source_url,
            f"published {doc.published}" if doc.published else None,
            f"{doc.sentence_count} sentences · `{doc.name}` · sha256 `{doc.content_hash[:12]}`",
        ]
        fields.append(
            {
                "name": render.trim_words(doc.title, render.FIELD_NAME_MAX),
                "value": render.trim_words("\n".join(x for x in lines if x), render.FIELD_VALUE_MAX),
            }
        )
    count = len(composer.corpus.documents)
    more = f" (first {render.FIELDS_MAX} shown)" if count > render.FIELDS_MAX else ""
    return {
        "title": "The articles I answer from",
        "description": f"{count} document(s), {len(composer.corpus)} sentences{more}.",
        "fields": fields,
    }


# -- running -------------------------------------------------------------------------------------


def main(settings: Settings, *, sync_globally: bool = False) -> int:
    """`python -m bot run` (and `sync`): one line and an exit code for every failure."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print("error: DISCORD_TOKEN is not set; put it in .env (see .env.example)", file=sys.stderr)
        return EXIT_USAGE
    token = settings.discord_token.get_secret_value().strip()  # the one place the secret is read
    from bot import engine
    from bot.corpus import CorpusError

    try:
        composer = engine.load(settings, progress=engine.log_progress())
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    bot = ArticleBot(composer, settings)
    runner = _sync(bot, token) if sync_globally else _run(bot, token)
    try:
        asyncio.run(runner)
    except discord.LoginFailure:
        print("error: Discord rejected the token in DISCORD_TOKEN", file=sys.stderr)
        return EXIT_FAILED
    except discord.PrivilegedIntentsRequired:
        print("error: Discord refused the intents this bot asked for", file=sys.stderr)
        return EXIT_FAILED
    except (aiohttp.ClientError, OSError, discord.GatewayNotFound, discord.ConnectionClosed) as exc:
        print(f"error: cannot reach Discord ({type(exc).__name__})", file=sys.stderr)
        return EXIT_FAILED
    except discord.HTTPException as exc:
        print(f"error: Discord answered {exc.status} ({exc.text or 'no details'})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    return EXIT_OK


async def _run(bot: ArticleBot, token: str) -> None:
    """Run until closed; SIGTERM and SIGINT close the bot cleanly."""
    loop = asyncio.get_running_loop()
    stop: Callable[[], Awaitable[None]] = bot.close
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(stop()))
    async with bot:
        await bot.start(token)
    log.info("stopped")


async def _sync(bot: ArticleBot, token: str) -> None:
    """Log in over HTTP only and sync the commands globally."""
    async with bot:
        await bot.login(token)  # runs setup_hook, which adds the commands
        synced = await bot.tree.sync()
        print(f"synced {len(synced)} commands globally (Discord may take up to an hour to show them)")
