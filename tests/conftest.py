"""Shared fixtures: the seed article, corpora in temporary folders, a composer over them."""

from __future__ import annotations

import mmap
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pytest
import pytest_asyncio
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

from benchmarks import pgserver
from bot import engine
from bot.answer.composer import Composer
from bot.config import ENV_FILE_VARIABLE, Settings
from bot.discord_bot.app import ArticleBot
from bot.documents.folder import SizeCaps
from bot.stores.documents import Mirror, open_documents
from tests.fake_discord import FakeDiscord, running_bot

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED = DATA / "seed" / "article.txt"  # as handed to the project, without front matter
DEV = DATA / "eval" / "dev.jsonl"
NOTRE_DAME = DATA / "eval" / "squad" / "notre_dame.json"
CORPUS = ROOT / "corpus"


def is_mapped(array: npt.NDArray[Any]) -> bool:
    """Whether an array's memory is a file mapped into the process (shared between processes)."""
    base: Any = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def setting_variables(settings_class: type[BaseSettings] = Settings) -> set[str]:
    """The environment variables a settings class reads, spelt as pydantic-settings looks them up (its
    prefix, the fields' aliases; lower case unless the settings are case-sensitive)."""
    config = settings_class.model_config
    prefix = config.get("env_prefix", "")
    target = config.get("env_prefix_target", "variable")
    found: set[str] = set()
    for field_name, field in settings_class.model_fields.items():
        # An alias path's first step names the variable; its other steps index the decoded JSON.
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            heads = [str(path[0]) for path in alias.convert_to_aliases()]
        elif isinstance(alias, AliasPath):
            heads = [str(alias.path[0])]
        else:
            heads = [alias] if alias else []
        found.update((prefix if target in ("alias", "all") else "") + head for head in heads)
        if not heads or config.get("validate_by_name") or config.get("populate_by_name"):
            found.add((prefix if target in ("variable", "all") else "") + field_name)
    return found if config.get("case_sensitive") else {name.lower() for name in found}


def isolate_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take every bot setting out of the environment and point Settings at an empty file instead of
    the working folder's `.env`: in this process and in every process it starts, which inherit both."""
    names = setting_variables()
    folded = not Settings.model_config.get("case_sensitive")
    for key in list(os.environ):
        if (key.lower() if folded else key) in names:
            monkeypatch.delenv(key)
    monkeypatch.setenv(ENV_FILE_VARIABLE, os.devnull)


@pytest.fixture(scope="session", autouse=True)
def no_outside_settings() -> Iterator[None]:
    """The suite's settings are the defaults and what each test sets, whatever the shell or a `.env` say.

    Session-scoped so that it comes before every other fixture, the session's composers included.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_settings(monkeypatch)
        yield


def mirror_of(address: str, folder: Path) -> Mirror:
    """A mirror of the shared corpus's table at `address` into `folder`, with the default size caps."""
    return Mirror(open_documents(address), folder, SizeCaps.from_settings(Settings(_env_file=None)))  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings that touch nothing outside the test's own folder."""
    return Settings(_env_file=None, corpus_dir=CORPUS, cache_dir=tmp_path / "cache", use_cache=False)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def composer() -> Composer:
    """A composer over the shipped corpus (the seed article with its metadata)."""
    return engine.load(Settings(_env_file=None, corpus_dir=CORPUS, use_cache=False))  # type: ignore[call-arg]


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A corpus folder holding only the raw seed article, as it was handed to the project."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / "article.txt")
    return folder


@pytest.fixture(scope="session")
def two_documents(tmp_path_factory: pytest.TempPathFactory) -> Composer:
    """A composer over the article and a hard-wrapped Markdown document of another kind."""
    folder = tmp_path_factory.mktemp("two")
    shutil.copy(CORPUS / "article.txt", folder / "article.txt")
    shutil.copy(DATA / "bicycle" / "bicycle.md", folder / "bicycle.md")
    return engine.load(Settings(_env_file=None, corpus_dir=folder, use_cache=False))  # type: ignore[call-arg]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A fake Discord on 127.0.0.1; the test fails if anything went to the real one."""
    async with FakeDiscord() as server:
        yield server
    assert server.escapes == []  # nothing went to the real Discord


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord, composer: Composer) -> AsyncIterator[ArticleBot]:
    """The bot over the shipped corpus, running against `fake`, its commands synced to the guild."""
    from tests.discord_helpers import bot_settings

    client = ArticleBot(composer, bot_settings(discord_guild_id=fake.guild_id))
    async with running_bot(fake, client) as running:
        yield running


# Five short articles of a newsroom: two share a subject (bike lanes), one author wrote two, one
# names its outlet and date only in its dateline, one has two authors (a YAML list) and a title
# YAML rewrites (a quoted apostrophe), one has neither front matter nor heading.
NEWSROOM = {
    "bike-lanes.md": """---
title: City adds 40 miles of protected bike lanes
author: Maria Lopez
site: The Harbor Gazette
published: 2024-04-12
source: https://www.harborgazette.com/news/city-adds-bike-lanes
---

The city finished 40 miles of protected bike lanes on Thursday, Mayor Ann Lee said.

The lanes cost $18 million, half of it from a federal grant.
""",
    "lakeview.md": """---
title: Lakeview council votes to remove Main Street bike lane
author: Tom Becker
source: https://glpress.org/wire/lakeview-bike-lane
---

LAKEVIEW, Mich., March 5 (Great Lakes Press) — The Lakeview council voted 4-3 to remove the painted
bike lane on Main Street.

Merchants said the lane had cost them customers who could no longer park outside.
""",
    "acme.md": """---
title: 'Acme''s profit doubles as warehouses automate'
authors:
- Priya Natarajan
- David Okafor
site: Market Street Journal
published: 2024-02-08
---

Acme Robotics earned $212 million in the fourth quarter, up from $98 million a year earlier.

Chief executive Hannah Cole said orders for its forklifts had tripled.
""",
    "parking.md": """---
title: Downtown garages raise parking fees
author: Maria Lopez
site: The Harbor Gazette
published: 2024-05-02
---

Parking in the three downtown garages will cost $4 an hour from June, up from $3.

The city says the money will pay for bus shelters.
""",
    "volcano.txt": """The volcano near Grindavik erupted again on Wednesday, its fifth eruption in a year.

Earthen walls turned the lava away from the town, officials said.
""",
}


def corpus_folder(tmp_path_factory: pytest.TempPathFactory, name: str, files: dict[str, str]) -> Path:
    """A new corpus folder holding `files` (file name: text)."""
    folder = tmp_path_factory.mktemp(name)
    for file_name, text in files.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder of the five `NEWSROOM` articles."""
    return corpus_folder(tmp_path_factory, "newsroom", NEWSROOM)


@pytest.fixture(scope="session")
def newsroom_composer(newsroom: Path) -> Composer:
    """A composer over the newsroom corpus."""
    return engine.load(Settings(_env_file=None, corpus_dir=newsroom, use_cache=False))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.Server]:
    """A PostgreSQL server for the session: TEST_DATABASE_URL's, or a throwaway cluster of our own.

    Where CI is set and none can be had, the tests that need it fail; elsewhere they are skipped.
    """
    try:
        server = pgserver.start()
    except pgserver.ServerError as exc:
        reason = f"no PostgreSQL server for the tests: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the PostgreSQL tests must run)")
        pytest.skip(f"{reason}; install Debian's postgresql or set TEST_DATABASE_URL")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: pgserver.Server) -> str:
    """The address of a fresh, empty database for this test."""
    return postgres_server.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def feedback_address(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A feedback store's address on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "feedback.sqlite3")
    return str(request.getfixturevalue("postgres_url"))
