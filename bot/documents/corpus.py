"""Reading a corpus folder: documents, metadata, paragraphs, sentences and their citations.

A corpus is a folder of UTF-8 `.txt` and `.md` files and saved web pages (`.html`, `.htm`, read
as the Markdown of their article: `bot.extract`), one document a file, each with optional YAML
front matter (see `bot.frontmatter`: title, subtitle, author, outlet, source/url, published/date).
Plain text is split by `bot.segment`; Markdown's blocks and shown text come from `bot.markdown`
first. Sentences are kept as NumPy arrays of offsets rather than Python objects, so a corpus of a
million sentences stays small; `Corpus.sentence(i)` makes the object a reader needs on demand.

A document's title and subtitle, where the file states them, are the sentences of its paragraph
0 (`¶0.1`, `¶0.2`): searchable and quotable like any other. Each metadata value remembers where
it was found (`Document.stated`): a front matter line, the first heading, a byline, a dateline,
the subtitle, or the file name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents import describe, frontmatter, markdown, segment
from bot.documents.markdown import Block, Leaf, Visible
from bot.text import fold_space

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".html", ".htm")
HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", *HTML_SUFFIXES)  # a page is read as the Markdown of its article
_KINDS = ", ".join(SUFFIXES[:-1]) + f" or {SUFFIXES[-1]}"  # for messages: every kind, none forgotten

# Lines of page furniture rather than content, as news pages and blogs everywhere have them:
# share and sign-up prompts, links onward, credits, bylines' timestamps, standards trailers,
# section headings of the page around the article, copyright lines; newsletter and subscription
# pitches, sign-in and account prompts. Short lines only (below).
_BOILERPLATE = re.compile(
    r"""^\W*(?:follow\b.*\b(?:on|at)\b|share\b|subscribe\b|sign\s+up\b|click\b|tap\b|
    (?:sign|log)\s+in(?:\W*$|\s+(?:to|or|with)\b)|
    read\s+(?:the\s+)?(?:full|more|original|rest)\b|read\s+our\b|related\b|advertisement\b|sponsored\b|
    watch\b.*\bvideo|(?:image|photo|photograph|picture|credit)s?\s*(?:by\b|:)|
    copyright\b|©|all\s+rights\s+reserved|
    (?:additional\s+)?(?:reporting|writing|editing|edited|compiled)\s+by\s+(?-i:[A-Z])|
    (?:last\s+)?(?:updated|published|posted)(?:\s+on)?\s*:?\s*
        (?:\d|an?\s+(?:minute|hour|day)|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*\b)|
    our\s+standards\b|(?:editorial|trust)\s+(?:standards|guidelines|principles)\b|
    skip\s+to\b|(?:explore\s+)?more\s+on\s+(?:this|these)\b|most\s+(?:read|viewed|popular|shared)\W*$|
    (?:topics|tags)\s*:|reuse\s+this\b|(?:email|print)\s+this\b|comments?\s*(?:\(\d+\)|\d+)?\W*$|
    (?:get|receive|have)\b[^.!?]{0,60}\b(?:in|to|into)\s+your\s+inbox\b|
    (?:get|enjoy|unlock)\s+unlimited\s+(?:digital\s+)?access\b|
    by\s+(?:signing\s+(?:up|in)|logging\s+in|subscribing|registering|continuing|clicking)\b[^.!?]*\byou\s+agree\b|
    already\s+(?:an?\s+(?:subscriber|member|user)|registered)\s*\?|don[’']?t\s+have\s+an\s+account\b|
    forgot(?:ten)?\s+(?:your\s+)?password\s*\?|create\s+(?:an?\s+|your\s+)(?:free\s+)?account\W*$)""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_MAX_WORDS = 16
# A page is an article when this many words of its text are prose: in sentences that end as
# sentences do, outside link text, and not furniture. Menus, link lists, buttons and form labels
# have none; the shortest article measured (one sentence) has 18, the saved news pages 249 to 345
# (docs/articles.md, "What counts as an article": `python -m benchmarks.bench_extract --article-text`).
MIN_ARTICLE_WORDS = 15
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
NOT_AN_ARTICLE = "has no article text (nothing but links and page furniture)"
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+$")  # what opens a list item's line
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\([^)]*\)")  # `[text](address)`: what trafilatura writes
_SHORT_BLOCK = 400  # characters: longer than any 16-word line of furniture
_FOLLOW_AUTHOR = re.compile(r"^Follow\s+((?:[A-Z][\w.’'-]*\s+){1,3}[A-Z][\w.’'-]*)\s+(?:on|at)\b")
_NAME = r"(?:[A-Z][\w.’'-]*\s+){1,3}[A-Z][\w.’'-]*"
# "By Jane Doe", "By Jane Doe and John Roe", "By Helen Carter, Science Correspondent" (a role is no name).
_BYLINE = re.compile(rf"^By\s+({_NAME}(?:\s+and\s+{_NAME})?)(?:\s*,\s*[^,]{{1,60}})?\s*$")
_BYLINE_PARAGRAPHS = 2  # a byline comes before the story: after a section label and a title line at most
_HEADING = re.compile(r"^#{1,6}\s")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_LINE_END = re.compile(r"\r\n?|\n")


class CorpusError(Exception):
    """The corpus cannot be used at all (missing, empty, or no readable document)."""


class DocumentNotFoundError(LookupError):
    """A document asked for by name or title that the corpus does not hold (or holds several of)."""


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


class SizeCaps(NamedTuple):
    """The largest corpus file read, in bytes, by kind (settings MAX_DOCUMENT_BYTES, FETCH_MAX_BYTES):
    a larger one is reported and skipped, not read (one of 200 MB took minutes and gigabytes)."""

    text: int  # .txt and .md
    page: int  # .html and .htm: extracting a page costs several times more a byte

    @classmethod
    def from_settings(cls, settings: Settings) -> SizeCaps:
        """The caps the settings set."""
        return cls(text=settings.max_document_bytes, page=settings.fetch_max_bytes)

    def of(self, name: str) -> tuple[int, str]:
        """The cap for a file, and the setting that sets it."""
        if name.lower().endswith(HTML_SUFFIXES):
            return self.page, "FETCH_MAX_BYTES"
        return self.text, "MAX_DOCUMENT_BYTES"


class Problem(NamedTuple):
    """A document that could not be loaded, and why, in one line."""

    name: str
    reason: str
    kept: bool = False  # a reload still answers from its last good version (`engine.load(previous=)`)

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def article_words(parsed: ParsedDocument) -> int:
    """Words of prose in a document: in its sentences that end as sentences do, link text left out
    (navigation is links, prose runs between them), and list items that open with a link left out
    (lists of stories, results or sections, each a link and a blurb); furniture is filtered out by
    parsing already."""
    document, text = parsed.document, parsed.document.text
    labels = markdown.references(text) if is_markdown(document.name) else frozenset()
    words = 0
    for para_no, _, start, end, _ in parsed.sentences:
        if para_no == TITLE_PARAGRAPH or not _SENTENCE_END.search(sentence_text(document, start, end)):
            continue  # a title or subtitle (from the page's metadata) is not the page's prose
        source = text[start:end]
        if is_markdown(document.name):
            line_start = text.rfind("\n", 0, start) + 1
            if source.startswith(("[", "![")) and _LIST_ITEM.match(text, line_start, start):
                continue
            source = _INLINE_LINK.sub(" ", source)
        words += len(markdown.shown(source, labels).split())
    return words


def is_article(parsed: ParsedDocument) -> bool:
    """Whether a web page's text holds an article, not only menus, links and sign-up prompts."""
    return article_words(parsed) >= MIN_ARTICLE_WORDS


def is_boilerplate(paragraph: str) -> bool:
    """Page furniture (share prompts, "Read the full article here"), not an answer."""
    return len(paragraph.split()) <= _BOILERPLATE_MAX_WORDS and _BOILERPLATE.match(paragraph) is not None


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


def _title_from(name: str) -> str:
    stem = Path(name).stem.replace("_", " ").replace("-", " ").strip()
    return stem[:1].upper() + stem[1:] if stem else name


def _text_blocks(text: str, body_start: int) -> list[Block]:
    """Plain text: blank-line paragraphs (or one a line); a `# ` first line is a heading."""
    blocks: list[Block] = []
    for para in segment.paragraphs(text[body_start:]):
        start, end = body_start + para.start, body_start + para.end
        line_end = _LINE_END.search(text, start, end)
        first_line = text[start : line_end.start() if line_end else end]
        if _HEADING.match(first_line):
            blocks.append(Block(heading=first_line.lstrip("#").strip()))
            if line_end is None:
                continue
            start = line_end.end()
        blocks.append(Block(leaves=(Leaf(start, end, 0, 0, Visible(text[start:end], None)),)))
    return blocks


def _heading_span(
    text: str, body_start: int, heading: str, labels: frozenset[str] | None
) -> tuple[int, int] | None:
    """The span of the first heading line whose shown text is `heading` (its words, not its `#`s);
    `labels` are a Markdown document's reference labels, None for plain text."""
    for n, m in enumerate(_ATX_HEADING.finditer(text, body_start)):
        source = m.group(1)
        shown = fold_space(source) if labels is None else markdown.shown(source, labels)
        if shown == heading:
            return m.span(1)
        if n >= 4:  # the title is the first heading; a few lines of code may look like headings
            break
    return None


def parse_document(name: str, text: str) -> ParsedDocument:
    """Split one document's text into metadata and cited sentence spans."""
    front = frontmatter.parse(text)
    fields, body_start = front.fields, front.body_start
    stated = [Stated(f, FRONT_MATTER, front.keys[f], *front.lines[f]) for f in front.fields]
    title = fields.get("title")
    author = fields.get("author")
    title_span = front.values.get("title")
    if is_markdown(name):
        labels, blocks = markdown.references(text), markdown.blocks(text, body_start)
    else:
        labels, blocks = frozenset(), _text_blocks(text, body_start)
    rows: list[tuple[int, int, int, int, bool]] = []
    para_no = 0
    for block in blocks:
        if block.heading is not None:
            if title is None and block.heading:
                title = block.heading
                title_span = _heading_span(text, body_start, title, labels if is_markdown(name) else None)
                if title_span is not None:
                    stated.append(Stated("title", HEADING, HEADING, *title_span))
            continue
        # Furniture and bylines are short lines; long paragraphs skip the checks.
        short = sum(len(leaf.visible.text) for leaf in block.leaves) <= _SHORT_BLOCK
        folded = fold_space(" ".join(leaf.visible.text for leaf in block.leaves)) if short else ""
        boilerplate = bool(folded) and is_boilerplate(folded)
        byline = None
        if folded and author is None:  # "Follow NAME on ..." furniture, or an opening line "By NAME"
            byline = (
                _FOLLOW_AUTHOR.match(folded)
                if boilerplate
                else _BYLINE.match(folded)
                if para_no <= _BYLINE_PARAGRAPHS
                else None
            )
        if byline is not None:
            author = byline.group(1)
            stated.append(Stated("author", BYLINE, BYLINE, block.leaves[0].start, block.leaves[-1].end))
            continue
        if boilerplate:
            continue
        sentences: list[tuple[int, int, bool]] = []
        for leaf in block.leaves:
            placed = markdown.place(text, leaf, segment.sentences(leaf.visible.text), labels)
            quoted = segment.unattributed_quotes(leaf.visible.text, [span for span, _, _ in placed])
            sentences += [(start, end, q) for (_, start, end), q in zip(placed, quoted, strict=True)]
        if not sentences:
            continue
        para_no += 1
        rows += [(para_no, n, start, end, q) for n, (start, end, q) in enumerate(sentences, start=1)]
    if title is None:
        stated.append(Stated("title", FILE_NAME, FILE_NAME, 0, 0))
    document = Document(
        name=name,
        text=text,
        title=title or _title_from(name),
        author=author,
        source_url=fields.get("source_url"),
        published=fields.get("published"),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        subtitle=fields.get("subtitle"),
        outlet=fields.get("outlet"),
        stated=tuple(stated),
        body_start=body_start,
    )
    document, rows = _described(document, rows)
    # The title and subtitle the file states are the sentences of paragraph 0, before the body.
    subtitle_span = _subtitle_span(document, front.values.get("subtitle"), rows)
    heads = [span for span in (title_span, subtitle_span) if span is not None]
    rows = [(TITLE_PARAGRAPH, n, start, end, False) for n, (start, end) in enumerate(heads, start=1)] + rows
    return ParsedDocument(replace(document, sentence_count=len(rows)), rows)


def _described(
    document: Document, rows: list[tuple[int, int, int, int, bool]]
) -> tuple[Document, list[tuple[int, int, int, int, bool]]]:
    """The document with what its dateline or subtitle states where its front matter is silent
    (the outlet from a dateline; the date from a dateline, a line that is only a date before the
    story, or else the subtitle), and its rows
    with the dateline taken out of the first sentence: "LAKEVIEW, Mich., March 5 (Great Lakes
    Press) —" is where and when the story was filed, metadata, not an answer to what happened."""
    if not rows:
        return document, rows
    stated = list(document.stated)
    outlet, published = document.outlet, document.published
    # The story's first sentence: the first of the body, or after a standfirst or a section label
    # ("Work on the project has stopped ...", then "SALTERNE, June 4 — The wreck ...").
    for n, (para_no, sent_no, start, end, quoted) in enumerate(rows):
        if para_no > _BYLINE_PARAGRAPHS + 2:
            break
        if n and rows[n - 1][0] == para_no:  # a dateline opens a paragraph
            continue
        shown = sentence_text(document, start, end)
        found = describe.dateline(shown)
        if found is None or document.text[start : start + found.end] != shown[: found.end]:
            continue
        # The file holds the dateline as shown (no markup in it): the story starts after it.
        line = (start, start + found.length)
        if found.outlet and outlet is None:
            outlet = found.outlet
            stated.append(Stated("outlet", DATELINE, DATELINE, *line))
        if found.date and published is None:
            published = found.date
            stated.append(Stated("published", DATELINE, DATELINE, *line))
        # The body's first sentence loses its dateline; one found later (after a standfirst or a
        # summary) keeps it: it is what a question naming that place ("the report from Lisbon") finds.
        if n == 0 and start + found.end < end:
            rows = [(para_no, sent_no, start + found.end, end, quoted), *rows[1:]]
        break
    for n, (para, _, a, b, _) in enumerate(rows):  # a line that is only a date, before the story
        if para > _BYLINE_PARAGRAPHS + 2 or published is not None:
            break
        alone = (n == 0 or rows[n - 1][0] != para) and (n + 1 == len(rows) or rows[n + 1][0] != para)
        if alone and describe.date_line(line_text := sentence_text(document, a, b)):
            published = line_text.rstrip(".")
            stated.append(Stated("published", DATE_LINE, DATE_LINE, a, b))
    subtitle = document.statement("subtitle")
    if published is None and subtitle is not None and (date := describe.stated_date(document.subtitle or "")):
        published = date
        stated.append(Stated("published", SUBTITLE, subtitle.label, subtitle.start, subtitle.end))
    return replace(document, outlet=outlet, published=published, stated=tuple(stated)), rows


def _subtitle_span(
    document: Document, value: tuple[int, int] | None, rows: list[tuple[int, int, int, int, bool]]
) -> tuple[int, int] | None:
    """The span of the subtitle's front matter value, unless the body opens with the same words
    (a page's standfirst is often both): one sentence need not be found twice."""
    stated = document.statement("subtitle")
    if stated is None or stated.source != FRONT_MATTER:
        return None
    first = " ".join(sentence_text(document, start, end) for p, _, start, end, _ in rows if p == 1)
    return None if fold_space(document.subtitle or "") == first else value


def decode(name: str, raw: bytes) -> str | Problem:
    """A file's text, or the problem that prevents reading it.

    Text files are their bytes decoded, exactly (line ends and a BOM kept: spans index it). A web
    page (`.html`, `.htm`) is the Markdown document of its article, as `python -m bot add` would
    write it: spans index that text, not the page's HTML.
    """
    if not raw.strip():
        return Problem(name, "is empty")
    if name.lower().endswith(HTML_SUFFIXES):
        from bot.documents.extract import extract, markdown_document

        article = extract(raw)
        return Problem(name, NOT_AN_ARTICLE) if article is None else markdown_document(article)
    if b"\x00" in raw:
        return Problem(name, "is not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(name, f"is not UTF-8 text (bad byte at offset {exc.start})")
    return text


def read_bytes(
    path: str | Path, name: str, cap: tuple[int, str] | None = None, *, follow: bool = True
) -> bytes | Problem:
    """A file's bytes, or the problem reading it; past `cap` (bytes, the setting) it is not read.
    Without `follow`, a path whose last part is a link is not read (see `read_document`)."""
    try:
        with open(os.open(path, os.O_RDONLY | (0 if follow else os.O_NOFOLLOW)), "rb") as fh:
            if cap is None:
                return fh.read()
            limit, setting = cap
            too_big = os.fstat(fh.fileno()).st_size > limit  # known before reading a byte of it
            raw = b"" if too_big else fh.read(limit + 1)  # one byte past: it may have grown since
            if too_big or len(raw) > limit:
                return Problem(name, f"is larger than the {limit:,}-byte limit ({setting})")
            return raw
    except OSError as exc:
        return Problem(name, f"cannot be read ({exc.strerror or exc})")


def read_document(name: str, path: str, caps: SizeCaps | None) -> tuple[str, bytes | Problem]:
    """A corpus file's name (as `document_files` gives it) and its bytes, or the problem with it.

    The engine always gives `caps`; None reads a file whatever its size (tests, tools). A link is
    never followed here: `document_files` gives the path a link inside the folder leads to, so a
    file turned into a link since it was listed is not read.
    """
    if not is_utf8_name(name):  # shown escaped, and skipped
        readable = os.fsencode(name).decode("utf-8", "backslashreplace")
        return readable, Problem(readable, "has a file name that is not UTF-8; rename the file")
    return name, read_bytes(path, name, caps.of(name) if caps else None, follow=False)


def is_utf8_name(name: str) -> bool:
    """Whether a file name (as `document_files` gives it) is UTF-8. Python keeps a name's undecodable
    bytes as lone surrogates, which no text output (JSON, Discord, the cache key, a database's text
    column) can carry."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_bytes(name: str, raw: bytes) -> ParsedDocument | Problem:
    """Decode and parse one file's bytes; a problem with it comes back as a `Problem`."""
    text = decode(name, raw)
    if isinstance(text, Problem):
        return text
    parsed = parse_document(name, text)
    if name.lower().endswith(HTML_SUFFIXES) and not is_article(parsed):
        return Problem(name, NOT_AN_ARTICLE)
    if not any(
        para_no != TITLE_PARAGRAPH for para_no, *_ in parsed.sentences
    ):  # a title alone answers nothing
        return Problem(name, "has no sentences to answer from")
    return parsed


def document_files(folder: Path, unlisted: list[Problem] | None = None) -> list[tuple[str, str]]:
    """The corpus files under `folder` as (name, path), the name being the path below `folder`
    with `/` between folders; sorted. Raises CorpusError if there is no usable folder.

    A folder below that cannot be listed, and a link to a file outside `folder`, are skipped and
    reported, never silently: added to `unlisted` (a folder as `sub/`), or logged as a warning
    when the caller gives no list. Links to folders are not followed.
    """
    if not folder.exists():
        raise CorpusError(f"corpus folder {folder} does not exist")
    if not folder.is_dir():
        raise CorpusError(f"corpus path {folder} is not a folder")
    found: list[tuple[tuple[str, ...], str]] = []
    problems: list[Problem] = []
    root = os.path.realpath(folder)

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        # os.scandir and strings, not Path.rglob: at 10,000 files pathlib's objects cost seconds.
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError as exc:
            name = "".join(f"{part}/" for part in parts) or "./"
            problems.append(Problem(name, f"cannot be listed ({exc.strerror or exc})"))
            return
        for entry in listed:
            # Hidden files and folders are skipped below the corpus folder only: the folder's
            # own path may well pass through `..` or a dot-folder (`~/.local/share/...`).
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):  # as rglob: links to folders are not followed
                walk(entry.path, (*parts, entry.name))
            elif entry.name.lower().endswith(SUFFIXES) and entry.is_file():
                path = entry.path
                if entry.is_symlink():
                    # Whoever can write into the folder must not make the bot answer from any file
                    # it can read (the `.env` holding the token): a link is read only where it
                    # leads inside the folder, and then by the path it leads to (`read_document`).
                    path = os.path.realpath(path)
                    if os.path.commonpath((root, path)) != root:
                        name = "/".join((*parts, entry.name))
                        problems.append(Problem(name, "is a link to a file outside the corpus folder"))
                        continue
                found.append(((*parts, entry.name), path))

    walk(os.fspath(folder), ())
    if unlisted is None:
        for problem in problems:
            log.warning("skipped %s", problem)
    else:
        unlisted += problems
    if not found and problems and problems[0].name == "./":
        raise CorpusError(f"corpus folder {folder} {problems[0].reason}")
    if not found:
        raise CorpusError(f"corpus folder {folder} has no documents ({_KINDS} files)")
    found.sort(key=lambda item: item[0])  # by path components, as paths sort
    return [("/".join(parts), path) for parts, path in found]


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
            n: (d.name.casefold(), Path(d.name).stem.casefold(), fold_space(d.title).casefold())
            for n in seen
            for d in [self.documents[n]]
        }
        for exact in (
            [n for n, (name, _, _) in names.items() if name == wanted],
            [n for n, (_, stem, title) in names.items() if wanted in (stem, title)],
        ):
            if len(exact) == 1:
                return exact[0]
        partial = self.matching(query, view) if wanted else []
        if len(partial) == 1:
            return partial[0]
        if partial:
            matching = listed_names([self.documents[n].name for n in partial])
            raise DocumentNotFoundError(f"{len(partial)} documents match {query!r}: {matching}")
        every = listed_names([self.documents[n].name for n in seen])
        raise DocumentNotFoundError(f"no document matches {query!r}; the documents are {every}")

    def matching(self, query: str, view: View | None = None) -> list[int]:
        """The positions of the documents (of `view`, when given) whose file name or title holds
        every word of `query` (case aside), those whose title or name starts with it first; all of
        them for no words."""
        wanted = fold_space(query).casefold()
        found: list[tuple[bool, int]] = []
        for n in self.visible(view):
            doc = self.documents[n]
            keys = (doc.name.casefold(), fold_space(doc.title).casefold())
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


def load_corpus(folder: Path, caps: SizeCaps | None = None) -> Corpus:
    """Load every document under `folder`; bad ones are reported in `Corpus.problems`."""
    parsed: list[ParsedDocument] = []
    problems: list[Problem] = []
    for file_name, path in document_files(folder):
        name, raw = read_document(file_name, path, caps)
        result = raw if isinstance(raw, Problem) else parse_bytes(name, raw)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            parsed.append(result)
    return Corpus.from_parsed(parsed, problems)


def write_atomically(path: Path, content: bytes) -> None:
    """Write a whole corpus file or nothing, so a reader (a bot watching the folder) never sees half
    of it: a hidden temporary file beside it (the loader and the watcher skip dot-files), renamed
    into place. A new file's mode follows the umask (mkstemp's 0600 would hide it from a bot running
    as another user); a replaced file keeps its own. The temporary name is short whatever the file's:
    one built from it took a name near the file system's 255-byte limit past it, so that file could
    never be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(fh.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
