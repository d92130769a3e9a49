"""Tests of tests/fake_discord.py with a real (unmodified) discord.py client and a minimal bot."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

try:
    from tests.fake_discord import DEFAULT_TOKEN, FakeDiscord, running_bot
except ImportError:  # tests/ is not importable as a package: pytest put tests/ itself on sys.path
    from fake_discord import (  # type: ignore[no-redef,import-not-found]
        DEFAULT_TOKEN,
        FakeDiscord,
        running_bot,
    )

TESTS_DIR = Path(__file__).resolve().parent
TOKEN = DEFAULT_TOKEN
BUTTON_ID = "fake-test:press"


class PanelView(discord.ui.View):
    """A persistent view: fixed custom_id, no timeout."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Press", style=discord.ButtonStyle.primary, custom_id=BUTTON_ID)
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        await interaction.response.edit_message(content=f"pressed by {interaction.user.id}", view=self)


class MiniBot(commands.AutoShardedBot):
    def __init__(self) -> None:
        super().__init__(command_prefix="!fake-unused ", intents=discord.Intents.default(), help_command=None)

        @self.tree.command(name="echo", description="Echo the text back")
        @app_commands.describe(text="What to echo")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(f"echo: {text}")

        @self.tree.command(name="slow", description="Defer, then edit and follow up")
        async def slow(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.05)
            await interaction.edit_original_response(content=f"slow: {text}")
            await interaction.followup.send(f"follow-up: {text}")

        @self.tree.command(name="report", description="Send a file")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                "report", file=discord.File(io.BytesIO(b"hello"), "report.txt")
            )

        @self.tree.command(name="panel", description="Show a button")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("panel", view=PanelView())

    async def setup_hook(self) -> None:
        self.add_view(PanelView())

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        assert self.user is not None
        if self.user in message.mentions or isinstance(message.channel, discord.DMChannel):
            await message.reply(f"you said: {message.content}")


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        assert server.escapes == []
        assert [(r.method, r.path) for r in server.unhandled] == []


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[MiniBot]:
    client = MiniBot()
    async with running_bot(fake, client, TOKEN):
        yield client


@pytest.mark.asyncio
async def test_login_and_identify(fake: FakeDiscord, bot: MiniBot) -> None:
    assert len(fake.identifies) == 1
    ident = fake.identifies[0]
    assert ident["intents"] == bot.intents.value == discord.Intents.default().value
    assert ident["token"] == TOKEN
    assert ident["shard"] == [0, 1]
    calls = [(r.method, r.path) for r in fake.requests]
    for call in [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"), ("GET", "/gateway/bot")]:
        assert call in calls
    assert calls.index(("GET", "/users/@me")) < calls.index(("GET", "/gateway/bot"))
    assert all(r.headers["Authorization"] == f"Bot {TOKEN}" for r in fake.requests)
    path, query = fake.gateway_connections[0]
    assert path == "/gateway" and query["v"] == "10" and query["encoding"] == "json"
    assert fake.heartbeats >= 1  # discord.py heartbeats right after HELLO

    await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
    assert bot.user is not None and bot.user.id == fake.bot_id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.name == "Fake Guild" and not guild.unavailable
    assert guild.default_role.id == fake.guild_id
    assert guild.me is not None and guild.me.id == fake.bot_id
    channel = guild.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"


@pytest.mark.asyncio
async def test_guild_command_sync(fake: FakeDiscord, bot: MiniBot) -> None:
    guild = discord.Object(id=fake.guild_id)
    bot.tree.copy_global_to(guild=guild)
    synced = await bot.tree.sync(guild=guild)

    put = [r for r in fake.requests if r.method == "PUT"]
    assert [r.path for r in put] == [f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"]
    cmds = {c["name"]: c for c in fake.commands[fake.guild_id]}
    assert set(cmds) == {"echo", "slow", "report", "panel"}
    assert None not in fake.commands
    assert cmds["echo"]["description"] == "Echo the text back"
    assert cmds["echo"]["options"] == [
        {"name": "text", "description": "What to echo", "type": 3, "required": True}
    ]
    assert cmds["panel"]["options"] == []
    assert {c.name: c.id for c in synced} == {name: int(c["id"]) for name, c in cmds.items()}

    # the interaction carries the synced id and guild_id, and the guild copy answers it
    handle = await fake.send_slash("echo", {"text": "synced"})
    assert handle.payload["data"]["id"] == cmds["echo"]["id"]
    assert handle.payload["data"]["guild_id"] == str(fake.guild_id)
    response = await fake.wait_response(handle)
    assert response["data"]["content"] == "echo: synced"

    # a second sync keeps the ids
    await bot.tree.sync(guild=guild)
    assert {c["name"]: c["id"] for c in fake.commands[fake.guild_id]} == {n: c["id"] for n, c in cmds.items()}


@pytest.mark.asyncio
async def test_echo_answered_via_callback(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("echo", {"text": "hello world"})
    response = await fake.wait_response(handle)
    assert response["type"] == 4
    assert response["data"]["content"] == "echo: hello world"
    assert response["accepted"] and response["status"] == 200
    assert 0 <= response["elapsed"] < 3
    callback = await fake.wait_request("POST", f"/interactions/{handle.id}/{handle.token}/callback")
    assert callback.query.get("with_response") in ("1", "true")
    assert handle.message is not None and handle.message["content"] == "echo: hello world"

    dm_handle = await fake.send_slash("echo", {"text": "in a DM"}, dm=True)
    dm_response = await fake.wait_response(dm_handle)
    assert dm_response["data"]["content"] == "echo: in a DM"
    assert "guild_id" not in dm_handle.payload and dm_handle.payload["channel"]["type"] == 1


@pytest.mark.asyncio
async def test_deferred_then_edited(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("slow", {"text": "later"})
    response = await fake.wait_response(handle)
    assert response["type"] == 5
    edit = await fake.wait_edit(handle)
    assert edit["kind"] == "edit" and edit["data"]["content"] == "slow: later"
    followup = await fake.wait_edit(handle)
    assert followup["kind"] == "followup" and followup["data"]["content"] == "follow-up: later"
    assert edit["elapsed"] <= followup["elapsed"]
    assert handle.message is not None and handle.message["content"] == "slow: later"
    assert not handle.message["flags"] & 128  # no longer "thinking"
    methods = [(r.method, r.path) for r in fake.requests if r.path.startswith("/webhooks/")]
    assert methods == [
        ("PATCH", f"/webhooks/{fake.application_id}/{handle.token}/messages/@original"),
        ("POST", f"/webhooks/{fake.application_id}/{handle.token}"),
    ]


@pytest.mark.asyncio
async def test_button_click_updates_message(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("panel")
    response = await fake.wait_response(handle)
    assert response["type"] == 4
    button = response["data"]["components"][0]["components"][0]
    assert button["custom_id"] == BUTTON_ID and button["type"] == 2
    message = handle.message
    assert message is not None

    click = await fake.click(message, BUTTON_ID, user_id=4242)
    update = await fake.wait_response(click)
    assert update["type"] == 7
    assert update["data"]["content"] == "pressed by 4242"
    assert fake.messages[int(message["id"])]["content"] == "pressed by 4242"


@pytest.mark.asyncio
async def test_file_upload_multipart(fake: FakeDiscord, bot: MiniBot) -> None:
    handle = await fake.send_slash("report")
    response = await fake.wait_response(handle)
    assert response["type"] == 4 and response["data"]["content"] == "report"
    callback = await fake.wait_request("POST", f"/interactions/{handle.id}/{handle.token}/callback")
    assert callback.headers["Content-Type"].startswith("multipart/form-data")
    assert [(f.filename, f.data) for f in callback.files] == [("report.txt", b"hello")]
    assert handle.message is not None
    attachment = handle.message["attachments"][0]
    assert attachment["filename"] == "report.txt" and attachment["size"] == 5
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as resp:
        assert await resp.read() == b"hello"


@pytest.mark.asyncio
async def test_mention_and_dm_replies(fake: FakeDiscord, bot: MiniBot) -> None:
    guild_msg = await fake.send_message("what is the article about?")
    reply = await fake.wait_channel_message(fake.channel_id, reply_to=guild_msg)
    assert reply["content"] == f"you said: <@{fake.bot_id}> what is the article about?"
    assert reply["message_reference"]["message_id"] == guild_msg
    assert int(reply["message_reference"]["channel_id"]) == fake.channel_id

    dm_msg = await fake.send_message("hello in private", dm=True, mention_bot=False)
    dm_channel = fake.dm_channel_id(fake.user_id)
    dm_reply = await fake.wait_channel_message(dm_channel, reply_to=dm_msg)
    assert dm_reply["content"] == "you said: hello in private"
    assert dm_reply["message_reference"]["message_id"] == dm_msg
    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert [r.path for r in posts] == [
        f"/channels/{fake.channel_id}/messages",
        f"/channels/{dm_channel}/messages",
    ]


@pytest.mark.asyncio
async def test_message_content_needs_intent(fake: FakeDiscord, bot: MiniBot) -> None:
    # Intents.default() has no message_content: like Discord, the fake blanks unmentioned guild messages
    channel_id = await fake.create_text_channel("news")
    seen = asyncio.ensure_future(
        bot.wait_for("message", check=lambda m: m.author.id == fake.user_id, timeout=5)
    )
    await fake.send_message("not for the bot", mention_bot=False, channel_id=channel_id)
    message = await seen
    assert message.content == "" and message.channel.id == channel_id
    assert isinstance(message.channel, discord.TextChannel) and message.channel.name == "news"


@pytest.mark.asyncio
async def test_handler_exception_is_reported(fake: FakeDiscord) -> None:
    client = MiniBot()

    @client.tree.command(name="boom", description="Fails")
    async def boom(interaction: discord.Interaction) -> None:
        raise ValueError("kaboom")

    with pytest.raises(AssertionError, match="Ignoring exception in command"):
        async with running_bot(fake, client, TOKEN):
            await fake.send_slash("boom")
            await asyncio.sleep(0.5)


@pytest.mark.asyncio
async def test_resume_after_dropped_connection(fake: FakeDiscord, bot: MiniBot) -> None:
    session_id = fake.session_id
    seq_before = fake.seq
    await fake.drop_connection(4000)
    # sent while the client is disconnected: kept and replayed after RESUME
    early = await fake.send_slash("echo", {"text": "during the drop"})
    resume = await fake.wait_resumed()
    assert resume["session_id"] == session_id
    assert resume["token"] == TOKEN
    assert resume["seq"] == seq_before
    assert fake.gateway_connections[-1][0] == "/gateway/resume"
    assert (await fake.wait_response(early))["data"]["content"] == "echo: during the drop"

    handle = await fake.send_slash("echo", {"text": "after resume"})
    assert (await fake.wait_response(handle))["data"]["content"] == "echo: after resume"
    assert len(fake.identifies) == 1  # resumed, not re-identified


@pytest.mark.asyncio
async def test_thirty_simultaneous_interactions(fake: FakeDiscord, bot: MiniBot) -> None:
    handles = await asyncio.gather(*(fake.send_slash("echo", {"text": f"n{i}"}) for i in range(30)))
    responses = await asyncio.gather(*(fake.wait_response(h, timeout=15) for h in handles))
    assert [r["data"]["content"] for r in responses] == [f"echo: n{i}" for i in range(30)]
    assert all(r["accepted"] for r in responses)
    assert len({h.id for h in handles}) == 30


BOT_MODULE = textwrap.dedent(
    """
    import os
    import sys

    import discord
    from discord.ext import commands

    class Bot(commands.AutoShardedBot):
        async def setup_hook(self) -> None:
            @self.tree.command(name="echo", description="Echo")
            async def echo(interaction: discord.Interaction, text: str) -> None:
                await interaction.response.send_message(f"subprocess: {text}")

    if __name__ == "__main__":
        print("argv", sys.argv[1:], flush=True)
        Bot(command_prefix="!", intents=discord.Intents.default()).run(os.environ["DISCORD_TOKEN"])
    """
)


@pytest.mark.asyncio
async def test_subprocess_via_run_patched(fake: FakeDiscord, tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT_MODULE)
    log_path = tmp_path / "bot.log"
    env = {**os.environ, **fake.env(), "DISCORD_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    env.pop("FAKE_DISCORD_MODULE", None)
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(TESTS_DIR / "run_patched.py"),
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        ready = asyncio.ensure_future(fake.wait_ready(timeout=30))
        exited = asyncio.ensure_future(proc.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not ready.done() or ready.exception() is not None:
            ready.cancel()
            raise AssertionError(f"subprocess bot never got ready:\n{log_path.read_text()}")
        handle = await fake.send_slash("echo", {"text": "from a subprocess"})
        response = await fake.wait_response(handle, timeout=10)
        assert response["data"]["content"] == "subprocess: from a subprocess"
        assert ("GET", "/gateway/bot") in [(r.method, r.path) for r in fake.requests]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            returncode = await asyncio.wait_for(proc.wait(), timeout=15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError("SIGTERM did not end the bot subprocess") from None
    output = log_path.read_text()
    assert "argv ['run']" in output
    assert returncode in (0, -signal.SIGTERM), output
    assert "blocked requests to real Discord" not in output
