"""Loading a corpus folder into a ready `Composer`, through the on-disk cache (`bot.cache`).

The cache entry of a corpus is keyed by a hash of every file's name and bytes, the scoring
parameters and the code that turns text into sentences and terms, so any change rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot import cache, retriever, segment, text
from bot import corpus as corpus_mod
from bot.cache import Cache
from bot.composer import Composer
from bot.config import Settings
from bot.corpus import Corpus, ParsedDocument, Problem, decode, document_paths, parse_bytes, read_document
from bot.retriever import Bm25Params, Index
from bot.text import tokenize

log = logging.getLogger(__name__)

MIB = 1 << 20
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
    params = params or Bm25Params()
    folder = corpus_dir or settings.corpus_dir
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    paths = document_paths(folder)
    files: list[tuple[str, bytes | Problem]] = []
    for n, path in enumerate(paths, start=1):
        files.append(read_document(folder, path))
        report("reading", n, len(paths))
    key = cache_key(files, params)
    store = Cache(settings.cache_dir, settings.cache_max_mb * MIB) if settings.use_cache else None
    loaded = None
    if store is not None:
        texts = {
            name: text
            for name, raw in files
            if isinstance(raw, bytes) and isinstance(text := decode(name, raw), str)
        }
        loaded = cache.load_index(store, key, texts)
    if loaded is None:
        loaded = _build(files, params, report)
        if store is not None:
            cache.save_index(store, key, *loaded)
            store.trim(keep=frozenset({store.path("corpus", key)}))
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
    digest = hashlib.sha256(f"format {cache.FORMAT} {params}\0".encode())
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
