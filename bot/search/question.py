"""The question as the ranker reads it: its terms and their weights, stand-ins for words the corpus
lacks, and the kind of answer it asks for.

A question becomes weighted terms: its own, the forms stemming misses (`retriever.variants`) and,
for a word the corpus lacks, the index terms of its near spellings ("Nore Dame"); a stand-in
counts half as much as the word itself, and a fifth of that when the word itself is in the
corpus. Its question word and the noun after it say what kind of answer it asks for (when: a
date, how many: a number, who: a name, where: a place), which a sentence's `answer_type` feature
looks for (`bot.search.features`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from bot.search.documents import DocumentStep
from bot.search.retriever import Index, QueryTerm, variants
from bot.text import MONTHS, fold_word, question_spans, tokenize, words, written_names

VARIANT_WEIGHT = 0.5  # a derived form or a near spelling counts half as much as the word itself
PRESENT_VARIANT_SHARE = 0.2  # ... and a fifth of that when the word itself is in the corpus
MIN_TYPO_LENGTH = 6  # shorter words (and names: "Dame", "Notre") have too many near spellings to guess from
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def near_spellings(word: str) -> set[str]:
    """Words one edit away from `word`: a letter deleted, swapped with the next, replaced or added."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    found = {a + b[1:] for a, b in splits if b}
    found |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    found |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    found |= {a + c + b for a, b in splits for c in _LETTERS}
    found.discard(word)
    return found


# -- the kind of answer asked for ------------------------------------------------------------------


class AnswerType(Enum):
    NONE = "none"
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"


_NUMBER = re.compile(
    r"\b(?!(?:1[5-9]|20)\d\d\b)\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"dozens?|hundreds?|thousands?|millions?|billions?|half)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    rf"\b{MONTHS}|\b(?:1[5-9]|20)\d\d(?:s\b)?|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|yesterday|today|tomorrow|tonight)\b|\b(?:last|next|this|earlier|later)\s+"
    r"(?:week|month|year|decade|century)\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}(?:st|nd|rd|th)\s+century\b"
)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]*[a-z][\w’'-]*")
_PLACE = re.compile(r"\b(?:in|at|near|outside|inside|around|across)\s+(?:the\s+)?([A-Z][\w’'-]+)")
_SPATIAL = re.compile(
    r"\b(?:next to|near|beside|behind|outside|inside|across from|along|opposite|located|situated|"
    r"(?:north|south|east|west)(?:ern)? of)\b",
    re.IGNORECASE,
)

# English question frames: the word after the question word (past "is the", "did") names the kind.
_FRAME_SKIP = frozenset("is was are were be been do does did has have had the a an of".split())
_DATE_NOUNS = frozenset("year years date month day time decade century era period".split())
_NUMBER_NOUNS = frozenset(
    "many much old long far big large tall high often wide deep heavy few "
    "number amount percentage percent size population age total count cost price".split()
)
_PLACE_NOUNS = frozenset(
    "city country place region town nation state capital location area continent".split()
)
_PERSON_NOUNS = frozenset(
    "person man woman leader official president name individual people player author artist king "
    "queen founder who".split()
)
_QUESTION_WORDS = frozenset("what which how when who whom whose where".split())


def answer_type(question: str | Sequence[str]) -> AnswerType:
    """The kind of answer a question asks for, from its question word and the noun after it.

    `question` is the question, or its words (`bot.text.words`)."""
    ws = list(words(question)) if isinstance(question, str) else list(question)
    for i, w in enumerate(ws):
        if w not in _QUESTION_WORDS:
            continue
        if w == "when":
            return AnswerType.DATE
        if w in {"who", "whom", "whose"}:
            return AnswerType.PERSON
        if w == "where":
            return AnswerType.PLACE
        rest = [x for x in ws[i + 1 : i + 5] if x not in _FRAME_SKIP]
        focus = rest[0] if rest else ""
        if w == "how":
            return AnswerType.NUMBER if focus in _NUMBER_NOUNS else AnswerType.NONE
        if focus in _DATE_NOUNS:
            return AnswerType.DATE
        if focus in _NUMBER_NOUNS:
            return AnswerType.NUMBER
        if focus in _PLACE_NOUNS:
            return AnswerType.PLACE
        if focus in _PERSON_NOUNS:
            return AnswerType.PERSON
        return AnswerType.NONE
    return AnswerType.NONE


def type_evidence(sentence: str, kind: AnswerType) -> tuple[frozenset[str], ...]:
    """What in a sentence could be the kind of answer asked for: the terms of each candidate
    (a number, a date, a name, a place); an empty set stands for evidence that needs no check."""
    if kind is AnswerType.NUMBER:
        return (frozenset(),) if _NUMBER.search(sentence) else ()
    if kind is AnswerType.DATE:
        return (frozenset(),) if _DATE.search(sentence) else ()
    if kind is AnswerType.PLACE and _SPATIAL.search(sentence):
        return (frozenset(),)
    pattern = _CAPITALISED if kind is AnswerType.PERSON else _PLACE if kind is AnswerType.PLACE else None
    if pattern is None:
        return ()
    return tuple(frozenset(tokenize(name)) for name in pattern.findall(sentence))


def holds_type(sentence: str, kind: AnswerType, question_terms: frozenset[str]) -> bool:
    """Whether a sentence holds the kind of thing asked for, beyond the question's own words."""
    return holds_evidence(type_evidence(sentence, kind), question_terms)


def holds_evidence(evidence: tuple[frozenset[str], ...], question_terms: frozenset[str]) -> bool:
    """Whether a sentence's `type_evidence` holds the kind of thing asked for beyond `question_terms`."""
    # A name counts when it is more than the question's own words ("Kim" does not answer "who").
    return any(not terms or terms - question_terms for terms in evidence)


# -- the question ----------------------------------------------------------------------------------


class Question(NamedTuple):
    """A question as the ranker reads it."""

    text: str
    terms: tuple[str, ...]  # its own index terms, in order, each once
    weights: tuple[float, ...]  # each term's IDF (a term no sentence has: the largest IDF)
    query: tuple[QueryTerm, ...]  # the terms, their variants and near spellings, with query weights
    owner: tuple[int, ...]  # for each query term, the position in `terms` of the term it stands for
    kind: AnswerType
    words: tuple[str, ...]  # its words, normalised, stop words included

    @property
    def total(self) -> float:
        """The question's whole IDF weight."""
        return sum(self.weights)


class Questions:
    """Reads questions against one corpus: their terms, weights and stand-ins, and the names they
    give that the corpus does not hold."""

    def __init__(self, index: Index, step: DocumentStep) -> None:
        self.index = index
        self.step = step
        self._max_idf = index.max_idf()
        self.variants = lru_cache(maxsize=50_000)(lambda t: tuple(variants(index, t)))
        self.spellings = lru_cache(maxsize=10_000)(self._spellings)
        self._names_in = lru_cache(maxsize=64)(self._read_names)

    def _spellings(self, word: str) -> tuple[str, ...]:
        """Index terms of the words one edit from `word` (a typo: "Nore Dame", "Cavanugh")."""
        folded = fold_word(word)
        if len(folded) < MIN_TYPO_LENGTH or not folded.isalpha():
            return ()
        found = {t for w in near_spellings(folded) for t in tokenize(w)}
        return tuple(sorted(t for t in found if self.index.term_idf(t) is not None))

    def weight(self, term: str) -> float:
        """A term's IDF; a term no sentence has weighs as much as the rarest one."""
        idf = self.index.term_idf(term)
        return self._max_idf if idf is None else max(idf, 0.0)

    def read(self, text: str) -> Question:
        """The question's terms, their weights, and the query that stands for them."""
        spans = question_spans(text)
        said = tuple(words(text))
        terms = tuple(dict.fromkeys(s.term for s in spans))
        query: dict[str, tuple[float, int]] = {}
        for n, t in enumerate(terms):
            present = self.index.term_idf(t) is not None
            if present:
                query[t] = (1.0, n)
            # A variant stands in for a word the corpus lacks more than it adds to one it has.
            share = VARIANT_WEIGHT * (PRESENT_VARIANT_SHARE if present else 1.0)
            stand_ins = list(self.variants(t))
            if not present:
                written = {text[s.start : s.end] for s in spans if s.term == t}
                stand_ins += [v for w in written for v in self.spellings(w)]
            for v in stand_ins:
                if query.get(v, (0.0, n))[0] < share:
                    query[v] = (share, n)
        return Question(
            text=text,
            terms=terms,
            weights=tuple(self.weight(t) for t in terms),
            query=tuple(QueryTerm(t, w) for t, (w, _) in query.items()),
            owner=tuple(n for _, n in query.values()),
            kind=answer_type(said),
            words=said,
        )

    def names_unknown(self, question: Question, document: int | None = None) -> bool:
        """Whether the question names something (a capitalised word) that no document mentions,
        or, given a `document`, that this document does not mention (in its text or descriptions).

        "Who is the president of France?" asks about France; an article that never names it
        cannot answer, however well "president" matches. A name that has a near spelling in the
        corpus (a typo) or an acronym ("TV") is not such a name; title-cased questions are skipped.
        """
        for asked, described, known in self._names_in(question):
            if not asked and not described:
                return True
            if document is None or document in described:
                continue
            if not any(self.mentions(document, t) for t in known):
                return True
        return False

    def _read_names(self, question: Question) -> tuple[tuple[bool, frozenset[int], tuple[str, ...]], ...]:
        """For each term of each name the question writes (`written_names`): whether its query
        stands for it (itself or a stand-in), the documents whose descriptions name it, and the
        terms that would show it in a document's text. Asked once for each document judged."""
        stood_for: dict[str, list[str]] = {}
        for q, n in zip(question.query, question.owner, strict=True):
            stood_for.setdefault(question.terms[n], []).append(q.term)
        found = []
        for name in written_names(question.text):
            described = self.step.naming(name)  # an outlet's or author's name, say: not in the text
            for t in tokenize(name):
                # In the document's text: the name itself, or (a name the corpus lacks) its near
                # spellings; not its derived forms ("Lakeview" is not "lake").
                known = [t] if self.index.term_idf(t) is not None else stood_for.get(t, [])
                found.append((t in stood_for, described, tuple(known)))
        return tuple(found)

    def mentions(self, document: int, term: str) -> bool:
        """Whether a document's text (its title included) holds a term."""
        ids, _ = self.step.documents.postings(term)
        at = int(np.searchsorted(ids, document))
        return at < len(ids) and int(ids[at]) == document
