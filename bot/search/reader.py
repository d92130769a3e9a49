"""The reader: a small model of our own that reads the question with each candidate sentence.

BM25, the fitted features and the re-ranker score how much a sentence looks like the question; the
reader reads the two together (all-MiniLM-L6-v2 fine-tuned on SQuAD by `python -m training.reader`,
see `models/reader/MODEL_CARD.md`) and says how well the sentence answers it (a score, above 0
when it does, against the learned line of "no answer") and where the answer stands in it (start
and end over its tokens). It reads the first `candidates` sentences of the ranker's order:

- its score joins theirs as one more fitted column (`Fitted.weight`), re-ordering them;
- when no sentence it read scores above `Fitted.decline`, the bot declines (`bot.answer.composer`),
  and when one scores above `Fitted.rescue`, it answers what the stages before would decline;
- the best-read sentence's span, when its probability passes `Fitted.span` and the sentence leads
  the answer, is the short answer (`bot.answer.short`).

Those numbers are fitted out of sample by `python -m benchmarks.fit_reader` and stored in
`reader.json` beside this module with the sets and the command. The weights ship in the package
(`models/reader/`), checked by SHA-256 at load; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from bot.search.semantic import MODELS_DIR, session_options

if TYPE_CHECKING:
    from tokenizers import BertWordPieceTokenizer

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

MODEL_FILE = MODELS_DIR / "reader" / "reader-int8.onnx"
MODEL_SHA256 = "3011b34693c00cf0d766d632970e823aab7e1de0bd60cdd077f463dadb30cbe9"  # MODEL_CARD.md
FITTED_FILE = Path(__file__).with_name("reader.json")
MAX_TOKENS = 128  # question and sentence together; a longer sentence is cut at its end
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the model's, in onnxruntime and in torch
MAX_SPAN_TOKENS = 30  # a short answer longer than this is not short
# The threads a reading runs on unless told (`READER_THREADS`), fewer where the process may use fewer
# cores. Measured on two cores (docs/speed.md#the-reader): two nearly halve a question's time when it
# is the only one, and cost a little throughput when several are answered at once.
DEFAULT_THREADS = 2


class ReaderError(Exception):
    """The reader cannot be loaded (onnxruntime missing, the file missing or not the one checked)."""


class Span(NamedTuple):
    """Where the reader puts the answer in one sentence: a span of its text and its probability."""

    start: int
    end: int
    probability: float


class Reading(NamedTuple):
    """What the reader made of each sentence it read: its score and its best span."""

    scores: F32
    spans: tuple[Span | None, ...]


@dataclass(frozen=True)
class Fitted:
    """The reader's fitted numbers (`benchmarks.fit_reader`): how many candidates it reads, its
    score's weight beside the ranker's, the best score under which the bot declines, the best
    score from which it answers what the stages before it would decline (a question in other
    words than the page's), and the span probability from which a span is the short answer
    (None: never)."""

    candidates: int = 5
    weight: float = 1.0
    decline: float | None = None
    rescue: float | None = None
    span: float | None = None

    @classmethod
    def load(cls, path: Path = FITTED_FILE) -> Fitted:
        """The fitted numbers as stored (defaults where the file has none)."""
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return cls(**data.get("fitted", {}))


def tokenizer(max_tokens: int = MAX_TOKENS) -> BertWordPieceTokenizer:
    """The WordPiece tokenizer of question-sentence pairs (all-MiniLM-L6-v2's vocabulary, shipped
    in `models/minilm/`), as the reader was trained and is run."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(str(MODELS_DIR / "minilm" / "vocab.txt"), lowercase=True)
    tok.enable_truncation(max_tokens, strategy="only_second")
    return tok


def padded(encodings: Sequence[Any]) -> dict[str, npt.NDArray[np.int64]]:
    """Tokenised pairs as the model's inputs (`INPUTS`): ids, attention mask and segments, padded."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), np.int64)
    types = np.zeros_like(ids)
    for r, e in enumerate(encodings):
        ids[r, : len(e.ids)], types[r, : len(e.ids)] = e.ids, e.type_ids
    return dict(zip(INPUTS, (ids, (ids != 0).astype(np.int64), types), strict=True))


class Reader:
    """The reader's ONNX file run by onnxruntime, with the bot's WordPiece vocabulary."""

    def __init__(self, path: Path = MODEL_FILE, sha256: str = MODEL_SHA256, threads: int = 1) -> None:
        try:
            import onnxruntime
            import tokenizers  # noqa: F401  (`tokenizer`'s; checked here, where a missing one is said)
        except ImportError as exc:
            raise ReaderError(f"the reader needs {exc.name}, which is not installed") from None
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ReaderError(f"cannot read {path}: {exc.strerror or exc}") from None
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            raise ReaderError(f"{path} is not the reader this bot was checked with ({digest[:12]}…)")
        self._session = onnxruntime.InferenceSession(
            raw, session_options(threads), providers=["CPUExecutionProvider"]
        )
        self._tokenizer = tokenizer()

    def read(self, question: str, sentences: Sequence[str]) -> Reading:
        """The reader's score of each sentence for the question, and its best span in each."""
        if not sentences:
            return Reading(np.empty(0, np.float32), ())
        encoded = self._tokenizer.encode_batch([(question, s) for s in sentences])
        scores, starts, ends = self._session.run(["score", "start", "end"], padded(encoded))
        spans = tuple(
            best_span(starts[row], ends[row], e.sequence_ids, e.offsets) for row, e in enumerate(encoded)
        )
        return Reading(np.asarray(scores, np.float32), spans)


def best_span(
    start: F32, end: F32, sequence_ids: Sequence[int | None], offsets: Sequence[tuple[int, int]]
) -> Span | None:
    """The sentence's most probable span (start and end each a softmax over the sentence's tokens,
    the end at or after the start and at most MAX_SPAN_TOKENS on), as characters of the sentence."""
    tokens = np.array([t for t, s in enumerate(sequence_ids) if s == 1], dtype=np.int64)
    if not len(tokens):
        return None
    p_start, p_end = _softmax(start[tokens]), _softmax(end[tokens])
    joint = np.triu(np.outer(p_start, p_end)) - np.triu(np.outer(p_start, p_end), MAX_SPAN_TOKENS)
    first, last = np.unravel_index(int(np.argmax(joint)), joint.shape)
    return Span(offsets[tokens[first]][0], offsets[tokens[last]][1], float(joint[first, last]))


def _softmax(logits: F32) -> npt.NDArray[np.float64]:
    shifted = np.exp(logits.astype(np.float64) - float(logits.max()))
    return np.asarray(shifted / shifted.sum())


def sha256_of(path: Path) -> str:
    """A file's SHA-256 (to check a reader's file against the one this bot was checked with)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def load_reader(threads: int = 1) -> Reader:
    """The shipped reader on `threads` processor threads, loaded once a process; ReaderError says
    why it cannot be."""
    return Reader(threads=threads)


class Reads(Protocol):
    """What the ranker needs of a reader: a reading of sentences for a question."""

    def read(self, question: str, sentences: Sequence[str]) -> Reading: ...


class Loading:
    """The reader, loaded in a thread of its own from the moment it is asked for, so that the
    corpus and the model load side by side (a cold start is not slowed by it); the first reading
    waits for it, and raises the ReaderError that stopped it, if one did."""

    def __init__(self, load: Callable[[], Reader] = load_reader) -> None:
        self._done = threading.Event()
        self._model: Reader | None = None
        self._error: ReaderError | None = None
        # Not a daemon: a process that ends while onnxruntime builds the session (a command that
        # fails on its input) waits for it, rather than tearing it down mid-build (an abort).
        threading.Thread(target=self._load, args=(load,), name="reader-load").start()

    def _load(self, load: Callable[[], Reader]) -> None:
        try:
            self._model = load()
        except ReaderError as exc:
            self._error = exc
        finally:
            self._done.set()

    def read(self, question: str, sentences: Sequence[str]) -> Reading:
        """The loaded reader's reading (see `Reader.read`)."""
        self._done.wait()
        if self._model is None:
            raise self._error or ReaderError("the reader did not load")
        return self._model.read(question, sentences)
