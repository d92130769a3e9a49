"""A short answer above the excerpts: a span of the top excerpt's own text, given only when sure.

The question's answer type (`bot.search.question.answer_type`: when, how many, who, where) says
what kind of span to look for; the top excerpt's spans of that kind (dates; numbers with their
unit; names; names of places after a word that places them) that are more than the question's own
words are the candidates. The one nearest the question's words is given when it is the only one
or stands nearer than every other by a margin, when the top excerpt holds enough of the question's
weight, and when the ranker put the top excerpt ahead of the second by a margin. Those three
numbers are fitted per kind by `python -m benchmarks.fit_short` on named question sets and stored
in `short_answer.json` beside this module, with the sets and the command; nothing else sets them.
The ranker's scores are read through `confidence` alone, so a change of ranker is one refit away.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.answer.answers import Answer, ShortAnswer
from bot.documents.corpus import Corpus
from bot.documents.document import Document, source_span
from bot.search.question import AnswerType, Question
from bot.text import MONTHS, STOP_WORDS, term_spans, tokenize

PARAMS_FILE = Path(__file__).with_name("short_answer.json")
KIND_NAMES = {
    AnswerType.DATE: "when",
    AnswerType.NUMBER: "how many",
    AnswerType.PERSON: "who",
    AnswerType.PLACE: "where",
    AnswerType.NONE: "other",
}
KINDS = tuple(KIND_NAMES.values())
FAR = 1000  # words: the distance of a rival that is not there

# -- spans of each kind -----------------------------------------------------------------------------

_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?:1[0-9]|20)\d\d"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_ORDINAL_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    r"twenty-first)"
)
_DATE_SPAN = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?(?:{_DAY}\s+{MONTHS}(?:,?\s+{_YEAR})?|{MONTHS}(?:\s+{_DAY}\b)?(?:,?\s+{_YEAR})?)"
    rf"|\b(?:(?:early|mid|late)[\s-]+)?{_YEAR}s?\b(?:\s*(?:–|-|to|and|until)\s*{_YEAR}s?\b)?"
    rf"|\b{_WEEKDAY}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    rf"|\b(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORDS})[\s-]+century\b"
    r"|\b(?:last|next|this|earlier|later)\s+(?:week|month|year|decade|century)\b"
    r"|\b(?:yesterday|today|tomorrow|tonight)\b"
)

_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"a\s+hundred|a\s+thousand|a\s+dozen|dozens|hundreds|thousands|millions|billions|half)"
)
_SCALE = r"(?:hundred|thousand|million|billion|trillion|bn|m)\b"
_QUALIFIER = (
    r"(?:(?:about|around|approximately|roughly|nearly|almost|over|under|some|only|just|exactly|"
    r"more\s+than|less\s+than|fewer\s+than|at\s+least|at\s+most|up\s+to|as\s+many\s+as|"
    r"an\s+estimated)\s+)"
)
_NUMBER_SPAN = re.compile(
    rf"(?i:\b{_QUALIFIER})?"
    rf"(?:[$£€¥]\s?)?(?:\b\d+(?:,\d{{3}})*(?:\.\d+)?|\b{_NUMBER_WORDS}(?:[\s-]+{_NUMBER_WORDS})*\b)"
    rf"(?:\s*(?:-|–|to|and|or)\s*\d[\d,]*(?:\.\d+)?)?"
    rf"(?:\s*{_SCALE})?(?:\s*(?:%|percent\b|per\s+cent\b))?",
    re.IGNORECASE,
)
_UNIT = re.compile(r"\s+(?:of\s+)?([a-z][a-z’'-]*)(?:\s+(old|long|tall|high|wide|deep|away|ago)\b)?")
_SHARE_TERMS = frozenset(tokenize("percent percentage proportion"))
_MONEY_TERMS = frozenset(tokenize("cost money spent spend worth price paid pay dollars budget"))
_MONEY = re.compile(r"[$£€¥]|\b(?:dollars?|pounds?|euros?|yen|yuan)\b")
_STARTS_WITH_YEAR = re.compile(rf"(?:[a-z]+\s+)*{_YEAR}(?!\d|,\d)")  # a year (or years) is a date

# A name: capitalised words (or initials), joined by the lower-case words names have inside them.
_NAME_WORD = (
    r"(?:[A-Z]\.(?:\s?[A-Z]\.)*|[A-Z][a-z]{1,3}\.(?=\s+[A-Z])|[A-Z][\w’'-]*\w)"  # "J.", "Rev.", "Kim"
)
_NAME_SPAN = re.compile(
    rf"{_NAME_WORD}(?:\s+(?:(?:of|de|del|da|di|van|von|der|du|la|le|bin|al|the)\s+){{0,2}}{_NAME_WORD})*"
)
_NOT_NAMES = re.compile(rf"^(?:{MONTHS}|{_WEEKDAY}|\s)+$")
_PLACING = re.compile(
    r"\b(?:in|at|near|from|outside|inside|across|throughout|to|into|within|around|towards?|"
    r"between|beside|behind|opposite)\s+(?:the\s+)?$"
)
_INITIALS = re.compile(r"(?:[A-Z]\.\s?)+")  # "C.S.C." alone names nobody
_POSSESSIVE = re.compile(r"[’']s?$")
_WORD_CHAR = re.compile(r"[\w’'-]")
_AFTER_NAME = re.compile(r"[\w,;:]")  # what a name inside a sentence follows (before white space)


def _dates(text: str, question_words: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Dates; only the year of one when the question asks for a year ("In what year...?"), every
    year of a span when it asks for years ("During what years...?" "1987–2005")."""
    one_year = "year" in question_words
    for m in _DATE_SPAN.finditer(text):
        year = re.search(rf"\b{_YEAR}\b", m.group()) if one_year else None
        yield (m.start() + year.start(), m.start() + year.end()) if year else (m.start(), m.end())


def _unit_named(text: str, end: int, question_terms: frozenset[str]) -> bool:
    """Whether the word after a number is one of the question's ("How many seats...?" "80,795 seats")."""
    unit = _UNIT.match(text, end)
    terms = set(tokenize(unit.group(1))) if unit is not None else set()
    return bool(terms) and terms <= question_terms


def _numbers(text: str, question_terms: frozenset[str]) -> Iterator[tuple[int, int]]:
    """Numbers with their unit ("about 12 years old", "$5 million"); the unit is left out when it
    is the question's own word ("How many students...?" is answered "8,462"). A question that asks
    for a share or a sum of money is answered by a share or a sum of money."""
    for m in _NUMBER_SPAN.finditer(text):
        start, end = m.start(), m.end()
        piece = text[start:end]
        if not re.search(r"\w", piece) or _STARTS_WITH_YEAR.match(text, start):
            continue
        share = re.search(r"%|cent$", piece) is not None
        if (question_terms & _SHARE_TERMS and not share) or (
            question_terms & _MONEY_TERMS and not _MONEY.search(piece)
        ):
            continue
        unit = None if share else _UNIT.match(text, end)  # a share has no unit
        if (
            unit is not None
            and unit.group(1) not in STOP_WORDS
            and not _unit_named(text, end, question_terms)
        ):
            end = unit.end()
        yield start, end


def _names(text: str, document: Document) -> Iterator[tuple[int, int]]:
    """Runs of capitalised words that name something; a sentence's first word only when the
    document writes it capitalised inside a sentence too and never in lower case ("The",
    "After", "Shortly" open sentences; "Kim" is a name wherever it stands)."""
    for m in _NAME_SPAN.finditer(text):
        start, end = m.start(), m.end()
        first = re.match(r"[\w’'-]+", text[start:end])
        if first is not None and (start == 0 or not re.search(r"[\w,;]\s*$", text[:start])):
            word = first.group()
            if word.lower() in STOP_WORDS or not _written_as_name(document.text, word):
                start = m.start() + first.end()
                start += len(text[start:end]) - len(text[start:end].lstrip())
        if start >= end:
            continue
        if (p := _POSSESSIVE.search(text, start, end)) is not None:
            end = p.start()
        piece = text[start:end]
        if not piece or _NOT_NAMES.match(piece) or piece.lower() in STOP_WORDS or _INITIALS.fullmatch(piece):
            continue
        yield start, end


@lru_cache(maxsize=4096)
def _written_as_name(document_text: str, word: str) -> bool:
    """Whether a document writes `word` capitalised after a word inside a sentence, and never in
    lower case: a name, not a word that opens a sentence."""
    if next(_standing(document_text, word.lower()), None) is not None:
        return False
    for at in _standing(document_text, word):  # after a word, a comma, ; or :, and white space
        space = at
        while space > 0 and document_text[space - 1].isspace():  # what `\s` matches
            space -= 1
        if 0 < space < at and _AFTER_NAME.match(document_text, space - 1):
            return True
    return False


def _standing(text: str, word: str) -> Iterator[int]:
    """Where `word` stands in `text` as a whole word (no word character on either side).

    str.find, not a pattern made for the word: compiling one cost most of a short answer."""
    at = text.find(word)
    while at >= 0:
        if (at == 0 or not _WORD_CHAR.match(text, at - 1)) and not _WORD_CHAR.match(text, at + len(word)):
            yield at
        at = text.find(word, at + 1)


def spans(
    text: str,
    kind: AnswerType,
    question_terms: frozenset[str],
    question_words: frozenset[str],
    document: Document,
) -> list[tuple[int, int]]:
    """The spans of `text` of the kind asked for that are more than the question's own words
    (`question_terms`: its index terms; `question_words`: its words, `bot.text.words`)."""
    if kind is AnswerType.DATE:
        found = list(_dates(text, question_words))
    elif kind is AnswerType.NUMBER:
        found = list(_numbers(text, question_terms))
    elif kind is AnswerType.PERSON or kind is AnswerType.NONE:
        found = list(_names(text, document))
    else:  # a place: a name after a word that places it ("in Pyongyang", "near the Vltava")
        found = [(s, e) for s, e in _names(text, document) if _PLACING.search(text, 0, s)]
    return [(s, e) for s, e in found if set(tokenize(text[s:e])) - question_terms]


# -- choosing one, and whether to give it ------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A span of one sentence of the top excerpt that could be the short answer."""

    sentence: int  # corpus sentence id
    start: int  # in the sentence's text
    end: int
    text: str
    distance: int  # words between it and the nearest of the question's words in its sentence
    overlap: bool  # it shares a word with the question
    named: bool = False  # a number followed by the question's own word for its unit


@dataclass(frozen=True)
class Proposal:
    """The candidate nearest the question's words, and the evidence the gate reads."""

    kind: str  # one of KINDS
    best: Candidate
    rivals: int  # other candidates of the kind in the top excerpt
    gap: int  # words the nearest rival stands farther off than the best (FAR: no rival)
    confidence: float  # see `confidence`
    support: float  # the share of the question's weight the top excerpt holds


def confidence(answer: Answer) -> float:
    """How far the ranker put the top excerpt ahead of the second: the one reading of its scores."""
    if not answer.excerpts:
        return 0.0
    second = answer.excerpts[1].score if len(answer.excerpts) > 1 else 0.0
    return answer.excerpts[0].score - second


@dataclass(frozen=True)
class Gate:
    """When a proposal is given, per kind: the least confidence, the least support and the least
    gap to a rival (a confidence of None: never for that kind; a gap of None: only a candidate
    without rivals)."""

    min_confidence: dict[str, float | None]
    min_support: dict[str, float]
    min_gap: dict[str, int | None]

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> Gate:
        """The fitted gate (see `benchmarks.fit_short`)."""
        data = json.loads(path.read_text(encoding="utf-8"))["gate"]
        return cls(
            {k: data[k]["min_confidence"] for k in KINDS},
            {k: data[k]["min_support"] for k in KINDS},
            {k: data[k]["min_gap"] for k in KINDS},
        )

    def confident(self, kind: str, confidence: float) -> bool:
        """Whether a proposal of `kind` with this `confidence` (the answer's, `confidence`) may be
        shown, whatever else it is: when not, nothing need be proposed."""
        least = self.min_confidence.get(kind)
        return least is not None and confidence >= least

    def admits(self, proposal: Proposal) -> bool:
        """Whether the proposal is sure enough to be shown."""
        if not self.confident(proposal.kind, proposal.confidence):
            return False
        if proposal.support < self.min_support.get(proposal.kind, 0.0):
            return False
        if proposal.rivals == 0:
            return True
        gap = self.min_gap.get(proposal.kind)
        return gap is not None and proposal.gap >= gap


def propose(corpus: Corpus, answer: Answer, asked: Question) -> Proposal | None:
    """The candidate of the asked kind in the top excerpt nearest the question's words, or None."""
    if answer.abstained or not answer.excerpts or not answer.excerpts[0].sentence_ids:
        return None
    top = answer.excerpts[0]
    question_terms = frozenset(asked.terms)
    stands_for = {q.term: asked.owner[n] for n, q in enumerate(asked.query)}
    found: list[Candidate] = []
    held: set[int] = set()
    for i in top.sentence_ids:
        sentence = corpus.sentence(i)
        text = sentence.text
        word_starts = [m.start() for m in re.finditer(r"\S+", text)]
        matched = [s for s in term_spans(text) if s.term in stands_for]
        asked_at = [bisect.bisect_right(word_starts, s.start) - 1 for s in matched]
        held |= {stands_for[s.term] for s in matched}
        for start, end in spans(text, asked.kind, question_terms, frozenset(asked.words), sentence.document):
            piece = text[start:end]
            if top.truncated and piece not in top.text:
                continue  # only what the excerpt shows
            first = bisect.bisect_right(word_starts, start) - 1
            last = bisect.bisect_right(word_starts, end - 1) - 1
            distance = min((max(first - w, w - last, 0) for w in asked_at), default=FAR)
            overlap = bool(set(tokenize(piece)) & question_terms)
            named = asked.kind is AnswerType.NUMBER and _unit_named(text, end, question_terms)
            found.append(Candidate(i, start, end, piece, distance, overlap, named))
    if not found:
        return None
    # A name that shares a word with the question is its subject more often than its answer, and
    # a number of the unit the question names is its answer more often than others: either way
    # the weaker ones are taken, and counted as rivals, only when nothing else is there.
    found = [c for c in found if not c.overlap] or found
    found = [c for c in found if c.named] or found
    ranked = sorted(found, key=lambda c: c.distance)
    best = ranked[0]
    rivals = [c for c in ranked[1:] if c.text != best.text]
    gap = rivals[0].distance - best.distance if rivals else FAR
    support = sum(asked.weights[n] for n in held) / asked.total if asked.total else 0.0
    return Proposal(KIND_NAMES[asked.kind], best, len(rivals), gap, confidence(answer), support)


def short_answer(corpus: Corpus, answer: Answer, asked: Question, gate: Gate) -> ShortAnswer | None:
    """The short answer to give above the excerpts, or None when the bot is not sure."""
    if not gate.confident(KIND_NAMES[asked.kind], confidence(answer)):
        return None  # (a kind never given, or excerpts too close in score: nothing to look for)
    proposal = propose(corpus, answer, asked)
    if proposal is None or not gate.admits(proposal):
        return None
    return shown(corpus, proposal.best)


def shown(corpus: Corpus, candidate: Candidate) -> ShortAnswer:
    """A candidate as a short answer: its text, its span in the file, its sentence's citation."""
    return span_answer(corpus, candidate.sentence, candidate.start, candidate.end)


def span_answer(corpus: Corpus, i: int, start: int, end: int) -> ShortAnswer:
    """A span of sentence `i`'s text as a short answer (its text, its span in the file, its
    sentence's citation): the rules' candidates and the reader's spans alike."""
    sentence = corpus.sentence(i)
    at, to = source_span(sentence.document, sentence.start, sentence.end, start, end)
    return ShortAnswer(sentence.text[start:end], sentence.document, at, to, str(sentence.citation))
