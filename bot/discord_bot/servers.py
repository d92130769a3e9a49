"""Each server's own articles: `/add` (a web address or an attached file) and `/remove`, for the
members allowed to manage the server (Discord's default; a server can grant them to others in its
own settings). What is added is seen by that server alone (`bot.documents.servers`); the bot
reloads its one index at once, so the article is answerable within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.answer import render
from bot.discord_bot.views import CHOICE_MAX, CHOICES_MAX, respond
from bot.documents import servers
from bot.documents.add import HTML_SUFFIXES, TEXT_SUFFIXES, Added, SourceError, file_stem
from bot.documents.corpus import DocumentNotFoundError, shown_name
from bot.documents.document import TITLE_PARAGRAPH

if TYPE_CHECKING:
    from bot.answer.composer import Composer
    from bot.discord_bot.app import ArticleBot

log = logging.getLogger(__name__)

HOUR = 3600.0
URL_MAX = 2000


def _server_of(interaction: discord.Interaction[Any]) -> int:
    """The server an interaction comes from (the commands are for servers alone: never a DM)."""
    assert interaction.guild_id is not None  # app_commands.guild_only
    return interaction.guild_id


def added_embed(composer: Composer, name: str, updated: bool) -> dict[str, Any]:
    """What was added, for the moderator to check: title, author, outlet, date, sentences, and the
    citation of its first sentence."""
    corpus = composer.corpus
    position = next(n for n, d in enumerate(corpus.documents) if d.name == name)
    doc = corpus.documents[position]
    start, end = composer.ranker.sentences_of(position)
    body = [i for i in range(start, end) if corpus.sentence(i).citation.paragraph != TITLE_PARAGRAPH]
    lines = [
        f"by {render.escape_markdown(doc.author)}" if doc.author else "no author stated",
        render.escape_markdown(doc.outlet) if doc.outlet else "no outlet stated",
        f"published {doc.published}" if doc.published else "no date stated",
        f"{doc.sentence_count} sentences · `{shown_name(doc.name)}`",
    ]
    if body:
        first = corpus.sentence(body[0])
        lines.append(
            f"First sentence, {shown_name(doc.name)} {first.citation}: {render.escape_markdown(first.text)}"
        )
    return {
        "title": render.trim_words(f"{'Updated' if updated else 'Added'}: {doc.title}", render.TITLE_MAX),
        "description": render.trim_words("\n".join(lines), render.DESCRIPTION_MAX),
        "footer": {"text": "Seen in this server alone. /remove takes it away."},
    }


def own_choices(composer: Composer, server: int, typed: str) -> list[tuple[str, str]]:
    """Up to 25 (title, name) choices for /remove: the server's own articles matching what was typed."""
    corpus = composer.corpus
    choices = []
    for n in corpus.matching(typed, corpus.owners == server):
        doc = corpus.documents[n]
        if len(doc.name) <= CHOICE_MAX:
            choices.append((render.trim_words(doc.title, CHOICE_MAX), doc.name))
    return choices[:CHOICES_MAX]


class ServersCog(commands.Cog):
    """/add and /remove: a server's own articles."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        # Per server: a server's moderators together may add so many pages an hour (each is fetched
        # and the index rebuilt).
        self.adds: commands.CooldownMapping[discord.Interaction[Any]] = commands.CooldownMapping(
            app_commands.Cooldown(bot.settings.server_adds_per_hour, HOUR), _server_of
        )
        self._sweeper: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_hourly(), name="server-retention")

    async def cog_unload(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    async def _sweep_hourly(self) -> None:
        """Delete the articles of servers left more than SERVER_RETENTION_DAYS ago: at start, then hourly."""
        while True:
            try:
                await self.sweep()
            except Exception:  # a folder that cannot be deleted must not stop the bot; tried again
                log.exception("could not delete the articles of servers the bot left")
            await asyncio.sleep(HOUR)

    async def sweep(self) -> list[int]:
        """Purge the servers whose retention ran out, and reload when any had articles."""
        settings = self.bot.settings
        due = await asyncio.to_thread(servers.expired, settings, time.time())
        for server in due:
            await asyncio.to_thread(servers.purge, settings, server)
        if due:
            await self._reload(f"{len(due)} server(s) left {settings.server_retention_days} days ago")
        return due

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Left a server (removed, or the server deleted): its articles go after the retention."""
        await asyncio.to_thread(servers.left, self.bot.settings, guild.id, time.time())
        if self.bot.settings.server_retention_days == 0:
            await self.sweep()

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Invited back before the retention ran out: the server's articles are kept."""
        await asyncio.to_thread(servers.returned, self.bot.settings, guild.id)

    async def _reload(self, why: str) -> str | None:
        """Swap in the corpus with the change; why it failed, if it did."""
        cog = self.bot.get_cog("ReloadCog")
        reload = getattr(cog, "reload", None)
        if reload is None:
            return "the reloading extension is not loaded"
        try:
            await reload(why)
        except Exception as exc:  # ReloadError: logged by the reload; the old corpus still answers
            return str(exc)
        return None

    @app_commands.command(name="add")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(
        url="The article's web address (http:// or https://)",
        file="The article as a file: a saved web page (.html, .htm), a .md or a .txt file",
    )
    async def add(
        self,
        interaction: discord.Interaction[Any],
        url: app_commands.Range[str, 1, URL_MAX] | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        """Add an article for this server alone, from a web address or a file."""
        server = _server_of(interaction)
        if (url is None) == (file is None):
            await respond(interaction, "Give the article's `url:` or attach it as `file:` (one of them).")
            return
        if url is not None and not url.strip().lower().startswith(("http://", "https://")):
            await respond(interaction, "Not added: only http:// and https:// addresses can be fetched.")
            return
        if file is not None:
            suffix = Path(file.filename).suffix.lower()
            if suffix not in HTML_SUFFIXES + TEXT_SUFFIXES:
                await respond(
                    interaction,
                    "Not added: the file must be a saved web page (.html, .htm), a .md or a .txt file.",
                )
                return
            if file.size > self.bot.settings.fetch_max_bytes:
                await respond(
                    interaction,
                    f"Not added: the file is larger than the {self.bot.settings.fetch_max_bytes:,}-byte "
                    "limit (FETCH_MAX_BYTES).",
                )
                return
        bucket = self.adds.get_bucket(interaction)
        if bucket is not None and (retry := bucket.update_rate_limit()):
            await respond(
                interaction,
                f"This server has added {self.bot.settings.server_adds_per_hour} articles in the last hour, "
                f"the most it may (SERVER_ADDS_PER_HOUR); you can add another in {retry / 60:.0f} min.",
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            if url is not None:
                added = await asyncio.to_thread(servers.add, url.strip(), self.bot.settings, server)
            else:
                assert file is not None
                added = await self._add_file(file, server)
        except (SourceError, servers.LimitError) as exc:
            await interaction.edit_original_response(content=f"Not added: {exc}."[:2000])
            return
        except OSError as exc:
            log.error("server %d: cannot write its article: %s", server, exc)
            await interaction.edit_original_response(content="Not added: the bot cannot store it now.")
            return
        name = servers.corpus_name(server, added.path.name)
        failed = await self._reload(f"/add in server {server}")
        composer = self.bot.composer
        if failed is not None or all(d.name != name for d in composer.corpus.documents):
            why = failed or next(
                (p.reason for p in composer.corpus.problems if p.name == name), "it could not be read"
            )
            await interaction.edit_original_response(content=f"Stored, but not answerable yet: {why}."[:2000])
            return
        embed = added_embed(composer, name, added.updated)
        await interaction.edit_original_response(embed=discord.Embed.from_dict(embed))

    async def _add_file(self, file: discord.Attachment, server: int) -> Added:
        """An attachment added as a saved file of its kind, named after its own name."""
        suffix = Path(file.filename).suffix.lower()
        try:
            data = await file.read()
        except discord.HTTPException as exc:
            raise SourceError(f"the attachment could not be downloaded (HTTP {exc.status})") from None
        with tempfile.TemporaryDirectory(prefix="article-bot-add-") as tmp:
            path = Path(tmp) / f"{file_stem(None, file.filename)}{suffix}"
            path.write_bytes(data)
            return await asyncio.to_thread(servers.add, str(path), self.bot.settings, server)

    @app_commands.command(name="remove")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.describe(document="One of this server's own articles: start typing its title")
    async def remove(
        self, interaction: discord.Interaction[Any], document: app_commands.Range[str, 1, CHOICE_MAX]
    ) -> None:
        """Remove an article this server added."""
        server = _server_of(interaction)
        corpus = self.bot.composer.corpus
        try:  # a title typed in full, not picked from the list, names it too
            name = corpus.documents[corpus.resolve(document, corpus.owners == server)].name
        except DocumentNotFoundError:
            name = document
        try:
            removed = await asyncio.to_thread(servers.remove, self.bot.settings, server, name)
        except LookupError:
            await respond(
                interaction,
                f"{render.escape_markdown(document)} is not one of the articles this server added "
                "(the articles every server shares cannot be removed from Discord).",
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        failed = await self._reload(f"/remove in server {server}")
        note = "" if failed is None else f" (the bot still answers from it until it reloads: {failed})"
        await interaction.edit_original_response(content=f"Removed `{removed}`{note}."[:2000])

    @remove.autocomplete("document")
    async def _complete_own(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        choices = own_choices(self.bot.composer, interaction.guild_id, current)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`)."""
    await bot.add_cog(ServersCog(bot))
