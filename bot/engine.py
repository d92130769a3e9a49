"""Loading a corpus folder into a ready `Composer`, through an on-disk cache of the index.

The cache is keyed by a hash of every file's name and bytes, the scoring parameters and the
code that turns text into sentences and terms, so any change rebuilds it. It holds plain
NumPy arrays (`.npz`, loaded with `allow_pickle=False`) and JSON: nothing in it can run code.
A cache that fails any check is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bot import corpus as corpus_mod
from bot import retriever, segment, text
from bot.composer import Composer
from bot.config import Settings
from bot.corpus import Corpus, Document, ParsedDocument, Problem, document_paths, parse_bytes, read_bytes
from bot.ranking import fitted_params
from bot.retriever import Bm25Params, Index
from bot.text import tokenize

log = logging.getLogger(__name__)

FORMAT = 1
_CODE = (text, segment, corpus_mod, retriever)  # modules whose changes invalidate the cache

# progress(stage, done, total): told as work advances, for a progress bar or log lines.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Changes:
    """How one corpus differs from another: document names added, removed and changed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def changes(old: Corpus, new: Corpus) -> Changes:
    """The documents added, removed and changed (by content hash) from `old` to `new`."""
    before = {d.name: d.content_hash for d in old.documents}
    after = {d.name: d.content_hash for d in new.documents}
    return Changes(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(n for n in before.keys() & after.keys() if before[n] != after[n])),
    )


def load(
    settings: Settings,
    corpus_dir: Path | None = None,
    params: Bm25Params | None = None,
    progress: Progress | None = None,
    previous: Composer | None = None,
) -> Composer:
    """Read the corpus, index it (or take the index from the cache), and return the composer.

    `previous`, the composer of an earlier load of the same folder, lets a reload reuse the work
    done for files that did not change.
    """
    del previous  # reuse comes with the per-file cache
    params = params or fitted_params()
    folder = corpus_dir or settings.corpus_dir
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    paths = document_paths(folder)
    files: list[tuple[str, bytes | Problem]] = []
    for n, path in enumerate(paths, start=1):
        name = path.relative_to(folder).as_posix()
        files.append((name, read_bytes(path, name)))
        report("reading", n, len(paths))
    key = cache_key(files, params)
    cache = settings.cache_dir / f"index-{key[:32]}" if settings.use_cache else None
    loaded = _restore(cache, key, files) if cache is not None else None
    if loaded is None:
        loaded = _build(files, params, report)
        if cache is not None:
            _save(cache, key, *loaded)
    corpus, index = loaded
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    log.info(
        "corpus ready: %d documents, %d sentences, %d terms in %.2fs",
        len(corpus.documents),
        len(corpus),
        len(index.terms),
        time.perf_counter() - started,
    )
    return Composer(
        corpus,
        index,
        top_k=settings.top_k,
        max_question_chars=settings.max_question_chars,
        max_excerpt_chars=settings.max_excerpt_chars,
    )


def cache_key(files: list[tuple[str, bytes | Problem]], params: Bm25Params) -> str:
    """A hash of the files, the parameters and the code that reads and indexes them."""
    digest = hashlib.sha256(f"format {FORMAT} {params}\0".encode())
    for module in _CODE:
        digest.update(Path(module.__file__ or "").read_bytes())
    for name, raw in files:
        digest.update(name.encode() + b"\0")
        digest.update(raw if isinstance(raw, bytes) else str(raw).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _build(
    files: list[tuple[str, bytes | Problem]], params: Bm25Params, report: Progress
) -> tuple[Corpus, Index]:
    parsed: list[ParsedDocument] = []
    problems: list[Problem] = []
    for n, (name, raw) in enumerate(files, start=1):
        result = raw if isinstance(raw, Problem) else parse_bytes(name, raw)
        (problems if isinstance(result, Problem) else parsed).append(result)  # type: ignore[arg-type]
        report("splitting", n, len(files))
    corpus = Corpus.from_parsed(parsed, problems)
    total = len(corpus)
    index = Index.build(
        (tokenize(t) for t in corpus.texts()),
        params,
        progress=lambda done: report("indexing", done, total),
    )
    report("indexing", total, total)
    return corpus, index


def _save(folder: Path, key: str, corpus: Corpus, index: Index) -> None:
    """Write the cache atomically (a temporary folder renamed into place); failures only log."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        arrays: dict[str, Any] = {f"corpus_{k}": v for k, v in corpus.columns().items()}
        arrays.update(
            offsets=index.offsets,
            doc_ids=index.doc_ids,
            impacts=index.impacts,
            baseline=index.baseline,
            idf=index.idf,
        )
        np.savez(tmp / "index.npz", **arrays)
        meta = {
            "format": FORMAT,
            "key": key,
            "npz_sha256": _file_hash(tmp / "index.npz"),
            "params": asdict(index.params),
            "n_docs": index.n_docs,
            "terms": index.terms,
            "documents": [{k: v for k, v in asdict(d).items() if k != "text"} for d in corpus.documents],
            "problems": [list(p) for p in corpus.problems],
        }
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        for old in folder.parent.glob("index-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("could not write the index cache in %s: %s", folder.parent, exc)


def _restore(folder: Path, key: str, files: list[tuple[str, bytes | Problem]]) -> tuple[Corpus, Index] | None:
    """The cached corpus and index, or None when there is none or it fails a check."""
    if not (folder / "meta.json").exists():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta["format"] != FORMAT or meta["key"] != key:
            raise ValueError("it was made for other files")
        if _file_hash(folder / "index.npz") != meta["npz_sha256"]:
            raise ValueError("its arrays do not match their checksum")
        texts = {name: corpus_mod.decode(name, raw) for name, raw in files if isinstance(raw, bytes)}
        documents = []
        for fields in meta["documents"]:
            body = texts[fields["name"]]
            if not isinstance(body, str):
                raise ValueError(f"{fields['name']} no longer decodes")
            documents.append(Document(text=body, **fields))
        with np.load(folder / "index.npz", allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
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
        _check(corpus, index)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        log.warning("index cache %s is not usable (%s); rebuilding", folder, exc)
        return None
    log.info("index loaded from cache %s", folder)
    return corpus, index


def _check(corpus: Corpus, index: Index) -> None:
    """Shapes and ranges that a sound cache always has."""
    n_terms = len(index.terms)
    if index.n_docs != len(corpus) or len(index.offsets) != n_terms + 1 or len(index.idf) != n_terms:
        raise ValueError("its arrays have the wrong shapes")
    if (
        index.offsets[0] != 0
        or index.offsets[-1] != len(index.doc_ids)
        or len(index.impacts) != len(index.doc_ids)
    ):
        raise ValueError("its postings are inconsistent")
    if len(index.doc_ids) and (index.doc_ids.min() < 0 or index.doc_ids.max() >= index.n_docs):
        raise ValueError("its postings point outside the corpus")
    if np.any(np.diff(index.offsets) < 0) or index.terms != sorted(index.terms):
        raise ValueError("its term table is out of order")


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def terminal_progress(stream: Any = None) -> Progress:
    """A one-line progress bar on a terminal for each stage (silent for small corpora)."""
    out = stream or sys.stderr
    state = SimpleNamespace(stage="", last=0.0)

    def report(stage: str, done: int, total: int) -> None:
        if total < (20_000 if stage == "indexing" else 200):
            return  # small corpora load in a blink; no bar
        now = time.monotonic()
        if stage == state.stage and done < total and now - state.last < 0.1:
            return
        state.stage, state.last = stage, now
        width = 30
        filled = width * done // max(total, 1)
        out.write(f"\r{stage:>9} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        if done >= total:
            out.write("\n")
        out.flush()

    return report


def log_progress() -> Progress:
    """Progress as one log line per stage (for the bot)."""
    started: dict[str, float] = {}
    finished: set[str] = set()

    def report(stage: str, done: int, total: int) -> None:
        if stage not in started:
            started[stage] = time.perf_counter()
            log.info("%s: %d to do", stage, total)
        if done >= total and stage not in finished:
            finished.add(stage)
            log.info("%s: done in %.2fs", stage, time.perf_counter() - started[stage])

    return report
