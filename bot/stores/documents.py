"""The shared corpus: documents in a PostgreSQL table (`CORPUS_DB`) that every bot process mirrors into
its own corpus folder, so an article added on one machine is answered on all of them.

The table holds each document's bytes as saved, by its name below the corpus folder (a deleted
document is a row without content, so a process that was down learns of the deletion too). A
publication (`add`, or a reload that found the folder changed) writes its rows and `pg_notify`s
their names in the same transaction: a listener hears of a change only once it is committed. Each
process LISTENs, catches up with a full sync by hash (on start and after every reconnection, since
notifications sent while it was away are lost), then applies each notification. Files are written
whole (a temporary file renamed into place) and deleted by name; the bot's folder watcher then
reloads as it does for any change. The table is the truth: a document edited in a folder while its
process was down is overwritten by the table's version when the process starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from bot.documents.corpus import SUFFIXES, CorpusError, document_files
from bot.stores.database import (
    Migrations,
    PostgresDatabase,
    Store,
    StoreError,
    UnavailableError,
    connect,
    is_postgres,
)

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

    def publish(self, documents: Sequence[Shared]) -> None:
        """Write these documents (or their deletion) and notify every listener, in one transaction."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self.db.transaction() as cur:
            for doc in documents:
                cur.execute(
                    """INSERT INTO documents VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE
                       SET content = excluded.content, sha256 = excluded.sha256,
                           updated = excluded.updated""",
                    (doc.name, doc.content, doc.sha256, now),
                )
                cur.execute("SELECT pg_notify(?, ?)", (CHANNEL, doc.name))  # sent when this commits

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


class Mirror:
    """A corpus folder kept in step with the table, and the folder's own changes published to it.

    `seen` is what the folder and the table last agreed on (name -> SHA-256): what the mirror wrote,
    and what was published. `publish` sends what differs from it (a document only this folder has,
    one edited here, one deleted here), so the mirror's own writes are never sent back, and a
    document the table has but this folder has not received yet is not taken for a deletion.
    Thread-safe: the listener thread and the reloads take turns.
    """

    def __init__(self, store: DocumentStore, folder: Path) -> None:
        self.store, self.folder = store, folder
        self.seen: dict[str, str] = {}
        self._lock = threading.Lock()
        self._hashes: dict[str, tuple[int, int, str]] = {}  # name -> (size, mtime_ns, sha256)

    def sync(self) -> list[str]:
        """Make the folder hold what the table holds (by hash); the names written or deleted."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            local = self._local()
            table = {n: sha for n, sha in self.store.hashes().items() if safe_name(n)}
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
            rows = [doc for doc in self.store.fetch(names) if safe_name(doc.name)]
            changed = self._apply([doc for doc in rows if self._local_hash(doc.name) != doc.sha256])
            for doc in rows:
                if doc.content is None:
                    self.seen.pop(doc.name, None)
                else:
                    self.seen[doc.name] = doc.sha256
            return changed

    def publish(self, names: Iterable[str] | None = None) -> list[str]:
        """Send the folder's changes since it was last seen (only `names`, when given) to the table."""
        with self._lock:
            local = self._local()
            candidates = set(local) | set(self.seen) if names is None else set(names)
            docs = []
            for name in sorted(candidates):
                sha = local.get(name, "")
                if sha == self.seen.get(name, ""):
                    continue
                content = (self.folder / name).read_bytes() if sha else None
                docs.append(Shared(name, content))
            if docs:
                self.store.publish(docs)
            for doc in docs:
                if doc.content is None:
                    self.seen.pop(doc.name, None)
                else:
                    self.seen[doc.name] = doc.sha256
            return [doc.name for doc in docs]

    def follow(self, stop: threading.Event, changed: Callable[[list[str]], None]) -> None:
        """Mirror the table until `stop`: LISTEN, a full sync, then each notification; after the
        server goes away, connect again (waiting longer each time, up to 10 s) and sync again."""
        delay = 0.5
        while not stop.is_set():
            try:
                for batch in self.store.db.listen(CHANNEL, stop):
                    names = self.pull(batch) if batch else self.sync()  # [] first: catch up
                    delay = 0.5
                    if names:
                        log.info(
                            "shared corpus: %d document(s) updated (%s)", len(names), ", ".join(names[:5])
                        )
                        changed(names)
            except (UnavailableError, OSError) as exc:
                log.warning("shared corpus: %s; trying again in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
            except StoreError as exc:
                log.error("shared corpus: %s; trying again in 10 s", exc)
                stop.wait(10.0)

    def _local(self) -> dict[str, str]:
        """The folder's documents and their hashes (unchanged files are not read again)."""
        try:
            names = [name for name, _ in document_files(self.folder)]
        except CorpusError:  # no document yet
            names = []
        return {name: sha for name in names if (sha := self._local_hash(name))}

    def _local_hash(self, name: str) -> str:
        path = self.folder / name
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
        """Write or delete each document in the folder; the names done (a failure is logged, not raised)."""
        done = []
        for doc in docs:
            path = self.folder / doc.name
            try:
                if doc.content is None:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                else:
                    write_atomically(path, doc.content)
            except OSError as exc:
                log.error("shared corpus: cannot write %s (%s)", path, exc.strerror or exc)
                continue
            done.append(doc.name)
        return done


def write_atomically(path: Path, content: bytes) -> None:
    """Write a whole file or nothing (a hidden temporary file renamed into place): a reader never sees
    half of it. A new file's mode follows the umask; a replaced file keeps its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
