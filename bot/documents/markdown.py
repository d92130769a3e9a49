"""Markdown as a reader sees it: which blocks are prose, and what text each part of the file shows.

Two halves, each chosen for its job:
- Blocks come from markdown-it-py, a CommonMark parser whose block tokens carry source line
  maps: paragraphs and list items are prose; headings are titles; code (fenced or indented),
  tables, HTML blocks and rules are not answers. Getting those right (lazy continuation lines,
  setext headings, nested lists, fences with blank lines) is what a real parser is for.
- Inline markup (emphasis, code marks, links and images, HTML tags, escapes, entities) is removed
  here, because markdown-it's inline tokens carry no source offsets and a sentence's span must
  point into the file. `visible` keeps each shown character's offset; `shown` is the fast form
  used for every sentence's text. Tests check both against markdown-it's own rendering.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from bot.documents.segment import Span
from bot.text import fold_space

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# Characters that may start inline markup; text without any of them is shown as it stands.
_MARKUP = re.compile(r"[\\`*_~\[<&]|[\r\n][ \t]*>")
_LINE_END = re.compile(r"\r\n?|\n")
# After a line end inside a block: its indentation and any blockquote markers.
_CONTAINER = re.compile(r"[ \t]*(?:>[ \t]?[ \t]*)*")
_SPECIAL = re.compile(r"[\\`*_~\[!<&\n]")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_AUTOLINK = re.compile(
    r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\x00-\x20]*|[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*)>"
)
_ATTRIBUTE = r"""\s+[A-Za-z_:][\w.:-]*(?:\s*=\s*(?:[^\s"'=<>`]+|'[^']*'|"[^"]*"))?"""
_HTML_TAG = re.compile(
    rf"<(?:[A-Za-z][A-Za-z0-9-]*(?:{_ATTRIBUTE})*\s*/?>|/[A-Za-z][A-Za-z0-9-]*\s*>"
    r"|!--(?:.|\n)*?-->|\?(?:.|\n)*?\?>|![A-Za-z][^>]*>|!\[CDATA\[(?:.|\n)*?\]\]>)"
)
_BREAK_TAG = re.compile(r"<br\b", re.IGNORECASE)
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BRACKET_STOP = re.compile(r"[\\`\[\]]")
_BACKTICKS = re.compile(r"`+")
# An inline link's `(destination "title")`: balanced parentheses two deep, as real URLs need.
_DESTINATION = r"(?:<(?:[^<>\n\\]|\\.)*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*\))*)"
_TITLE = r"""(?:\s+(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\((?:\\.|[^()\\])*\)))?"""
_INLINE_TAIL = re.compile(rf"\(\s*{_DESTINATION}{_TITLE}\s*\)")
_REFERENCE = re.compile(r"\[((?:[^\[\]\\]|\\.){0,999})\]")
# A link reference definition: `[label]: destination`, then the line's end or a title.
_DEFINITION = re.compile(
    r"""^[ \t>]*\[((?:[^\[\]\\]|\\.){1,999})\]:[ \t]*\n?[ \t]*(?:<[^<>\n]*>|\S+)[ \t]*(?:$|["'(])""",
    re.MULTILINE,
)


class Visible(NamedTuple):
    """The text a reader sees, and where each run of it was copied from in the source.

    `runs` holds two parallel lists: where each run starts in `text` and in the source; None
    means the text is the source itself.
    """

    text: str
    runs: tuple[list[int], list[int]] | None

    def offset(self, i: int) -> int:
        """The source offset of shown character `i`."""
        if self.runs is None:
            return i
        shown_starts, source_starts = self.runs
        k = bisect.bisect_right(shown_starts, i) - 1
        return source_starts[k] + i - shown_starts[k]


@dataclass(frozen=True)
class Leaf:
    """A prose block (a paragraph or a list item's paragraph): its source span and shown text."""

    start: int
    end: int
    first_line: int
    last_line: int  # exclusive, as markdown-it maps lines
    visible: Visible

    def offset(self, i: int) -> int:
        """The source offset of shown character `i`."""
        return self.start + self.visible.offset(i)


@dataclass(frozen=True)
class Block:
    """A heading (its shown text) or a paragraph of prose leaves with no blank line between them."""

    heading: str | None = None
    leaves: tuple[Leaf, ...] = ()


def shown(source: str, labels: frozenset[str] = frozenset()) -> str:
    """The text a reader sees for a piece of Markdown, white space folded.

    `labels` are the link reference labels its document defines (see `references`).
    """
    if _MARKUP.search(source) is None:
        return fold_space(source)
    return fold_space(visible(source, labels).text)


def visible(source: str, labels: frozenset[str] = frozenset()) -> Visible:
    """The text a reader sees for `source`, and where each run of it is in `source`."""
    if _MARKUP.search(source) is None:
        return Visible(source, None)
    text, lines = _unwrap(source)
    chunks, starts = _Inline(text, labels).run()
    return Visible("".join(chunks), _compose(chunks, starts, lines))


@lru_cache(maxsize=16)  # the documents being parsed or shown; each holds its text alive
def references(text: str) -> frozenset[str]:
    """The link reference labels a document defines (`[label]: https://...` lines)."""
    if "]:" not in text:
        return frozenset()
    return frozenset(_label(m.group(1)) for m in _DEFINITION.finditer(text))


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


def _unwrap(source: str) -> tuple[str, tuple[list[int], list[int]]]:
    """`source` with line ends as "\\n" and the container markers after them dropped, and its runs."""
    out: list[str] = []
    runs: tuple[list[int], list[int]] = ([], [])
    pos = length = 0
    for m in _LINE_END.finditer(source):
        line = source[pos : m.start()] + "\n"  # the line end stands where the line ends
        out.append(line)
        runs[0].append(length)
        runs[1].append(pos)
        length += len(line)
        prefix = _CONTAINER.match(source, m.end())
        pos = prefix.end() if prefix else m.end()
    out.append(source[pos:])
    runs[0].append(length)
    runs[1].append(pos)
    return "".join(out), runs


def _compose(
    chunks: list[str], starts: list[int], lines: tuple[list[int], list[int]]
) -> tuple[list[int], list[int]]:
    """Runs of the shown text in the source: chunks placed in the unwrapped text, lines in the source."""
    line_starts, line_sources = lines
    shown_starts: list[int] = []
    source_starts: list[int] = []
    shown = 0
    k = 0
    for chunk, start in zip(chunks, starts, strict=True):
        done = 0
        while done < len(chunk):
            at = start + done
            while k + 1 < len(line_starts) and line_starts[k + 1] <= at:
                k += 1
            source = line_sources[k] + at - line_starts[k]
            # A run goes on while both texts do: only a new chunk or a new line starts another.
            if not shown_starts or source_starts[-1] + (shown + done - shown_starts[-1]) != source:
                shown_starts.append(shown + done)
                source_starts.append(source)
            line_end = line_starts[k + 1] if k + 1 < len(line_starts) else at + len(chunk)
            done += min(len(chunk) - done, line_end - at)
        shown += len(chunk)
    return shown_starts, source_starts


def _is_space(ch: str) -> bool:
    return not ch or ch.isspace()


def _is_punct(ch: str) -> bool:
    return bool(ch) and (ch in _ASCII_PUNCTUATION or unicodedata.category(ch)[0] in "PS")


class _Delimiter:
    """A run of `*`, `_` or `~` that may open or close emphasis (CommonMark's delimiter run)."""

    __slots__ = ("can_close", "can_open", "char", "closed", "dropped", "index", "opened", "original")

    def __init__(self, char: str, index: int, length: int, can_open: bool, can_close: bool) -> None:
        self.char, self.index, self.original = char, index, length
        self.can_open, self.can_close = can_open, can_close
        self.opened = 0  # marks used as an opener, taken from the run's end
        self.closed = 0  # marks used as a closer, taken from its start
        self.dropped = False  # inside a match: what is left of it is text

    @property
    def length(self) -> int:
        return 0 if self.dropped else self.original - self.opened - self.closed


def _rule_of_three(opener: _Delimiter, closer: _Delimiter) -> bool:
    """CommonMark: a run that can both open and close matches none whose sizes sum to 3n, unless both are."""
    if not (opener.can_close or closer.can_open) or (opener.original + closer.original) % 3:
        return False
    return not (opener.original % 3 == 0 and closer.original % 3 == 0)


class _Inline:
    """One pass over a block's inline source: the pieces of text shown, and where each comes from."""

    def __init__(self, text: str, labels: frozenset[str]) -> None:
        self.text = text
        self.labels = labels  # the reference labels the document defines
        self.chunks: list[str] = []  # shown text, in pieces copied from (or standing for) the text
        self.starts: list[int] = []  # where each piece starts in the text
        self.delimiters: list[_Delimiter] = []  # every emphasis run, each its own piece

    def run(self) -> tuple[list[str], list[int]]:
        """The shown pieces and where each starts in the text."""
        self._scan(0, len(self.text))
        for d in self.delimiters:  # matched marks are markup: keep what is left of each run
            if d.opened or d.closed:
                self.chunks[d.index] = self.chunks[d.index][d.closed : d.original - d.opened]
                self.starts[d.index] += d.closed
        kept = [n for n, chunk in enumerate(self.chunks) if chunk]
        return [self.chunks[n] for n in kept], [self.starts[n] for n in kept]

    def _emit(self, chars: str, at: int) -> None:
        if chars:
            self.chunks.append(chars)
            self.starts.append(at)

    def _scan(self, lo: int, hi: int) -> None:
        """Shown characters of text[lo:hi]; emphasis is matched within this range only."""
        text = self.text
        delimiters: list[_Delimiter] = []
        i = lo
        while i < hi:
            m = _SPECIAL.search(text, i, hi)
            if m is None:
                self._emit(text[i:hi], i)
                break
            j = m.start()
            self._emit(text[i:j], i)
            ch = text[j]
            if ch == "\\":
                nxt = text[j + 1 : j + 2] if j + 1 < hi else ""
                if nxt in _ASCII_PUNCTUATION and nxt:
                    self._emit(nxt, j + 1)
                    i = j + 2
                elif nxt == "\n":
                    i = j + 1  # a hard line break: the backslash is not shown
                else:
                    self._emit("\\", j)
                    i = j + 1
            elif ch == "`":
                i = self._code_span(j, hi)
            elif ch in "*_~":
                i = self._delimiter_run(j, lo, hi, delimiters)
            elif ch == "[" or (ch == "!" and text.startswith("[", j + 1)):
                i = self._link(j, hi)
            elif ch == "<":
                i = self._angle(j, hi)
            elif ch == "&":
                e = _ENTITY.match(text, j, hi)
                if e is not None and (decoded := html.unescape(e.group())) != e.group():
                    self._emit(decoded, j)  # placed at the entity, which is longer than it
                    i = e.end()
                else:
                    self._emit("&", j)
                    i = j + 1
            else:  # "!" not before "[", or a line end
                self._emit(ch, j)
                i = j + 1
        self._emphasis(delimiters)

    def _code_span(self, j: int, hi: int) -> int:
        text = self.text
        n = j
        while n < hi and text[n] == "`":
            n += 1
        run = n - j
        k = n
        while True:
            k = text.find("`" * run, k, hi)
            if k < 0:
                self._emit(text[j:n], j)  # no closing run: the backticks are text
                return n
            end = k + run
            if (end >= hi or text[end] != "`") and (k == n or text[k - 1] != "`"):
                break
            while k < hi and text[k] == "`":
                k += 1
        content = text[n:k].replace("\n", " ")
        first = n
        if len(content) >= 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
            content, first = content[1:-1], n + 1
        self._emit(content, first)
        return k + run

    def _delimiter_run(self, j: int, lo: int, hi: int, delimiters: list[_Delimiter]) -> int:
        text = self.text
        ch = text[j]
        n = j
        while n < hi and text[n] == ch:
            n += 1
        before = text[j - 1] if j > lo else ""
        after = text[n] if n < hi else ""
        left = not _is_space(after) and (not _is_punct(after) or _is_space(before) or _is_punct(before))
        right = not _is_space(before) and (not _is_punct(before) or _is_space(after) or _is_punct(after))
        if ch == "_":
            can_open = left and (not right or _is_punct(before))
            can_close = right and (not left or _is_punct(after))
        else:
            can_open, can_close = left, right
        if can_open or can_close:
            run = _Delimiter(ch, len(self.chunks), n - j, can_open, can_close)
            delimiters.append(run)
            self.delimiters.append(run)
        self._emit(text[j:n], j)
        return n

    def _emphasis(self, delimiters: list[_Delimiter]) -> None:
        """Match openers with closers (CommonMark's "process emphasis"); matched marks are markup."""
        for c, closer in enumerate(delimiters):
            while closer.can_close and closer.length > 0:
                opener = None
                for o in range(c - 1, -1, -1):
                    cand = delimiters[o]
                    if cand.char != closer.char or not cand.can_open or cand.length == 0:
                        continue
                    if closer.char == "~" and (cand.length < 2 or closer.length < 2):
                        continue  # strikethrough takes tildes in twos
                    if closer.char != "~" and _rule_of_three(cand, closer):
                        continue
                    opener = o
                    break
                if opener is None:
                    break
                cand = delimiters[opener]
                use = 2 if cand.length >= 2 and closer.length >= 2 else 1
                # The opener gives up its innermost marks, the closer its first ones.
                cand.opened += use
                closer.closed += use
                for between in delimiters[opener + 1 : c]:
                    between.dropped = True  # runs inside a match can no longer match outside it

    def _link(self, j: int, hi: int) -> int:
        """A link (its text shown) or an image (nothing shown); otherwise the bracket is text."""
        text = self.text
        image = text[j] == "!"
        open_at = j + 1 if image else j
        close = self._bracket_end(open_at, hi)
        end = self._link_tail(close + 1, hi, text[open_at + 1 : close]) if close is not None else None
        if close is None or end is None:
            self._emit(text[j : open_at + 1], j)
            return open_at + 1
        if not image:
            self._scan(open_at + 1, close)
        return end

    def _bracket_end(self, j: int, hi: int) -> int | None:
        """The `]` matching the `[` at j, past escapes and code spans."""
        text = self.text
        depth = 0
        k = j
        while (m := _BRACKET_STOP.search(text, k, hi)) is not None:
            k = m.start()
            ch = text[k]
            if ch == "\\":
                k += 2
            elif ch == "`":
                run = _BACKTICKS.match(text, k, hi)
                assert run is not None  # it starts with the backtick found
                closing = text.find(run.group(), run.end(), hi)
                k = closing + len(run.group()) if closing >= 0 else run.end()
            else:
                depth += 1 if ch == "[" else -1
                if depth == 0:
                    return k
                k += 1
        return None

    def _link_tail(self, k: int, hi: int, label: str) -> int | None:
        """The end of `(destination "title")` or `[label]` after a link's text, or None.

        A reference (`[text][label]`, `[text][]`, `[text]`) is a link only when the document
        defines its label; otherwise it shows as written.
        """
        text = self.text
        if text.startswith("(", k):
            tail = _INLINE_TAIL.match(text, k, hi)
            return tail.end() if tail else None
        ref = _REFERENCE.match(text, k, hi)
        if ref is not None and _label(ref.group(1) or label) in self.labels:
            return ref.end()
        return k if _label(label) in self.labels else None

    def _angle(self, j: int, hi: int) -> int:
        """An autolink (its address shown), an HTML tag (not shown), or a `<` that is text."""
        text = self.text
        auto = _AUTOLINK.match(text, j, hi)
        if auto is not None:
            self._emit(auto.group(1), j + 1)
            return auto.end()
        tag = _HTML_TAG.match(text, j, hi)
        if tag is not None:
            if _BREAK_TAG.match(tag.group()):
                self._emit("\n", j)
            return tag.end()
        self._emit("<", j)
        return j + 1


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # Block structure only: inline content is read by `visible`, which keeps its place.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable(["inline", "text_join"])


def blocks(text: str, body_start: int) -> list[Block]:
    """The headings and prose paragraphs of the Markdown body that starts at `body_start`."""
    body = text[body_start:]
    labels = references(text)
    line_starts = [0] + [m.end() for m in _LINE_END.finditer(body)]
    tokens = _parser().parse(body)
    out: list[Block] = []
    leaves: list[Leaf] = []

    def flush() -> None:
        if leaves:
            out.append(Block(leaves=tuple(leaves)))
            leaves.clear()

    for n, token in enumerate(tokens):
        if token.type != "inline" or token.map is None or n == 0:
            continue
        parent = tokens[n - 1].type
        first, last = token.map
        if parent == "heading_open":
            flush()
            out.append(Block(heading=shown(token.content, labels)))
            continue
        if parent != "paragraph_open":
            continue  # table cells
        start, end = _content_span(body, line_starts, token.content, first, last)
        if start >= end:
            continue
        shown_text = visible(body[start:end], labels)
        leaf = Leaf(body_start + start, body_start + end, first, last, shown_text)
        # Blocks with no blank line between them (a list under its lead-in) are one paragraph.
        if leaves and leaves[-1].last_line != first:
            flush()
        leaves.append(leaf)
    flush()
    return out


def _content_span(body: str, line_starts: list[int], content: str, first: int, last: int) -> tuple[int, int]:
    """Where a block's inline content starts and ends in `body` (past list and quote markers).

    markdown-it's content is each line with its container markers removed, so its first line,
    stripped, ends the block's first source line.
    """
    head = content.split("\n", 1)[0].strip()
    start = line_starts[first] + len(_line(body, line_starts, first).rstrip()) - len(head)
    last_line = min(last, len(line_starts)) - 1
    end = line_starts[last_line] + len(_line(body, line_starts, last_line).rstrip())
    return start, max(start, end)


def _line(body: str, line_starts: list[int], line: int) -> str:
    m = _LINE_END.search(body, line_starts[line])
    return body[line_starts[line] : m.start() if m else len(body)]


def place(
    text: str, leaf: Leaf, spans: Sequence[Span], labels: frozenset[str] = frozenset()
) -> list[tuple[Span, int, int]]:
    """Each sentence of a leaf (spans of its shown text) with a span of `text` that shows it.

    A sentence whose source cannot show exactly its text (it ends inside a link's text, say) is
    joined to the next one, so that `shown(text[start:end], labels)` is every sentence's text.
    """
    if leaf.visible.runs is None:
        return [(span, leaf.start + span.start, leaf.start + span.end) for span in spans]
    placed: list[tuple[Span, int, int]] = []
    pending: int | None = None
    for span in spans:
        joined = Span(span.start if pending is None else pending, span.end)
        start, end = leaf.offset(joined.start), leaf.offset(joined.end - 1) + 1
        found: tuple[int, int] | None
        if joined.start == 0 and joined.end == len(leaf.visible.text):
            found = (leaf.start, leaf.end)  # the whole leaf shows what it showed
        elif end - start == joined.end - joined.start and _MARKUP.search(text, start, end) is None:
            found = (start, end)  # no markup at all: the source shows it as is
        else:
            want = fold_space(leaf.visible.text[joined.start : joined.end])
            found = next(
                (c for c in _candidates(text, leaf, joined) if shown(text[c[0] : c[1]], labels) == want), None
            )
        if found is None:
            pending = joined.start
            continue
        placed.append((joined, *found))
        pending = None
    if pending is not None and spans:  # nothing shows the tail exactly: the widest span is closest
        joined = Span(pending, spans[-1].end)
        placed.append((joined, *_candidates(text, leaf, joined)[0]))
    return placed


def _candidates(text: str, leaf: Leaf, span: Span) -> list[tuple[int, int]]:
    """Source spans for a shown span, best first: its characters with the marks that touch them,
    exactly its characters, or everything up to the shown characters on either side."""
    start, end = leaf.offset(span.start), leaf.offset(span.end - 1) + 1
    lo = leaf.offset(span.start - 1) + 1 if span.start > 0 else leaf.start
    hi = leaf.offset(span.end) if span.end < len(leaf.visible.text) else leaf.end
    wide_start, wide_end = start, end
    while wide_start > lo and not text[wide_start - 1].isspace():
        wide_start -= 1
    while wide_end < hi and not text[wide_end].isspace():
        wide_end += 1
    starts, ends = (wide_start, start, lo), (wide_end, end, hi)
    return list(dict.fromkeys((s, e) for s in starts for e in ends))
