"""Helpers for the Discord tests: settings, reading what the fake received, bot processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot.answer import render
from bot.config import Settings
from tests.conftest import CORPUS, ROOT
from tests.fake_discord import DEFAULT_TOKEN, FakeDiscord

PRIVILEGED = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content
EPHEMERAL = 1 << 6


def embed_length(embed: dict[str, Any]) -> int:
    """Characters that count towards Discord's 6000 per embed."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields", []))
    return total


def bot_settings(**extra: Any) -> Settings:
    """Settings for an in-process bot: the shipped corpus, no cache, no .env."""
    values: dict[str, Any] = {
        "corpus_dir": CORPUS,
        "use_cache": False,
        "ask_cooldown_rate": 5,
        "watch_corpus": False,  # the reload tests turn it on, over a folder of their own
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def embed_of(data: dict[str, Any]) -> dict[str, Any]:
    """The one embed of a message body."""
    embeds = data.get("embeds") or []
    assert len(embeds) == 1
    embed: dict[str, Any] = embeds[0]
    return embed


def within_limits(data: dict[str, Any]) -> None:
    """Every Discord limit a message body must keep."""
    assert len(data.get("content") or "") <= render.CONTENT_MAX
    for embed in data.get("embeds") or []:
        assert len(embed.get("title", "")) <= render.TITLE_MAX
        assert len(embed.get("description", "")) <= render.DESCRIPTION_MAX
        assert len(embed.get("fields", [])) <= render.FIELDS_MAX
        assert all(len(f["value"]) <= render.FIELD_VALUE_MAX for f in embed.get("fields", []))
        assert embed_length(embed) <= render.EMBED_TOTAL_MAX
    for row in data.get("components") or []:
        for button in row["components"]:
            assert len(button.get("label") or "") <= render.LABEL_MAX
            assert len(button.get("custom_id", "")) <= render.CUSTOM_ID_MAX


def custom_ids(data: dict[str, Any]) -> list[str]:
    """The custom_id of every button of a message body, in order."""
    return [b["custom_id"] for row in data.get("components") or [] for b in row["components"]]


def buttons(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A message body's buttons by custom_id."""
    return {b["custom_id"]: b for row in data.get("components") or [] for b in row["components"]}


async def ask(fake: FakeDiscord, question: str, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send `/ask` and wait for the answer: the message it made (to click on) and the callback data."""
    handle = await fake.send_slash("ask", {"question": question, **options})
    data: dict[str, Any] = (await fake.wait_response(handle))["data"]
    assert handle.message is not None
    return handle.message, data


def bot_environ(fake_env: dict[str, str], tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of `python -m bot` pointed at a fake Discord (through run_patched.py)."""
    environ = {**os.environ, **fake_env, "DISCORD_TOKEN": DEFAULT_TOKEN, "CORPUS_DIR": str(CORPUS)}
    for name in ("DISCORD_GUILD_ID", "SHARD_COUNT", "SHARD_IDS", "METRICS_PORT"):
        environ.pop(name, None)  # only where a test asks for it
    environ.update(
        {
            "CACHE_DIR": str(tmp_path / "cache"),
            "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"),
            "PYTHONPATH": str(ROOT),
            **env,  # a test's own CORPUS_DIR, FEEDBACK_DB, ...
        }
    )
    return environ


def bot_process(
    fake: FakeDiscord,
    tmp_path: Path,
    command: str = "run",
    *,
    sync_guild: bool = True,
    log: Path | None = None,
    **env: str,
) -> subprocess.Popen[str]:
    """`python -m bot run` (or another command) as a real process against the fake; with
    `sync_guild` its commands are synced to the fake's first guild at start-up. Its output is piped
    (read it with `communicate`), or with `log` written to that file (stderr and stdout together)."""
    if sync_guild:
        env.setdefault("DISCORD_GUILD_ID", str(fake.guild_id))
    with contextlib.ExitStack() as files:
        out = subprocess.PIPE if log is None else files.enter_context(log.open("w", encoding="utf-8"))
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "run_patched.py"), command],
            cwd=tmp_path,
            env=bot_environ(fake.env(), tmp_path, **env),
            stdout=out,
            stderr=subprocess.PIPE if log is None else subprocess.STDOUT,
            text=True,
        )


class BotProcesses:
    """Bot processes against one fake, each logging to a file of its own, so that a wait that fails
    says what every process logged and how it ended (a failure that names only the fake's last
    requests cannot tell a slow start from a process that died or hung); stopped on exit.

    A file, not a pipe: it can be read while the process runs, and a process never stalls on a
    full pipe that nobody reads."""

    def __init__(self, fake: FakeDiscord, tmp_path: Path) -> None:
        self.fake, self.tmp_path = fake, tmp_path
        self.logs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self._stopped: set[str] = set()

    def start(self, name: str, **env: str) -> subprocess.Popen[str]:
        """`python -m bot run` with these settings, logging to `<name>.log`."""
        self.logs[name] = self.tmp_path / f"{name}.log"
        self.processes[name] = bot_process(self.fake, self.tmp_path, log=self.logs[name], **env)
        return self.processes[name]

    def log_of(self, name: str) -> str:
        """What a process logged so far."""
        return self.logs[name].read_text(encoding="utf-8", errors="replace")

    def report(self, lines: int = 25) -> str:
        """Each process's exit status (None: running) and the last lines it logged."""
        parts = []
        for name, process in self.processes.items():
            tail = "\n".join(self.log_of(name).splitlines()[-lines:])
            parts.append(f"--- {name} (exit status {process.poll()}), its last {lines} lines:\n{tail}")
        return "\n".join(parts)

    async def wait_ready(self, count: int, timeout: float = 60) -> None:
        """`fake.wait_ready`, failing at once when a process not stopped here ends first; a failure
        says what each process logged."""
        ready = asyncio.ensure_future(self.fake.wait_ready(timeout, count=count))
        try:
            while not ready.done():
                ended = [
                    n for n, p in self.processes.items() if n not in self._stopped and p.poll() is not None
                ]
                if ended:
                    raise AssertionError(f"{', '.join(ended)} ended before READY\n{self.report()}")
                await asyncio.wait({ready}, timeout=0.2)
            ready.result()
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.report()}") from None
        finally:
            ready.cancel()

    async def stop(self, *names: str, timeout: float = 30) -> list[int]:
        """SIGTERM these processes (all of them, for none) and wait for them to end; their exit statuses."""
        chosen = names or tuple(self.processes)
        self._stopped.update(chosen)
        for name in chosen:
            with contextlib.suppress(ProcessLookupError):
                self.processes[name].terminate()
        return [await asyncio.to_thread(self.processes[name].wait, timeout) for name in chosen]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
