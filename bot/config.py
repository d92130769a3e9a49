"""Settings, from the environment and `.env` (see `.env.example` for each one)."""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The re-ranking models the bot can run (`bot.search.semantic`), their weights from installed packages.
RerankModel = Literal["minilm-l6-int8"]

# The repository's folder: the defaults work from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Names the settings file read instead of `.env` in the working folder (empty: `.env`). The tests set it
# to an empty file so that a developer's `.env` reaches neither them nor the processes they start.
ENV_FILE_VARIABLE = "ARTICLE_BOT_ENV_FILE"


# libpq's key=value connection strings start with a keyword (`host=db port=5432 ...`); write a file
# whose name looks so as ./NAME or sqlite:///NAME.
_KEYWORD_VALUE = re.compile(r"\s*[a-z_]+\s*=")


def is_postgres(address: str) -> bool:
    """Whether an address names a PostgreSQL server: a postgresql:// (or postgres://) URI, or libpq's
    key=value pairs."""
    scheme, sep, _ = address.partition("://")
    if sep:
        return scheme.lower() in ("postgresql", "postgres")
    return _KEYWORD_VALUE.match(address) is not None


class AddressError(ValueError):
    """A PostgreSQL address libpq cannot read, or would read other than meant; the message quotes no
    part of the address (any part may be a password)."""


def postgres_params(address: str) -> dict[str, str]:
    """libpq's own reading of a PostgreSQL address (a URI or key=value pairs), the password included.

    AddressError when libpq cannot read it, or reads part of a user name or password as the host,
    port or database (an unencoded '@' or '/' in a URI's password: libpq takes the first '@').
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {key: str(value) for key, value in conninfo_to_dict(address).items()}
    except psycopg.Error as exc:  # its message quotes the part it could not read: not that part
        line = str(exc).strip().splitlines()[0]
        reason = re.sub(r'"([^"]*)"', lambda m: '"…"' if re.search(r"\w", m[1]) else m[0], line)
        raise AddressError(f"libpq cannot read it ({reason})") from None
    if any("@" in params.get(key, "") for key in ("host", "hostaddr", "port", "dbname")):
        raise AddressError(
            "libpq would read part of the user name or password as the host or database: write "
            "an '@' or '/' in them as %40 or %2F"
        )
    if not all(port.strip().isdigit() for port in params.get("port", "").split(",") if port.strip()):
        raise AddressError("its port is not a number")
    return params


def _pairs(hosts: str, ports: str) -> list[tuple[str, str]]:
    """libpq's pairing of comma-separated hosts and ports (one port serves every host); '' where left out."""
    port_list = ports.split(",")
    host_list = hosts.split(",")
    if len(port_list) == 1:
        port_list *= len(host_list)
    return [(host.strip(), port.strip()) for host, port in zip(host_list, port_list, strict=False)]


def postgres_servers(params: dict[str, str]) -> str:
    """The servers libpq tries for these parameters (a host or port left out is PGHOST's or PGPORT's,
    else libpq's own: the local socket, 5432)."""
    hosts = params.get("hostaddr") or params.get("host") or os.environ.get("PGHOST", "")
    servers = []
    for host, given in _pairs(hosts, params.get("port") or os.environ.get("PGPORT", "")):
        port = given or "5432"
        if not host or host.startswith("/"):  # a Unix socket, in this folder or libpq's own
            servers.append(f"{host}/.s.PGSQL.{port}" if host else f"the local socket .s.PGSQL.{port}")
        else:
            servers.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return ", ".join(servers)


def redact(address: str) -> str:
    """A database address without its password: a PostgreSQL one as libpq reads it, user, hosts, ports
    and database alone (`postgresql://bot@db:5432/votes`); a path as it is."""
    if not is_postgres(address):
        return address
    try:
        params = postgres_params(address)
    except (AddressError, ImportError):  # no part of it can be shown safely
        return "postgresql://(an address libpq cannot read)"
    servers = []
    for host, port in _pairs(params.get("host") or params.get("hostaddr") or "", params.get("port", "")):
        name = f"[{host}]" if ":" in host else urllib.parse.quote(host, safe="")
        servers.append(f"{name}:{port}" if port else name)
    user = f"{urllib.parse.quote(params['user'], safe='')}@" if params.get("user") else ""
    return f"postgresql://{user}{','.join(servers)}/{urllib.parse.quote(params.get('dbname', ''), safe='')}"


class DatabaseAddress(SecretStr):
    """A database address (a file path, `sqlite:///...` or `postgresql://...`) that prints, in settings,
    errors and logs, without its password; `get_secret_value()` is the whole address."""

    def _display(self) -> str:
        return redact(self.get_secret_value())


class Settings(BaseSettings):
    """Everything the bot and the command line can be told; no instance is made at import."""

    # Empty values (`SHARD_COUNT=` as .env.example has them) mean "not set": the default applies.
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    top_k: int = Field(default=3, ge=1, le=10)
    max_question_chars: int = Field(default=500, ge=1, le=4000)
    max_excerpt_chars: int = Field(default=500, ge=80, le=1000)
    cache_dir: Path = PROJECT_ROOT / ".cache"
    use_cache: bool = True
    cache_max_mb: int = Field(default=1024, ge=1)  # the cache's bound; least recently used go first
    fetch_timeout_seconds: float = Field(default=10.0, gt=0)  # `add`: a deadline for a whole page
    # The largest web page read, in bytes: fetched or saved for `add`, or an .html/.htm corpus file.
    fetch_max_bytes: int = Field(default=5_000_000, ge=1)
    # `add` from loopback, private, link-local or reserved addresses (an intranet's pages): off, so
    # that a page redirecting to the bot's own machine or network is not fetched into the corpus.
    fetch_allow_private: bool = False
    max_document_bytes: int = Field(default=10_000_000, ge=1)  # the largest .txt or .md corpus file read
    rerank: bool = True  # re-score BM25's candidates by meaning (a sentence-embedding model)
    rerank_model: RerankModel = "minilm-l6-int8"  # the models bot.search.semantic can run
    # A corpus with more sentences stays lexical: its vectors would take too long and too much memory.
    rerank_max_sentences: int = Field(default=200_000, ge=0)
    reader: bool = True  # read the first candidates with the question (bot.search.reader)
    # How many of them it reads; None: the fitted number (bot/search/reader.json).
    reader_candidates: int | None = Field(default=None, ge=1, le=50)
    # The processor threads one reading runs on (onnxruntime's); None: two, or one on a one-core machine.
    reader_threads: int | None = Field(default=None, ge=1, le=64)

    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    shard_count: int | None = Field(default=None, ge=1)  # None: as many as Discord recommends
    # This process runs only these shards ("0-3" or "0,1,2,3"); needs shard_count.
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = None
    ask_cooldown_rate: int = Field(default=5, ge=1)
    ask_cooldown_seconds: float = Field(default=30.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # A path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB (see stores/database.py).
    feedback_db: DatabaseAddress = DatabaseAddress(str(PROJECT_ROOT / "data" / "feedback.sqlite3"))
    # Older votes are deleted as the bot runs; at most a century (a cutoff before year 1 overflows).
    feedback_retention_days: int = Field(default=180, ge=1, le=36_500)
    corpus_db: DatabaseAddress | None = None  # postgresql://...: the corpus shared by every process
    watch_corpus: bool = True  # the running bot reloads the corpus when its files change
    reload_settle_seconds: float = Field(default=1.0, gt=0, le=60)  # quiet this long, then reload
    # Each server's own articles (`/add`): a folder per server under SERVERS_DIR (None: the corpus
    # folder's name with `-servers`, beside it), at most so many and so many bytes a server, and so
    # many adds an hour.
    servers_dir: Path | None = None
    server_max_documents: int = Field(default=50, ge=0)
    server_max_bytes: int = Field(default=20_000_000, ge=1)
    server_adds_per_hour: int = Field(default=20, ge=1)
    # A server's articles are deleted this many days after the bot leaves it (0: at once).
    server_retention_days: int = Field(default=30, ge=0, le=36_500)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # None: no metrics server

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """pydantic-settings' sources, with ARTICLE_BOT_ENV_FILE's file in place of the default `.env`."""
        # Read at each Settings(), not at import: a test can set it after importing the bot. Another
        # file passed as `_env_file`, or None, is kept: only the configured `.env` gives way.
        chosen = os.environ.get(ENV_FILE_VARIABLE)
        if (
            chosen
            and isinstance(dotenv_settings, DotEnvSettingsSource)
            and dotenv_settings.env_file == cls.model_config.get("env_file")
        ):
            dotenv_settings = DotEnvSettingsSource(settings_cls, env_file=chosen)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: object) -> object:
        """`0-3`, `0,1,2,3` or a mix (`0-1,3`) as a sorted tuple of shard ids."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        ids: set[int] = set()
        for part in value.split(","):
            m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if m is None:
                raise ValueError(f"{part.strip()!r} is not a shard id or a range like 0-3")
            low, high = int(m[1]), int(m[2] or m[1])
            if high > 100_000:  # far past any real shard count; keeps the set small
                raise ValueError(f"shard id {high} is out of range")
            if high < low:
                raise ValueError(f"the range {part.strip()} runs backwards")
            ids.update(range(low, high + 1))
        return tuple(sorted(ids))

    @field_validator("shard_ids")
    @classmethod
    def _check_shard_ids(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        """Shard ids need the count they are taken from, and must be below it."""
        if value is None:
            return None
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT, the number of shards in all processes")
        if not value:
            raise ValueError("no shard id given")
        too_high = [i for i in value if i >= count]
        if too_high:
            raise ValueError(f"shard {too_high[0]} is not below SHARD_COUNT {count} (ids run from 0)")
        return value
