"""The loaded corpus: every sentence's place as NumPy columns, addressable by sentence id.

Sentences are kept as NumPy arrays of offsets rather than Python objects, so a corpus of a
million sentences stays small; `Corpus.sentence(i)` makes the object a reader needs on demand.
A server's own articles are documents of the same corpus; `Corpus.view` says which a server sees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.documents.document import (
    ROW_FIELDS,
    Citation,
    Document,
    ParsedDocument,
    Problem,
    Sentence,
    sentence_rows,
    sentence_text,
)
from bot.text import fold_space

__all__ = [
    "SERVER_PREFIX",
    "VIEWS_KEPT",
    "Corpus",
    "CorpusError",
    "DocumentNotFoundError",
    "View",
    "listed_names",
    "server_of",
    "shown_name",
]


class CorpusError(Exception):
    """The corpus cannot be used at all (missing, empty, or no readable document)."""


class DocumentNotFoundError(LookupError):
    """A document asked for by name or title that the corpus does not hold (or holds several of)."""


# A server's own articles (`bot.documents.servers`) are named `.servers/<server id>/<file>` in the
# one corpus every server is answered from. No document of the operator's folder can be so named
# (`document_files` lists no file or folder whose name starts with a dot), so none is mistaken for one.
SERVER_PREFIX = ".servers/"

# Which documents a question may be answered from: a bool per document (`Corpus.view`), or None for all.
View = npt.NDArray[np.bool_]
VIEWS_KEPT = 256  # servers' views kept made (a bool per document each)


def server_of(name: str) -> int:
    """The server a document's name says it belongs to; 0 for the operator's (seen everywhere)."""
    if not name.startswith(SERVER_PREFIX):
        return 0
    server, _, _ = name[len(SERVER_PREFIX) :].partition("/")
    return int(server) if server.isdigit() else 0


def shown_name(name: str) -> str:
    """A document's name as people read it in citations and lists: a server's own article by its
    file name, as the operator's are, never by the folder the bot keeps it in."""
    return name[len(SERVER_PREFIX) :].partition("/")[2] if server_of(name) else name


class Corpus:
    """The loaded documents and every sentence's position, addressable by sentence id."""

    COLUMNS = ("doc", "paragraph", "para_no", "sent_no", "start", "end", "in_quote", "marks")

    def __init__(
        self,
        documents: list[Document],
        columns: Mapping[str, npt.NDArray[Any]],
        problems: Iterable[Problem] = (),
    ) -> None:
        self.documents = documents
        self.problems: list[Problem] = list(problems)
        if not self.documents:
            raise CorpusError("no document could be loaded: " + "; ".join(map(str, self.problems)))
        self.doc_of: npt.NDArray[np.int32] = columns["doc"].astype(np.int32, copy=False)
        self.paragraph_of: npt.NDArray[np.int32] = columns["paragraph"].astype(np.int32, copy=False)
        self._para_no = columns["para_no"].astype(np.int32, copy=False)
        self._sent_no = columns["sent_no"].astype(np.int32, copy=False)
        self._start = columns["start"].astype(np.int64, copy=False)
        self._end = columns["end"].astype(np.int64, copy=False)
        self._in_quote = columns["in_quote"].astype(np.int8, copy=False)
        # What each sentence's text says of it (`segment.mark`: a question, a pointer back).
        self.marks: npt.NDArray[np.int8] = columns["marks"].astype(np.int8, copy=False)
        # Answering reads the same few sentences several times; keep the recent ones made.
        self.sentence = lru_cache(maxsize=4096)(self._sentence)  # type: ignore[method-assign]
        # A server's view, and its sentences' ranges, for every question asked there: made once.
        self.view = lru_cache(maxsize=VIEWS_KEPT)(self._view)
        self.spans = lru_cache(maxsize=VIEWS_KEPT)(self._spans)
        lengths = {len(self.doc_of), len(self._start), len(self._end), len(self._in_quote), len(self.marks)}
        if len(lengths) != 1:
            raise ValueError("sentence columns differ in length")

    @classmethod
    def from_parsed(cls, parsed: Iterable[ParsedDocument], problems: Iterable[Problem] = ()) -> Corpus:
        """A corpus of parsed documents, in order."""
        items = list(parsed)
        return cls.from_rows([p.document for p in items], [sentence_rows(p) for p in items], problems)

    @classmethod
    def from_rows(
        cls,
        documents: list[Document],
        rows: Sequence[npt.NDArray[np.int64]],
        problems: Iterable[Problem] = (),
    ) -> Corpus:
        """A corpus of documents and each one's `sentence_rows`, in order."""
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        table = np.concatenate(rows) if rows else np.empty((0, len(ROW_FIELDS)), dtype=np.int64)
        column = {name: np.ascontiguousarray(table[:, i]) for i, name in enumerate(ROW_FIELDS)}
        doc = np.repeat(np.arange(len(documents), dtype=np.int32), counts)
        # Paragraph ids run on from one document to the next, one apart, so no two documents
        # share one: a document's base is the sum, over those before it, of their last number + 1.
        last = np.zeros(len(rows), dtype=np.int64)
        ends = np.cumsum(counts)
        last[counts > 0] = column["para_no"][ends[counts > 0] - 1]
        base = np.concatenate(([0], np.cumsum(last + 1)[:-1])).astype(np.int64)
        columns: dict[str, npt.NDArray[Any]] = {
            "doc": doc,
            "paragraph": (base[doc] + column["para_no"]).astype(np.int32),
            "para_no": column["para_no"].astype(np.int32),
            "sent_no": column["sent_no"].astype(np.int32),
            "start": column["start"],
            "end": column["end"],
            "in_quote": column["in_quote"].astype(np.int8),
            "marks": column["marks"].astype(np.int8),
        }
        return cls(documents, columns, problems)

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """The sentence table as named arrays (for the on-disk cache)."""
        return {
            "doc": self.doc_of,
            "paragraph": self.paragraph_of,
            "para_no": self._para_no,
            "sent_no": self._sent_no,
            "start": self._start,
            "end": self._end,
            "in_quote": self._in_quote,
            "marks": self.marks,
        }

    def __len__(self) -> int:
        return len(self.doc_of)

    @cached_property
    def owners(self) -> npt.NDArray[np.int64]:
        """Each document's server (`server_of`): 0 for the operator's documents."""
        return np.fromiter((server_of(d.name) for d in self.documents), np.int64, len(self.documents))

    @cached_property
    def _has_servers(self) -> bool:
        return bool(self.owners.any())

    def _view(self, server: int | None) -> View | None:
        """The documents a server's members see: the operator's and that server's own (in a DM, or
        with no server, the operator's alone); None when every document is seen (no server has one),
        so a corpus without server articles pays nothing."""
        if not self._has_servers:
            return None
        owners = self.owners
        seen: View = (owners == 0) | (owners == server) if server else owners == 0
        return seen

    def _spans(self, server: int | None) -> list[tuple[int, int]] | None:
        """The sentences `server` sees (its `view`) as [start, end) id ranges, one for each run of
        consecutive documents in it (the operator's, then each server's, come in runs); None for all."""
        view = self.view(server)
        if view is None:
            return None
        edges = np.flatnonzero(np.diff(np.concatenate(([False], view, [False])).astype(np.int8)))
        bounds = np.searchsorted(self.doc_of, edges).tolist()  # documents' first sentences
        return list(zip(bounds[::2], bounds[1::2], strict=True))

    def visible(self, view: View | None) -> list[int]:
        """The positions of the documents in `view` (every one for None)."""
        return list(range(len(self.documents))) if view is None else np.flatnonzero(view).tolist()

    @property
    def content_hash(self) -> str:
        """One hash over every document's name and content."""
        digest = hashlib.sha256()
        for doc in self.documents:
            digest.update(f"{doc.name}\0{doc.content_hash}\0".encode())
        return digest.hexdigest()

    def sentence(self, i: int) -> Sentence:
        """Sentence number `i` (0-based, corpus-wide)."""
        return self._sentence(i)

    def _sentence(self, i: int) -> Sentence:
        doc = self.documents[int(self.doc_of[i])]
        start, end = int(self._start[i]), int(self._end[i])
        return Sentence(
            id=i,
            document=doc,
            citation=Citation(doc.name, int(self._para_no[i]), int(self._sent_no[i])),
            start=start,
            end=end,
            text=sentence_text(doc, start, end),
            quoted=bool(self._in_quote[i]),
        )

    def text(self, i: int) -> str:
        """Sentence `i`'s text as shown (its `Sentence` without the rest, for reading many)."""
        return sentence_text(self.documents[int(self.doc_of[i])], int(self._start[i]), int(self._end[i]))

    def texts(self) -> Iterator[str]:
        """Every sentence's text as shown, in id order (for indexing)."""
        return map(self.text, range(len(self)))

    def quoted(self, i: int) -> bool:
        """Whether sentence i is all quotation, with no attribution of its own (`Sentence.quoted`),
        without reading its text."""
        return bool(self._in_quote[i])

    def same_paragraph(self, i: int, j: int) -> bool:
        """Whether sentences i and j are both in range and in one paragraph."""
        n = len(self)
        return 0 <= i < n and 0 <= j < n and self.paragraph_of[i] == self.paragraph_of[j]

    def same_document(self, i: int, j: int) -> bool:
        """Whether sentences i and j are both in range and in one document."""
        n = len(self)
        return 0 <= i < n and 0 <= j < n and self.doc_of[i] == self.doc_of[j]

    def paragraph_range(self, i: int) -> range:
        """The ids of the sentences in sentence i's paragraph."""
        para = self.paragraph_of[i]
        lo, hi = i, i + 1
        while lo > 0 and self.paragraph_of[lo - 1] == para:
            lo -= 1
        while hi < len(self) and self.paragraph_of[hi] == para:
            hi += 1
        return range(lo, hi)

    def resolve(self, query: str, view: View | None = None) -> int:
        """The position of the document `query` names: its file name (with or without its suffix)
        or its title, whole, or else a part of one that only one document has (case and spacing
        aside); among those of `view` when given. DocumentNotFoundError says why none is chosen,
        naming the candidates."""
        wanted = fold_space(query).casefold()
        seen = self.visible(view)
        names = {
            n: (
                d.name.casefold(),
                shown_name(d.name).casefold(),
                Path(d.name).stem.casefold(),
                fold_space(d.title).casefold(),
            )
            for n in seen
            for d in [self.documents[n]]
        }
        for exact in (
            [n for n, (name, _, _, _) in names.items() if name == wanted],
            [n for n, (_, shown, _, _) in names.items() if shown == wanted],
            [n for n, (_, _, stem, title) in names.items() if wanted in (stem, title)],
        ):
            if len(exact) == 1:
                return exact[0]
        partial = self.matching(query, view) if wanted else []
        if len(partial) == 1:
            return partial[0]
        if partial:
            matching = listed_names([shown_name(self.documents[n].name) for n in partial])
            raise DocumentNotFoundError(f"{len(partial)} documents match {query!r}: {matching}")
        every = listed_names([shown_name(self.documents[n].name) for n in seen])
        raise DocumentNotFoundError(f"no document matches {query!r}; the documents are {every}")

    def matching(self, query: str, view: View | None = None) -> list[int]:
        """The positions of the documents (of `view`, when given) whose file name or title holds
        every word of `query` (case aside), those whose title or name starts with it first; all of
        them for no words."""
        wanted = fold_space(query).casefold()
        found: list[tuple[bool, int]] = []
        for n in self.visible(view):
            doc = self.documents[n]
            keys = (shown_name(doc.name).casefold(), fold_space(doc.title).casefold())
            if all(any(word in key for key in keys) for word in wanted.split()):
                found.append((not any(key.startswith(wanted) for key in keys), n))
        return [n for _, n in sorted(found)]

    def find(self, document: str, paragraph: int, sentence: int) -> int | None:
        """The id of the sentence at a citation, or None."""
        for index, doc in enumerate(self.documents):
            if doc.name != document:
                continue
            hits = np.flatnonzero(
                (self.doc_of == index) & (self._para_no == paragraph) & (self._sent_no == sentence)
            )
            return int(hits[0]) if len(hits) else None
        return None


def listed_names(names: Sequence[str], most: int = 10) -> str:
    """Names for a one-line message: the first `most`, and how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
