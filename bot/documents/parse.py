"""One file's bytes to a parsed document: its text, its metadata and its sentences' cited spans.

Plain text is split by `bot.segment`; Markdown's blocks and shown text come from `bot.markdown`
first; a saved web page (`.html`, `.htm`) is read as the Markdown of its article (`bot.extract`).
Front matter is read by `bot.frontmatter`; datelines and date lines by `bot.describe`. Sharing
the parsing of many files among processes is `bot.documents.parsing`'s.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

from bot.documents import describe, frontmatter, markdown, segment
from bot.documents.article import NOT_AN_ARTICLE, is_article, is_boilerplate
from bot.documents.document import (
    BYLINE,
    DATE_LINE,
    DATELINE,
    FILE_NAME,
    FRONT_MATTER,
    HEADING,
    HTML_SUFFIXES,
    SUBTITLE,
    TITLE_PARAGRAPH,
    Document,
    ParsedDocument,
    Problem,
    Stated,
    is_markdown,
    sentence_text,
)
from bot.documents.markdown import Block, Leaf, Visible
from bot.text import fold_space

_SHORT_BLOCK = 400  # characters: longer than any 16-word line of furniture
_FOLLOW_AUTHOR = re.compile(r"^Follow\s+((?:[A-Z][\w.’'-]*\s+){1,3}[A-Z][\w.’'-]*)\s+(?:on|at)\b")
_NAME = r"(?:[A-Z][\w.’'-]*\s+){1,3}[A-Z][\w.’'-]*"
# "By Jane Doe", "By Jane Doe and John Roe", "By Helen Carter, Science Correspondent" (a role is no name).
_BYLINE = re.compile(rf"^By\s+({_NAME}(?:\s+and\s+{_NAME})?)(?:\s*,\s*[^,]{{1,60}})?\s*$")
_BYLINE_PARAGRAPHS = 2  # a byline comes before the story: after a section label and a title line at most
_HEADING = re.compile(r"^#{1,6}\s")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_LINE_END = re.compile(r"\r\n?|\n")


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
