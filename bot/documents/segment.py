"""Splitting a document's body into paragraphs and sentences, with character spans.

Paragraphs are blank-line separated blocks; a body with no blank line is one paragraph a line
(how many news pages are saved as text). Sentences end at `.`, `!`, `?` or `…` (and any
closing quotes or brackets after them) when the next word starts a sentence; abbreviations,
initials, decimals and a quotation followed by its lower-case attribution do not end one.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.text import STOP_WORDS


class Work:
    """Steps the parsing loops have taken, counted so that a test can check the work grows linearly
    with the input (neither Python's `re` nor these machines count instructions)."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


WORK = Work()


class Span(NamedTuple):
    """A half-open character range [start, end) in a text."""

    start: int
    end: int


# Spans index the file's own text, so every line end a file may use is a line end: \n, \r\n, \r.
_NEWLINE = r"(?:\r\n?|\n)"
_BLANK_LINE = re.compile(rf"{_NEWLINE}[ \t]*{_NEWLINE}\s*")
_LINE = re.compile(r"[^\r\n]+")

# Bullets and numbered items start a new sentence even without end punctuation before them.
_LIST_ITEM = re.compile(r"[\r\n][ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+")

# A sentence-end candidate: terminal punctuation, closing quotes/brackets, then white space. Tried
# only where a run of punctuation starts (the lookbehind), and the runs are taken whole (possessive):
# with a plain `+` every position of a run without white space after it backtracked over the rest of
# the run, so 40,000 dots took 55 s. The lookbehind follows the first mark, so that `re` still skips
# ahead to the marks (placed first, it made every position a start: twice the old time on prose).
_END = re.compile(r"""([.!?…](?<![.!?…]{2})[.!?…]*+)(["'”’»)\]]*+)(\s+)""")

_OPENERS = "\"'“‘«([¿¡"

# Words that, followed by a period, may be abbreviations (generic English usage), by what they
# stand before: a number ("No. 5", "Art. 3", "Jan. 5"), or a name ("Dr. Smith", "U.S. Army").
# Before anything else the period ends the sentence: "The answer was no.", "She studied art."
NUMBER_ABBREVIATIONS = frozenset(
    """
    no nos vol vols fig figs p pp ch sec art ed eds approx est ca
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
NAME_ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof st sr jr rev gen col lt sgt capt cmdr adm maj gov sen rep pres supt
    insp det hon messrs mssrs mme mlle fr sra srta
    al dept univ assn bros ave blvd rd mt ft inc ltd co corp vs v cf viz etc
    """.split()
)
ABBREVIATIONS = NUMBER_ABBREVIATIONS | NAME_ABBREVIATIONS

_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]")  # U.S., e.g., a.m.: always abbreviations before a name
_NEXT_WORD = re.compile(r"[\w’']+")
# A number after "No." or "Vol.": digits, or a Roman numeral (a lone "I" is the pronoun).
_NUMBER = re.compile(r"\d|(?:[IVXLCDM]{2,}|[VXLCDM])\b")

# The word before a period: matched from the window's start, the greedy prefix lands on the last
# non-word character in one pass (searching for `[\w.]+$` tried every start in the window).
_WORD_BEFORE = re.compile(r"(?s:.*[^\w.])?([\w.]+)$")
_ALNUM = re.compile(r"[^\W_]")  # what str.isalnum() accepts: \w without the underscore


def paragraphs(body: str) -> list[Span]:
    """Spans of the paragraphs of `body`, in order, empty ones dropped."""
    stripped = body.strip()
    if not stripped:
        return []
    if _BLANK_LINE.search(stripped):
        spans: list[Span] = []
        pos = 0
        for sep in _BLANK_LINE.finditer(body):
            spans.append(Span(pos, sep.start()))
            pos = sep.end()
        spans.append(Span(pos, len(body)))
    else:
        spans = [Span(m.start(), m.end()) for m in _LINE.finditer(body)]
    return [trimmed for s in spans if (trimmed := _trim(body, s)) is not None]


def _trim(text: str, span: Span) -> Span | None:
    # str.strip() and str.isspace() agree on white space; one C call instead of a loop.
    piece = text[span.start : span.end]
    kept = piece.strip()
    if not kept:
        return None
    start = span.start + len(piece) - len(piece.lstrip())
    return Span(start, start + len(kept))


def _ends_sentence(block: str, match: re.Match[str]) -> bool:
    """Whether the punctuation at `match` ends a sentence in `block`."""
    nxt = match.end()
    if nxt >= len(block):
        return True
    # The next sentence starts with a capital, a digit or an opening quote or bracket.
    following = block[nxt]
    if following in _OPENERS:
        rest = block[nxt + 1 : nxt + 2]
        if not rest or not (rest[0].isupper() or rest[0].isdigit() or rest[0] in _OPENERS):
            return False
    elif not (following.isupper() or following.isdigit()):
        return False
    punct = match.group(1)
    if punct != ".":
        return True  # ! ? … and runs like ?! or ...
    if match.group(2):
        return True  # `... that opportunity.” In December`: closing quote after the period
    # Look back a little only: the word before the period (searching from 0 would be quadratic).
    before = _WORD_BEFORE.match(block, max(0, match.start() - 64), match.start())
    if before is None:
        return True
    word = before.group(1)
    if word.isdigit() and len(word) <= 3 and _starts_line(block, before.start(1)):
        return False  # "1." numbering a list item is its label, not a sentence of its own
    lowered = word.lower().rstrip(".")
    if lowered in NUMBER_ABBREVIATIONS:
        return _NUMBER.match(block, nxt) is None
    if (len(word) == 1 and word.isupper()) or lowered in NAME_ABBREVIATIONS or _DOTTED.fullmatch(lowered):
        # An initial ("John F. Kennedy") or an abbreviation before a name; not before a function
        # word, which starts a sentence: "World War I. It ended.", "He moved to the U.S. The ..."
        return _starts_sentence(block, nxt)
    return True


def _starts_line(block: str, pos: int) -> bool:
    """Whether only spaces stand between `pos` and the start of its line."""
    while pos > 0 and block[pos - 1] in " \t":
        pos -= 1
    return pos == 0 or block[pos - 1] in "\r\n"


def _starts_sentence(block: str, pos: int) -> bool:
    """Whether the word at `pos` is a function word ("The", "In"), which starts a sentence."""
    m = _NEXT_WORD.match(block, pos)
    return m is not None and m.group().lower() in STOP_WORDS


def sentences(block: str) -> list[Span]:
    """Spans of the sentences of one paragraph, relative to `block`."""
    cuts = [m.start() for m in _LIST_ITEM.finditer(block)]
    ends = 0
    for m in _END.finditer(block):
        ends += 1
        if _ends_sentence(block, m):
            cuts.append(m.start(3))
    cuts.sort()
    WORK.steps += ends + len(cuts)
    spans: list[Span] = []
    pos = 0
    for cut in [*cuts, len(block)]:  # `_trim` inline: this loop runs once a sentence
        piece = block[pos:cut]
        kept = piece.strip()
        if kept and _ALNUM.search(kept):
            start = pos + len(piece) - len(piece.lstrip())
            spans.append(Span(start, start + len(kept)))
        pos = cut
    return spans


_OPEN_QUOTES = "“«"
_CLOSE_QUOTES = "”»"
_QUOTE_CHARS = re.compile('[“”«»"]')
_TRAILING = " \t\r\n.,;:!?…)]"


def unattributed_quotes(block: str, spans: list[Span]) -> list[bool]:
    """For each sentence, whether it is all quotation with no attribution of its own.

    Such a sentence (`“I think it has done more ...”` after `“...,” said Anthony.`, or the
    later sentences of a quotation that runs over several) belongs with the one before it.
    """
    inside = False
    flags: list[bool] = []
    for span in spans:
        sentence = block[span.start : span.end]
        starts_quoted = inside or sentence[:1] in _OPEN_QUOTES or sentence[:1] == '"'
        for ch in _QUOTE_CHARS.findall(sentence):
            if ch in _OPEN_QUOTES:
                inside = True
            elif ch in _CLOSE_QUOTES:
                inside = False
            elif ch == '"':
                inside = not inside
        tail = sentence.rstrip(_TRAILING)
        ends_quoted = inside or tail[-1:] in _CLOSE_QUOTES or tail[-1:] == '"'
        flags.append(starts_quoted and ends_quoted)
    return flags


# -- what a sentence's text says of it -------------------------------------------------------------

# A sentence that opens with a pronoun or a demonstrative names its subject in the sentence before.
_REFERS_BACK = re.compile(
    r"^[\"'“‘(]?(?:it|its|he|his|she|her|they|their|them|this|these|those|such|there|"
    r"the (?:latter|former|same))\b",
    re.IGNORECASE,
)
_CLOSERS = " \"'”’»)]*_"
# What a sentence's text says of it, as bits of one mark a sentence (`mark`): read once, when the
# corpus is built, and kept with its other columns (`Corpus.marks`).
ASKING, REFERRING = 1, 2


def refers_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points to the sentence before it."""
    return _REFERS_BACK.match(sentence) is not None


def asks(sentence: str) -> bool:
    """Whether a sentence is itself a question."""
    return sentence.rstrip(_CLOSERS).endswith("?")


def mark(sentence: str) -> int:
    """A sentence's mark: `ASKING` when it is itself a question, `REFERRING` when it opens with a
    word that points back."""
    return ASKING * asks(sentence) | REFERRING * refers_back(sentence)
