"""The bot class and its start-up: `python -m bot run` and `python -m bot sync`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import engine
from bot.answer import render
from bot.answer.composer import Composer
from bot.config import Settings
from bot.discord_bot.metrics import Metrics, MetricsError
from bot.discord_bot.views import FAILED_MESSAGE, Reply, corpus_tag, respond
from bot.discord_bot.votes import Votes
from bot.documents.corpus import shown_name
from bot.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.stores.documents import Mirror

log = logging.getLogger(__name__)

# One extension a feature, loaded by name: each module's `setup` adds its cog and buttons, and the
# features depend on the bot's interface (`views.Answering`, this class's attributes), so this
# module imports none of them.
EXTENSIONS = (
    "bot.discord_bot.ask",
    "bot.discord_bot.reference",
    "bot.discord_bot.reload",
    "bot.discord_bot.feedback",
    "bot.discord_bot.shared",
    "bot.discord_bot.servers",
)


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
    """The bot: its composer, settings, vote store and shared corpus arrive as constructor arguments.

    Without a vote store (`votes=None`) answers carry no 👍/👎 buttons; without a `mirror` the corpus
    folder is this process's own (no `CORPUS_DB`).
    """

    def __init__(
        self,
        composer: Composer,
        settings: Settings,
        *,
        votes: Votes | None = None,
        mirror: Mirror | None = None,
    ) -> None:
        # Only these shards run in this process (the others in other processes); None: all of them.
        shards: dict[str, Any] = {"shard_ids": list(settings.shard_ids)} if settings.shard_ids else {}
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: mentions are questions (AskCog)
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=settings.shard_count,
            help_command=None,
            tree_cls=ArticleTree,
            **shards,
        )
        self.composer = composer
        self.settings = settings
        self.votes = votes
        self.mirror = mirror
        self._filling: tuple[threading.Thread, threading.Event] | None = None
        self.metrics = Metrics(sentences=lambda: len(self.composer.corpus), guilds=lambda: len(self.guilds))

    @property
    def votes_kept_days(self) -> int | None:
        """How long votes are kept, for /help; None when none are."""
        return self.settings.feedback_retention_days if self.votes is not None else None

    @property
    def corpus_tag(self) -> str:
        """The tag of the corpus answering now (buttons from another corpus are out of date)."""
        return corpus_tag(self.composer)

    def tag_of(self, server: int | None) -> str:
        """The tag of the corpus a server sees now (`views.corpus_tag`)."""
        return corpus_tag(self.composer, server)

    async def setup_hook(self) -> None:
        if self.shard_ids is not None:
            log.info(
                "this process runs shards %s of %s", ",".join(map(str, self.shard_ids)), self.shard_count
            )
        if self.settings.metrics_port is not None:
            await self.metrics.serve(self.settings.metrics_host, self.settings.metrics_port, self.connected)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.fill_vectors()
        if self.settings.discord_guild_id is not None:
            guild = discord.Object(id=self.settings.discord_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.discord_guild_id)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: a mention is a question, which AskCog's listener answers."""

    async def on_ready(self) -> None:
        log.info("ready as %s in %d guilds", self.user, len(self.guilds))

    def fill_vectors(self) -> None:
        """Compute, in a background thread of its own, the sentence vectors that the corpus
        answering now still lacks (a fill for an earlier corpus stops); answers go on meanwhile."""
        self._stop_filling()
        stop = threading.Event()
        thread = threading.Thread(
            target=engine.fill_vectors, args=(self.composer, stop), name="sentence-vectors", daemon=True
        )
        thread.start()
        self._filling = (thread, stop)

    def _stop_filling(self) -> None:
        if self._filling is not None:
            self._filling[1].set()
            self._filling = None

    def connected(self) -> bool:
        """Whether the bot is connected to Discord and ready (for /healthz)."""
        return self.is_ready() and not self.is_closed()

    async def answer(
        self,
        question: str,
        limit: int | None = None,
        *,
        asked: bool = True,
        document: str | None = None,
        server: int | None = None,
    ) -> Reply:
        """The composer's answer, computed off the event loop (large corpora can take a while);
        from `document` alone (a file name or title) when one is given; from what `server`'s
        members see (None: a DM, the operator's articles alone).

        `asked` is False when a button re-reads an answer already given: it is not counted again.
        """
        composer = self.composer  # a reload may swap it meanwhile; this answer keeps its own
        started = time.perf_counter()
        pinned = composer.pinned(document, server)
        answer = await asyncio.to_thread(composer.answer, question, limit, document, server)
        seconds = time.perf_counter() - started
        if asked:
            self.metrics.answered(seconds, abstained=answer.abstained)
            top = answer.excerpts[0] if answer.excerpts else None
            log.info(
                "answered in %.1f ms abstained=%s top=%s",
                seconds * 1000,
                answer.abstained,
                render.where(top) if top else "-",
            )
        name = None if pinned is None else shown_name(composer.corpus.documents[pinned].name)
        return Reply(composer, answer, name, server)

    async def close(self) -> None:
        """Disconnect, stop serving metrics, and close the vote store once its last vote is in."""
        await super().close()
        await self.metrics.stop()
        if self._filling is not None:
            thread, _ = self._filling
            self._stop_filling()
            await asyncio.to_thread(thread.join, 10)  # it stops between batches of sentences
        semantic = self.composer.ranker.semantic
        if semantic is not None:  # keep what was computed for the next start
            await asyncio.to_thread(semantic.vectors.flush)
        if self.votes is not None:
            await asyncio.to_thread(self.votes.close)
            self.votes = None
        if self.mirror is not None:  # the listener thread stopped with its extension
            await asyncio.to_thread(self.mirror.store.close)


def main(settings: Settings, *, sync_globally: bool = False) -> int:
    """`python -m bot run` (and `sync`): one line and an exit code for every failure."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        print("error: DISCORD_TOKEN is not set; put it in .env (see .env.example)", file=sys.stderr)
        return EXIT_USAGE
    token = settings.discord_token.get_secret_value().strip()  # the one place the secret is read
    if settings.log_level == "DEBUG":
        log.warning(
            "LOG_LEVEL=DEBUG: discord.py logs whole gateway events, user names and message text included"
        )
    from bot.documents.corpus import CorpusError
    from bot.stores.database import StoreError
    from bot.stores.documents import open_mirror
    from bot.stores.feedback import open_feedback

    if sync_globally:  # logs in over HTTP only: nothing to serve, watch or store
        settings = settings.model_copy(
            update={"metrics_port": None, "watch_corpus": False, "corpus_db": None}
        )
    mirror: Mirror | None = None
    votes: Votes | None = None
    try:
        # Both databases first: one that cannot be used is said at once, not after a long load, and
        # before anything of the shared corpus is written into the folder.
        if not sync_globally:
            votes = Votes(open_feedback(settings.feedback_db.get_secret_value()))
        if settings.corpus_db is not None:  # catch up with the shared corpus before loading it
            mirror = open_mirror(settings)
            mirror.publish().log_unsent("start")  # and share what only this folder has
        composer = engine.load(settings, progress=engine.log_progress())
    except (CorpusError, StoreError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if mirror is not None:
            mirror.store.close()
        if votes is not None:
            votes.close()
        return EXIT_USAGE
    bot = ArticleBot(composer, settings, votes=votes, mirror=mirror)
    runner = _sync(bot, token) if sync_globally else _run(bot, token)
    try:
        asyncio.run(runner)
    except MetricsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
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
