"""Reloading: the corpus folder is watched and reloaded once changes settle; `/reload` forces it.

The new corpus is built in a worker thread (`engine.load(..., previous=...)`, which reuses what it
can of the old one) while the old one keeps answering; then `bot.composer` is swapped in one
assignment on the event loop. A question in flight keeps the composer it started with (see
`ArticleBot.answer`), so none fails or mixes two corpora. A document an edit breaks (not UTF-8,
emptied) keeps answering from its last good version, and the reply says so. A reload that fails
(no document left to load, the folder gone) keeps the old corpus and says why, in the log and in
`/reload`'s reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from watchfiles import DefaultFilter, awatch

from bot import engine
from bot.discord_bot.views import respond
from bot.documents.corpus import CorpusError
from bot.documents.document import Problem
from bot.stores.database import StoreError

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

log = logging.getLogger(__name__)

NOT_OWNER = "Only the bot's owner (or its team's admins and developers) can reload the articles."
_NAMES_SHOWN = 10  # documents named in /reload's reply, per kind of change
_MAX_GROUP_SECONDS = 30.0  # a folder that never stops changing is still reloaded this often (at least)


class ReloadError(Exception):
    """The corpus could not be reloaded; the old one still answers. The message says why."""


@dataclass(frozen=True)
class Reloaded:
    """What a reload changed, and how the corpus stands now."""

    changes: engine.Changes
    documents: int
    sentences: int
    seconds: float
    problems: tuple[Problem, ...] = ()

    def summary(self) -> str:
        """A short report, for /reload's reply."""
        lines = []
        if not self.changes:
            lines.append(f"No document changed ({_duration(self.seconds)}).")
        else:
            parts = [
                f"{len(names)} {kind}{_names(names)}"
                for kind, names in (
                    ("added", self.changes.added),
                    ("removed", self.changes.removed),
                    ("changed", self.changes.changed),
                )
            ]
            lines.append(f"Reloaded in {_duration(self.seconds)}: " + ", ".join(parts) + ".")
        lines.append(f"{self.documents} document(s), {self.sentences:,} sentences now.")
        kept = [p for p in self.problems if p.kept]
        skipped = [p for p in self.problems if not p.kept]
        if kept:  # broken by an edit: the document still answers as it was
            lines.append(
                "Still answering from the last good version of "
                + "; ".join(f"`{p.name}` ({p.reason})" for p in kept[:_NAMES_SHOWN])
                + "."
            )
        if skipped:
            lines.append("Skipped: " + "; ".join(map(str, skipped[:_NAMES_SHOWN])))
        return "\n".join(lines)[:2000]


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return ""
    shown = ", ".join(f"`{n}`" for n in names[:_NAMES_SHOWN])
    more = f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else ""
    return f" ({shown}{more})"


class ReloadCog(commands.Cog):
    """/reload, and the watcher that reloads when the corpus files change."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        self._one_at_a_time = asyncio.Lock()
        self._stop = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        if self.bot.settings.watch_corpus:
            self._watcher = asyncio.create_task(self._watch(), name="corpus-watcher")

    async def cog_unload(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)

    async def reload(self, why: str) -> Reloaded:
        """Build the corpus anew off the loop and swap it in; ReloadError keeps the old one."""
        async with self._one_at_a_time:
            old = self.bot.composer
            started = time.perf_counter()
            try:
                new = await asyncio.to_thread(
                    engine.load, self.bot.settings, progress=engine.log_progress(), previous=old
                )
            except (CorpusError, OSError) as exc:
                log.error("reload (%s) failed, still answering from the corpus as it was: %s", why, exc)
                raise ReloadError(str(exc)) from None
            changes = engine.changes(old.corpus, new.corpus)
            if changes:
                self.bot.composer = new  # the swap: one assignment on the loop; answers in flight keep `old`
                self.bot.fill_vectors()  # the new corpus's missing vectors (changed files only)
            await self._publish(why)
            result = Reloaded(
                changes,
                len(self.bot.composer.corpus.documents),
                len(self.bot.composer.corpus),
                time.perf_counter() - started,
                tuple(new.corpus.problems),
            )
            log.info(
                "reload (%s): %d added, %d removed, %d changed; %d sentences now, in %.2f s",
                why,
                len(changes.added),
                len(changes.removed),
                len(changes.changed),
                result.sentences,
                result.seconds,
            )
            return result

    async def _publish(self, why: str) -> None:
        """With a shared corpus (CORPUS_DB), send what changed in this folder to the other processes."""
        mirror = self.bot.mirror
        if mirror is None:
            return
        try:
            published = await asyncio.to_thread(mirror.publish)
        except (StoreError, OSError) as exc:  # the folder still answers; the next reload tries again
            log.error("reload (%s): could not publish to the shared corpus: %s", why, exc)
            return
        published.log_unsent(f"reload ({why})")
        if published.sent:
            log.info("reload (%s): published %s to the shared corpus", why, ", ".join(published.sent[:10]))

    async def _watch(self) -> None:
        """Reload each time changes in the corpus folder settle; never dies of a failed reload."""
        folder = self.bot.settings.corpus_dir
        settle_ms = int(self.bot.settings.reload_settle_seconds * 1000)
        log.info("watching %s for changes", folder)
        try:
            async for _ in awatch(
                folder,
                watch_filter=DefaultFilter(),  # editors' swap files, .git, caches
                step=settle_ms,  # changes are grouped until the folder is quiet this long
                debounce=max(int(_MAX_GROUP_SECONDS * 1000), 2 * settle_ms),
                stop_event=self._stop,
            ):
                with contextlib.suppress(ReloadError):  # logged; the next change tries again
                    await self.reload("files changed")
        except asyncio.CancelledError:
            raise
        except Exception:  # the watcher must not take the bot down (the folder vanished, say)
            log.exception("stopped watching %s; /reload still works", folder)

    @app_commands.command(name="reload")
    @app_commands.default_permissions(manage_guild=True)
    async def reload_command(self, interaction: discord.Interaction[Any]) -> None:
        """Reload the articles now (the bot's owner only)."""
        if not await self.bot.is_owner(interaction.user):
            await respond(interaction, NOT_OWNER)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # a large corpus takes a while
        try:
            result = await self.reload("/reload")
        except ReloadError as exc:
            await interaction.edit_original_response(
                content=f"Reload failed; still answering from the articles as they were: {exc}"[:2000]
            )
            return
        await interaction.edit_original_response(content=result.summary())


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`)."""
    await bot.add_cog(ReloadCog(bot))
