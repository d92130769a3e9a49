"""The shared corpus: documents in a PostgreSQL table (`CORPUS_DB`) that every bot process mirrors into
its own corpus folder, so an article added on one machine is answered on all of them.

The table holds each document's bytes as saved, by its name below the corpus folder (a deleted
document is a row without content, so a process that was down learns of the deletion too). A
publication (`add`, or a reload that found the folder changed) writes its rows, each only over the
version its folder last saw, and `pg_notify`s their names in the same transaction: a listener hears
of a change only once it is committed. Each process LISTENs, catches up with a full sync by hash (on
start and after every reconnection, since notifications sent while it was away are lost; a
connection that stops answering counts as lost), then applies each notification. Files are written
whole (a temporary file renamed into place) and deleted by name; the bot's folder watcher then
reloads as it does for any change. The table is the truth: a document edited in a folder while its
process was down is overwritten by the table's version when the process starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bot.documents.corpus import SERVER_PREFIX, CorpusError, server_of
from bot.documents.document import SUFFIXES, Problem
from bot.documents.folder import SizeCaps, document_files, is_utf8_name, read_bytes, write_atomically
from bot.stores.database import (
    Migrations,
    PostgresDatabase,
    Store,
    StoreError,
    UnavailableError,
    connect,
    is_postgres,
)

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

CHANNEL = "article_bot_documents"  # LISTEN/NOTIFY channel; a notification's payload is a document name

# MIGRATIONS[n] brings the table from schema version n to n + 1; append, never edit.
MIGRATIONS: Migrations = (
    (
        """CREATE TABLE documents (
            name TEXT PRIMARY KEY,  -- the path below the corpus folder, `/` between folders
            content BYTEA,          -- the file's bytes as saved; NULL: the document was deleted
            sha256 TEXT NOT NULL,   -- of content ('' when deleted)
            updated TEXT NOT NULL   -- UTC, ISO 8601
        )""",
    ),
    # The server that added a document with /add (issue 27); 0 for the operator's. Its name is then
    # `.servers/<server>/<file>` (`corpus.SERVER_PREFIX`), which no operator's document can have,
    # and which a process that predates this column never mirrors (`safe_name`).
    ("ALTER TABLE documents ADD COLUMN server BIGINT NOT NULL DEFAULT 0",),
)
DOCUMENTS = Store("documents", "corpus database", "CORPUS_DB", MIGRATIONS)


class Shared(NamedTuple):
    """A document as the table holds it; `content` None when it was deleted."""

    name: str
    content: bytes | None

    @property
    def sha256(self) -> str:
        return _digest(self.content)


def _digest(content: bytes | None) -> str:
    return "" if content is None else hashlib.sha256(content).hexdigest()


class DocumentStore:
    """The `documents` table. Thread-safe; every call blocks."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    @property
    def where(self) -> str:
        return self.db.where

    def publish(self, documents: Sequence[Shared], previous: Mapping[str, str]) -> list[str]:
        """Write these documents (or their deletion) and notify every listener, in one transaction;
        the names left as they were, because their row no longer holds the version `previous` names
        (its hash; '' for none): another process published them meanwhile, and a blind write would
        silently undo that. A row that already holds the same bytes counts as written."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        taken = []
        with self.db.transaction() as cur:
            for doc in documents:
                cur.execute(
                    """INSERT INTO documents AS d (name, content, sha256, updated, server)
                       VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE
                       SET content = excluded.content, sha256 = excluded.sha256,
                           updated = excluded.updated
                       WHERE d.sha256 IN (?, excluded.sha256)""",
                    (doc.name, doc.content, doc.sha256, now, server_of(doc.name), previous.get(doc.name, "")),
                )
                if cur.rowcount:
                    cur.execute("SELECT pg_notify(?, ?)", (CHANNEL, doc.name))  # sent when this commits
                else:
                    taken.append(doc.name)
        return taken

    def hashes(self) -> dict[str, str]:
        """Every document's hash ('' for a deleted one), by name."""
        with self.db.transaction() as cur:
            cur.execute("SELECT name, sha256 FROM documents")
            return {str(name): str(sha) for name, sha in cur.fetchall()}

    def fetch(self, names: Iterable[str]) -> list[Shared]:
        """These documents as the table holds them now (a name it lacks is left out)."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        with self.db.transaction() as cur:
            cur.execute("SELECT name, content FROM documents WHERE name = ANY(?)", (wanted,))
            return [
                Shared(str(name), None if content is None else bytes(content))
                for name, content in cur.fetchall()
            ]

    def close(self) -> None:
        self.db.close()


def open_documents(address: str) -> DocumentStore:
    """The shared corpus at `address`, which must name a PostgreSQL database (it needs LISTEN/NOTIFY)."""
    if not is_postgres(address):
        raise StoreError(
            "CORPUS_DB must be a postgresql://USER@HOST:PORT/DB address (processes are told of changes)"
        )
    db = connect(address, DOCUMENTS)
    assert isinstance(db, PostgresDatabase)
    return DocumentStore(db)


def open_mirror(settings: Settings) -> Mirror:
    """The shared corpus (CORPUS_DB, which must be set) mirrored into CORPUS_DIR, and the servers'
    own articles into SERVERS_DIR, caught up with it."""
    from bot.documents import servers

    assert settings.corpus_db is not None
    mirror = Mirror(
        open_documents(settings.corpus_db.get_secret_value()),
        settings.corpus_dir,
        SizeCaps.from_settings(settings),
        servers.root(settings),
    )
    try:
        mirror.sync()
    except BaseException:
        mirror.store.close()
        raise
    return mirror


def safe_server_name(name: str) -> bool:
    """Whether a name from the table is a server's document (`.servers/<server>/<file>`) that can be
    written below that server's folder."""
    server, _, rest = name.removeprefix(SERVER_PREFIX).partition("/")
    return name.startswith(SERVER_PREFIX) and server.isdigit() and "/" not in rest and safe_name(rest)


def safe_name(name: str) -> bool:
    """Whether a name from the table can be written below a corpus folder: a relative path of a
    document's kind, with no hidden part and no way out of the folder."""
    parts = name.split("/")
    return (
        name.lower().endswith(SUFFIXES)
        and "\\" not in name
        and "\0" not in name
        and all(part and not part.startswith(".") for part in parts)
    )


_UNRECEIVED = "is not shared: the shared corpus's version of it could not be written here"


class Published(NamedTuple):
    """What `Mirror.publish` did with the folder's changes."""

    sent: list[str]  # in the table now; every process is told
    taken: list[str]  # another process published these since this folder last saw them: theirs stands
    skipped: list[Problem]  # not sent, and why (over a size cap; the table's version never arrived here)

    def log_unsent(self, when: str) -> None:
        """Log each document not sent, and why (`when`: "start", "reload (/reload)")."""
        for name in self.taken:
            log.warning("%s: %s was published by another process meanwhile; its version stands", when, name)
        for problem in self.skipped:
            log.warning("%s: not published to the shared corpus: %s", when, problem)


class Mirror:
    """A corpus folder kept in step with the table, and the folder's own changes published to it.

    `seen` is what the folder and the table last agreed on (name -> SHA-256): what the mirror wrote,
    and what was published. `publish` sends what differs from it (a document only this folder has,
    one edited here, one deleted here), so the mirror's own writes are never sent back, and a
    document the table has but this folder has not received yet is not taken for a deletion.
    A document whose table version could not be written here (a full disk, a name this file system
    refuses) is never published from here, neither the stale copy nor its absence: that would undo
    the newer version on every machine. A write compares and sets: it publishes over the version the
    folder last saw, never over one another process sent meanwhile. Files over the size caps
    (MAX_DOCUMENT_BYTES, FETCH_MAX_BYTES), which every process would skip, are not published.
    Thread-safe: the listener thread and the reloads take turns.
    """

    def __init__(
        self, store: DocumentStore, folder: Path, caps: SizeCaps, servers: Path | None = None
    ) -> None:
        self.store, self.folder, self.caps = store, folder, caps
        self.servers = servers  # where the servers' own articles go (SERVERS_DIR); None: not mirrored
        self.seen: dict[str, str] = {}
        self._unreceived: set[str] = set()  # names whose table version this folder could not write
        self._lock = threading.Lock()
        self._hashes: dict[str, tuple[int, int, str]] = {}  # name -> (size, mtime_ns, sha256)

    def sync(self) -> list[str]:
        """Make the folder hold what the table holds (by hash); the names written or deleted."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            local = self._local()
            table = {n: sha for n, sha in self.store.hashes().items() if self._mirrored(n)}
            self._unreceived.clear()  # every difference is tried again
            changed = self._apply(
                self.store.fetch([n for n, sha in table.items() if local.get(n, "") != sha])
            )
            # What the folder now shares with the table; a document only this folder has is not in
            # it, so the next `publish` shares it.
            local = self._local()
            self.seen = {n: sha for n, sha in table.items() if sha and local.get(n) == sha}
            return changed

    def pull(self, names: Iterable[str]) -> list[str]:
        """Apply the table's current rows for these names (a notification's); the names changed here."""
        with self._lock:
            rows = [doc for doc in self.store.fetch(names) if self._mirrored(doc.name)]
            stale = [doc for doc in rows if self._local_hash(doc.name) != doc.sha256]
            self._unreceived -= {doc.name for doc in rows} - {doc.name for doc in stale}
            changed = self._apply(stale)
            for doc in rows:
                if doc.name in self._unreceived:
                    continue  # `seen` keeps what the folder and the table last agreed on
                if doc.content is None:
                    self.seen.pop(doc.name, None)
                else:
                    self.seen[doc.name] = doc.sha256
            return changed

    def publish(self, names: Iterable[str] | None = None) -> Published:
        """Send the folder's changes since it was last seen (only `names`, when given) to the table."""
        with self._lock:
            local = self._local()
            candidates = set(local) | set(self.seen) if names is None else set(names)
            docs, skipped = [], []
            for name in sorted(candidates):
                sha = local.get(name, "")
                if sha == self.seen.get(name, ""):
                    continue
                if name in self._unreceived:
                    skipped.append(Problem(name, _UNRECEIVED))
                    continue
                content = read_bytes(self._path(name), name, self.caps.of(name)) if sha else None
                if isinstance(content, Problem):
                    skipped.append(content)
                    continue
                docs.append(Shared(name, content))
            taken = self.store.publish(docs, self.seen) if docs else []
            sent = [doc for doc in docs if doc.name not in taken]
            for doc in sent:
                if doc.content is None:
                    self.seen.pop(doc.name, None)
                else:
                    self.seen[doc.name] = doc.sha256
            return Published([doc.name for doc in sent], taken, skipped)

    def follow(self, stop: threading.Event, changed: Callable[[list[str]], None]) -> None:
        """Mirror the table until `stop`: LISTEN, a full sync, then each notification; after the
        connection is lost, or found dead (`PostgresDatabase.listen`), connect again (waiting
        longer each time, up to 10 s) and sync again."""
        delay, lost = 0.5, False
        while not stop.is_set():
            try:
                for batch in self.store.db.listen(CHANNEL, stop):
                    names = self.pull(batch) if batch else self.sync()  # [] first: catch up
                    if lost:
                        log.info("shared corpus: listening again, caught up by hash")
                    delay, lost = 0.5, False
                    if names:
                        log.info(
                            "shared corpus: %d document(s) updated (%s)", len(names), ", ".join(names[:5])
                        )
                        changed(names)
            except (UnavailableError, OSError) as exc:
                log.warning("shared corpus: %s; trying again in %.1f s", exc, delay)
                lost = True
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
            except StoreError as exc:
                log.error("shared corpus: %s; trying again in 10 s", exc)
                lost = True
                stop.wait(10.0)

    def _mirrored(self, name: str) -> bool:
        """Whether a name from the table is one this mirror writes: an operator's document, or,
        with a servers' folder, a server's."""
        return safe_name(name) or (self.servers is not None and safe_server_name(name))

    def _path(self, name: str) -> Path:
        """Where a document of the table lives here: a server's in its folder under `servers`."""
        if self.servers is not None and name.startswith(SERVER_PREFIX):
            return self.servers / name.removeprefix(SERVER_PREFIX)
        return self.folder / name

    def _local(self) -> dict[str, str]:
        """The folder's documents (and the servers' own, with a servers' folder) and their hashes
        (unchanged files are not read again); a file whose name is not UTF-8 is left out (the table
        cannot hold its name; the loader reports it)."""
        try:
            names = [name for name, _ in document_files(self.folder)]
        except CorpusError:  # no document yet
            names = []
        if self.servers is not None and self.servers.is_dir():
            with contextlib.suppress(CorpusError):  # none yet
                listed = (f"{SERVER_PREFIX}{name}" for name, _ in document_files(self.servers))
                names += [name for name in listed if safe_server_name(name)]
        return {name: sha for name in names if is_utf8_name(name) and (sha := self._local_hash(name))}

    def _local_hash(self, name: str) -> str:
        path = self._path(name)
        try:
            stat = path.stat()
            cached = self._hashes.get(name)
            if cached is not None and cached[:2] == (stat.st_size, stat.st_mtime_ns):
                return cached[2]
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return ""
        self._hashes[name] = (stat.st_size, stat.st_mtime_ns, sha)
        return sha

    def _apply(self, docs: Sequence[Shared]) -> list[str]:
        """Write or delete each document in the folder; the names done. A failure is logged, not
        raised, and the name kept in `_unreceived` until a later write succeeds."""
        done = []
        for doc in docs:
            path = self._path(doc.name)
            try:
                if doc.content is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    write_atomically(path, doc.content)
            except OSError as exc:
                log.error(
                    "shared corpus: cannot write %s (%s); not shared from here until it is",
                    path,
                    exc.strerror or exc,
                )
                self._unreceived.add(doc.name)
                continue
            self._unreceived.discard(doc.name)
            done.append(doc.name)
        return done
