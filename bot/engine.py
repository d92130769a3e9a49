"""Loading a corpus folder into a ready `Composer`: parsing, tokenising, indexing, caching.

A load reads and hashes every file, then takes the first way that works:

1. the whole corpus from the cache (`bot.cache`), its arrays memory-mapped: a warm start;
2. otherwise document by document: where a file's bytes (and the code that splits, shows and
   tokenises text) are unchanged, its sentences and terms come from the previous load
   (`previous=`, in memory) or from a cached corpus of the same folder; the other files are
   parsed and tokenised, in a process pool when there is enough to do. The index is then
   rebuilt from every sentence's term ids, all in NumPy, which takes a fraction of a second
   at 100,000 sentences.

Keys are SHA-256 hashes: a file's key covers its name, its bytes and the code that reads it;
a corpus's key covers its files' keys, the scoring parameters and the code that indexes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache as memoised
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot import cache
from bot.answer.composer import Composer
from bot.cache import Cache, Stored, TermTable, VectorCache
from bot.config import Settings
from bot.documents import parsing, servers
from bot.documents.corpus import Corpus
from bot.documents.document import ROW_FIELDS, Problem
from bot.documents.folder import SizeCaps, document_files, read_document
from bot.documents.parse import decode
from bot.documents.parsing import Piece
from bot.search import ranking, reader, semantic
from bot.search.groups import groups
from bot.search.ranking import Semantic, fitted_params
from bot.search.retriever import Bm25Params, Index

log = logging.getLogger(__name__)

MIB = 1 << 20

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

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


# The term table of each corpus this process loaded, for the next load to reuse. Weak: it goes
# with its corpus.
_TABLES: weakref.WeakKeyDictionary[Corpus, tuple[Index, TermTable]] = weakref.WeakKeyDictionary()


def load(
    settings: Settings,
    corpus_dir: Path | None = None,
    params: Bm25Params | None = None,
    progress: Progress | None = None,
    previous: Composer | None = None,
) -> Composer:
    """Read the corpus, index it (or take the index from the cache), and return the composer.

    `previous`, the composer of an earlier load of the same folder, lets a reload reuse the work
    done for files that did not change; such a reload computes no sentence vector (see
    `EAGER_VECTORS`): its caller fills them in after the swap (`fill_vectors`).
    """
    params = params or fitted_params()
    folder = corpus_dir or settings.corpus_dir
    report = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    unlisted: list[Problem] = []  # folders that cannot be listed: reported as documents are
    paths = document_files(folder, unlisted)
    # The reader's model loads beside the corpus (`reader.Loading`), once the folder is there; a
    # reload keeps the one already loaded (or turned off) rather than reading its file again.
    reading = previous.ranker.reader if previous is not None else reader_stage(settings)
    if corpus_dir is None:  # the bot's corpus: every server's own articles are in its one index too
        paths += servers.files(settings)
    files: dict[str, bytes | Problem] = {problem.name: problem for problem in unlisted}
    caps = SizeCaps.from_settings(settings)
    for n, (file_name, path) in enumerate(paths, start=1):
        name, files[name] = read_document(file_name, path, caps)
        report("reading", n, len(paths))
    keys = {name: file_key(name, raw) for name, raw in files.items() if isinstance(raw, bytes)}
    key = f"{_folder_tag(folder)}-{corpus_key(files, keys, params)}"
    store = Cache.open(settings.cache_dir, settings.cache_max_mb * MIB) if settings.use_cache else None
    last = _last_load(previous)
    stored = cache.load_corpus(store, key) if store is not None else None
    if stored is not None and last is not None and _skips_any(stored.corpus, last.corpus):
        stored = None  # a file broken since the last load keeps that version instead (`_build`)
    if stored is not None:
        loaded = _with_text(stored, files)
        corpus, index, table = loaded.corpus, loaded.index, loaded.table
        grouped = loaded.grouped or groups(corpus, index)
        log.info("index loaded from cache (%s)", key)
    else:
        bases = _bases(last, store, key)
        corpus, index, table = _build(files, keys, bases, params, report, last)
        grouped = groups(corpus, index)
        # A corpus that keeps an old version of a file is not what the files make: not cached.
        whole = not any(problem.kept for problem in corpus.problems)
        if store is not None and whole and cache.save_corpus(store, key, corpus, index, table, grouped):
            store.trim(keep=frozenset({store.path("corpus", key)}))
    _TABLES[corpus] = (index, table)
    semantic = _semantic(settings, corpus, table.keys, store, previous)
    for problem in corpus.problems:
        log.warning("%s %s", "kept the last good version of" if problem.kept else "skipped", problem)
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
        grouped=grouped,
        semantic=semantic,
        reader=reading,
    )


def reader_stage(settings: Settings) -> ranking.ReaderStage | None:
    """The reader and its fitted numbers (`READER_CANDIDATES` in place of the fitted count when
    set), reading on `READER_THREADS` threads, or None with `READER=false`. The model loads in the
    background (`reader.Loading`); one that cannot be loaded turns the reader off at the first
    question, with a warning that says why."""
    if not settings.reader:
        return None
    fitted = reader.Fitted.load()
    if settings.reader_candidates is not None:
        fitted = replace(fitted, candidates=settings.reader_candidates)
    threads = settings.reader_threads or min(reader.DEFAULT_THREADS, parsing.usable_cores())
    return ranking.ReaderStage(reader.Loading(lambda: reader.load_reader(threads)), fitted)


# ----------------------------------------------------------------------------- the re-ranking stage

# Up to READ_VECTORS sentences, a load reads every cached sentence vector at once (at 50,000, a
# quarter of a second), so that declining by meaning works from the first question; and when at
# most EAGER_VECTORS are missing, a first load computes them (a few seconds on one core at most).
# Otherwise a question computes the vectors it needs, and the bot fills in the rest in the
# background (`fill_vectors`); until they are all in, declining is by words alone. A reload
# (`previous=`) never computes them: the old corpus answers until the new one is swapped in, and
# it does not know the documents just added, so every second spent embedding them (seconds on a
# busy machine, for one news page) was a second of "No passage comes close" about them. Swapped in
# at once, they are answered by words, and by meaning too once the background fill is through.
READ_VECTORS = 50_000
EAGER_VECTORS = 512


def _semantic(
    settings: Settings, corpus: Corpus, keys: Sequence[str], store: Cache | None, previous: Composer | None
) -> Semantic | None:
    """The re-ranking stage for a corpus, or None: `RERANK=false`, a corpus over
    `RERANK_MAX_SENTENCES`, or a model that cannot be loaded (then a warning says why)."""
    if not settings.rerank or not len(corpus):
        return None
    if len(corpus) > settings.rerank_max_sentences:
        log.info(
            "re-ranking off: %d sentences, more than RERANK_MAX_SENTENCES (%d)",
            len(corpus),
            settings.rerank_max_sentences,
        )
        return None
    try:
        model = semantic.load_model(settings.rerank_model)
    except semantic.ModelError as exc:
        log.warning("re-ranking off: %s", exc)
        return None
    vector_store = VectorCache(store, model.name) if store is not None else None
    earlier = previous.ranker.semantic if previous is not None else None
    vectors = semantic.SentenceVectors(
        model,
        lambda i: corpus.sentence(i).text,
        corpus.doc_of,
        keys,
        vector_store,
        reuse=earlier.vectors if earlier is not None else None,
    )
    rerank = ranking.Rerank.load()
    if len(corpus) <= READ_VECTORS:
        missing = len(corpus) - vectors.progress(read_all=True)[0]
        if previous is None and missing <= EAGER_VECTORS:
            vectors.fill()
    off_topic = semantic.off_topic_vectors(model, vector_store)
    abstain = rerank.abstain
    return Semantic(
        model, vectors, rerank, semantic.Relevance(vectors, off_topic, abstain.quantile, abstain.power)
    )


def fill_vectors(composer: Composer, stop: threading.Event) -> None:
    """Compute the sentence vectors a corpus still lacks, at low priority (the bot runs this in a
    background thread after each load). Answering goes on meanwhile, by words alone for a
    question whose candidates' vectors are not in yet (`SentenceVectors.fill_in_background`)."""
    found = composer.ranker.semantic
    if found is None or found.vectors.complete:
        return
    semantic.lower_priority()
    started = time.perf_counter()
    done_before = found.vectors.progress()[0]
    if found.vectors.fill_in_background(stop):
        log.info(
            "sentence vectors complete: %d computed in %.1f s",
            len(found.vectors) - done_before,
            time.perf_counter() - started,
        )


# ----------------------------------------------------------------------------- keys

# The modules whose code turns a file into sentences and terms, and those that turn sentences
# and terms into an index and its cache (this one included: it merges the pieces). By name:
# their source is read, not imported (`bot.extract` would bring trafilatura in).
_FILE_CODE = (
    "text",
    "documents.segment",
    "documents.markdown",
    "documents.frontmatter",
    "documents.describe",
    "documents.extract",
    "documents.document",
    "documents.article",
    "documents.parse",
    "documents.folder",
    "documents.corpus",
    "documents.parsing",
)
_INDEX_CODE = ("search.retriever", "search.groups", "cache", "engine")


@memoised
def _code_digest(modules: tuple[str, ...]) -> bytes:
    digest = hashlib.sha256(f"format {cache.FORMAT}\0".encode())
    for module in modules:
        spec = importlib.util.find_spec(f"bot.{module}")
        digest.update(Path(spec.origin if spec and spec.origin else module).read_bytes())
    return digest.digest()


def file_key(name: str, raw: bytes) -> str:
    """A hash of a file's name and bytes and of the code that splits, shows and tokenises text."""
    digest = hashlib.sha256(_code_digest(_FILE_CODE))
    digest.update(name.encode() + b"\0")
    digest.update(raw)
    return digest.hexdigest()


def corpus_key(files: dict[str, bytes | Problem], keys: dict[str, str], params: Bm25Params) -> str:
    """A hash of every file's key (or problem), the parameters and the code that indexes."""
    digest = hashlib.sha256(_code_digest(_INDEX_CODE) + _code_digest(_FILE_CODE))
    digest.update(f"{params}\0".encode())
    for name, raw in files.items():
        digest.update(f"{name}\0{keys[name] if isinstance(raw, bytes) else raw}\0".encode())
    return digest.hexdigest()


def _folder_tag(folder: Path) -> str:
    """A short hash of the corpus folder: cache entries of one folder share it as a prefix."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- building


def _with_text(stored: Stored, files: dict[str, bytes | Problem]) -> Stored:
    """A cached corpus with its documents' text, decoded from the files it was made from."""
    documents = []
    for d in stored.corpus.documents:
        raw = files.pop(d.name)  # let the bytes go as the text arrives: 100 MiB at a million sentences
        documents.append(d if d.text else replace(d, text=_text(d.name, raw)))
    corpus = Corpus(documents, stored.corpus.columns(), stored.corpus.problems)
    return Stored(corpus, stored.index, stored.table, stored.grouped)


def _text(name: str, raw: bytes | Problem) -> str:
    text = decode(name, raw) if isinstance(raw, bytes) else raw
    if isinstance(text, Problem):  # cannot be: the file's key matched, so its bytes decoded before
        raise ValueError(f"{name} no longer decodes")
    return text


def _skips_any(corpus: Corpus, of: Corpus) -> bool:
    """Whether `corpus` skips, as a problem, a file that is a document of `of`."""
    return not {p.name for p in corpus.problems}.isdisjoint(d.name for d in of.documents)


def _last_load(previous: Composer | None) -> Stored | None:
    """The previous load of the folder in this process, with the term table kept for it."""
    if previous is None or previous.corpus not in _TABLES:
        return None
    index, table = _TABLES[previous.corpus]
    return Stored(previous.corpus, index, table)


def _bases(last: Stored | None, store: Cache | None, key: str) -> Iterable[Stored]:
    """Earlier loads to reuse documents from, best first: the previous one, then cached ones
    of the same folder (read only when documents are still missing)."""
    if last is not None:
        yield last
    if store is not None:
        for other in cache.recent_corpora(store, key.split("-", maxsplit=1)[0] + "-")[:4]:
            stored = cache.load_corpus(store, other)
            if stored is not None:
                yield stored


def _build(
    files: dict[str, bytes | Problem],
    keys: dict[str, str],
    bases: Iterable[Stored],
    params: Bm25Params,
    report: Progress,
    last: Stored | None = None,
) -> tuple[Corpus, Index, TermTable]:
    """The corpus and its index, reusing what `bases` hold. Takes the bytes out of `files` as
    it goes: at a million sentences they are 100 MiB and more, and the index build needs room.

    A file that was a document of the `last` load and cannot be read now (an edit saved it as
    Latin-1, emptied it for a moment) keeps its last good version, its problem marked `kept`:
    the document goes on answering while the reload says what is wrong with the file.
    """
    wanted = {keys[name]: name for name, raw in files.items() if isinstance(raw, bytes)}
    found: dict[str, Piece | Problem] = {}
    for base in bases:
        if len(found) == len(wanted):
            break
        found.update(_reuse(base, wanted.keys() - found.keys()))
    if found:
        log.info("reused %d of %d documents from an earlier load", len(found), len(wanted))
    todo = [(n, raw, keys[n]) for n, raw in files.items() if isinstance(raw, bytes) and keys[n] not in found]
    count = len(todo)
    parsed = parsing.parse_files(todo, lambda done: report("splitting", done, count))
    found.update(zip((k for _, _, k in todo), parsed, strict=True))
    del todo, parsed
    pieces: list[Piece] = []
    problems: list[Problem] = []
    for name in list(files):
        raw = files.pop(name)
        item = raw if isinstance(raw, Problem) else found.pop(keys[name])
        if isinstance(item, Problem) and (good := _last_good(last, name)) is not None:
            problems.append(item._replace(kept=True))
            item = good
        if isinstance(item, Problem):
            problems.append(item)
        elif item.document.text:
            pieces.append(item)
        else:  # from a worker or the cache: the text is the file's
            pieces.append(replace(item, document=replace(item.document, text=_text(name, raw))))
    report("indexing", 0, 1)
    built = _assemble(pieces, problems, params)
    report("indexing", 1, 1)
    return built


def _last_good(last: Stored | None, name: str) -> Piece | None:
    """The piece of document `name` as the `last` load had it, if it had it."""
    if last is None:
        return None
    for document, key in zip(last.corpus.documents, last.table.keys, strict=True):
        if document.name == name:
            return _reuse(last, {key})[key]
    return None


def _reuse(base: Stored, missing: set[str]) -> dict[str, Piece]:
    """The pieces of `base` whose file key is among `missing`."""
    corpus, index, table = base.corpus, base.index, base.table
    if not missing.intersection(table.keys):
        return {}
    counts = np.bincount(corpus.doc_of, minlength=len(corpus.documents))
    sentence_at = np.concatenate(([0], np.cumsum(counts)))
    token_at = np.concatenate(([0], np.cumsum(table.lengths, dtype=np.int64)))
    columns = corpus.columns()
    rows_of_all = np.stack([columns[f] for f in ROW_FIELDS], axis=1).astype(np.int64)  # one copy, sliced
    pieces: dict[str, Piece] = {}
    for d, key in enumerate(table.keys):
        if key in missing:
            lo, hi = int(sentence_at[d]), int(sentence_at[d + 1])
            rows = rows_of_all[lo:hi]
            tokens = table.tokens[token_at[lo] : token_at[hi]]
            pieces[key] = Piece(key, corpus.documents[d], rows, index.terms, tokens, table.lengths[lo:hi])
    return pieces


def _assemble(
    pieces: list[Piece], problems: list[Problem], params: Bm25Params
) -> tuple[Corpus, Index, TermTable]:
    """The corpus and its index from documents' pieces: the vocabularies merged, the ids remapped.
    Empties `pieces` once their arrays are merged, so that they do not add to the index's peak."""
    corpus = Corpus.from_rows([p.document for p in pieces], [p.rows for p in pieces], problems)
    # Pieces reused from one earlier load share its vocabulary: each distinct one is mapped once.
    # (These loops over every term run in C: no Python code per term.)
    vocabularies = {id(p.vocabulary): p.vocabulary for p in pieces}
    vocabulary = list(dict.fromkeys(itertools.chain.from_iterable(vocabularies.values())))
    position = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
    remap = {k: np.fromiter(map(position.__getitem__, v), np.int32, len(v)) for k, v in vocabularies.items()}
    flat = _concat([remap[id(p.vocabulary)][p.tokens] for p in pieces], np.int32)
    lengths = _concat([p.lengths for p in pieces], np.int32)
    keys = tuple(p.key for p in pieces)
    pieces.clear()
    del vocabularies, remap, position
    index = Index.from_ids(vocabulary, flat, lengths, params)
    # The table keeps each sentence's terms as ids into the index's own (sorted) terms.
    to_index = np.fromiter(
        map(index.term_id.get, vocabulary, itertools.repeat(-1)), np.int32, len(vocabulary)
    )
    return corpus, index, TermTable(keys, to_index[flat], lengths)


def _concat(arrays: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.empty(0, dtype=dtype)


# ----------------------------------------------------------------------------- progress


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
