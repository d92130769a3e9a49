"""The on-disk cache in `CACHE_DIR`: its layout, its schema, atomic writes and its bound.

Layout: `CACHE_DIR/v{FORMAT}/{kind}/{key}/`, one folder an entry, holding `meta.json` and one
plain `.npy` file per array. Arrays are memory-mapped when read (`np.load(mmap_mode="r")`), so
processes on one machine that read the same entry share its pages; nothing in the cache is
pickled, so nothing in it can run code. `meta.json` records each array's SHA-256, dtype and
shape; an entry that fails any check is moved aside and rebuilt, never trusted.

Several processes (the bot's shards, command-line runs) share one cache folder. An entry is
written into a temporary folder and renamed into place in one step, so a reader sees a whole
entry or none; when two processes build the same entry, the first rename wins and the other
drops its copy; an entry that grows (a file's sentence vectors) is read, merged and replaced
under a lock of the cache's (`Cache.writing`), so no process drops rows another stored. Entries
are keyed by what they were made from, so different corpora live side by side. The cache is
bounded: past `max_bytes`, the least recently used entries go (each read refreshes its entry's
time), and temporary folders left by a killed process are removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import Corpus
from bot.documents.document import HTML_SUFFIXES, Document, Problem
from bot.search.groups import Groups, Within
from bot.search.retriever import Bm25Params, Index
from bot.search.semantic import F16, Mask

log = logging.getLogger(__name__)

FORMAT = 2
META = "meta.json"
_TMP = ".tmp-"  # an entry being written
_OLD = ".old-"  # an entry moved aside to be deleted
_STALE_SECONDS = 3600.0  # a temporary folder this old was left by a process that died
_TRIM_TO = 0.9  # evict down to this share of the bound, so that the next write does not evict again

Arrays = dict[str, npt.NDArray[Any]]


class Entry(NamedTuple):
    """A cache entry as read: its metadata and its arrays (memory-mapped, read-only)."""

    meta: dict[str, Any]
    arrays: Arrays


class EntryError(ValueError):
    """An entry whose content fails a check."""


class Cache:
    """A bounded folder of entries shared by concurrent processes."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.base = root / f"v{FORMAT}"
        self.max_bytes = max_bytes

    @classmethod
    def open(cls, root: Path, max_bytes: int) -> Cache | None:
        """The cache in `root`, made if need be; None, and one warning saying why, when that folder
        cannot hold it (a file, a folder this process may not write): the load goes on without it,
        rather than warn about every entry it would have read or written."""
        base = root / f"v{FORMAT}"
        try:
            base.mkdir(parents=True, exist_ok=True)
            if not os.access(base, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        except OSError as exc:
            log.warning("cache off: CACHE_DIR %s cannot be used (%s)", root, exc.strerror or exc)
            return None
        return cls(root, max_bytes)

    def path(self, kind: str, key: str) -> Path:
        """The folder of an entry."""
        return self.base / kind / key

    def get(self, kind: str, key: str) -> Entry | None:
        """The entry, checked, or None when there is none or it fails a check (then it is removed)."""
        folder = self.path(kind, key)
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.discard(folder, f"its {META} cannot be read ({exc})")
            return None
        try:
            if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != key:
                raise EntryError("it was made for something else")
            arrays = {name: _load_array(folder, name, spec) for name, spec in meta["arrays"].items()}
        except FileNotFoundError as exc:
            if (folder / META).exists():  # else another process moved it aside since: a plain miss
                self.discard(folder, f"{Path(exc.filename or '').name} is missing")
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.discard(folder, str(exc))
            return None
        _touch(folder / META)
        return Entry(meta, arrays)

    def put(
        self,
        kind: str,
        key: str,
        meta: Mapping[str, Any],
        arrays: Mapping[str, npt.NDArray[Any]],
        *,
        replace: bool = False,
    ) -> bool:
        """Write an entry atomically; False (and a warning) when the cache cannot be written.

        An entry already there is kept (it was made from the same things), unless `replace`: an
        entry that grows (a file's vectors, computed as questions need them) replaces the old."""
        final = self.path(kind, key)
        tmp: Path | None = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # Made as any folder is, so the umask decides who may read it (mkdtemp's 0700 kept other
            # users' processes sharing CACHE_DIR out of the entry).
            tmp = final.parent / f"{_TMP}{os.getpid()}-{secrets.token_hex(8)}"
            tmp.mkdir()
            specs = {}
            for name, array in arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
                specs[name] = {
                    "sha256": _file_sha256(tmp / f"{name}.npy"),
                    "dtype": array.dtype.str,
                    "shape": list(array.shape),
                }
            document = {**meta, "format": FORMAT, "key": key, "arrays": specs}
            (tmp / META).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
            try:
                tmp.rename(final)
            except OSError:
                if not (final / META).exists():
                    raise
                if replace and _remove(final):
                    with contextlib.suppress(OSError):
                        tmp.rename(final)
                # Another process published the same entry first: theirs is as good as ours.
                shutil.rmtree(tmp, ignore_errors=True)
            return True
        except OSError as exc:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            log.warning("could not write to the cache in %s: %s", self.root, exc)
            return False

    @contextlib.contextmanager
    def writing(self, kind: str) -> Iterator[None]:
        """Hold the lock on writing entries of `kind`, across processes: one that reads an entry to
        write it again (`VectorCache.save` merging rows) sees every write made before its own.

        The lock is `flock` on `v{FORMAT}/{kind}.lock`, a file beside the kinds' folders (trimming
        reads folders only); the kernel releases it if the process dies. Without the file (a
        cache this process cannot write), writing goes on unlocked: `put` says why it fails."""
        try:
            self.base.mkdir(parents=True, exist_ok=True)
            # Read-only is enough for flock, and lets processes of other users that share the
            # cache (the file is made as the umask allows) take the same lock.
            fd = os.open(self.base / f"{kind}.lock", os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and the lock with it

    def trim(self, keep: frozenset[Path] = frozenset()) -> None:
        """Remove dead temporary folders, then least recently used entries past the bound."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for version in _subfolders(self.root, "v"):  # other versions' entries age out as well
            for kind in _subfolders(version):
                for folder in _subfolders(kind):
                    if folder.name.startswith(_OLD) or (
                        folder.name.startswith(_TMP) and now - _mtime(folder) > _STALE_SECONDS
                    ):
                        shutil.rmtree(folder, ignore_errors=True)
                    elif not folder.name.startswith(_TMP):
                        entries.append((_mtime(folder / META), _folder_size(folder), folder))
        for legacy in _subfolders(self.root, "index-"):  # the single-entry layout of format 1
            if (legacy / "index.npz").exists():
                shutil.rmtree(legacy, ignore_errors=True)
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        for _, size, folder in sorted(entries):
            if total <= self.max_bytes * _TRIM_TO:
                break
            if folder in keep:
                continue
            if _remove(folder):
                total -= size
                log.info("cache: evicted %s (%d bytes)", folder.name, size)

    def discard(self, folder: Path, reason: str) -> None:
        """Warn that an entry fails a check, and remove it."""
        log.warning("cache entry %s is not usable (%s); rebuilding", folder, reason)
        _remove(folder)


def _load_array(folder: Path, name: str, spec: Mapping[str, Any]) -> npt.NDArray[Any]:
    path = folder / f"{name}.npy"
    if _file_sha256(path) != spec["sha256"]:
        raise EntryError(f"{name}.npy does not match its checksum")
    mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    # A plain array over the same mapping: np.memmap's subclass costs microseconds on every slice.
    array: npt.NDArray[Any] = mapped.view(np.ndarray)
    if array.dtype.str != spec["dtype"] or list(array.shape) != spec["shape"]:
        raise EntryError(f"{name}.npy has the wrong dtype or shape")
    return array


def _remove(folder: Path) -> bool:
    """Move an entry aside in one step (readers see it or nothing), then delete it."""
    aside = folder.with_name(f"{_OLD}{folder.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        folder.rename(aside)
    except OSError:
        return False  # gone already: another process removed it
    shutil.rmtree(aside, ignore_errors=True)
    return True


def _subfolders(folder: Path, prefix: str = "") -> list[Path]:
    try:
        with os.scandir(folder) as it:
            return [Path(e.path) for e in it if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _folder_size(folder: Path) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(e.stat(follow_symlinks=False).st_size for e in it if e.is_file(follow_symlinks=False))
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _touch(path: Path) -> None:
    """Mark an entry as just used (least recently used entries are evicted first)."""
    with contextlib.suppress(OSError):  # a read-only cache still serves reads
        os.utime(path)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- the schema


class TermTable(NamedTuple):
    """What a corpus's index is rebuilt from: each document's file key, and each sentence's
    terms as ids into the index's terms, end to end, with each sentence's number of terms."""

    keys: tuple[str, ...]
    tokens: npt.NDArray[np.int32]
    lengths: npt.NDArray[np.int32]


@dataclass(frozen=True)
class Stored:
    """A corpus as cached. Its documents' text is empty (it comes from the files themselves),
    but for web pages, whose text is the Markdown extracted from them."""

    corpus: Corpus
    index: Index
    table: TermTable
    grouped: Groups | None = None  # none for a corpus kept in memory only as a base to reuse


_INDEX_ARRAYS = ("offsets", "doc_ids", "impacts", "baseline", "idf")
_GROUPED = ("paragraphs", "documents")  # the ranker's indexes beside the sentence index
_WITHIN = ("sentences", "paragraphs")  # and its factors beside the document index's postings


def save_corpus(
    cache: Cache, key: str, corpus: Corpus, index: Index, table: TermTable, grouped: Groups
) -> bool:
    """Cache a whole corpus under `key`: its sentence table, its indexes and its term table."""
    arrays: Arrays = {f"corpus_{name}": column for name, column in corpus.columns().items()}
    arrays.update({name: getattr(index, name) for name in _INDEX_ARRAYS})
    indexes = (grouped.paragraphs, grouped.documents)
    for group, grouped_index in zip(_GROUPED, indexes, strict=True):
        arrays.update({f"{group}_{name}": getattr(grouped_index, name) for name in _INDEX_ARRAYS})
    arrays.update({f"within_{name}": getattr(grouped.within, name) for name in _WITHIN})
    arrays.update(tokens=table.tokens, lengths=table.lengths)
    # A document's text is its file's, decoded again on the next load, except a web page's:
    # that is the Markdown of its article, which is kept rather than extracted again.
    documents = [
        {
            **{k: v for k, v in asdict(d).items() if k != "text" or d.name.lower().endswith(HTML_SUFFIXES)},
            "key": file_key,
        }
        for d, file_key in zip(corpus.documents, table.keys, strict=True)
    ]
    meta = {
        "params": asdict(index.params),
        "n_docs": index.n_docs,
        "n_groups": [g.n_docs for g in indexes],
        "terms": index.terms,
        "documents": documents,
        "problems": [list(p) for p in corpus.problems],
    }
    return cache.put("corpus", key, meta, arrays)


def load_corpus(cache: Cache, key: str) -> Stored | None:
    """The corpus cached under `key`, checked, or None."""
    entry = cache.get("corpus", key)
    if entry is None:
        return None
    meta, arrays = entry
    try:
        keys = tuple(str(fields.pop("key")) for fields in meta["documents"])
        documents = [Document(**{"text": "", **fields}) for fields in meta["documents"]]
        columns = {name: arrays[f"corpus_{name}"] for name in Corpus.COLUMNS}
        corpus = Corpus(documents, columns, [Problem(*p) for p in meta["problems"]])
        index = Index(
            Bm25Params(**meta["params"]),
            meta["terms"],
            arrays["offsets"],
            arrays["doc_ids"],
            arrays["impacts"],
            arrays["baseline"],
            arrays["idf"],
            int(meta["n_docs"]),
        )
        table = TermTable(keys, arrays["tokens"], arrays["lengths"])
        _check(corpus, index, table)
        paragraph_index, document_index = (
            Index(
                index.params,
                index.terms,
                arrays[f"{group}_offsets"],
                arrays[f"{group}_doc_ids"],
                arrays[f"{group}_impacts"],
                arrays[f"{group}_baseline"],
                arrays[f"{group}_idf"],
                int(n),
                term_id=index.term_id,
            )
            for group, n in zip(_GROUPED, meta["n_groups"], strict=True)
        )
        for g in (paragraph_index, document_index):
            _check_postings(g)
        within = Within(*(arrays[f"within_{name}"] for name in _WITHIN))
        if any(len(factors) != len(document_index.doc_ids) for factors in within):
            raise EntryError("its within-document factors do not match the document index")
        grouped = Groups(paragraph_index, document_index, within)
    except (ValueError, KeyError, TypeError) as exc:
        cache.discard(cache.path("corpus", key), str(exc))
        return None
    return Stored(corpus, index, table, grouped)


def recent_corpora(cache: Cache, prefix: str) -> list[str]:
    """Keys of the cached corpora whose key starts with `prefix`, most recently used first."""
    folders = [f for f in _subfolders(cache.base / "corpus", prefix) if not f.name.startswith((_TMP, _OLD))]
    return [f.name for f in sorted(folders, key=lambda f: _mtime(f / META), reverse=True)]


def _check(corpus: Corpus, index: Index, table: TermTable) -> None:
    """Shapes and ranges that a sound entry always has."""
    n_terms = len(index.terms)
    if index.n_docs != len(corpus):
        raise EntryError("its arrays have the wrong shapes")
    _check_postings(index)
    if index.terms != sorted(index.terms):
        raise EntryError("its term table is out of order")
    if len(table.keys) != len(corpus.documents) or len(table.lengths) != len(corpus):
        raise EntryError("its term table does not match its documents")
    if int(table.lengths.sum()) != len(table.tokens) or (
        len(table.tokens) and (table.tokens.min() < 0 or table.tokens.max() >= n_terms)
    ):
        raise EntryError("its sentence terms are inconsistent")


def _check_postings(index: Index) -> None:
    """Shapes and ranges that a sound index always has."""
    n_terms = len(index.terms)
    if len(index.offsets) != n_terms + 1 or len(index.idf) != n_terms:
        raise EntryError("its arrays have the wrong shapes")
    if (
        index.offsets[0] != 0
        or index.offsets[-1] != len(index.doc_ids)
        or len(index.impacts) != len(index.doc_ids)
    ):
        raise EntryError("its postings are inconsistent")
    if len(index.doc_ids) and (index.doc_ids.min() < 0 or index.doc_ids.max() >= index.n_docs):
        raise EntryError("its postings point outside the corpus")
    if np.any(np.diff(index.offsets) < 0):
        raise EntryError("its postings are out of order")


# ----------------------------------------------------------------------------- sentence vectors


class VectorCache:
    """The re-ranker's sentence vectors, one entry a file (`vectors/{model}-{file key}`): a
    changed file re-embeds only itself, and processes sharing the cache share the work."""

    def __init__(self, cache: Cache, model: str) -> None:
        self.cache = cache
        self.model = model

    def _key(self, key: str) -> str:
        return f"{self.model}-{key}"

    def load(self, key: str) -> tuple[F16, Mask] | None:
        """A file's vectors and which of them are computed, or None."""
        entry = self.cache.get("vectors", self._key(key))
        if entry is None:
            return None
        vectors, done = entry.arrays.get("vectors"), entry.arrays.get("done")
        if (
            vectors is None
            or done is None
            or vectors.dtype != np.float16
            or done.dtype != np.bool_
            or vectors.ndim != 2
            or done.shape != vectors.shape[:1]
        ):
            self.cache.discard(self.cache.path("vectors", self._key(key)), "its arrays have the wrong shapes")
            return None
        return vectors, done

    def save(self, key: str, vectors: F16, done: Mask) -> None:
        """Store a file's vectors, with the rows another process stored meanwhile.

        Read, merged and written under the cache's lock: two processes saving one file at once
        each wrote what it had read before the other's write, and the last dropped the other's rows."""
        with self.cache.writing("vectors"):
            stored = self.load(key)
            if stored is not None and stored[0].shape == vectors.shape:
                theirs = stored[1] & ~done
                if theirs.any():
                    vectors, done = vectors.copy(), done | stored[1]
                    vectors[theirs] = stored[0][theirs]
                elif not (done & ~stored[1]).any():
                    return  # nothing new
            arrays = {"vectors": vectors, "done": done}
            self.cache.put("vectors", self._key(key), {"model": self.model}, arrays, replace=True)
