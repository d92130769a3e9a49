"""A fake Discord server (REST v10 + JSON gateway) for end-to-end tests of discord.py bots.

``FakeDiscord`` runs an aiohttp web server on 127.0.0.1 (a free port) that serves

* REST under ``/api/v10`` (what discord.py's ``Route`` and webhook adapter call),
* the gateway as a websocket at ``/gateway`` (identify) and ``/gateway/resume`` (resume),
* ``/cdn/...`` (a 1x1 PNG for every asset) and ``/attachments/...`` (uploaded or test-made files).

The UNMODIFIED discord.py client (checked against 2.7.1) works against it once pointed at it with
``patch_discord(fake)`` (or ``patch_discord_urls(api, gateway)``, used by ``tests/run_patched.py``).
What is patched, and restored on exit:

* ``discord.http.Route.BASE`` -> ``fake.api_base``. Every REST call goes through ``Route``: the bot's
  ``HTTPClient``, the interaction callback ``POST /interactions/{id}/{token}/callback``, follow-ups
  and ``@original`` edits (``discord.webhook.async_`` builds its URLs from ``Route`` too).
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``) -> ``fake.gateway_url``.
  ``AutoShardedClient`` instead connects to the ``url`` returned by ``GET /gateway/bot``, which the fake
  sets to the same URL; a RESUME goes to READY's ``resume_gateway_url`` (``/gateway/resume``).
* ``discord.asset.Asset.BASE`` (``https://cdn.discordapp.com``) -> ``fake.cdn_base``.
* A tripwire on ``aiohttp.ClientSession._request``: any request (HTTP or websocket) to discord.com,
  discordapp.com/.net, discord.gg or discord.media raises ``RuntimeError`` and is recorded in
  ``fake.escapes``. The other ``discord.com`` strings in discord.py (jump URLs, ``Webhook.url``,
  ``utils.oauth_url``, ``Widget.json_url``) only build strings and make no request. ``SyncWebhook``
  (``requests``) is not guarded, but also builds its URLs from ``Route.BASE``.

Fidelity notes (what real Discord does and the fake copies):

* REST JSON responses carry ``Content-Type: application/json`` exactly (discord.py compares the header
  to that string; ``charset`` would make it treat the body as text).
* Gateway frames are JSON text frames; the client asks for ``compress=zlib-stream`` (or zstd) in the
  query but handles uncompressed text frames fine.
* Events are gated by the IDENTIFY intents: no MESSAGE_CREATE without GUILD_MESSAGES / DIRECT_MESSAGES,
  and without MESSAGE_CONTENT a guild message that does not mention the bot arrives with empty content.
* An interaction callback later than ``interaction_timeout`` (3 s, like Discord) gets
  ``404 Unknown interaction (10062)``; a second callback gets ``400 (40060) already acknowledged``.
* Messages the bot creates are echoed back as MESSAGE_CREATE (and edits as MESSAGE_UPDATE), as Discord
  does, unless ``echo_bot_messages=False``.
* Shards: several gateway connections at once (one per shard, from one process or several). A guild
  belongs to shard ``(guild_id >> 22) % shard_count``: its READY/GUILD_CREATE, interactions and messages
  go to the connection that IDENTIFYed with that shard (the last one, when several did; when it closes,
  the last other one still open); DMs go to shard 0. ``add_guild(shard=(i, n))`` makes a guild routed
  to shard ``i`` of ``n``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as _dt
import itertools
import json
import logging
import mimetypes
import re
import secrets
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import aiohttp
import yarl
from aiohttp import web
from multidict import CIMultiDict

if TYPE_CHECKING:
    import discord

__all__ = [
    "DEFAULT_TOKEN",
    "FakeDiscord",
    "FakeInteraction",
    "Recorded",
    "RecordedFile",
    "patch_discord",
    "patch_discord_urls",
    "running_bot",
    "shard_of",
]

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="discord.Client")
JSON = Any

DEFAULT_TOKEN = "fake-bot-token.ABCDEF.0123456789"
DISCORD_EPOCH_MS = 1420070400000

# Intent bits (discord.Intents)
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Permission bits used for the @everyone role / interaction permissions.
_DEFAULT_PERMISSIONS = sum(
    1 << bit
    for bit in (
        0,  # create_instant_invite
        6,  # add_reactions
        10,  # view_channel
        11,  # send_messages
        14,  # embed_links
        15,  # attach_files
        16,  # read_message_history
        18,  # use_external_emojis
        26,  # change_nickname
        31,  # use_application_commands
        35,  # create_public_threads
        38,  # send_messages_in_threads
    )
)
_BOT_PERMISSIONS = _DEFAULT_PERMISSIONS | (1 << 13)  # + manage_messages
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MODERATOR_PERMISSIONS = _DEFAULT_PERMISSIONS | MANAGE_GUILD  # a member who may manage the server


class CommandRefusedError(Exception):
    """Discord does not let this member use the command (its default_member_permissions): Discord's
    client does not offer it, and no interaction reaches the bot."""


_PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)

_DISCORD_HOSTS = ("discord.com", "discordapp.com", "discordapp.net", "discord.gg", "discord.media")


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord routes a guild to."""
    return (guild_id >> 22) % shard_count


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat()


def _json_response(data: JSON, status: int = 200) -> web.Response:
    # body= (bytes) keeps the header exactly "application/json"; text= would add "; charset=utf-8".
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json")


def _error(status: int, code: int, message: str) -> web.Response:
    return _json_response({"message": message, "code": code}, status=status)


def _no_content() -> web.Response:
    return web.Response(status=204)


@dataclass
class RecordedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Recorded:
    """One REST call the fake received. ``path`` is relative to the API base, e.g. ``/users/@me``."""

    method: str
    path: str
    query: dict[str, str]
    json: JSON
    headers: CIMultiDict[str]
    files: list[RecordedFile] = field(default_factory=list)
    status: int = 0
    at: float = 0.0


@dataclass
class FakeInteraction:
    """Handle of an interaction the fake dispatched (returned by ``send_slash`` / ``click``)."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    sent_at: float
    channel_id: int
    guild_id: int | None
    user_id: int
    # every callback: {"type", "data", "elapsed", "accepted", "status"}
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    # later PATCH @original / follow-ups / deletes: {"kind", "message_id", "data", "elapsed"}
    edits: list[dict[str, Any]] = field(default_factory=list)
    original_message: dict[str, Any] | None = None  # the message @original refers to (live object)
    component_message_id: int | None = None
    _edit_cursor: int = 0

    @property
    def message(self) -> dict[str, Any] | None:
        """The full message object the response created/updated (what ``click`` needs)."""
        return self.original_message


@dataclass
class ChannelPost:
    channel_id: int
    message_id: int
    body: dict[str, Any]
    message: dict[str, Any]
    consumed: bool = False


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None

    async def send(self, frame: dict[str, Any]) -> bool:
        async with self.lock:
            if self.ws.closed:
                return False
            try:
                await self.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return False
            return True


@dataclass(eq=False)
class _Session:
    id: str
    shard: list[int] | None
    intents: int
    identify: dict[str, Any]
    seq: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    conn: _Conn | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_Handler = Callable[[web.Request, Recorded, "re.Match[str]"], Awaitable[web.StreamResponse]]


class FakeDiscord:
    """A fake Discord REST + gateway server. See the module docstring."""

    def __init__(
        self,
        *,
        bot_id: int = 1100000000000000001,
        application_id: int | None = None,
        guild_id: int = 1100000000000000100,
        channel_id: int = 1100000000000000200,
        user_id: int = 1100000000000000300,
        heartbeat_interval_ms: int = 41250,
        token: str | None = None,
        interaction_timeout: float | None = 3.0,
        echo_bot_messages: bool = True,
        bot_name: str = "FakeBot",
        guild_name: str = "Fake Guild",
        channel_name: str = "general",
    ) -> None:
        self.bot_id = bot_id
        self.application_id = application_id if application_id is not None else bot_id
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = user_id  # the default human user
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.token = token  # if set, REST and IDENTIFY must use it
        self.interaction_timeout = interaction_timeout
        self.echo_bot_messages = echo_bot_messages
        self.guild_name = guild_name
        # guild id -> its name and text channel; the first is the default guild of every helper
        self.guilds: dict[int, dict[str, Any]] = {guild_id: {"name": guild_name, "channel_id": channel_id}}
        self.team: list[tuple[int, str]] = []  # (user id, role): the application belongs to a team
        self.recommended_shards = 1  # what GET /gateway/bot recommends
        # Cleared: IDENTIFY is received but READY waits until it is set again (see hold_ready).
        self.ready_gate: asyncio.Event | None = None

        self.port = 0
        self.api_base = ""
        self.gateway_url = ""
        self.resume_gateway_url = ""
        self.cdn_base = ""
        self.origin = ""

        # --- what the fake received, for assertions ---
        self.requests: list[Recorded] = []
        self.unhandled: list[Recorded] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.heartbeats: int = 0
        self.presence_updates: list[dict[str, Any]] = []
        self.member_requests: list[dict[str, Any]] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.gateway_connections: list[tuple[str, dict[str, str]]] = []  # (path, query)
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.channel_posts: list[ChannelPost] = []
        self.escapes: list[str] = []  # blocked requests to real Discord hosts (see patch_discord)

        # --- world state ---
        self.users: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # url path -> (content type, data)
        self._dm_by_user: dict[int, int] = {}
        self._joined_at = _now_iso()
        self._counter = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = []

        self._session: _Session | None = None
        self._by_shard: dict[int, _Session] = {}  # the live session of each shard id
        self._shard_count = 1
        self._sessions: dict[str, _Session] = {}
        self._conns: set[_Conn] = set()
        self._ready_count = 0
        self._resumed_count = 0
        self._cond: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

        self.users[bot_id] = {
            **self._user_payload(bot_id, bot_name, bot=True),
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "flags": 0,
        }
        self.add_user(user_id, "tester")
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": channel_name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }
        self._register_routes()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        self._loop = asyncio.get_running_loop()
        self._cond = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._ws_handler)
        app.router.add_get("/gateway/resume", self._ws_handler)
        app.router.add_route("*", "/api/v10{tail:/.*}", self._rest_handler)
        app.router.add_get("/cdn/{tail:.*}", self._cdn_handler)
        app.router.add_get("/attachments/{tail:.*}", self._file_handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.origin}/api/v10"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"
        self.resume_gateway_url = f"ws://127.0.0.1:{self.port}/gateway/resume"
        self.cdn_base = f"{self.origin}/cdn"

    async def close(self) -> None:
        """Close every gateway connection and stop the server."""
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001), timeout=2)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def env(self) -> dict[str, str]:
        """Environment variables that ``tests/run_patched.py`` reads."""
        return {
            "FAKE_DISCORD_API": self.api_base,
            "FAKE_DISCORD_GATEWAY": self.gateway_url,
            "FAKE_DISCORD_CDN": self.cdn_base,
        }

    # ------------------------------------------------------------------ world helpers

    def snowflake(self) -> int:
        """A fresh, increasing snowflake with the current time in it."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)

    @staticmethod
    def _user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name,
            "discriminator": "0",
            "global_name": None if bot else name.title(),
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }

    def add_user(self, user_id: int, name: str | None = None, *, bot: bool = False) -> dict[str, Any]:
        """Register a user (also a guild member). Unknown ids used in send_* are added automatically."""
        if user_id not in self.users:
            self.users[user_id] = self._user_payload(user_id, name or f"user{user_id % 10000}", bot=bot)
        return self.users[user_id]

    def user(self, user_id: int) -> dict[str, Any]:
        return dict(self.add_user(user_id))

    @property
    def bot_user(self) -> dict[str, Any]:
        return dict(self.users[self.bot_id])

    def member(self, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [],
            "joined_at": self._joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user(user_id)
        return data

    def dm_channel_id(self, user_id: int) -> int:
        """The DM channel between the bot and ``user_id`` (created on first use)."""
        if user_id not in self._dm_by_user:
            cid = self.snowflake()
            self._dm_by_user[user_id] = cid
            self.channels[cid] = {
                "id": str(cid),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.user(user_id)],
            }
        return self._dm_by_user[user_id]

    async def create_text_channel(self, name: str) -> int:
        """Add a guild text channel (CHANNEL_CREATE is sent if the client is connected); returns its id."""
        cid = self.snowflake()
        self.channels[cid] = {
            **self.channels[self.channel_id],
            "id": str(cid),
            "name": name,
            "position": len(self.channels),
            "last_message_id": None,
        }
        if self._session is not None:
            await self.dispatch(
                "CHANNEL_CREATE", dict(self.channels[cid]), session=self._session_for(self.guild_id)
            )
        return cid

    def add_guild(
        self, *, shard: tuple[int, int] | None = None, name: str = "Other Guild"
    ) -> tuple[int, int]:
        """Add a guild with one text channel; ``shard=(i, n)`` picks an id Discord routes to shard i of n.

        Returns ``(guild_id, channel_id)``. Only sessions that IDENTIFY afterwards are told of it.
        """
        gid = self.snowflake()
        while shard is not None and shard_of(gid, shard[1]) != shard[0]:
            gid = self.snowflake()
        cid = self.snowflake()
        self.guilds[gid] = {"name": name, "channel_id": cid}
        self.channels[cid] = {**self.channels[self.channel_id], "id": str(cid), "guild_id": str(gid)}
        return gid, cid

    def hold_ready(self) -> None:
        """From now on, IDENTIFY is answered with READY only after ``release_ready()``."""
        self.ready_gate = asyncio.Event()

    def release_ready(self) -> None:
        """Let held and later IDENTIFYs get their READY."""
        if self.ready_gate is not None:
            self.ready_gate.set()

    def role_everyone(self, guild_id: int | None = None) -> dict[str, Any]:
        return {
            "id": str(guild_id or self.guild_id),
            "name": "@everyone",
            "permissions": str(_DEFAULT_PERMISSIONS),
            "position": 0,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }

    def guild_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        """The full guild object sent in GUILD_CREATE."""
        gid = guild_id or self.guild_id
        guild = self.guilds[gid]
        members = [self.member(uid) for uid in self.users]
        channels = [dict(c) for c in self.channels.values() if c.get("guild_id") == str(gid)]
        for c in channels:
            c.pop("guild_id", None)  # GUILD_CREATE channels carry no guild_id
        return {
            "id": str(gid),
            "name": guild["name"],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.user_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "system_channel_id": str(guild["channel_id"]),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "widget_enabled": False,
            "roles": [self.role_everyone(gid)],
            "emojis": [],
            "stickers": [],
            "joined_at": self._joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": members,
            "channels": channels,
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "incidents_data": None,
        }

    def app_info(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.users[self.bot_id]["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user,
            "owner": self.user(self.user_id),
            "team": self._team_payload(),
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": 1,
            "integration_types_config": {"0": {}},
        }

    def _team_payload(self) -> dict[str, Any] | None:
        if not self.team:
            return None
        team_id = str(self.application_id + 1)
        return {
            "id": team_id,
            "name": "Fake Team",
            "icon": None,
            "owner_user_id": str(self.team[0][0]),
            "members": [
                {
                    "membership_state": 2,
                    "team_id": team_id,
                    "user": self.user(uid),
                    "role": role,
                    "permissions": ["*"],
                }
                for uid, role in self.team
            ],
        }

    # ------------------------------------------------------------------ waiting

    async def _notify(self) -> None:
        if self._cond is None:
            return
        async with self._cond:
            self._cond.notify_all()

    async def _wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        cond = self._cond
        if cond is None:
            raise RuntimeError("FakeDiscord.start() was not called")

        async def inner() -> T:
            async with cond:
                while True:
                    result = predicate()
                    if result is not None:
                        return result
                    await cond.wait()

        try:
            return await asyncio.wait_for(inner(), timeout)
        except TimeoutError:
            recent = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:])
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what}; last requests: [{recent}]"
            ) from None

    async def wait_ready(self, timeout: float = 10, *, count: int = 1) -> None:
        """Wait until the client IDENTIFYed (``count`` times in all) and was sent READY + GUILD_CREATE."""
        await self._wait_for(lambda: True if self._ready_count >= count else None, timeout, "READY")

    async def wait_resumed(self, timeout: float = 10, *, count: int = 1) -> dict[str, Any]:
        """Wait until the client RESUMEd (``count`` times in all) and got RESUMED; returns the payload."""
        await self._wait_for(lambda: True if self._resumed_count >= count else None, timeout, "RESUME")
        return self.resumes[count - 1]

    async def wait_request(
        self, method: str, path: str | re.Pattern[str], timeout: float = 5, *, after: int = 0
    ) -> Recorded:
        """Wait for a REST call (``path`` exact or regex), looking at ``requests[after:]``."""

        def find() -> Recorded | None:
            for rec in self.requests[after:]:
                if (
                    rec.method == method
                    and rec.status
                    and (rec.path == path if isinstance(path, str) else path.fullmatch(rec.path))
                ):
                    return rec
            return None

        return await self._wait_for(find, timeout, f"{method} {path}")

    async def wait_response(self, handle: FakeInteraction, timeout: float = 5) -> dict[str, Any]:
        """The first callback for the interaction: ``{"type", "data", "elapsed", "accepted", "status"}``.

        ``elapsed`` is seconds from dispatching the interaction to the callback arriving; ``accepted`` is
        False when it came after ``interaction_timeout`` or after another callback.
        """
        return await self._wait_for(
            lambda: handle.callbacks[0] if handle.callbacks else None, timeout, f"callback of {handle.id}"
        )

    async def wait_edit(self, handle: FakeInteraction, timeout: float = 5) -> dict[str, Any]:
        """The next not-yet-returned edit of @original / follow-up / delete for the interaction.

        Returns ``{"kind": "edit"|"followup"|"delete", "message_id", "data", "elapsed"}``.
        """

        def find() -> dict[str, Any] | None:
            if handle._edit_cursor < len(handle.edits):
                handle._edit_cursor += 1
                return handle.edits[handle._edit_cursor - 1]
            return None

        return await self._wait_for(find, timeout, f"edit/follow-up of {handle.id}")

    async def wait_channel_message(
        self, channel_id: int | None = None, timeout: float = 5, reply_to: int | None = None
    ) -> dict[str, Any]:
        """The next not-yet-returned ``POST /channels/{id}/messages`` body (plus ``id``/``channel_id``)."""

        def find() -> dict[str, Any] | None:
            for post in self.channel_posts:
                if post.consumed or (channel_id is not None and post.channel_id != channel_id):
                    continue
                if reply_to is not None:
                    ref = post.body.get("message_reference") or {}
                    if str(ref.get("message_id")) != str(reply_to):
                        continue
                post.consumed = True
                return {**post.body, "id": str(post.message_id), "channel_id": str(post.channel_id)}
            return None

        return await self._wait_for(
            find, timeout, f"channel message (channel={channel_id}, reply_to={reply_to})"
        )

    # ------------------------------------------------------------------ gateway

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0, timeout=5.0)
        await ws.prepare(request)
        conn = _Conn(ws=ws, path=request.path, query=dict(request.query))
        self.gateway_connections.append((request.path, dict(request.query)))
        self._conns.add(conn)
        try:
            await conn.send(
                {"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    self.gateway_received.append(frame)
                    await self._on_frame(conn, frame)
                else:
                    break
        finally:
            self._conns.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                self._reroute(session)
        return ws

    def _reroute(self, closed: _Session) -> None:
        """When the connection a shard's events went to closes, they go on to the last other session
        of that shard still connected, if any (Discord sends them to each of its sessions: a process
        stopped leaves another process on the same shard answering); a RESUME routes them back."""
        shard = (closed.shard or (0, 1))[0]
        if self._by_shard.get(shard) is not closed:
            return
        live = [s for s in self._sessions.values() if s.conn is not None and (s.shard or (0, 1))[0] == shard]
        if live:
            self._by_shard[shard] = live[-1]

    async def _on_frame(self, conn: _Conn, frame: dict[str, Any]) -> None:
        op = frame.get("op") if isinstance(frame, dict) else None
        d: Any = frame.get("d") if isinstance(frame, dict) else None
        if op in (2, 3, 6, 8) and not isinstance(d, dict):
            await conn.ws.close(code=4002, message=b"Error while decoding payload.")
            return
        if op == 1:  # HEARTBEAT
            self.heartbeats += 1
            await conn.send({"op": 11, "s": None, "t": None, "d": None})
        elif op == 2:  # IDENTIFY
            await self._identify(conn, d)
        elif op == 6:  # RESUME
            await self._resume(conn, d)
        elif op == 3:  # PRESENCE_UPDATE
            self.presence_updates.append(d)
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            self.member_requests.append(d)
            members = [self.member(uid) for uid in self.users]
            if d.get("user_ids"):
                wanted = {int(u) for u in d["user_ids"]}
                members = [m for m in members if int(m["user"]["id"]) in wanted]
            chunk: dict[str, Any] = {
                "guild_id": str(d["guild_id"]),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
            }
            if d.get("nonce"):
                chunk["nonce"] = d["nonce"]
            if d.get("presences"):
                chunk["presences"] = []
            await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)
        await self._notify()

    async def _identify(self, conn: _Conn, d: dict[str, Any]) -> None:
        self.identifies.append(d)
        if self.token is not None and d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _Session(
            id=uuid.uuid4().hex, shard=d.get("shard"), intents=int(d.get("intents", 0)), identify=d, conn=conn
        )
        conn.session = session
        self._sessions[session.id] = session
        self._session = session
        shard_id, shard_count = session.shard or (0, 1)
        self._by_shard[shard_id] = session
        self._shard_count = shard_count
        guilds = [gid for gid in self.guilds if shard_of(gid, shard_count) == shard_id]
        if self.ready_gate is not None:
            await self.ready_gate.wait()
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.bot_user,
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east"],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self.dispatch("READY", ready, session=session)
        for gid in guilds:
            await self.dispatch("GUILD_CREATE", self.guild_payload(gid), session=session)
        self._ready_count += 1

    async def _resume(self, conn: _Conn, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        session = self._sessions.get(str(d.get("session_id")))
        if session is None or (self.token is not None and d.get("token") != self.token):
            await conn.send({"op": 9, "s": None, "t": None, "d": False})
            return
        async with session.lock:
            conn.session = session
            session.conn = conn
            self._session = session
            self._by_shard[(session.shard or (0, 1))[0]] = session
            last = int(d.get("seq") or 0)
            for frame in session.history:
                if frame["s"] > last:
                    await conn.send(frame)
            session.seq += 1
            frame = {"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-discord"]}}
            session.history.append(frame)
            await conn.send(frame)
        self._resumed_count += 1

    async def dispatch(self, event: str, data: Any, *, session: _Session | None = None) -> None:
        """Send a DISPATCH (op 0) event; while the client is disconnected it is kept for a RESUME."""
        session = session or self._session
        if session is None:
            raise RuntimeError("no gateway session: the client has not IDENTIFYed yet (use wait_ready)")
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.history.append(frame)
            del session.history[:-5000]
            if session.conn is not None:
                await session.conn.send(frame)

    def _session_for(self, guild_id: int | None) -> _Session | None:
        """The session of the shard a guild (or, for None, DMs: shard 0) is routed to."""
        shard = 0 if guild_id is None else shard_of(guild_id, self._shard_count)
        return self._by_shard.get(shard, self._session)

    @property
    def session_id(self) -> str | None:
        """The current gateway session id (from READY)."""
        return self._session.id if self._session is not None else None

    @property
    def seq(self) -> int:
        """The last sequence number sent in the current session."""
        return self._session.seq if self._session is not None else 0

    @property
    def intents(self) -> int:
        """The intents of the current gateway session (0 if none)."""
        return self._session.intents if self._session is not None else 0

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket with ``code`` (4000 makes discord.py RESUME)."""
        session = self._session
        conn = session.conn if session is not None else None
        if conn is None:
            raise RuntimeError("no open gateway connection")
        assert session is not None
        session.conn = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(code=code, message=b"fake drop"), timeout=5)

    # ------------------------------------------------------------------ sending things to the bot

    def find_command(self, name: str, guild_id: int | None, kind: int = 1) -> dict[str, Any] | None:
        """A synced command by name and type (1 slash, 2 user menu, 3 message menu), in a guild or global."""
        for cmd in self.commands.get(guild_id, []):
            if cmd["name"] == name and cmd.get("type", 1) == kind:
                return cmd
        return None

    def _interaction_base(
        self,
        itype: int,
        data: dict[str, Any],
        *,
        user_id: int,
        dm: bool,
        channel_id: int | None,
        guild_id: int | None = None,
        permissions: int = _DEFAULT_PERMISSIONS,
    ) -> FakeInteraction:
        self.add_user(user_id)
        iid = self.snowflake()
        token = f"fake-itoken-{iid}-{secrets.token_urlsafe(24)}"
        gid = guild_id or self.guild_id
        cid = self.dm_channel_id(user_id) if dm else (channel_id or self.guilds[gid]["channel_id"])
        channel = self.channels.get(cid) or {"id": str(cid), "type": 0, "guild_id": str(gid)}
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "channel": dict(channel),
            "channel_id": str(cid),
            "token": token,
            "version": 1,
            "app_permissions": str(_BOT_PERMISSIONS),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if dm:
            payload["user"] = self.user(user_id)
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": "0"}
        else:
            member = self.member(user_id)
            member["permissions"] = str(permissions)
            payload["guild_id"] = str(gid)
            payload["guild"] = {"id": str(gid), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = member
            payload["context"] = 0
            payload["authorizing_integration_owners"] = {"0": str(gid)}
        return FakeInteraction(
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            sent_at=0.0,
            channel_id=cid,
            guild_id=None if dm else gid,
            user_id=user_id,
        )

    async def _send_interaction(self, handle: FakeInteraction) -> FakeInteraction:
        self.interactions[handle.id] = handle
        handle.sent_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", handle.payload, session=self._session_for(handle.guild_id))
        return handle

    @staticmethod
    def _option_type(value: object, declared: int | None) -> int:
        if declared is not None:
            if declared in (6, 7, 8, 9):
                raise ValueError("user/channel/role/mentionable options are not supported by the fake")
            return declared
        if isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return 4
        if isinstance(value, float):
            return 10
        return 3

    def _command_data(
        self,
        name: str,
        options: Mapping[str, object] | None,
        *,
        dm: bool,
        focused: str | None = None,
        guild_id: int | None = None,
    ) -> dict[str, Any]:
        parts = name.split()
        scope: int | None = None
        gid = guild_id or self.guild_id
        cmd = None if dm else self.find_command(parts[0], gid)
        if cmd is not None:
            scope = gid
        else:
            cmd = self.find_command(parts[0], None)
        declared: list[dict[str, Any]] = list(cmd.get("options", [])) if cmd else []
        for sub in parts[1:]:
            nxt = next((o for o in declared if o.get("name") == sub), None)
            declared = list(nxt.get("options", [])) if nxt else []

        opts: list[dict[str, Any]] = []
        resolved: dict[str, dict[str, Any]] = {}
        for key, value in (options or {}).items():
            decl = next((o for o in declared if o.get("name") == key), None)
            if decl is not None and decl.get("type") == 11:
                # An attachment option, given as (file name, bytes): uploaded as Discord does, the
                # option's value its id, the attachment itself in `resolved`.
                filename, blob = cast("tuple[str, bytes]", value)
                attachment = self._store_attachment(self.guilds[gid]["channel_id"], filename, blob)
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            opt: dict[str, Any] = {
                "name": key,
                "type": self._option_type(value, decl.get("type") if decl else None),
                "value": attachment["id"] if decl is not None and decl.get("type") == 11 else value,
            }
            if focused == key:
                opt["focused"] = True
            opts.append(opt)
        # nest subcommands / groups: "group sub" -> [{type 2, options: [{type 1, options}]}]
        for i, sub in reversed(list(enumerate(parts[1:], start=1))):
            opts = [{"name": sub, "type": 1 if i == len(parts) - 1 else 2, "options": opts}]
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": parts[0],
            "type": 1,
            "options": opts,
        }
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved:
            data["resolved"] = resolved
        return data

    def _check_allowed(self, name: str, guild_id: int | None, permissions: int) -> None:
        """As Discord: a command whose default_member_permissions the member lacks (an administrator
        has them all) never reaches the bot."""
        cmd = self.find_command(name.split(maxsplit=1)[0], guild_id or self.guild_id) or self.find_command(
            name.split(maxsplit=1)[0], None
        )
        needed = int((cmd or {}).get("default_member_permissions") or 0)
        if needed and permissions & needed != needed and not permissions & ADMINISTRATOR:
            raise CommandRefusedError(f"/{name} needs permissions {needed}; the member has {permissions}")

    async def send_slash(
        self,
        name: str,
        options: Mapping[str, object] | None = None,
        *,
        user_id: int | None = None,
        dm: bool = False,
        channel_id: int | None = None,
        guild_id: int | None = None,
        permissions: int = _DEFAULT_PERMISSIONS,
    ) -> FakeInteraction:
        """Dispatch a slash command (``name`` may be ``"group sub"``); returns the handle.

        The command id (and ``data.guild_id`` for guild commands) is the one assigned at sync time;
        an unsynced command gets a fresh id and is sent as global. ``guild_id`` (default: the first
        guild) picks the guild, and so the shard it is routed to. ``permissions`` are the member's
        (``MODERATOR_PERMISSIONS`` for one who may manage the server); a command they may not use
        raises CommandRefusedError. An attachment option's value is ``(file name, bytes)``.
        """
        if not dm:
            self._check_allowed(name, guild_id, permissions)
        data = self._command_data(name, options, dm=dm, guild_id=guild_id)
        handle = self._interaction_base(
            2,
            data,
            user_id=user_id or self.user_id,
            dm=dm,
            channel_id=channel_id,
            guild_id=guild_id,
            permissions=permissions,
        )
        return await self._send_interaction(handle)

    async def send_message_command(
        self, name: str, message: dict[str, Any] | int, *, user_id: int | None = None
    ) -> FakeInteraction:
        """Dispatch a message context menu command (type 2 interaction, data type 3) on ``message``.

        Like Discord, the target message is in ``data.resolved.messages`` with its content, whatever
        the bot's intents.
        """
        target = self.messages[message] if isinstance(message, int) else message
        gid = int(target["guild_id"]) if "guild_id" in target else None
        cmd = (self.find_command(name, gid, kind=3) if gid else None) or self.find_command(name, None, kind=3)
        data: dict[str, Any] = {
            "id": cmd["id"] if cmd else str(self.snowflake()),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: json.loads(json.dumps(target))}},
        }
        if cmd is not None and cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        handle = self._interaction_base(
            2,
            data,
            user_id=user_id or self.user_id,
            dm=gid is None,
            channel_id=int(target["channel_id"]),
            guild_id=gid,
        )
        return await self._send_interaction(handle)

    async def send_autocomplete(
        self,
        name: str,
        options: Mapping[str, object],
        focused: str,
        *,
        user_id: int | None = None,
        dm: bool = False,
        guild_id: int | None = None,
        permissions: int = _DEFAULT_PERMISSIONS,
    ) -> FakeInteraction:
        """Dispatch an autocomplete interaction (type 4), in ``guild_id``'s guild (default: the first);
        the answer is a type 8 callback.

        ``wait_response(handle)["data"]["choices"]`` holds the choices the bot offered.
        """
        if not dm:
            self._check_allowed(name, guild_id, permissions)
        data = self._command_data(name, options, dm=dm, focused=focused, guild_id=guild_id)
        handle = self._interaction_base(
            4,
            data,
            user_id=user_id or self.user_id,
            dm=dm,
            channel_id=None,
            guild_id=guild_id,
            permissions=permissions,
        )
        return await self._send_interaction(handle)

    async def click(
        self,
        message: dict[str, Any] | int,
        custom_id: str,
        *,
        user_id: int | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> FakeInteraction:
        """Dispatch a component interaction (button by default) on ``message`` (object or id)."""
        if isinstance(message, int) or (
            str(message.get("id", "")).isdigit() and int(message["id"]) in self.messages
        ):
            mid = message if isinstance(message, int) else int(message["id"])
            message = self.messages[mid]
        uid = user_id or self.user_id
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        cid = int(message["channel_id"])
        dm = "guild_id" not in message and self.channels.get(cid, {}).get("type") == 1
        gid = int(message["guild_id"]) if "guild_id" in message else None
        handle = self._interaction_base(3, data, user_id=uid, dm=dm, channel_id=cid, guild_id=gid)
        if dm:
            handle.channel_id = cid
            handle.payload["channel_id"] = str(cid)
            handle.payload["channel"] = dict(self.channels[cid])
        handle.payload["message"] = json.loads(json.dumps(message))
        handle.component_message_id = int(message["id"])
        return await self._send_interaction(handle)

    async def send_message(
        self,
        content: str,
        *,
        mention_bot: bool = True,
        dm: bool = False,
        author_id: int | None = None,
        channel_id: int | None = None,
        attachments: Sequence[tuple[str, bytes]] = (),
        reply_to: int | None = None,
        guild_id: int | None = None,
    ) -> int:
        """Dispatch MESSAGE_CREATE from a user (guild channel, or DM with ``dm=True``); returns its id.

        With ``mention_bot`` the content is prefixed with ``<@BOT_ID> `` and ``mentions`` has the bot.
        The event is not sent if the client lacks the GUILD_MESSAGES / DIRECT_MESSAGES intent, and the
        content is blanked (like Discord) for a guild message without a mention and no MESSAGE_CONTENT.
        ``guild_id`` (default: the first guild) sends it in that guild's channel.
        """
        uid = author_id or self.user_id
        self.add_user(uid)
        cid = (
            self.dm_channel_id(uid)
            if dm
            else (channel_id or self.guilds[guild_id or self.guild_id]["channel_id"])
        )
        guild_id = None if dm else int(self.channels[cid]["guild_id"])
        if mention_bot:
            content = f"<@{self.bot_id}> {content}"
        msg = self._new_message(
            channel_id=cid, author_id=uid, body={"content": content}, msg_type=19 if reply_to else 0
        )
        if mention_bot:
            mention = self.bot_user
            if guild_id is not None:
                mention["member"] = self.member(self.bot_id, with_user=False)
            msg["mentions"] = [mention]
        for filename, blob in attachments:
            msg["attachments"].append(self._store_attachment(cid, filename, blob))
        if reply_to is not None and reply_to in self.messages:
            ref = self.messages[reply_to]
            msg["message_reference"] = {"type": 0, "message_id": str(reply_to), "channel_id": str(cid)}
            if guild_id is not None:
                msg["message_reference"]["guild_id"] = str(guild_id)
            msg["referenced_message"] = json.loads(json.dumps(ref))
        self.messages[int(msg["id"])] = msg
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return int(msg["id"])

    async def _dispatch_message(self, event: str, msg: dict[str, Any]) -> None:
        dm = "guild_id" not in msg
        session = self._session_for(None if dm else int(msg["guild_id"]))
        if session is None:
            return
        intents = session.intents
        if not intents & (INTENT_DIRECT_MESSAGES if dm else INTENT_GUILD_MESSAGES):
            return
        data = json.loads(json.dumps(msg))
        from_bot = int(msg["author"]["id"]) == self.bot_id
        mentioned = any(int(m["id"]) == self.bot_id for m in msg.get("mentions", []))
        if not (intents & INTENT_MESSAGE_CONTENT or dm or from_bot or mentioned):
            data.update(content="", embeds=[], attachments=[], components=[])
        await self.dispatch(event, data, session=session)

    # ------------------------------------------------------------------ messages

    def _store_attachment(
        self, channel_id: int, filename: str, blob: bytes, description: str | None = None
    ) -> dict[str, Any]:
        aid = self.snowflake()
        path = f"/attachments/{channel_id}/{aid}/{filename}"
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.files[path] = (ctype, blob)
        return {
            "id": str(aid),
            "filename": filename,
            "size": len(blob),
            "url": self.origin + path,
            "proxy_url": self.origin + path,
            "content_type": ctype,
            "description": description,
        }

    def _new_message(
        self,
        *,
        channel_id: int,
        author_id: int,
        body: dict[str, Any],
        msg_type: int = 0,
        files: Sequence[RecordedFile] = (),
    ) -> dict[str, Any]:
        mid = self.snowflake()
        channel = self.channels.get(channel_id)
        guild_id = channel.get("guild_id") if channel else str(self.guild_id)
        msg: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": self.user(author_id),
            "content": "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": msg_type,
            "flags": 0,
        }
        if guild_id is not None:
            msg["guild_id"] = guild_id
            msg["member"] = self.member(author_id, with_user=False)
        if "nonce" in body:
            msg["nonce"] = body["nonce"]
        self._apply_body(msg, body, files)
        if channel is not None:
            channel["last_message_id"] = str(mid)
        return msg

    def _apply_body(
        self, msg: dict[str, Any], body: dict[str, Any], files: Sequence[RecordedFile] = ()
    ) -> None:
        for key in ("content", "embeds", "components", "tts", "sticker_items"):
            if key in body and body[key] is not None:
                msg[key] = body[key]
        if "flags" in body and body["flags"] is not None:
            msg["flags"] = int(body["flags"])
        if "attachments" in body or files:
            uploads = {f.field: f for f in files}
            old = {a["id"]: a for a in msg.get("attachments", [])}
            new: list[dict[str, Any]] = []
            for i, spec in enumerate(body.get("attachments") or []):
                sid = str(spec.get("id", i))
                if sid in old:
                    new.append(old[sid])
                    continue
                f = uploads.pop(f"files[{sid}]", None)
                if f is not None:
                    new.append(
                        self._store_attachment(
                            int(msg["channel_id"]),
                            spec.get("filename") or f.filename or "file",
                            f.data,
                            spec.get("description"),
                        )
                    )
            for f in uploads.values():
                new.append(self._store_attachment(int(msg["channel_id"]), f.filename or "file", f.data))
            msg["attachments"] = new
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            ref_id = int(ref["message_id"])
            msg["message_reference"] = {
                "type": int(ref.get("type", 0)),
                "message_id": str(ref_id),
                "channel_id": str(ref.get("channel_id") or msg["channel_id"]),
            }
            if msg.get("guild_id"):
                msg["message_reference"]["guild_id"] = msg["guild_id"]
            if ref_id in self.messages and int(ref.get("type", 0)) == 0:
                msg["referenced_message"] = json.loads(json.dumps(self.messages[ref_id]))
                msg["referenced_message"].pop("referenced_message", None)
                if msg["type"] == 0:
                    msg["type"] = 19

    def _edit_message(
        self, msg: dict[str, Any], body: dict[str, Any], files: Sequence[RecordedFile] = ()
    ) -> None:
        self._apply_body(msg, body, files)
        msg["edited_timestamp"] = _now_iso()

    def _interaction_message(
        self,
        handle: FakeInteraction,
        body: dict[str, Any],
        *,
        loading: bool = False,
        files: Sequence[RecordedFile] = (),
    ) -> dict[str, Any]:
        msg = self._new_message(
            channel_id=handle.channel_id,
            author_id=self.bot_id,
            body=body,
            msg_type=20 if handle.type == 2 else 0,
            files=files,
        )
        if loading:
            msg["flags"] = (msg["flags"] & 64) | 128
        msg["application_id"] = str(self.application_id)
        msg["webhook_id"] = str(self.application_id)
        msg["interaction_metadata"] = {
            "id": str(handle.id),
            "type": handle.type,
            "user": self.user(handle.user_id),
            "authorizing_integration_owners": handle.payload["authorizing_integration_owners"],
        }
        if handle.component_message_id is not None:
            msg["interaction_metadata"]["interacted_message_id"] = str(handle.component_message_id)
        target_id = handle.payload["data"].get("target_id") if handle.type == 2 else None
        if (
            target_id is not None
            and handle.payload["data"].get("type") == 3
            and handle.original_message is None
        ):
            # As Discord does for a message command: the original response references the message
            # the command was run on (message_reference, referenced_message) and names it.
            msg["interaction_metadata"]["target_message_id"] = str(target_id)
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(target_id),
                "channel_id": msg["channel_id"],
            }
            if "guild_id" in msg:
                msg["message_reference"]["guild_id"] = msg["guild_id"]
            target = self.messages.get(int(target_id))
            if target is not None:
                msg["referenced_message"] = json.loads(json.dumps(target))
                msg["referenced_message"].pop("referenced_message", None)
        self.messages[int(msg["id"])] = msg
        return msg

    async def _echo(self, event: str, msg: dict[str, Any]) -> None:
        if self.echo_bot_messages and not msg["flags"] & 64:
            await self._dispatch_message(event, msg)

    # ------------------------------------------------------------------ REST

    def _route(self, method: str, pattern: str, handler: _Handler) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def _register_routes(self) -> None:
        r = self._route
        snow = r"(\d+)"
        r("GET", r"/users/@me", self._h_me)
        r("PATCH", r"/users/@me", self._h_me)
        r("GET", rf"/users/{snow}", self._h_user)
        r("POST", r"/users/@me/channels", self._h_create_dm)
        r("GET", r"/oauth2/applications/@me", self._h_app)
        r("GET", r"/applications/@me", self._h_app)
        r("GET", r"/gateway", self._h_gateway)
        r("GET", r"/gateway/bot", self._h_gateway_bot)
        r("GET", rf"/applications/{snow}(?:/guilds/{snow})?/commands", self._h_commands)
        r("PUT", rf"/applications/{snow}(?:/guilds/{snow})?/commands", self._h_commands)
        r("POST", rf"/applications/{snow}(?:/guilds/{snow})?/commands", self._h_commands)
        r("GET", rf"/applications/{snow}(?:/guilds/{snow})?/commands/{snow}", self._h_command)
        r("PATCH", rf"/applications/{snow}(?:/guilds/{snow})?/commands/{snow}", self._h_command)
        r("DELETE", rf"/applications/{snow}(?:/guilds/{snow})?/commands/{snow}", self._h_command)
        r("POST", rf"/interactions/{snow}/([^/]+)/callback", self._h_callback)
        r("GET", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._h_webhook_message)
        r("PATCH", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._h_webhook_message)
        r("DELETE", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._h_webhook_message)
        r("POST", rf"/webhooks/{snow}/([^/]+)", self._h_followup)
        r("GET", rf"/channels/{snow}", self._h_channel)
        r("POST", rf"/channels/{snow}/messages", self._h_channel_post)
        r("GET", rf"/channels/{snow}/messages", self._h_channel_history)
        r("GET", rf"/channels/{snow}/messages/{snow}", self._h_channel_message)
        r("PATCH", rf"/channels/{snow}/messages/{snow}", self._h_channel_message)
        r("DELETE", rf"/channels/{snow}/messages/{snow}", self._h_channel_message)
        r("POST", rf"/channels/{snow}/typing", self._h_no_content)
        r("PUT", rf"/channels/{snow}/messages/{snow}/reactions/[^/]+/@me", self._h_no_content)
        r("DELETE", rf"/channels/{snow}/messages/{snow}/reactions/[^/]+/@me", self._h_no_content)
        r("GET", rf"/guilds/{snow}", self._h_guild)
        r("GET", rf"/guilds/{snow}/channels", self._h_guild_channels)
        r("GET", rf"/guilds/{snow}/members/{snow}", self._h_guild_member)

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].lstrip("/")
        rec = Recorded(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            headers=CIMultiDict(request.headers),
            at=time.monotonic(),
        )
        self.requests.append(rec)
        try:
            await self._read_body(request, rec)
            response = await self._route_request(request, rec)
        except (LookupError, ValueError, TypeError, AttributeError) as exc:  # a bug in the fake
            print(f"fake_discord: error handling {rec.method} {rec.path}: {exc!r}", file=sys.stderr)
            response = _error(500, 0, f"fake_discord internal error: {exc!r}")
        rec.status = response.status
        await self._notify()
        return response

    async def _read_body(self, request: web.Request, rec: Recorded) -> None:
        if not request.can_read_body:
            return
        ctype = request.content_type
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                blob = bytes(await part.read(decode=False))
                if part.name == "payload_json":
                    rec.json = json.loads(blob.decode())
                else:
                    rec.files.append(
                        RecordedFile(
                            field=part.name or "",
                            filename=part.filename,
                            content_type=part.headers.get("Content-Type"),
                            data=blob,
                        )
                    )
        else:
            raw = await request.read()
            if raw:
                try:
                    rec.json = json.loads(raw)
                except ValueError:
                    rec.json = raw.decode(errors="replace")

    async def _route_request(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        for method, pattern, handler in self._routes:
            if method != rec.method:
                continue
            m = pattern.fullmatch(rec.path)
            if m is None:
                continue
            needs_auth = self.token is not None and not rec.path.startswith(("/interactions/", "/webhooks/"))
            if needs_auth and rec.headers.get("Authorization") != f"Bot {self.token}":
                return _error(401, 0, "401: Unauthorized")
            return await handler(request, rec, m)
        self.unhandled.append(rec)
        return _error(404, 0, "404: Not Found")

    # --- users / app / gateway

    async def _h_me(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        return _json_response(self.bot_user)

    async def _h_user(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        uid = int(m.group(1))
        if uid not in self.users:
            return _error(404, 10013, "Unknown User")
        return _json_response(self.user(uid))

    async def _h_create_dm(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        uid = int((rec.json or {}).get("recipient_id", 0))
        if uid not in self.users:
            return _error(400, 50033, "Invalid Recipient(s)")
        return _json_response(self.channels[self.dm_channel_id(uid)])

    async def _h_app(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        return _json_response(self.app_info())

    async def _h_gateway(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        return _json_response({"url": self.gateway_url})

    async def _h_gateway_bot(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    # --- application commands

    def _command_out(
        self, spec: dict[str, Any], scope: int | None, existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        cmd: dict[str, Any] = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            **spec,
        }
        cmd["id"] = existing["id"] if existing else str(self.snowflake())
        cmd["application_id"] = str(self.application_id)
        cmd["version"] = str(self.snowflake())
        if scope is not None:
            cmd["guild_id"] = str(scope)
        return cmd

    async def _h_commands(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        if int(m.group(1)) != self.application_id:
            return _error(403, 50001, "Missing Access")
        scope = int(m.group(2)) if m.group(2) else None
        current = self.commands.get(scope, [])
        if rec.method == "GET":
            return _json_response(current)
        specs = rec.json if rec.method == "PUT" else [rec.json]
        if not isinstance(specs, list):
            return _error(400, 50035, "Invalid Form Body")

        def key(c: dict[str, Any]) -> tuple[str, int]:
            return (str(c["name"]), int(c.get("type", 1)))

        by_key = {key(c): c for c in current}
        out = [self._command_out(s, scope, by_key.get(key(s))) for s in specs]
        if rec.method == "PUT":
            self.commands[scope] = out
            return _json_response(out)
        kept = [c for c in current if key(c) != key(out[0])]
        self.commands[scope] = kept + out
        return _json_response(out[0], status=201)

    async def _h_command(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        scope = int(m.group(2)) if m.group(2) else None
        cid = m.group(3)
        current = self.commands.get(scope, [])
        cmd = next((c for c in current if c["id"] == cid), None)
        if cmd is None:
            return _error(404, 10063, "Unknown application command")
        if rec.method == "DELETE":
            current.remove(cmd)
            return _no_content()
        if rec.method == "PATCH" and isinstance(rec.json, dict):
            cmd.update(rec.json)
        return _json_response(cmd)

    # --- interactions

    async def _h_callback(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        handle = self.interactions.get(int(m.group(1)))
        if handle is None or handle.token != m.group(2):
            return _error(404, 10062, "Unknown interaction")
        body = rec.json if isinstance(rec.json, dict) else {}
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        elapsed = time.monotonic() - handle.sent_at
        late = self.interaction_timeout is not None and elapsed > self.interaction_timeout
        again = any(c["accepted"] for c in handle.callbacks)
        entry = {
            "type": cb_type,
            "data": data,
            "elapsed": elapsed,
            "accepted": not (late or again),
            "status": 0,
        }
        handle.callbacks.append(entry)
        if late:
            entry["status"] = 404
            return _error(404, 10062, "Unknown interaction")
        if again:
            entry["status"] = 400
            return _error(400, 40060, "Interaction has already been acknowledged.")
        entry["status"] = 200

        ephemeral = bool(int(data.get("flags") or 0) & 64)
        info: dict[str, Any] = {"id": str(handle.id), "type": handle.type}
        out: dict[str, Any] = {"interaction": info}
        msg: dict[str, Any] | None = None
        if cb_type in (4, 5):
            msg = self._interaction_message(handle, data, loading=cb_type == 5, files=rec.files)
            handle.original_message = msg
            info.update(
                response_message_id=msg["id"],
                response_message_loading=cb_type == 5,
                response_message_ephemeral=ephemeral,
            )
            await self._echo("MESSAGE_CREATE", msg)
        elif cb_type in (6, 7) and handle.component_message_id is not None:
            target = self.messages.get(handle.component_message_id)
            if target is None:
                target = handle.payload["message"]
                self.messages[handle.component_message_id] = target
            handle.original_message = target
            info["response_message_id"] = target["id"]
            if cb_type == 7:
                self._edit_message(target, data, rec.files)
                msg = target
                await self._echo("MESSAGE_UPDATE", target)
        if msg is not None:
            out["resource"] = {"type": cb_type, "message": msg}
        elif cb_type not in (1, 6):
            out["resource"] = {"type": cb_type}
        await self._notify()
        return _json_response(out)

    def _handle_by_token(self, app: str, token: str) -> FakeInteraction | None:
        if int(app) != self.application_id:
            return None
        return next((h for h in self.interactions.values() if h.token == token), None)

    async def _h_webhook_message(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        handle = self._handle_by_token(m.group(1), m.group(2))
        if handle is None:
            return _error(401, 50027, "Invalid Webhook Token")
        target = m.group(3)
        msg = handle.original_message if target == "@original" else self.messages.get(int(target))
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        mid = int(msg["id"])
        if rec.method == "GET":
            return _json_response(msg)
        body = rec.json if isinstance(rec.json, dict) else {}
        elapsed = time.monotonic() - handle.sent_at
        if rec.method == "DELETE":
            self.messages.pop(mid, None)
            if handle.original_message is msg:
                handle.original_message = None
            handle.edits.append({"kind": "delete", "message_id": mid, "data": {}, "elapsed": elapsed})
            return _no_content()
        self._edit_message(msg, body, rec.files)
        msg["flags"] &= ~128  # an edited deferred response is no longer "thinking"
        handle.edits.append({"kind": "edit", "message_id": mid, "data": body, "elapsed": elapsed})
        await self._echo("MESSAGE_UPDATE", msg)
        return _json_response(msg)

    async def _h_followup(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        handle = self._handle_by_token(m.group(1), m.group(2))
        if handle is None:
            return _error(401, 50027, "Invalid Webhook Token")
        body = rec.json if isinstance(rec.json, dict) else {}
        msg = self._interaction_message(handle, body, files=rec.files)
        handle.edits.append(
            {
                "kind": "followup",
                "message_id": int(msg["id"]),
                "data": body,
                "elapsed": time.monotonic() - handle.sent_at,
            }
        )
        await self._echo("MESSAGE_CREATE", msg)
        if rec.query.get("wait") in ("1", "true", "True"):
            return _json_response(msg)
        return _no_content()

    # --- channels / guild

    async def _h_channel(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        channel = self.channels.get(int(m.group(1)))
        return _json_response(channel) if channel else _error(404, 10003, "Unknown Channel")

    async def _h_channel_post(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        cid = int(m.group(1))
        if cid not in self.channels:
            return _error(404, 10003, "Unknown Channel")
        body = rec.json if isinstance(rec.json, dict) else {}
        if not (
            body.get("content")
            or body.get("embeds")
            or body.get("components")
            or rec.files
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            return _error(400, 50006, "Cannot send an empty message")
        msg = self._new_message(channel_id=cid, author_id=self.bot_id, body=body, files=rec.files)
        self.messages[int(msg["id"])] = msg
        self.channel_posts.append(
            ChannelPost(channel_id=cid, message_id=int(msg["id"]), body=body, message=msg)
        )
        await self._echo("MESSAGE_CREATE", msg)
        return _json_response(msg)

    async def _h_channel_history(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        cid = str(m.group(1))
        limit = int(rec.query.get("limit", "50"))
        msgs = sorted(
            (x for x in self.messages.values() if x["channel_id"] == cid), key=lambda x: -int(x["id"])
        )
        if "before" in rec.query:
            msgs = [x for x in msgs if int(x["id"]) < int(rec.query["before"])]
        if "after" in rec.query:
            msgs = [x for x in msgs if int(x["id"]) > int(rec.query["after"])]
        return _json_response(msgs[:limit])

    async def _h_channel_message(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        msg = self.messages.get(int(m.group(2)))
        if msg is None or msg["channel_id"] != m.group(1):
            return _error(404, 10008, "Unknown Message")
        if rec.method == "DELETE":
            self.messages.pop(int(msg["id"]), None)
            return _no_content()
        if rec.method == "PATCH":
            self._edit_message(msg, rec.json if isinstance(rec.json, dict) else {}, rec.files)
            await self._echo("MESSAGE_UPDATE", msg)
        return _json_response(msg)

    async def _h_no_content(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        return _no_content()

    async def _h_guild(self, request: web.Request, rec: Recorded, m: re.Match[str]) -> web.StreamResponse:
        if int(m.group(1)) not in self.guilds:
            return _error(404, 10004, "Unknown Guild")
        data = self.guild_payload(int(m.group(1)))
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large"):
            data.pop(key, None)
        return _json_response(data)

    async def _h_guild_channels(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        gid = m.group(1)
        return _json_response([c for c in self.channels.values() if c.get("guild_id") == gid])

    async def _h_guild_member(
        self, request: web.Request, rec: Recorded, m: re.Match[str]
    ) -> web.StreamResponse:
        uid = int(m.group(2))
        if int(m.group(1)) not in self.guilds or uid not in self.users:
            return _error(404, 10007, "Unknown Member")
        return _json_response(self.member(uid))

    # --- static files

    async def _cdn_handler(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=_PNG_1X1, content_type="image/png")

    async def _file_handler(self, request: web.Request) -> web.StreamResponse:
        entry = self.files.get(request.path)
        if entry is None:
            return web.Response(status=404)
        return web.Response(body=entry[1], content_type=entry[0])


# ---------------------------------------------------------------------- patching


def _is_discord_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in _DISCORD_HOSTS)


@contextlib.contextmanager
def patch_discord_urls(
    api_base: str,
    gateway_url: str,
    *,
    cdn_base: str | None = None,
    escapes: list[str] | None = None,
) -> Iterator[None]:
    """Point discord.py at a fake server (see the module docstring for what is patched)."""
    import discord.asset
    import discord.gateway
    import discord.http

    escapes = escapes if escapes is not None else []
    if cdn_base is None:
        url = yarl.URL(api_base)
        cdn_base = str(url.origin()) + "/cdn"
    route_cls = discord.http.Route
    ws_cls = discord.gateway.DiscordWebSocket
    asset_cls = discord.asset.Asset
    old_route, old_gateway, old_asset = route_cls.BASE, ws_cls.DEFAULT_GATEWAY, asset_cls.BASE
    original_request = aiohttp.ClientSession._request

    async def guarded_request(
        self: aiohttp.ClientSession, method: str, str_or_url: Any, *args: Any, **kw: Any
    ) -> Any:
        try:
            host = yarl.URL(str(str_or_url)).host or ""
        except (TypeError, ValueError):
            host = ""
        if _is_discord_host(host):
            escapes.append(f"{method} {str_or_url}")
            raise RuntimeError(f"fake_discord: blocked a request to real Discord: {method} {str_or_url}")
        return await original_request(self, method, str_or_url, *args, **kw)

    route_cls.BASE = api_base.rstrip("/")
    ws_cls.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    asset_cls.BASE = cdn_base.rstrip("/")
    attr = "_request"
    setattr(aiohttp.ClientSession, attr, guarded_request)
    try:
        yield
    finally:
        route_cls.BASE = old_route
        ws_cls.DEFAULT_GATEWAY = old_gateway
        asset_cls.BASE = old_asset
        setattr(aiohttp.ClientSession, attr, original_request)


def patch_discord(fake: FakeDiscord) -> contextlib.AbstractContextManager[None]:
    """Point discord.py at the started ``fake`` in a ``with`` block; blocked escapes -> ``fake.escapes``."""
    if not fake.api_base:
        raise RuntimeError("start the FakeDiscord before patching")
    return patch_discord_urls(fake.api_base, fake.gateway_url, cdn_base=fake.cdn_base, escapes=fake.escapes)


class _ErrorLogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def summary(self) -> str:
        lines = []
        for rec in self.records:
            lines.append(f"{rec.name}: {rec.getMessage()}")
            if rec.exc_info and rec.exc_info[1] is not None:
                lines.append(f"    {rec.exc_info[1]!r}")
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    client: ClientT,
    token: str = DEFAULT_TOKEN,
    *,
    timeout: float = 15,
    fail_on_error_logs: bool = True,
) -> AsyncIterator[ClientT]:
    """Run ``client`` against ``fake`` for the ``async with`` block.

    Patches discord.py (``patch_discord``), starts ``client.start(token)`` in a task, waits for
    READY + GUILD_CREATE, and on exit closes the client. Raises what killed the client (a payload it
    could not parse ends ``start()``), and, with ``fail_on_error_logs``, an ``AssertionError`` listing
    ERROR records of the ``discord`` loggers (e.g. "Ignoring exception in command ...": an exception in
    a command, view or event handler). If the block itself raised, these are added to it as notes.
    """
    collector = _ErrorLogCollector()
    discord_logger = logging.getLogger("discord")
    if fail_on_error_logs:
        discord_logger.addHandler(collector)
    body_exc: BaseException | None = None
    client_exc: BaseException | None = None
    try:
        with patch_discord(fake):
            task = asyncio.create_task(client.start(token), name="fake-discord-client")
            try:
                ready = asyncio.create_task(fake.wait_ready(timeout, count=fake._ready_count + 1))
                await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    await asyncio.gather(ready, return_exceptions=True)
                if task.done():
                    task.result()  # raises what killed the client
                    raise RuntimeError("client.start() returned before READY")
                ready.result()
                yield client
            except BaseException as exc:
                body_exc = exc
                raise
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), timeout=10)
                await asyncio.wait({task}, timeout=10)
                if not task.done():  # discord.py keeps retrying a failed shard connect even after close()
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                if not task.cancelled() and task.exception() is not body_exc:
                    client_exc = task.exception()
    finally:
        discord_logger.removeHandler(collector)
        problems = []
        if client_exc is not None:
            problems.append(f"the discord client died with {client_exc!r}")
        if collector.records:
            problems.append("discord logged errors:\n" + collector.summary())
        if body_exc is not None:
            for problem in problems:
                body_exc.add_note(problem)
    if client_exc is not None:
        raise client_exc
    if collector.records:
        raise AssertionError("discord logged errors:\n" + collector.summary())
