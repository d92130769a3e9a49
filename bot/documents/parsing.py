"""Parsing and tokenising files into the pieces an index is built from: in this process, or
shared with a pool of worker processes when there is much to do.

A worker imports this module and what it needs (`bot.documents.parse`, `bot.text`), not the rest of
the bot, so that it starts quickly.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from bot.documents.document import Document, ParsedDocument, Problem, sentence_rows, sentence_text
from bot.documents.parse import parse_bytes
from bot.text import tokenize_many

log = logging.getLogger(__name__)

# Below this much text to parse, a process pool costs more (starting its workers) than it saves.
POOL_MIN_BYTES = 2 << 20
_CHUNKS_PER_PROCESS = 32  # work is shared out in chunks, so that no process waits long for the last
_MIN_CHUNK_BYTES = 128 * 1024
# While this process parses beside the pool, the threads that hand chunks to the workers and take
# their results need the GIL often; at Python's default switch interval (5 ms) they wait behind
# the parsing and the workers sit idle (measured: 10 chunks of 63 done by the pool, not ~30).
_SWITCH_INTERVAL = 0.0002

# (name, bytes, key): a file to parse, and the key its piece is known by.
Todo = tuple[str, bytes, str]


@dataclass(frozen=True)
class Piece:
    """One document as the index needs it: its sentence rows and its terms (ids into `vocabulary`,
    which the pieces parsed together share)."""

    key: str
    document: Document
    rows: npt.NDArray[np.int64]  # `document.sentence_rows`
    vocabulary: Sequence[str]
    tokens: npt.NDArray[np.int32]
    lengths: npt.NDArray[np.int32]  # terms per sentence


class Vocabulary:
    """Terms numbered in order of first use, shared by the pieces of one batch of files: one
    string a term, not one a file (at a million sentences, per-file copies took 300 MiB)."""

    def __init__(self) -> None:
        self.terms: list[str] = []  # only ever appended to: ids already handed out stay valid
        self._ids: dict[str, int] = {}

    def number(self, terms: list[str]) -> npt.NDArray[np.int32]:
        """The ids of `terms`, numbering the ones not seen before."""
        ids = self._ids
        new = [term for term in dict.fromkeys(terms) if term not in ids]
        ids.update(zip(new, range(len(self.terms), len(self.terms) + len(new)), strict=True))
        self.terms.extend(new)
        return np.fromiter(map(ids.__getitem__, terms), dtype=np.int32, count=len(terms))


def piece(key: str, parsed: ParsedDocument, vocabulary: Vocabulary) -> Piece:
    """A parsed document's rows and terms, its terms numbered in `vocabulary`."""
    document = parsed.document
    texts = [sentence_text(document, start, end) for _, _, start, end, *_ in parsed.sentences]
    terms, counts = tokenize_many(texts)
    tokens = vocabulary.number(terms)
    lengths = np.array(counts, dtype=np.int32)
    return Piece(key, document, sentence_rows(parsed, texts), vocabulary.terms, tokens, lengths)


def parse_files(todo: Sequence[Todo], done: Callable[[int], None]) -> list[Piece | Problem]:
    """Parse and tokenise files, in order; `done(n)` is told as files are done.

    Pieces parsed by a worker come back without their document's text (the caller has the
    bytes already, and sending the text back would cost as much as decoding it)."""
    total = sum(len(raw) for _, raw, _ in todo)
    workers = usable_cores() - 1
    if workers < 1 or total < POOL_MIN_BYTES:
        out: list[Piece | Problem] = []
        vocabulary = Vocabulary()
        for n, item in enumerate(todo, start=1):
            out.append(_parse_one(item, vocabulary, keep_text=True))
            done(n)
        return out
    size = max(_MIN_CHUNK_BYTES, total // (_CHUNKS_PER_PROCESS * (workers + 1)))
    done(0)
    results = _share_out(list(_chunks(todo, size)), workers, done)
    return [item for chunk in results for item in chunk]


def _parse_chunk(chunk: Sequence[Todo], keep_text: bool = True) -> list[Piece | Problem]:
    vocabulary = Vocabulary()
    return [_parse_one(item, vocabulary, keep_text) for item in chunk]


def _parse_one(item: Todo, vocabulary: Vocabulary, keep_text: bool) -> Piece | Problem:
    name, raw, key = item
    parsed = parse_bytes(name, raw)
    if isinstance(parsed, Problem):
        return parsed
    made = piece(key, parsed, vocabulary)
    return made if keep_text else replace(made, document=replace(made.document, text=""))


def _share_out(
    chunks: Sequence[Sequence[Todo]], workers: int, done: Callable[[int], None]
) -> list[list[Piece | Problem]]:
    """Parse the chunks in a pool of `workers` processes and in this one, which works too
    (taking chunks from the front while the pool takes them from the back) instead of
    waiting while the workers start."""
    results: list[list[Piece | Problem] | None] = [None] * len(chunks)
    queue = deque(range(len(chunks)))
    running: dict[Future[list[Piece | Problem]], int] = {}
    files_done = 0

    def finished(i: int, result: list[Piece | Problem]) -> None:
        nonlocal files_done
        results[i] = result
        files_done += len(result)
        done(files_done)

    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            while queue or running:
                while queue and len(running) < 2 * workers:  # one at work and one waiting, a worker
                    i = queue.pop()
                    running[pool.submit(_parse_chunk, chunks[i], False)] = i
                if queue:
                    i = queue.popleft()
                    finished(i, _parse_chunk(chunks[i]))
                    ready = [f for f in running if f.done()]
                else:
                    ready = list(wait(running, return_when=FIRST_COMPLETED).done)
                for future in ready:
                    finished(running.pop(future), future.result())
    except (BrokenProcessPool, OSError) as exc:
        # Workers could not start (a script that calls `load` without an `if __name__ ==
        # "__main__":` guard, a system without process semaphores): the rest is done here.
        log.warning("the process pool failed (%s); parsing in this process", exc)
        for i, result in enumerate(results):
            if result is None:
                finished(i, _parse_chunk(chunks[i]))
    finally:
        sys.setswitchinterval(switch_interval)
    return [r for r in results if r is not None]


def _chunks(todo: Sequence[Todo], size: int) -> Iterable[list[Todo]]:
    chunk: list[Todo] = []
    held = 0
    for item in todo:
        chunk.append(item)
        held += len(item[1])
        if held >= size:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def usable_cores() -> int:
    """The processor cores this process may run on (its affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fresh worker processes: they inherit none of this one's threads (the bot loads in a
    worker thread, where forking would be unsafe) and leave no server process behind."""
    return multiprocessing.get_context("spawn")
