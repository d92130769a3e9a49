"""The shared corpus (`CORPUS_DB`): a thread that mirrors the `documents` table into this process's
corpus folder as it changes (see `bot.stores.documents`). The folder watcher then reloads as for any
change; with `WATCH_CORPUS=false` this extension asks for the reload itself. A reload publishes what
changed in the folder (see `reload.py`), so an edit made on one machine reaches the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.documents.corpus import SERVER_PREFIX

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

log = logging.getLogger(__name__)


class SharedCorpusCog(commands.Cog):
    """Follows the shared corpus in a thread of its own while the bot runs."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def cog_load(self) -> None:
        mirror = self.bot.mirror
        if mirror is None:
            return
        loop = asyncio.get_running_loop()

        def changed(names: list[str]) -> None:
            # Nobody else will notice the files changed: without the watcher, or a server's article
            # (the watcher watches the operator's folder alone).
            if not self.bot.settings.watch_corpus or any(n.startswith(SERVER_PREFIX) for n in names):
                asyncio.run_coroutine_threadsafe(self._reload(), loop)

        self._thread = threading.Thread(
            target=mirror.follow, args=(self._stop, changed), name="shared-corpus", daemon=True
        )
        self._thread.start()
        log.info("following the shared corpus at %s", mirror.store.where)

    async def _reload(self) -> None:
        cog = self.bot.get_cog("ReloadCog")
        reload = getattr(cog, "reload", None)
        if reload is not None:
            try:
                await reload("shared corpus changed")
            except Exception as exc:  # logged by the reload; the old corpus still answers
                log.debug("reload after a shared change failed: %s", exc)

    async def cog_unload(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`)."""
    await bot.add_cog(SharedCorpusCog(bot))
