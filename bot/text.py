"""Tokenisation: one function turns sentences and questions alike into index terms.

Words are found in the text composed (NFC: a letter typed with combining accents is one
character); a term is a word after Unicode normalisation (NFKC), case folding, apostrophe folding,
possessive stripping, stop-word removal and Snowball stemming. Hyphens and dashes split
words, so `Jong-un` and `Jong Un` give the same terms.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple

import Stemmer

# Letters and digits, joined by apostrophes (straight or curly) inside a word.
_WORD = re.compile(r"[^\W_]+(?:['’ʼ‘][^\W_]+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'"})

# Month names as news text writes them, whole or abbreviated with a full stop (one pattern for the
# ranker's answer types and the short answers' dates).
MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)

# A general English stop list (function words, auxiliaries, question words). Question words
# are removed from the terms; the composer reads them separately for the kind of answer asked.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each few for from further had hadn't has hasn't have haven't having
    he he'd he'll her here hers herself him himself his how i i'd i'll i'm i've if in into is
    isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
    or other ought our ours ourselves out over own same shan't she she'd she'll should shouldn't
    so some such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was wasn't we
    we'd we'll we're we've were weren't what what's when when's where where's which while who
    who's whom why why's will with won't would wouldn't you you'd you'll you're you've your yours
    yourself yourselves also just may might must shall us via yet whose whether
    tell me please give show
    """.split()
)

_stemmer = Stemmer.Stemmer("english")
_CACHE_SIZE = 200_000  # distinct words (and ASCII runs) whose terms are memoised


class TermSpan(NamedTuple):
    """A term and the character span of the word it came from."""

    term: str
    start: int
    end: int


@lru_cache(maxsize=_CACHE_SIZE)
def _term(word: str) -> str | None:
    """The index term for one normalised word, or None for a stop word."""
    if word in STOP_WORDS:
        return None
    if word.endswith("'s"):
        word = word[:-2]
    elif word.endswith("s'"):
        word = word[:-1]
    word = word.replace("'", "")
    if not word or word in STOP_WORDS:
        return None
    stem: str = _stemmer.stemWord(word)
    return stem


def _normalise(word: str) -> str:
    if not word.isascii():
        # NFKC, then accents dropped: "Reykjavik" typed without them finds "Reykjavík".
        word = unicodedata.normalize("NFKC", word)
        decomposed = unicodedata.normalize("NFD", word)
        word = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))
    return word.casefold().translate(_APOSTROPHES)


def fold_word(word: str) -> str:
    """A word as the tokeniser reads it before stemming: normalised, case and accents folded."""
    return _normalise(word)


def _composed(text: str) -> str:
    """`text` in NFC: a letter and the accents typed after it ("Mu\u0308ller", as some keyboards
    and macOS file names give it) are one character, so that finding words does not split there."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _composed_spans(text: str) -> list[TermSpan]:
    """`term_spans` of a text that is not in NFC: its words found in the composed text, each span
    pointing back at the source characters it was composed from."""
    clusters = [i for i, c in enumerate(text) if i == 0 or not unicodedata.combining(c)] + [len(text)]
    composed: list[str] = []
    starts: list[int] = []  # for each composed character, where its cluster starts in `text` ...
    ends: list[int] = []  # ... and ends: a character and the marks that follow it
    for start, end in itertools.pairwise(clusters):
        piece = unicodedata.normalize("NFC", text[start:end])
        composed.append(piece)
        starts += [start] * len(piece)
        ends += [end] * len(piece)
    return [
        TermSpan(span.term, starts[span.start], ends[span.end - 1]) for span in term_spans("".join(composed))
    ]


def term_spans(text: str) -> list[TermSpan]:
    """The terms of `text` with the span of each source word, for highlighting."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        return _composed_spans(text)
    spans: list[TermSpan] = []
    for match in _WORD.finditer(text):
        word = match.group()
        if word.isascii():
            term = _term(word.lower())
            if term is not None:
                spans.append(TermSpan(term, match.start(), match.end()))
            continue
        # Normalisation can split a word (NFKC turns "½" into "1⁄2"), so find words again.
        for part in _WORD.findall(_normalise(word)):
            term = _term(part)
            if term is not None:
                spans.append(TermSpan(term, match.start(), match.end()))
    return spans


@lru_cache(maxsize=64)
def question_spans(text: str) -> tuple[TermSpan, ...]:
    """A question's `term_spans`, kept for the last few questions: the ranker and the document
    step both read them."""
    return tuple(term_spans(text))


# ASCII fast path. Bytes that can be part of a word (letters, case folded, digits, apostrophes)
# are kept and every other byte becomes a space, so splitting gives the runs `_WORD` works in.
_ASCII_RUNS = bytes(
    c | 0x20 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 or c == 39 else 32 for c in range(256)
)


class _RunTerms(dict[bytes, str | None]):
    """The term of each ASCII run seen (None: no word, or a stop word), memoised; bounded."""

    def __missing__(self, run: bytes) -> str | None:
        # Without "''" in the text a run is one word, apostrophes at its ends aside, or none.
        found = _WORD.findall(run.decode("ascii"))
        term = _term(found[0]) if found else None
        if len(self) >= _CACHE_SIZE:
            self.clear()
        self[run] = term
        return term


_RUN_TERMS = _RunTerms()


# Typographic marks of news text mapped to ASCII that splits words alike: the apostrophes
# `_WORD` joins words with become "'", and marks that never stand inside a word become spaces.
# The same length, so spans stay put; a sentence that is ASCII afterwards takes the fast path.
_TYPOGRAPHIC = str.maketrans({**dict.fromkeys("’ʼ‘", "'"), **dict.fromkeys("“”„«»‹›—–‒―…•·\u00a0", " ")})


def tokenize(text: str) -> list[str]:
    """The index terms of a sentence or a question."""
    if not text.isascii() and (plain := text.translate(_TYPOGRAPHIC)).isascii():
        text = plain  # curly quotes and dashes: news text is full of them
    if text.isascii() and "''" not in text:  # fast path, same result: NFKC is the identity on ASCII
        runs = text.encode("ascii").translate(_ASCII_RUNS).split()
        return list(filter(None, map(_RUN_TERMS.__getitem__, runs)))  # a term is never ""
    return [span.term for span in term_spans(text)]


# For `tokenize_many`: "\n", which no sentence holds, becomes byte 1, which no text byte
# becomes; its run stands for the end of a sentence.
_MANY_RUNS = bytes(1 if c == 10 else b for c, b in enumerate(_ASCII_RUNS))
_END_RUN = b"\x01"


def tokenize_many(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The terms of many sentences end to end, and each sentence's number of terms: what
    `tokenize` gives one by one, with the per-sentence work done in C loops over them all."""
    prepared = [t if t.isascii() else t.translate(_TYPOGRAPHIC) for t in texts]
    joined = "\n".join(prepared)
    if not (joined.isascii() and "''" not in joined and joined.count("\n") == len(texts) - 1):
        lists = [tokenize(t) for t in texts]
        return list(itertools.chain.from_iterable(lists)), list(map(len, lists))
    runs = joined.encode("ascii").translate(_MANY_RUNS).replace(_END_RUN, b" \x01 ").split()
    _RUN_TERMS[_END_RUN] = "\x01"  # a term is never "\x01" (nor has a space)
    kept = " ".join(filter(None, map(_RUN_TERMS.__getitem__, runs)))
    return kept.replace("\x01", " ").split(), list(map(len, map(str.split, kept.split("\x01"))))


def written_words(text: str) -> list[str]:
    """The words of `text` as written (case and accents kept, composed), for reading names."""
    return _WORD.findall(_composed(text))


def written_names(question: str) -> list[str]:
    """The words a question writes as names: capitalised after its first word, acronyms ("TV",
    "URL") aside; none in a title-cased question ("Who Wrote The Article?"), where capitals tell
    nothing."""
    rest = written_words(question)[1:]
    names = [w for w in rest if w[:1].isupper() and not w.isupper()]
    return [] if len(names) > len(rest) / 2 else names


def words(text: str) -> Iterator[str]:
    """The normalised words of `text`, stop words included (for reading question words)."""
    for match in _WORD.finditer(_composed(text)):
        yield from _WORD.findall(_normalise(match.group()))


def fold_space(text: str) -> str:
    """Runs of white space folded to one space, ends trimmed."""
    # str.split() splits on exactly what `\s` matches (str.isspace), four times faster than re.sub.
    return " ".join(text.split())
