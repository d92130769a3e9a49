"""A document of the corpus and its sentences: metadata, citations, spans and the text a span shows.

Each metadata value remembers where it was found (`Document.stated`): a front matter line, the
first heading, a byline, a dateline, the subtitle, or the file name. A document's title and
subtitle, where the file states them, are the sentences of its paragraph 0 (`¶0.1`, `¶0.2`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents import markdown, segment
from bot.documents.markdown import Visible
from bot.text import fold_space

SUFFIXES = (".txt", ".md", ".html", ".htm")
HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", *HTML_SUFFIXES)  # a page is read as the Markdown of its article


class Citation(NamedTuple):
    """Where a sentence stands: document, paragraph and sentence numbers (1-based)."""

    document: str
    paragraph: int
    sentence: int

    def __str__(self) -> str:
        return f"¶{self.paragraph}.{self.sentence}"


# Where a document states a metadata value (`Stated.source`).
FRONT_MATTER, HEADING, BYLINE, DATELINE, DATE_LINE, SUBTITLE, FILE_NAME = (
    "front matter",
    "heading",
    "byline",
    "dateline",
    "date line",
    "subtitle",
    "file name",
)
TITLE_PARAGRAPH = 0  # the paragraph number of a document's title and subtitle sentences


class Stated(NamedTuple):
    """Where a document states one metadata field: the source, its label there (the key as written
    in front matter), and the span in the text ([0, 0) for the file name)."""

    field: str
    source: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """One document of the corpus and its metadata."""

    name: str  # the file name inside the corpus folder: the document's id in citations
    text: str  # the whole file as read (front matter included, so spans index into it)
    title: str
    author: str | None = None
    source_url: str | None = None
    published: str | None = None
    content_hash: str = ""
    sentence_count: int = 0
    subtitle: str | None = None
    outlet: str | None = None  # the site or agency that published it, as the document names it
    stated: tuple[Stated, ...] = ()  # where each field above was found
    body_start: int = 0  # where the text after the front matter starts

    def __post_init__(self) -> None:
        # From the cache's JSON, `stated` arrives as lists.
        if any(not isinstance(s, Stated) for s in self.stated) or not isinstance(self.stated, tuple):
            object.__setattr__(self, "stated", tuple(Stated(*s) for s in self.stated))

    def statement(self, field: str) -> Stated | None:
        """Where the document states `field` ("title", "author", "published", ...), if it does."""
        return next((s for s in self.stated if s.field == field), None)


@dataclass(frozen=True)
class Sentence:
    """One sentence: its place, its span in its document's text, and its text (space folded)."""

    id: int
    document: Document
    citation: Citation
    start: int
    end: int
    text: str
    quoted: bool  # all quotation, no attribution: belongs with the sentence before it


@dataclass(frozen=True)
class ParsedDocument:
    """A document and its sentences' spans, before it joins a corpus."""

    document: Document
    # (paragraph number, sentence number, start, end, an unattributed quotation)
    sentences: list[tuple[int, int, int, int, bool]]


# The fields of a row of `ParsedDocument.sentences`, in order, then what the sentence's text says
# of it (`segment.mark`).
ROW_FIELDS = ("para_no", "sent_no", "start", "end", "in_quote", "marks")


def sentence_rows(parsed: ParsedDocument, texts: Sequence[str] | None = None) -> npt.NDArray[np.int64]:
    """A parsed document's sentences as an int64 array, one row each (the form the cache keeps),
    given their `texts` (`sentence_text`) when they have been read already."""
    if texts is None:
        texts = [sentence_text(parsed.document, start, end) for _, _, start, end, _ in parsed.sentences]
    rows = [(*row, segment.mark(text)) for row, text in zip(parsed.sentences, texts, strict=True)]
    return np.array(rows, dtype=np.int64).reshape(-1, len(ROW_FIELDS))


class Problem(NamedTuple):
    """A document that could not be loaded, and why, in one line."""

    name: str
    reason: str
    kept: bool = False  # a reload still answers from its last good version (`engine.load(previous=)`)

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def is_markdown(name: str) -> bool:
    """Whether a document is read as Markdown (its markup is not shown), by its file name."""
    return name.lower().endswith(MARKDOWN_SUFFIXES)


def sentence_text(document: Document, start: int, end: int) -> str:
    """The text a reader sees for the span [start, end) of a document, white space folded.

    The one place that turns a span of the file into shown and indexed text: `Corpus.sentence`
    shows it, the composer's excerpts show it, and the index is built from it. In Markdown that
    is the text without its markup (emphasis, code marks, link syntax and addresses, HTML tags).
    """
    if start < document.body_start:  # a front matter value: as YAML reads it (a title, a subtitle)
        stated = (
            s for s in document.stated if s.start <= start and end <= s.end and s.source == FRONT_MATTER
        )
        return next((fold_space(getattr(document, s.field) or "") for s in stated), "")
    source = document.text[start:end]
    # The document's link labels only where markup may use them: finding them reads the whole text.
    if is_markdown(document.name) and markdown.marked(source):
        return markdown.shown(source, markdown.references(document.text))
    return fold_space(source)


def source_span(document: Document, start: int, end: int, at: int, to: int) -> tuple[int, int]:
    """The span of the file that shows characters [at, to) of `sentence_text(document, start, end)`.

    Folding white space keeps every other character in order, and Markdown's shown text knows
    where each character came from, so a part of a sentence points into the file as the
    sentence does (markup inside the part is inside the span).
    """
    source = document.text[start:end]
    shown: Visible = (
        markdown.visible(source, markdown.references(document.text))
        if is_markdown(document.name)
        else Visible(source, None)
    )
    # Character k of the folded text is character `places[k]` of the shown text (a space: -1).
    places: list[int] = []
    for m in re.finditer(r"\S+", shown.text):
        if places:
            places.append(-1)
        places.extend(range(m.start(), m.end()))
    first, last = places[at], places[to - 1]
    return start + shown.offset(first), start + shown.offset(last) + 1
