"""The databases the stores keep their tables in: one small interface, one class per backend, one
factory (`connect`) that reads the address.

- a path or `sqlite:///PATH`: `SQLiteDatabase`, the standard `sqlite3` module, one connection under a
  lock, WAL journal with `synchronous=FULL` (a commit is on disk when it returns);
- `postgresql://USER@HOST:PORT/DB` (or `postgres://`, or libpq's `host=... dbname=...` pairs, read
  by libpq's own parser): `PostgresDatabase`, psycopg 3 with a connection pool (`psycopg_pool`) that
  checks each connection before handing it out, so one broken by a server restart is replaced, not
  used. A call may carry a deadline: a server that stops answering (a frozen host, a partition) then
  fails it in time, its connection cut and replaced, where libpq would wait for ever. psycopg is
  imported only here and only for such an address: it is the optional `postgres` extra. libpq's
  `PGPASSWORD` and `~/.pgpass` work as usual.

The stores write their SQL once, with `?` placeholders, in the subset both databases accept; a
statement that must differ (a column type) is a mapping from dialect to text. Schemas are versioned
in the database (SQLite: `PRAGMA user_version`, the file being one store's; PostgreSQL: a row per
store in `schema_versions`, since one database holds several stores) and brought forward by
numbered migrations in one transaction, under a lock that makes a second process starting at the
same moment wait and then find nothing left to do (SQLite: `BEGIN IMMEDIATE`; PostgreSQL:
`pg_advisory_xact_lock`). A store opened read-only (the reports) never migrates: it reads a schema
of its own version or says why it cannot.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.config import AddressError, postgres_params, postgres_servers, redact
from bot.config import is_postgres as is_postgres  # noqa: PLC0414 - re-exported: the stores read it here

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

Dialect = Literal["sqlite", "postgresql"]
Statement = str | Mapping[Dialect, str]  # the same text for both, or one text each
Migrations = Sequence[Sequence[Statement]]  # MIGRATIONS[n] brings a schema from version n to n + 1


class StoreError(Exception):
    """A database cannot be used; the message is one line naming it (never its password)."""


class UnavailableError(StoreError):
    """The database did not answer (a server down or restarting, a file locked): try again later."""


@dataclass(frozen=True)
class Store:
    """What a store is called in messages, the setting that names its address, and its migrations."""

    name: str  # "feedback": the key of its version in `schema_versions`
    what: str  # "feedback database"
    setting: str  # "FEEDBACK_DB"
    migrations: Migrations

    @property
    def version(self) -> int:
        """The schema version this bot writes and reads."""
        return len(self.migrations)


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use; SQL with `?` placeholders in both backends."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database(Protocol):
    """A database holding one or more stores' tables."""

    dialect: Dialect
    where: str  # the address without its password, for messages
    read_only: bool

    def transaction(
        self, lock: str | None = None, *, deadline: float | None = None
    ) -> contextlib.AbstractContextManager[Cursor]:
        """One transaction, committed when the block ends (rolled back on an exception); with
        `lock`, no other process holding the same lock runs its transaction meanwhile; with
        `deadline`, UnavailableError once it has taken that many seconds (a server not answering)."""
        ...

    def schema_version(self, cursor: Cursor, store: str) -> int: ...

    def set_schema_version(self, cursor: Cursor, store: str, version: int) -> None: ...

    def close(self) -> None: ...


def connect(address: str | Path, store: Store, *, read_only: bool = False) -> Database:
    """The database at `address` (a path, `sqlite:///PATH` or `postgresql://...`), its schema for
    `store` at this bot's version: migrated when opened for writing, checked when `read_only`."""
    text = str(address)
    if is_postgres(text):
        db: Database = PostgresDatabase(text, store, read_only=read_only)
    elif text.startswith("sqlite://"):
        path = urllib.parse.unquote(urllib.parse.urlsplit(text).path)
        if not path:
            raise StoreError(f"{text} names no file (sqlite:///PATH; setting {store.setting})")
        db = SQLiteDatabase(Path(path), store, read_only=read_only)
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise StoreError(
            f"{store.setting}: {scheme}:// is not a database this bot can use "
            "(a path, sqlite:///PATH, postgresql://USER@HOST:PORT/DB or libpq's key=value pairs)"
        )
    else:
        db = SQLiteDatabase(Path(text), store, read_only=read_only)
    try:
        migrate(db, store)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: Database, store: Store) -> None:
    """Bring `store`'s schema to this bot's version, or, read-only, check that it is there already."""
    # One lock for every store's migrations: two stores sharing a database both create
    # `schema_versions`, and under a lock each, the second failed on the first's new table.
    with db.transaction(lock=None if db.read_only else "article-bot:migrations") as cur:
        version = db.schema_version(cur, store.name)
        if version > store.version:
            raise StoreError(
                f"{db.where} has {store.what} schema {version}; this bot knows up to {store.version}"
            )
        if db.read_only:
            if version == 0:
                raise StoreError(f"{db.where} holds no {store.what} yet (setting {store.setting})")
            if version < store.version:
                raise StoreError(
                    f"{db.where} has {store.what} schema {version}, older than this bot's "
                    f"{store.version}: start the bot once to upgrade it (a report changes nothing)"
                )
            return
        for step in store.migrations[version:]:
            for statement in step:
                cur.execute(statement if isinstance(statement, str) else statement[db.dialect])
        if version != store.version:
            db.set_schema_version(cur, store.name, store.version)


class SQLiteDatabase:
    """One SQLite file, one connection shared under a lock (thread-safe; every call blocks)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, store: Store, *, read_only: bool = False) -> None:
        self.path, self.where, self.read_only = path, str(path), read_only
        if read_only and not path.is_file():
            raise StoreError(f"no {store.what} at {path} (setting {store.setting})")
        try:
            if read_only:  # the reports: nothing written, not even a journal mode or a salt
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # The file holds the salt, the voters' hashes and questions: its owner's alone (SQLite
                # makes its -wal and -shm files with the database's own mode).
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the {store.what} {path}: {exc}") from None
        self._lock = threading.Lock()
        self._what = store.what
        if not read_only:
            with self._errors():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise UnavailableError(f"{self.path} is busy ({exc}); try again") from None
            raise StoreError(f"{self.path} cannot be used as a {self._what}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable {self._what}: {exc}") from None

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None, *, deadline: float | None = None) -> Iterator[Cursor]:
        # Every transaction takes the write lock at once (IMMEDIATE): no reader turns writer midway
        # and deadlocks with another process; a read-only file can only be read (BEGIN). No server
        # can stop answering here: a lock held elsewhere is waited for 10 s at most, whatever
        # `deadline` says.
        with self._lock, self._errors():
            self._db.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
            try:
                yield self._db.cursor()
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def schema_version(self, cursor: Cursor, store: str) -> int:
        cursor.execute("PRAGMA user_version")
        return int(cursor.fetchone()[0])

    def set_schema_version(self, cursor: Cursor, store: str, version: int) -> None:
        cursor.execute(f"PRAGMA user_version = {int(version)}")

    def close(self) -> None:
        """Close the file (a checkpoint folds the WAL back into it)."""
        with self._lock:
            self._db.close()


class _PgCursor:
    """A psycopg cursor that takes the stores' `?` placeholders (no statement of ours holds a `%`)."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%s"), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


CONNECT_TIMEOUT = 5  # seconds to reach the server, at start and for a pooled connection
POOL_TIMEOUT = 5.0  # seconds a statement waits for a connection before the caller hears UnavailableError
CHECK_TIMEOUT = 5.0  # seconds a pooled connection has to answer its check, in a call with no deadline


class _Deadlines:
    """Cuts the connections whose calls outlive their deadline: shuts the socket down, so that libpq
    fails the call at once, where a server that stopped answering (a frozen host, a partition, a
    proxy that goes on acknowledging, which TCP keepalives take for alive) would keep it waiting for
    ever. The pool replaces a connection so cut. One thread watches every call: a thread started per
    call cost more than the call itself on a busy machine."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._watched: dict[object, tuple[float, int]] = {}  # a call's token: (deadline, socket)
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def cut_at(self, conn: psycopg.Connection[Any], until: float | None) -> Iterator[None]:
        """Cut `conn` should the block still run at `until` (`time.monotonic()`; None: never)."""
        if until is None:
            yield
            return
        token = object()
        with self._changed:
            self._watched[token] = (until, conn.pgconn.socket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="database-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:  # under the lock: never cut once the block is over (the connection
                self._watched.pop(token, None)  # may be someone else's by then)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for token, (until, fd) in list(self._watched.items()):
                    if until <= now:
                        del self._watched[token]
                        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
                            sock.shutdown(socket.SHUT_RDWR)
                nearest = min((until for until, _ in self._watched.values()), default=None)
                self._changed.wait(None if nearest is None else nearest - now)


_DEADLINES = _Deadlines()


class PostgresDatabase:
    """A PostgreSQL database through a small pool of connections (thread-safe; every call blocks)."""

    dialect: Dialect = "postgresql"

    def __init__(self, address: str, store: Store, *, read_only: bool = False, pool_size: int = 4) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError:
            raise StoreError(
                f"{store.setting} names a PostgreSQL database; install the postgres extra "
                "(pip install 'article-bot[postgres]')"
            ) from None
        try:  # libpq's reading, so that the servers named are the ones it tries
            params = postgres_params(address)
        except AddressError as exc:
            raise StoreError(f"the {store.what}'s address ({store.setting}): {exc}") from None
        self.address, self.where, self.read_only = address, redact(address), read_only
        self.server = postgres_servers(params)
        # Every value that may be secret, to scrub from driver messages (libpq should never quote one).
        self._secrets = sorted((v for k, v in params.items() if "password" in k and v), key=len, reverse=True)
        self._what = store.what
        self._until = threading.local()  # this thread's call's deadline, for `_check`
        kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "article-bot"}
        if read_only:  # the reports: the server itself refuses any write
            kwargs["options"] = "-c default_transaction_read_only=on"
        self._kwargs = kwargs
        try:  # one connection first, so an unreachable server is one line naming it, at once
            psycopg.connect(address, **kwargs).close()
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to the {store.what} at {self.server} ({self._reason(exc)})"
            ) from None
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = psycopg_pool.ConnectionPool(
            address,
            kwargs=kwargs,
            min_size=1,
            max_size=pool_size,
            check=self._check,  # a connection the restart broke is replaced
            timeout=POOL_TIMEOUT,
            name=f"article-bot {store.name}",
            open=True,
        )

    def _reason(self, exc: BaseException) -> str:
        """The first line of a driver error, without the password should libpq ever quote it."""
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"^connection (failed|is bad): ", "", text)

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """The pool's check of a connection before handing it out, within the call's deadline."""
        import psycopg_pool

        until = getattr(self._until, "value", None) or time.monotonic() + CHECK_TIMEOUT
        with _DEADLINES.cut_at(conn, until):
            psycopg_pool.ConnectionPool.check_connection(conn)

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None, *, deadline: float | None = None) -> Iterator[Cursor]:
        import psycopg
        import psycopg_pool

        until = None if deadline is None else time.monotonic() + deadline
        self._until.value = until  # the pool checks the connection it hands out on this thread
        try:
            wait = POOL_TIMEOUT if until is None else min(POOL_TIMEOUT, until - time.monotonic())
            with (
                self._pool.connection(timeout=wait) as conn,
                _DEADLINES.cut_at(conn, until),
                conn.transaction(),
                conn.cursor() as cur,
            ):
                if lock is not None:  # released with the transaction, even if the process dies
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
                yield _PgCursor(cur)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            late = until is not None and time.monotonic() >= until
            reason = f"no answer within {deadline:g} s" if late else self._reason(exc)
            raise UnavailableError(f"the {self._what} at {self.server} is not answering ({reason})") from None
        except psycopg.Error as exc:
            raise StoreError(
                f"the {self._what} at {self.where} refused a statement ({self._reason(exc)})"
            ) from None
        finally:
            self._until.value = None

    def schema_version(self, cursor: Cursor, store: str) -> int:
        cursor.execute("SELECT to_regclass('schema_versions') IS NOT NULL")
        if not cursor.fetchone()[0]:
            if not self.read_only:
                cursor.execute(
                    "CREATE TABLE schema_versions (store TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
            return 0
        cursor.execute("SELECT version FROM schema_versions WHERE store = ?", (store,))
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def set_schema_version(self, cursor: Cursor, store: str, version: int) -> None:
        cursor.execute(
            "INSERT INTO schema_versions VALUES (?, ?)"
            " ON CONFLICT (store) DO UPDATE SET version = excluded.version",
            (store, version),
        )

    def listen(self, channel: str, stop: threading.Event, *, poll: float = 1.0) -> Iterator[list[str]]:
        """LISTEN on `channel` on a connection of its own: yields `[]` once listening (the moment to
        catch up on what was missed), then each batch of notification payloads, until `stop` is set.
        Raises UnavailableError when the connection is lost (the caller connects again), or found
        dead: after ALIVE_EVERY quiet seconds it must answer a trivial query within ALIVE_DEADLINE.
        A path that died without a word (a NAT or load balancer that forgot it) is otherwise waited
        on for ever, and TCP keepalives miss a proxy that goes on acknowledging. The pool's idle
        connections are replaced then too, so the catching up does not wait on a dead one."""
        import psycopg

        try:
            with psycopg.connect(self.address, autocommit=True, **self._kwargs) as conn:
                conn.execute(f"LISTEN {channel}")
                yield []
                quiet_since = time.monotonic()
                while not stop.is_set():
                    batch = [n.payload for n in conn.notifies(timeout=poll)]
                    if batch:
                        yield batch
                    elif time.monotonic() - quiet_since < ALIVE_EVERY:
                        continue
                    elif not _answers(conn, ALIVE_DEADLINE):
                        self._pool.drain()  # its idle connections most likely went the same way
                        raise UnavailableError(
                            f"the {self._what} at {self.server} did not answer within {ALIVE_DEADLINE:g} s"
                        )
                    quiet_since = time.monotonic()
        except psycopg.Error as exc:
            raise UnavailableError(
                f"the {self._what} at {self.server} is not answering ({self._reason(exc)})"
            ) from None

    def close(self) -> None:
        self._pool.close()


ALIVE_EVERY = 5.0  # seconds without a notification after which a listening connection is checked
ALIVE_DEADLINE = 5.0  # seconds it has to answer before it is taken for dead


def _answers(conn: psycopg.Connection[Any], deadline: float) -> bool:
    """Whether `conn` answers a trivial query within `deadline` seconds. If it does not, its socket
    is shut down, which ends the wait with an error, and the connection is unusable: libpq has no
    deadline of its own, and the server's statement_timeout cannot help when the query never
    reaches it."""
    import psycopg

    fd, late = conn.fileno(), threading.Event()

    def cut() -> None:
        late.set()
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline, cut)
    timer.start()
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        if not late.is_set():
            raise
    finally:
        timer.cancel()
    return not late.is_set()
