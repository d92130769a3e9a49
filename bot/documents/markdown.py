"""Markdown as a reader sees it: which blocks are prose, and what text each part of the file shows.

Two halves, each chosen for its job:
- Blocks come from markdown-it-py, a CommonMark parser whose block tokens carry source line
  maps: paragraphs and list items are prose; headings are titles; code (fenced or indented),
  tables, HTML blocks and rules are not answers. Getting those right (lazy continuation lines,
  setext headings, nested lists, fences with blank lines) is what a real parser is for.
- Inline markup (emphasis, code marks, links and images, HTML tags, escapes, entities) is removed
  here, because markdown-it's inline tokens carry no source offsets and a sentence's span must
  point into the file (docs/how-it-answers.md: why not markdown-it's inline parser). `visible`
  keeps each shown character's offset; `shown` is the fast form used for every sentence's text.
  Tests check both against markdown-it's own rendering. The scan is one pass, linear in its text
  whatever the text (tests/test_parsing_work.py counts its steps).
"""

from __future__ import annotations

import bisect
import html
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from bot.documents.segment import WORK, Span
from bot.text import fold_space

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

# Characters that may start inline markup; text without any of them is shown as it stands.
_MARKUP = re.compile(r"[\\`*_~\[<&]|[\r\n][ \t]*>")
_LINE_END = re.compile(r"\r\n?|\n")
# After a line end inside a block: its indentation and any blockquote markers.
_CONTAINER = re.compile(r"[ \t]*+(?:>[ \t]*+)*+")
_SPECIAL = re.compile(r"[\\`*_~\[\]!<&\n]")
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
_BACKTICKS = re.compile(r"`+")
_RUNS = {mark: re.compile(re.escape(mark) + "+") for mark in "*_~"}
# An inline link's `(destination "title")`: balanced parentheses two deep, as real URLs need. Each
# part is taken whole (possessive): white space before, inside and after the title could otherwise
# be shared out between `\s*`, `\s+` and `\s*` in every way on a failing match (cubic).
_DESTINATION = (
    r"(?:<(?:[^<>\n\\]|\\.)*+>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*+\))*+\))*+)"
)
_TITLE = r"""(?:\s++(?:"(?:\\.|[^"\\])*+"|'(?:\\.|[^'\\])*+'|\((?:\\.|[^()\\])*+\)))?+"""
_INLINE_TAIL = re.compile(rf"\(\s*+{_DESTINATION}{_TITLE}\s*+\)")
_REFERENCE = re.compile(r"\[((?:[^\[\]\\]|\\.){0,999})\]")
_MAX_LABEL = 999  # CommonMark: a link label holds at most 999 characters
# A link reference definition: `[label]: destination`, then the line's end or a title (the white
# space around the line end taken whole: `[ \t]*\n?[ \t]*` shared a line of spaces out quadratically).
_DEFINITION = re.compile(
    r"""^[ \t>]*+\[((?:[^\[\]\\]|\\.){1,999})\]:[ \t]*+(?:\n[ \t]*+)?(?:<[^<>\n]*>|\S+)[ \t]*(?:$|["'(])""",
    re.MULTILINE,
)
# What must follow each kind of HTML construct that runs to a terminator, whatever lies between
# (comments, processing instructions, CDATA, declarations): without it the construct cannot close,
# and the tag pattern is not tried (it would read to the end of the text at every such `<`).
_HTML_TERMINATORS = (("<!--", "-->"), ("<?", "?>"), ("<![CDATA[", "]]>"), ("<!", ">"))


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


def marked(source: str) -> bool:
    """Whether a piece of Markdown may hold markup: without it, it shows as it is written."""
    return _MARKUP.search(source) is not None


def shown(source: str, labels: frozenset[str] = frozenset()) -> str:
    """The text a reader sees for a piece of Markdown, white space folded.

    `labels` are the link reference labels its document defines (see `references`).
    """
    if not marked(source):
        return fold_space(source)
    return fold_space(visible(source, labels).text)


def visible(source: str, labels: frozenset[str] = frozenset()) -> Visible:
    """The text a reader sees for `source`, and where each run of it is in `source`."""
    if not marked(source):
        return Visible(source, None)
    text, lines = _unwrap(source)
    chunks, starts = _Inline(text, labels).run()
    return Visible("".join(chunks), _compose(chunks, starts, lines))


def wrapped(source: str, labels: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """The ranges of `visible(source).text` that a piece of markup wraps (emphasis, a link's text,
    a code span): a span of the source that cuts one shows that markup's marks."""
    inline = _Inline(_unwrap(source)[0], labels, wrapped=[])
    inline.run()
    ends = list(itertools.accumulate(map(len, inline.chunks), initial=0))
    return [(ends[first], ends[end]) for first, end in inline.wrapped or () if ends[first] < ends[end]]


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

    __slots__ = ("can_close", "can_open", "char", "closed", "index", "length", "opened", "original")

    def __init__(self, char: str, index: int, length: int, can_open: bool, can_close: bool) -> None:
        self.char, self.index, self.original, self.length = char, index, length, length
        self.can_open, self.can_close = can_open, can_close
        self.opened = 0  # marks used as an opener, taken from the run's end
        self.closed = 0  # marks used as a closer, taken from its start


def _rule_of_three(opener: _Delimiter, closer: _Delimiter) -> bool:
    """CommonMark: a run that can both open and close matches none whose sizes sum to 3n, unless both are."""
    if not (opener.can_close or closer.can_open) or (opener.original + closer.original) % 3:
        return False
    return not (opener.original % 3 == 0 and closer.original % 3 == 0)


def _matches(opener: _Delimiter, closer: _Delimiter) -> bool:
    """Whether `opener` can open the emphasis that `closer` closes, as they stand."""
    if opener.char != closer.char or not opener.can_open or opener.length == 0:
        return False
    if closer.char == "~":
        return opener.length >= 2  # strikethrough takes tildes in twos
    return not _rule_of_three(opener, closer)


def _unlink(n: int, before: list[int], after: list[int]) -> None:
    """Take item `n` out of the linked list of indexes `before` and `after` (-1 and len are its ends)."""
    if before[n] >= 0:
        after[before[n]] = after[n]
    if after[n] < len(after):
        before[after[n]] = before[n]


def _flanking(ch: str, before: str, after: str) -> tuple[bool, bool]:
    """Whether a run of `ch` between `before` and `after` can open and close emphasis ("" is an end)."""
    left = not _is_space(after) and (not _is_punct(after) or _is_space(before) or _is_punct(before))
    right = not _is_space(before) and (not _is_punct(before) or _is_space(after) or _is_punct(after))
    if ch == "_":
        return left and (not right or _is_punct(before)), right and (not left or _is_punct(after))
    return left, right


class _Bracket:
    """A `[` or `![` not yet closed: where it is, and what the scan had made when it was met."""

    __slots__ = ("at", "chunk", "delimiters", "image", "wrapped")

    def __init__(self, at: int, chunk: int, delimiters: int, wrapped: int, image: bool) -> None:
        self.at, self.chunk, self.delimiters, self.wrapped, self.image = at, chunk, delimiters, wrapped, image


class _Inline:
    """One pass over a block's inline source: the pieces of text shown, and where each comes from.

    Links are found as CommonMark finds them, with a stack of the `[`s not yet closed, matched at
    each `]`, rather than by looking ahead for the `]` of every `[` (20,000 `[` took 57 s); emphasis
    keeps CommonMark's lower bound for each kind of closer rather than looking back over every
    earlier run. Every character is looked at a bounded number of times.
    """

    def __init__(
        self, text: str, labels: frozenset[str], wrapped: list[tuple[int, int]] | None = None
    ) -> None:
        self.text = text
        self.labels = labels  # the reference labels the document defines
        self.chunks: list[str] = []  # shown text, in pieces copied from (or standing for) the text
        self.starts: list[int] = []  # where each piece starts in the text
        self.delimiters: list[_Delimiter] = []  # emphasis runs not yet matched, each its own piece
        self.brackets: list[_Bracket] = []
        self.inactive = 0  # the `[`s below this place in `brackets` are text: a link holds no link
        # Pieces that markup wraps (emphasis, links, code): (first piece, end piece) of what they show;
        # kept only when asked for (`wrapped`), which is rarely.
        self.wrapped = wrapped
        self._backticks: dict[int, list[int]] | None = None  # starts of the text's backtick runs, by length
        self._last: dict[str, int] | None = None  # where each HTML terminator last occurs in the text

    def run(self) -> tuple[list[str], list[int]]:
        """The shown pieces and where each starts in the text (`chunks` keeps the empty ones)."""
        self._scan()
        self._emphasis(0)
        kept = [n for n, chunk in enumerate(self.chunks) if chunk]
        return [self.chunks[n] for n in kept], [self.starts[n] for n in kept]

    def _emit(self, chars: str, at: int) -> None:
        if chars:
            self.chunks.append(chars)
            self.starts.append(at)

    def _scan(self) -> None:
        """Shown characters of the whole text, links matched as their `]` is met."""
        text = self.text
        hi = len(text)
        steps = 0
        i = 0
        while i < hi:
            steps += 1
            m = _SPECIAL.search(text, i)
            if m is None:
                self._emit(text[i:], i)
                break
            j = m.start()
            self._emit(text[i:j], i)
            ch = text[j]
            if ch == "\\":
                nxt = text[j + 1 : j + 2]
                if nxt in _ASCII_PUNCTUATION and nxt:
                    self._emit(nxt, j + 1)
                    i = j + 2
                elif nxt == "\n":
                    i = j + 1  # a hard line break: the backslash is not shown
                else:
                    self._emit("\\", j)
                    i = j + 1
            elif ch == "`":
                i = self._code_span(j)
            elif ch in "*_~":
                i = self._delimiter_run(j)
            elif ch == "[" or (ch == "!" and text.startswith("[", j + 1)):
                i = self._open_bracket(j, ch == "!")
            elif ch == "]":
                i = self._close_bracket(j)
            elif ch == "<":
                i = self._angle(j)
            elif ch == "&":
                e = _ENTITY.match(text, j)
                if e is not None and (decoded := html.unescape(e.group())) != e.group():
                    self._emit(decoded, j)  # placed at the entity, which is longer than it
                    i = e.end()
                else:
                    self._emit("&", j)
                    i = j + 1
            else:  # "!" not before "[", or a line end
                self._emit(ch, j)
                i = j + 1
        WORK.steps += steps

    def _code_span(self, j: int) -> int:
        text = self.text
        opening = _BACKTICKS.match(text, j)
        assert opening is not None  # it starts with the backtick found
        n = opening.end()
        run = n - j
        k = self._closing_backticks(run, n)
        if k is None:
            self._emit(opening.group(), j)  # no closing run: the backticks are text
            return n
        content = text[n:k].replace("\n", " ")
        first = n
        if len(content) >= 2 and content[0] == " " and content[-1] == " " and content.strip(" "):
            content, first = content[1:-1], n + 1
        before = len(self.chunks)
        self._emit(content, first)
        if self.wrapped is not None:
            self.wrapped.append((before, len(self.chunks)))
        return k + run

    def _closing_backticks(self, run: int, after: int) -> int | None:
        """Where the first run of exactly `run` backticks at or after `after` starts, if any."""
        text = self.text
        if self._backticks is None:
            # Searched for until a search fails: what a found one passes over is the code span's,
            # which the scan then skips. After a failure every run is indexed once, so that openers
            # without a closer do not each read to the end of the text.
            k = after
            while (k := text.find("`" * run, k)) >= 0:
                WORK.steps += 1
                end = _BACKTICKS.match(text, k)
                assert end is not None  # a run starts at k
                if end.end() - k == run and text[k - 1] != "`":
                    return k
                k = end.end()
            self._backticks = {}
            for m in _BACKTICKS.finditer(text):
                self._backticks.setdefault(m.end() - m.start(), []).append(m.start())
            WORK.steps += len(self._backticks)
        starts = self._backticks.get(run, [])
        k = bisect.bisect_left(starts, after)
        return starts[k] if k < len(starts) else None

    def _delimiter_run(self, j: int) -> int:
        text = self.text
        ch = text[j]
        run = _RUNS[ch].match(text, j)
        assert run is not None  # it starts with the mark found
        n = run.end()
        can_open, can_close = _flanking(ch, text[j - 1] if j > 0 else "", text[n] if n < len(text) else "")
        if can_open or can_close:
            self.delimiters.append(_Delimiter(ch, len(self.chunks), n - j, can_open, can_close))
        self._emit(text[j:n], j)
        return n

    def _emphasis(self, bottom: int) -> None:
        """Match the runs from `bottom` on, openers with closers (CommonMark's "process emphasis");
        matched marks are markup. The runs are settled: they leave the list."""
        count = len(self.delimiters) - bottom
        if count < 2:  # a run matches another or nothing
            del self.delimiters[bottom:]
            return
        runs = self.delimiters[bottom:]
        del self.delimiters[bottom:]
        # The runs still open to matching, as a linked list: a match takes the runs between out.
        before = list(range(-1, count - 1))
        after = list(range(1, count + 1))
        # For each kind of closer, no opener stands at or below this run: later closers of the kind
        # look no further down (CommonMark's openers_bottom, keyed as its rule of three needs).
        floors: dict[tuple[str, bool, int], int] = {}
        steps = 0
        c = 0
        while c < count:
            closer = runs[c]
            tildes = closer.char == "~"
            if not closer.can_close or closer.length < (2 if tildes else 1):
                c = after[c]
                continue
            kind = (closer.char, False, 0) if tildes else (closer.char, closer.can_open, closer.original % 3)
            floor = floors.get(kind, -1)
            o = before[c]
            while o > floor and not _matches(runs[o], closer):
                steps += 1
                o = before[o]
            if o <= floor:
                floors[kind] = before[c]
                if not closer.can_open:
                    _unlink(c, before, after)
                c = after[c]
                continue
            opener = runs[o]
            use = 2 if opener.length >= 2 and closer.length >= 2 else 1
            # The opener gives up its innermost marks, the closer its first ones.
            opener.opened += use
            closer.closed += use
            opener.length -= use
            closer.length -= use
            if self.wrapped is not None:
                self.wrapped.append((opener.index + 1, closer.index))
            after[o], before[c] = c, o  # runs inside a match can no longer match outside it
            if opener.length == 0:
                _unlink(o, before, after)
            if closer.length == 0:
                _unlink(c, before, after)
                c = after[c]
        for d in runs:  # matched marks are markup: keep what is left of each run
            if d.opened or d.closed:
                self.chunks[d.index] = self.chunks[d.index][d.closed : d.original - d.opened]
                self.starts[d.index] += d.closed
        WORK.steps += steps + count

    def _open_bracket(self, j: int, image: bool) -> int:
        """A `[` or `![`: text until a `]` makes it a link or an image."""
        wraps = len(self.wrapped) if self.wrapped is not None else 0
        self.brackets.append(_Bracket(j + image, len(self.chunks), len(self.delimiters), wraps, image))
        self._emit(self.text[j : j + 1 + image], j)
        return j + 1 + image

    def _close_bracket(self, j: int) -> int:
        """A `]`: the link (its text shown) or image (nothing shown) that it ends, or text."""
        if not self.brackets:
            self._emit("]", j)
            return j + 1
        opener = self.brackets.pop()
        place = len(self.brackets)
        active = opener.image or place >= self.inactive
        self.inactive = min(self.inactive, place)
        end = self._link_tail(j + 1, opener.at + 1, j) if active else None
        if end is None:
            self._emit("]", j)
            return j + 1
        if opener.image:  # an image shows nothing of what it holds
            del self.chunks[opener.chunk :], self.starts[opener.chunk :]
            del self.delimiters[opener.delimiters :]
            if self.wrapped is not None:
                del self.wrapped[opener.wrapped :]
            return end
        self.chunks[opener.chunk] = ""  # the `[` is markup
        if (
            len(self.delimiters) > opener.delimiters
            and self.starts[(last := self.delimiters[-1]).index] + last.original == j
        ):
            # markdown-it reads a link's text on its own: a run that ends it is followed by nothing.
            last.can_open, last.can_close = _flanking(last.char, self.text[self.starts[last.index] - 1], "")
        self._emphasis(opener.delimiters)  # emphasis inside the link's text closes inside it
        if self.wrapped is not None:
            self.wrapped.append((opener.chunk + 1, len(self.chunks)))
        self.inactive = place  # links do not nest: the `[`s before this one are text
        return end

    def _link_tail(self, k: int, label_start: int, label_end: int) -> int | None:
        """The end of `(destination "title")` or `[label]` after a link's text, or None.

        A reference (`[text][label]`, `[text][]`, `[text]`) is a link only when the document
        defines its label; otherwise it shows as written.
        """
        text = self.text
        if text.startswith("(", k):
            tail = _INLINE_TAIL.match(text, k)
            return tail.end() if tail else None
        if not self.labels:
            return None
        # The link's own text is read as a label only when it can be one: copying and folding
        # every candidate's text would be quadratic in `[[[...]]]`.
        own = text[label_start:label_end] if label_end - label_start <= _MAX_LABEL else None
        ref = _REFERENCE.match(text, k)
        if ref is not None and (label := ref.group(1) or own) is not None and _label(label) in self.labels:
            return ref.end()
        return k if own is not None and _label(own) in self.labels else None

    def _angle(self, j: int) -> int:
        """An autolink (its address shown), an HTML tag (not shown), or a `<` that is text."""
        text = self.text
        auto = _AUTOLINK.match(text, j)
        if auto is not None:
            self._emit(auto.group(1), j + 1)
            return auto.end()
        tag = _HTML_TAG.match(text, j) if self._may_close(j) else None
        if tag is not None:
            if _BREAK_TAG.match(tag.group()):
                self._emit("\n", j)
            return tag.end()
        self._emit("<", j)
        return j + 1

    def _may_close(self, j: int) -> bool:
        """Whether the HTML construct that may start at `j` has its terminator somewhere after it."""
        for opening, terminator in _HTML_TERMINATORS:
            if self.text.startswith(opening, j):
                if self._last is None:
                    self._last = {}
                if terminator not in self._last:
                    self._last[terminator] = self.text.rfind(terminator)
                return self._last[terminator] >= j + len(opening)
        return True


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
    nesting: _Nesting | None = None
    for span in spans:
        joined = Span(span.start if pending is None else pending, span.end)
        start, end = leaf.offset(joined.start), leaf.offset(joined.end - 1) + 1
        found: tuple[int, int] | None
        if joined.start == 0 and joined.end == len(leaf.visible.text):
            found = (leaf.start, leaf.end)  # the whole leaf shows what it showed
        elif end - start == joined.end - joined.start and _MARKUP.search(text, start, end) is None:
            found = (start, end)  # no markup at all: the source shows it as is
        elif pending is not None and (nesting := nesting or _Nesting(leaf, text, labels)).cuts(joined):
            # Still cutting the markup that made the first sentence fail: rendering the ever longer
            # joined source again at every sentence was quadratic in a long bold paragraph.
            found = None
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


class _Nesting:
    """The markup around each place in a leaf's shown text (its `wrapped` ranges, which nest),
    asked about places in order."""

    def __init__(self, leaf: Leaf, text: str, labels: frozenset[str]) -> None:
        # Read again, and only for a leaf with a sentence that could not be placed alone.
        ranges = wrapped(text[leaf.start : leaf.end], labels)
        self.wrapped = sorted(ranges, key=lambda r: (r[0], -r[1]))  # outer before inner
        self.taken = 0  # ranges that start before the last place asked about
        self.open: list[tuple[int, int]] = []  # of those, the ones around it, outermost first
        self.last = 0
        self.start: tuple[int, tuple[int, int] | None] = (-1, None)  # a joined span's start and its markup

    def around(self, at: int) -> tuple[int, int] | None:
        """The innermost range with `at` strictly inside it (a cut there cuts its markup)."""
        if at < self.last:
            self.taken, self.open = 0, []  # asked out of order: start again
        self.last = at
        steps = 1
        while self.taken < len(self.wrapped) and self.wrapped[self.taken][0] < at:
            wrap = self.wrapped[self.taken]
            while self.open and self.open[-1][1] <= wrap[0]:
                self.open.pop()
            self.open.append(wrap)
            self.taken += 1
            steps += 1
        while self.open and self.open[-1][1] <= at:
            self.open.pop()
        WORK.steps += steps
        return self.open[-1] if self.open else None

    def cuts(self, span: Span) -> bool:
        """Whether `span` holds one end of some markup but not the other: then its source shows marks."""
        # Markup around the start must close by the end; markup around the end must open by the start.
        if self.start[0] != span.start:  # asked once for a start: ever longer spans share it
            self.start = (span.start, self.around(span.start))
        first = self.start[1]
        if first is not None and span.end > first[1]:
            return True
        last = self.around(span.end)
        return last is not None and last[0] > span.start


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
