"""Each server its own articles (issue 27), through the fake Discord and the real client: `/add` by
address (from a test page server on 127.0.0.1) and by attachment, `/remove`, and every answer,
autocomplete and listing scoped to the server asked in; `python -m bot ask --server`."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from bot import engine
from bot.answer import render
from bot.discord_bot.app import ArticleBot
from tests.conftest import CORPUS, DATA
from tests.discord_helpers import EPHEMERAL, BotProcesses, bot_settings, embed_of
from tests.fake_discord import (
    MANAGE_GUILD,
    MODERATOR_PERMISSIONS,
    CommandRefusedError,
    FakeDiscord,
    running_bot,
    shard_of,
)
from tests.test_add import WIRE, Site, _html, _serving
from tests.test_cli import run

BICYCLE = (DATA / "bicycle" / "bicycle.md").read_bytes()
SAG_QUESTION = "Which film won the top prize at the SAG awards?"
BICYCLE_QUESTION = "How much did the draisine weigh?"
STORED = ".servers/"  # where the bot keeps a server's articles: never shown to anyone
NAV_ONLY = b"<html><head><title>Home</title></head><body><nav><a href='/a'>World</a></nav></body></html>"


@pytest.fixture
def site() -> Iterator[Site]:
    """Pages on 127.0.0.1: a news article, a page of links alone, and a redirect to the article."""
    with _serving("127.0.0.1") as served:
        served.routes.update(
            {
                "/parasite": _html(WIRE),
                "/home": _html(NAV_ONLY),
                "/moved": (301, {"Location": "/parasite"}, b""),
            }
        )
        yield served


@pytest_asyncio.fixture
async def servers(
    fake: FakeDiscord, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[ArticleBot, int]]:
    """The bot over the shipped article, in two servers: the fake's first (A) and B, its id returned;
    settings a test gives (indirect parametrisation) on top."""
    guild_b, _ = fake.add_guild(name="Server B")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "article.txt", corpus / "article.txt")
    settings = bot_settings(
        discord_guild_id=fake.guild_id,
        corpus_dir=corpus,
        servers_dir=tmp_path / "servers",
        rerank=False,
        fetch_allow_private=True,  # the test pages are on 127.0.0.1
        server_max_documents=2,
        **getattr(request, "param", {}),
    )
    client = ArticleBot(engine.load(settings), settings)
    async with running_bot(fake, client) as running:
        # As `python -m bot sync` makes them: the commands global, so server B has them too.
        fake.commands[None] = list(fake.commands[fake.guild_id])
        yield running, guild_b


async def command(
    fake: FakeDiscord,
    name: str,
    options: dict[str, Any],
    *,
    guild_id: int | None = None,
    moderator: bool = False,
) -> dict[str, Any]:
    """Send a slash command and return what its reply finally shows (after a deferral, the edit)."""
    extra = {"permissions": MODERATOR_PERMISSIONS} if moderator else {}
    handle = await fake.send_slash(name, options, guild_id=guild_id, **extra)
    response = await fake.wait_response(handle, timeout=30)
    if response["type"] == 5:  # deferred: the answer comes as an edit
        data: dict[str, Any] = (await fake.wait_edit(handle, timeout=60))["data"]
        return {**data, "flags": response["data"].get("flags", 0)}
    return dict(response["data"])


def shown(data: dict[str, Any]) -> str:
    """A reply's text and embed, as one string (Markdown escapes undone)."""
    parts = [data.get("content") or ""]
    for embed in data.get("embeds") or []:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            embed.get("footer", {}).get("text", ""),
        ]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return render.unescape_markdown("\n".join(parts))


async def ask_in(fake: FakeDiscord, question: str, guild_id: int | None = None) -> tuple[bool, str]:
    """Ask in a server: whether it was answered (not declined), and what the reply shows."""
    data = await command(fake, "ask", {"question": question}, guild_id=guild_id)
    text = shown(data)
    description = embed_of(data).get("description", "")
    closest = description.startswith((f"*{render.CLOSEST_LABEL}*", "No passage comes close"))
    declined = closest or (data.get("content") or "") == render.ABSTAIN_MESSAGE
    return not declined, text


async def choices(
    fake: FakeDiscord, name: str, options: dict[str, Any], focused: str, *, label: bool = False, **kw: Any
) -> list[str]:
    """The values an autocomplete offers (with `label`, the names members read)."""
    handle = await fake.send_autocomplete(name, options, focused, **kw)
    return [c["name" if label else "value"] for c in (await fake.wait_response(handle))["data"]["choices"]]


def _own(bot: ArticleBot, guild: int) -> list[str]:
    folder = bot.settings.servers_dir
    assert folder is not None
    return sorted(p.name for p in (folder / str(guild)).glob("*")) if (folder / str(guild)).exists() else []


@pytest.mark.asyncio
async def test_an_article_added_by_address_is_answered_in_its_server_alone(
    fake: FakeDiscord, servers: tuple[ArticleBot, int], site: Site
) -> None:
    _, guild_b = servers
    ok, _ = await ask_in(fake, SAG_QUESTION)
    assert not ok  # nothing about the SAG awards yet
    data = await command(fake, "add", {"url": site.url("/moved")}, moderator=True)
    assert data["flags"] & EPHEMERAL
    text = shown(data)
    # What was added, for the moderator to check: title, author, outlet, date, sentences, first citation.
    for expected in (
        "'Parasite' scores historic upset at SAG awards",
        "Lisa Richwine",
        "Example Wire",
        "2020-01-20",
    ):
        assert expected in text, text
    # Cited by its file name, as the operator's articles are: never the folder the bot keeps it in.
    name = "parasite-scores-historic-upset-at-sag-awards.md"
    assert f"{name} ¶1.1" in text and "sentences" in text and STORED not in text, text
    ok, answer = await ask_in(fake, SAG_QUESTION)
    assert ok and f"{name} ¶1.1" in answer and STORED not in answer, answer  # answered in A, cited
    ok, answer = await ask_in(fake, SAG_QUESTION, guild_id=guild_b)
    assert not ok and ".servers/" not in answer  # B never sees it
    # Who wrote it: in A, the article's author; in B, not a word of it.
    _, meta = await ask_in(fake, "Who wrote the article about the SAG awards?")
    assert "Lisa Richwine" in meta and STORED not in meta, meta
    _, meta = await ask_in(fake, "Who wrote the article about the SAG awards?", guild_id=guild_b)
    assert "Lisa Richwine" not in meta and "Parasite" not in meta
    # /about lists it in A only.
    about = shown(await command(fake, "about", {}))
    assert "Parasite" in about and f"`{name}`" in about and STORED not in about, about
    assert "Parasite" not in shown(await command(fake, "about", {}, guild_id=guild_b))


@pytest.mark.asyncio
@pytest.mark.parametrize("servers", [{"ask_cooldown_rate": 100}], indirect=True)  # seven questions
async def test_an_attached_file_is_added_and_every_autocomplete_is_scoped(
    fake: FakeDiscord, servers: tuple[ArticleBot, int]
) -> None:
    _, guild_b = servers
    data = await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    text = shown(data)
    assert "A short history of the bicycle" in text and "Jane Q. Writer" in text, text
    assert STORED not in text, text
    name = f".servers/{fake.guild_id}/a-short-history-of-the-bicycle.md"  # the choices' values
    cited = "a-short-history-of-the-bicycle.md"  # what members see
    ok, answer = await ask_in(fake, BICYCLE_QUESTION)
    assert ok and f"{cited} ¶1.1" in answer and "22 kg" in answer and STORED not in answer, answer
    ok, answer = await ask_in(fake, BICYCLE_QUESTION, guild_id=guild_b)
    assert not ok and "22 kg" not in answer, answer
    # A mention in A is answered from it; a DM sees the operator's articles alone.
    for dm, expected in ((False, True), (True, False)):
        reply = await fake.wait_channel_message(
            reply_to=await fake.send_message(BICYCLE_QUESTION, dm=dm, mention_bot=not dm)
        )
        assert (cited in shown(reply)) is expected and STORED not in shown(reply), (dm, shown(reply))
    # /ask document: and /quote offer it in A, not in B.
    ask_options = {"question": "When?", "document": ""}
    assert name in await choices(fake, "ask", ask_options, "document")
    assert await choices(fake, "ask", ask_options, "document", guild_id=guild_b) == ["article.txt"]
    assert any(v.startswith(name) for v in await choices(fake, "quote", {"citation": "draisine"}, "citation"))
    labels = await choices(fake, "quote", {"citation": "draisine"}, "citation", label=True)
    assert any(v.startswith(f"{cited} ¶") for v in labels) and not any(STORED in v for v in labels), labels
    assert await choices(fake, "quote", {"citation": "draisine"}, "citation", guild_id=guild_b) == []
    # Pinned to it by name in B: no such document there.
    data = await command(fake, "ask", {"question": BICYCLE_QUESTION, "document": name}, guild_id=guild_b)
    assert "22 kg" not in shown(data)
    # Pinned to it by the name its citations show, in A: answered from it alone.
    data = await command(fake, "ask", {"question": "When was it built?", "document": cited})
    assert "1817" in shown(data) and STORED not in shown(data), shown(data)
    # /quote of its citation in B finds nothing; in A, the sentence (by either name).
    assert "1817" in shown(await command(fake, "quote", {"citation": f"{name} ¶1.1"}))
    quoted = shown(await command(fake, "quote", {"citation": f"{cited} ¶1.1"}))
    assert "1817" in quoted and STORED not in quoted, quoted
    assert "22 kg" not in shown(await command(fake, "quote", {"citation": f"{name} ¶1.1"}, guild_id=guild_b))


@pytest.mark.asyncio
async def test_only_members_who_may_manage_the_server_can_add_or_remove(
    fake: FakeDiscord, servers: tuple[ArticleBot, int]
) -> None:
    bot, _ = servers
    for name in ("add", "remove"):
        synced = next(c for c in fake.commands[fake.guild_id] if c["name"] == name)
        assert int(synced["default_member_permissions"]) == MANAGE_GUILD
        assert synced.get("dm_permission") is False or synced.get("contexts") == [0], synced
    help_text = shown(await command(fake, "help", {}))
    assert "`/add url:`" in help_text and "manage the server" in help_text
    with pytest.raises(CommandRefusedError):
        await fake.send_slash("add", {"file": ("bicycle.md", BICYCLE)})  # a member without the permission
    assert _own(bot, fake.guild_id) == []


@pytest.mark.asyncio
async def test_what_cannot_be_added_is_refused_in_one_line_and_nothing_is_kept(
    fake: FakeDiscord, servers: tuple[ArticleBot, int], site: Site
) -> None:
    bot, _ = servers
    refusals = [
        ({"url": site.url("/home")}, "Not added: the page has no article text"),
        ({"file": ("huge.html", b"<html>" + b" " * (bot.settings.fetch_max_bytes + 1))}, "byte limit"),
        ({"file": ("notes.pdf", b"%PDF-1.7")}, "must be a saved web page"),
        ({"url": "file:///etc/passwd"}, "only http:// and https://"),
    ]
    for options, reason in refusals:
        data = await command(fake, "add", options, moderator=True)
        text = data.get("content") or ""
        assert reason in text and "\n" not in text and data["flags"] & EPHEMERAL, (options, text)
    # A page of the bot's own machine (the address rules, on every redirect) without FETCH_ALLOW_PRIVATE.
    bot.settings = bot.settings.model_copy(update={"fetch_allow_private": False})
    site.user_agents.clear()
    data = await command(fake, "add", {"url": site.url("/moved")}, moderator=True)
    text = data.get("content") or ""
    assert "is not a public address (loopback;" in text and "\n" not in text, text
    assert _own(bot, fake.guild_id) == [] and site.user_agents == []


@pytest.mark.asyncio
async def test_a_server_at_its_limit_is_told_so(
    fake: FakeDiscord, servers: tuple[ArticleBot, int], site: Site
) -> None:
    bot, guild_b = servers
    await command(fake, "add", {"url": site.url("/parasite")}, moderator=True)
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    assert len(_own(bot, fake.guild_id)) == 2  # SERVER_MAX_DOCUMENTS=2
    third = BICYCLE.replace(b"A short history of the bicycle", b"Another bicycle history")
    data = await command(fake, "add", {"file": ("other.md", third)}, moderator=True)
    assert "SERVER_MAX_DOCUMENTS" in (data.get("content") or "")
    assert len(_own(bot, fake.guild_id)) == 2
    # Another server's limit is its own.
    data = await command(fake, "add", {"file": ("other.md", third)}, guild_id=guild_b, moderator=True)
    assert "Another bicycle history" in shown(data)


@pytest.mark.asyncio
@pytest.mark.parametrize("servers", [{"server_max_bytes": 3000}], indirect=True)
async def test_a_server_past_its_bytes_keeps_nothing_of_the_article(
    fake: FakeDiscord, servers: tuple[ArticleBot, int]
) -> None:
    bot, _ = servers
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)  # 1,871 bytes
    other = BICYCLE.replace(b"A short history of the bicycle", b"Another bicycle history")
    other = other.replace(b"history/bicycle", b"history/another")  # another page, not an update
    data = await command(fake, "add", {"file": ("other.md", other)}, moderator=True)
    text = data.get("content") or ""
    assert "over its 3,000-byte limit (SERVER_MAX_BYTES)" in text and "\n" not in text, text
    assert _own(bot, fake.guild_id) == ["a-short-history-of-the-bicycle.md"]


@pytest.mark.asyncio
@pytest.mark.parametrize("servers", [{"server_adds_per_hour": 1}], indirect=True)
async def test_add_is_rate_limited_per_server(fake: FakeDiscord, servers: tuple[ArticleBot, int]) -> None:
    _, guild_b = servers
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    data = await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    text = data.get("content") or ""
    assert "(SERVER_ADDS_PER_HOUR)" in text and data["flags"] & EPHEMERAL, text
    # Another server has its own hour.
    data = await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, guild_id=guild_b, moderator=True)
    assert "A short history of the bicycle" in shown(data)


@pytest.mark.asyncio
async def test_remove_takes_a_server_s_own_article_away_and_not_a_shared_one(
    fake: FakeDiscord, servers: tuple[ArticleBot, int]
) -> None:
    bot, guild_b = servers
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    name = f".servers/{fake.guild_id}/a-short-history-of-the-bicycle.md"
    # Autocomplete offers the server's own articles alone: not the shared one, not another server's.
    assert await choices(fake, "remove", {"document": ""}, "document", permissions=MODERATOR_PERMISSIONS) == [
        name
    ]
    offered = await choices(
        fake, "remove", {"document": ""}, "document", guild_id=guild_b, permissions=MODERATOR_PERMISSIONS
    )
    assert offered == []
    data = await command(fake, "remove", {"document": "article.txt"}, moderator=True)
    assert "cannot be removed from Discord" in (data.get("content") or "")
    data = await command(fake, "remove", {"document": name}, guild_id=guild_b, moderator=True)
    assert "is not one of the articles this server added" in (data.get("content") or "")
    assert _own(bot, fake.guild_id) == ["a-short-history-of-the-bicycle.md"]
    data = await command(fake, "remove", {"document": name}, moderator=True)
    assert "Removed" in (data.get("content") or "")
    assert _own(bot, fake.guild_id) == []
    ok, _ = await ask_in(fake, BICYCLE_QUESTION)
    assert not ok


def test_ask_server_asks_as_that_server_s_members(tmp_path: Path) -> None:
    corpus, folder = tmp_path / "corpus", tmp_path / "servers" / "42"
    corpus.mkdir()
    folder.mkdir(parents=True)
    shutil.copy(CORPUS / "article.txt", corpus / "article.txt")
    (folder / "bicycle.md").write_bytes(BICYCLE)
    env = {"CORPUS_DIR": str(corpus), "SERVERS_DIR": str(tmp_path / "servers"), "RERANK": "false"}
    own = run("ask", "--json", BICYCLE_QUESTION, "--server", "42", **env)
    other = run("ask", "--json", BICYCLE_QUESTION, "--server", "7", **env)
    alone = run("ask", "--json", BICYCLE_QUESTION, **env)
    assert own.returncode == other.returncode == alone.returncode == 0, own.stderr
    # Cited by its file name, as the operator's articles are, never by where the bot keeps it.
    assert '"abstained": false' in own.stdout and '"document": "bicycle.md"' in own.stdout, own.stdout
    text = run("ask", BICYCLE_QUESTION, "--server", "42", **env)
    assert "[bicycle.md ¶1.1" in text.stdout and STORED not in own.stdout + text.stdout, text.stdout
    pinned = run("ask", "--json", "When was it built?", "--server", "42", "--document", "bicycle.md", **env)
    assert pinned.returncode == 0 and "1817" in pinned.stdout, pinned.stderr
    unknown = run("ask", BICYCLE_QUESTION, "--server", "42", "--document", "no such article", **env)
    assert unknown.returncode == 2 and "article.txt, bicycle.md" in unknown.stderr, unknown.stderr
    assert STORED not in unknown.stderr
    for declined in (other, alone):
        assert '"abstained": true' in declined.stdout and "22 kg" not in declined.stdout


async def _until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _leave(fake: FakeDiscord, guild: int) -> None:
    """Discord tells the bot it left a server (kicked, or the server deleted)."""
    await fake.dispatch("GUILD_DELETE", {"id": str(guild)}, session=fake._session_for(guild))


@pytest.mark.asyncio
async def test_a_server_s_articles_are_deleted_once_the_retention_after_leaving_runs_out(
    fake: FakeDiscord, servers: tuple[ArticleBot, int], tmp_path: Path
) -> None:
    bot, guild_b = servers
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, moderator=True)
    await command(fake, "add", {"file": ("bicycle.md", BICYCLE)}, guild_id=guild_b, moderator=True)
    env = {"CORPUS_DIR": str(bot.settings.corpus_dir), "SERVERS_DIR": str(bot.settings.servers_dir)}
    # Left B: its articles are kept SERVER_RETENTION_DAYS (30), listed with the day the bot left.
    await _leave(fake, guild_b)
    await _until((Path(str(bot.settings.servers_dir)) / str(guild_b) / ".left").exists)
    listed = run("servers", "list", **env)
    assert listed.returncode == 0, listed.stderr
    lines = dict(line.split(": ", 1) for line in listed.stdout.splitlines())
    assert lines[str(fake.guild_id)].startswith("1 articles,") and "left" not in lines[str(fake.guild_id)]
    assert lines[str(guild_b)].startswith("1 articles,") and ", left 20" in lines[str(guild_b)]
    # The extension's own module (discord.py loads it afresh): its sweep, as at start and hourly.
    sweep: Callable[[], Awaitable[list[int]]] = bot.get_cog("ServersCog").sweep  # type: ignore[union-attr]
    assert await sweep() == []  # within the 30 days: kept
    # 31 days on, the sweep (at start and hourly) deletes them; A's stay.
    (Path(str(bot.settings.servers_dir)) / str(guild_b) / ".left").write_text(
        f"{time.time() - 31 * 86_400}\n"
    )
    assert await sweep() == [guild_b]
    assert _own(bot, guild_b) == [] and _own(bot, fake.guild_id) == ["a-short-history-of-the-bicycle.md"]
    # With SERVER_RETENTION_DAYS=0, leaving deletes them at once, and the bot stops answering from them.
    bot.settings = bot.settings.model_copy(update={"server_retention_days": 0})
    await _leave(fake, fake.guild_id)
    await _until(lambda: _own(bot, fake.guild_id) == [])
    await _until(lambda: all(".servers/" not in d.name for d in bot.composer.corpus.documents))
    # The operator purges by hand too: an unknown server is one line, exit 2.
    purged = run("servers", "purge", "123", **env)
    assert purged.returncode == 2 and purged.stderr == "error: no articles are kept for server 123\n"


def test_servers_purge_deletes_a_server_s_articles(tmp_path: Path) -> None:
    folder = tmp_path / "servers" / "42"
    folder.mkdir(parents=True)
    (folder / "bicycle.md").write_bytes(BICYCLE)
    env = {"CORPUS_DIR": str(CORPUS), "SERVERS_DIR": str(tmp_path / "servers")}
    assert run("servers", "list", **env).stdout == f"42: 1 articles, {len(BICYCLE):,} bytes\n"
    purged = run("servers", "purge", "42", **env)
    assert purged.returncode == 0 and purged.stdout == "deleted the 1 articles of server 42\n"
    assert not folder.exists() and run("servers", "list", **env).stdout == ""


async def _slash_reply(fake: FakeDiscord, name: str, options: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A slash command's final reply (after a deferral, the edit), allowing a process's slow start."""
    handle = await fake.send_slash(name, options, **kw)
    response = await fake.wait_response(handle, timeout=30)
    if response["type"] == 5:
        return dict((await fake.wait_edit(handle, timeout=60))["data"])
    return dict(response["data"])


def _start(bots: BotProcesses, postgres_url: str, shard: int, name: str) -> None:
    """A bot process for one shard of two, over a corpus folder and a servers' folder of its own
    (named after it) that share CORPUS_DB."""
    folder = bots.tmp_path / name
    folder.mkdir()
    shutil.copy(CORPUS / "article.txt", folder / "article.txt")
    bots.start(
        name,
        SHARD_COUNT="2",
        SHARD_IDS=str(shard),
        CORPUS_DIR=str(folder),
        SERVERS_DIR=str(bots.tmp_path / f"{name}-servers"),
        CORPUS_DB=postgres_url,
        RERANK="false",
        ASK_COOLDOWN_RATE="1000",
    )


async def _within(
    seconds: float, condition: Callable[[], Awaitable[bool]], what: str, bots: BotProcesses
) -> None:
    """Wait until `condition` holds, failing after `seconds` with what the processes logged."""
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"{what} not within {seconds:g} s\n{bots.report()}"
        await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_two_processes_sharing_postgres_answer_an_added_article_within_seconds(
    tmp_path: Path, postgres_url: str
) -> None:
    async with FakeDiscord() as fake, BotProcesses(fake, tmp_path) as bots:
        home = shard_of(fake.guild_id, 2)  # server A, on this shard
        _start(bots, postgres_url, home, "one")
        _start(bots, postgres_url, 1 - home, "two")
        await bots.wait_ready(count=2)
        data = await _slash_reply(
            fake, "add", {"file": ("bicycle.md", BICYCLE)}, permissions=MODERATOR_PERMISSIONS
        )
        assert "A short history of the bicycle" in shown(data), shown(data)
        # The other process (the other shard) has it in its servers' folder within seconds ...
        mirrored = tmp_path / "two-servers" / str(fake.guild_id) / "a-short-history-of-the-bicycle.md"
        await _within(10, lambda: asyncio.to_thread(mirrored.exists), "mirrored to the other process", bots)
        assert mirrored.read_bytes() == BICYCLE
        # ... and it is in the table with the server's id.
        with psycopg.connect(postgres_url) as conn:
            rows = conn.execute("SELECT name, server FROM documents WHERE server <> 0").fetchall()
        name = f".servers/{fake.guild_id}/a-short-history-of-the-bicycle.md"
        assert rows == [(name, fake.guild_id)]
        # Server A moves to a process started on a folder that never saw the page: answered there.
        assert await bots.stop("one") == [0]
        _start(bots, postgres_url, home, "three")
        await bots.wait_ready(count=3)
        ok, answer = await ask_in(fake, BICYCLE_QUESTION)
        assert ok and "a-short-history-of-the-bicycle.md ¶1.1" in answer and "22 kg" in answer, answer
        assert STORED not in answer, answer
    for log in bots.logs:
        assert "Traceback" not in bots.log_of(log), bots.log_of(log)


@pytest.mark.asyncio
async def test_an_article_removed_or_purged_on_one_process_leaves_the_others_answers_within_seconds(
    tmp_path: Path, postgres_url: str
) -> None:
    file_name = "a-short-history-of-the-bicycle.md"
    async with FakeDiscord() as fake, BotProcesses(fake, tmp_path) as bots:
        home, guild = shard_of(fake.guild_id, 2), fake.guild_id  # server A, on this shard
        _start(bots, postgres_url, home, "one")
        _start(bots, postgres_url, 1 - home, "two")
        await bots.wait_ready(count=2)
        folders = [tmp_path / f"{name}-servers" / str(guild) / file_name for name in ("one", "two")]

        async def answered() -> bool:
            ok, answer = await ask_in(fake, BICYCLE_QUESTION)
            return ok and "22 kg" in answer

        async def gone() -> bool:
            return not await answered() and not any(f.exists() for f in folders)

        added = await _slash_reply(
            fake, "add", {"file": ("bicycle.md", BICYCLE)}, permissions=MODERATOR_PERMISSIONS
        )
        assert "A short history of the bicycle" in shown(added), shown(added)
        assert await answered()  # by process one
        # A second process on A's shard takes A's interactions (the last to connect); one goes on
        # following the shared corpus beside it.
        _start(bots, postgres_url, home, "three")
        await bots.wait_ready(count=3)
        assert await answered()  # by process three, from what it mirrored at start
        removed = await _slash_reply(
            fake, "remove", {"document": file_name}, permissions=MODERATOR_PERMISSIONS
        )
        assert f"Removed `{file_name}`" in (removed.get("content") or ""), removed
        # Three stops: A's interactions go to process one, which removed nothing itself.
        assert await bots.stop("three") == [0]
        asked_one = bots.log_of("one").count("answered in")
        await _within(10, gone, "the removed article gone from process one's answers and every folder", bots)
        assert bots.log_of("one").count("answered in") > asked_one  # process one answered

        # Added again (on process one), then purged by the operator from a machine of their own.
        added = await _slash_reply(
            fake, "add", {"file": ("bicycle.md", BICYCLE)}, permissions=MODERATOR_PERMISSIONS
        )
        assert "A short history of the bicycle" in shown(added), shown(added)
        await _within(10, lambda: asyncio.to_thread(folders[1].exists), "mirrored to process two", bots)
        assert await answered()
        elsewhere = {
            "CORPUS_DIR": str(tmp_path / "operator"),
            "SERVERS_DIR": str(tmp_path / "operator-servers"),
        }
        # The operator's machine lists what the shared corpus holds, not only its own folder.
        listed = await asyncio.to_thread(run, "servers", "list", CORPUS_DB=postgres_url, **elsewhere)
        size = folders[0].stat().st_size  # as process one holds it
        assert listed.returncode == 0 and listed.stdout == f"{guild}: 1 articles, {size:,} bytes\n", listed
        purged = await asyncio.to_thread(
            run, "servers", "purge", str(guild), CORPUS_DB=postgres_url, **elsewhere
        )
        assert purged.returncode == 0 and purged.stdout == f"deleted the 1 articles of server {guild}\n", (
            purged
        )
        await _within(10, gone, "the purged article gone from process one's answers and every folder", bots)
        with psycopg.connect(postgres_url) as conn:
            rows = conn.execute("SELECT name, content FROM documents WHERE server = %s", (guild,)).fetchall()
        assert rows == [(f".servers/{guild}/{file_name}", None)]  # a deletion, so a process down learns of it
    for log in bots.logs:
        assert "Traceback" not in bots.log_of(log), bots.log_of(log)
