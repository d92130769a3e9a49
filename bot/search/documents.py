"""Which document a question is about, from its words against each document's title, subtitle,
author and outlet (the site's name, a dateline's agency, the words of its address) and body.

A question term points to the documents that hold it, each getting an equal share of it: a word
only one document holds points there with the term's whole weight, a word every document has
hardly at all. Half of a term's weight goes by the bodies that hold it (titles included), half by
the descriptions (title, subtitle, author, outlet): so a document named by what it is about, who
wrote it or where it appeared outranks one that only mentions the words. A name (a word the
question capitalises) that only one document holds counts once more for it: "the story about
North Korean troops in Kursk" is the one that mentions Kursk, whichever mentions troops. The
result, over the question's IDF weight, is each document's fit (0 to 2): a ranking feature
(`bot.search.features`) and what decides which documents a metadata question asks about
(`bot.answer.metadata`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents import describe
from bot.documents.corpus import Corpus
from bot.search.retriever import Index
from bot.text import TermSpan, fold_word, question_spans, tokenize, tokenize_many
from bot.text import words as text_words

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

# The fields a document is described by, and the share of a term's weight bodies and descriptions
# each carry.
DESCRIPTIONS = ("title", "subtitle", "author", "outlet")
BODY_SHARE = 0.5
TIE = 1e-3  # documents within this share of the best fit fit equally


class _Described(NamedTuple):
    """Descriptions as postings: term -> documents, per field and for all fields together."""

    by_field: dict[str, dict[str, frozenset[int]]]
    any_field: dict[str, I32]
    host_affixes: dict[str, I32]  # a capitalised word -> the documents whose address it is part of
    words: dict[str, frozenset[int]]  # a description's word as written (folded, not stemmed) -> documents


class DocumentStep:
    """Scores a corpus's documents for a question: which one it is about."""

    def __init__(self, corpus: Corpus, documents: Index) -> None:
        self.corpus = corpus
        self.documents = documents  # the document-level index (bot.search.groups.Groups)
        self._described: _Described | None = None
        self._lock = threading.Lock()
        # A question's words written as names, and those read as parts of addresses: asked again for
        # each document that fits it (`fields`), its terms read once.
        self._names: Callable[[str], _Names] = lru_cache(maxsize=64)(
            lambda text: _names(question_spans(text), text, self.described())
        )

    def __len__(self) -> int:
        return len(self.corpus.documents)

    def described(self) -> _Described:
        """The descriptions' postings, built on first use (a corpus of one document never needs them)."""
        with self._lock:
            if self._described is None:
                self._described = _describe(self.corpus)
            return self._described

    def fit(self, text: str, terms: Sequence[str], weights: Sequence[float]) -> F32:
        """Each document's fit to `terms` of the question `text` (all of them, or the words that
        say which document it asks about), weighed by their IDF `weights`; `text` says which
        words are written as names."""
        out = np.zeros(len(self), dtype=np.float32)
        total = float(sum(weights))
        if total <= 0 or len(self) == 0:
            return out
        described = self.described()
        names, hosts = self._names(text)
        for term, weight in zip(terms, weights, strict=True):
            ids, _ = self.documents.postings(term)
            if len(ids):
                out[ids] += np.float32(BODY_SHARE * weight / len(ids))
            named = described.any_field.get(term, _NONE)
            if term in hosts:
                named = np.union1d(named, hosts[term]).astype(np.int32)
            if len(named):
                out[named] += np.float32((1 - BODY_SHARE) * weight / len(named))
            if term in names and (holder := _only(ids, named)) is not None:
                out[holder] += np.float32(weight)
        out /= np.float32(total)
        return out

    def in_best_descriptions(self, terms: Sequence[str], fit: F32) -> npt.NDArray[np.bool_]:
        """For each of `terms`, whether the descriptions (title, subtitle, author, outlet) of one
        of the documents that fit best (`best`) hold it."""
        found = np.zeros(len(terms), dtype=bool)
        top = float(fit.max()) if len(fit) else 0.0
        if top <= 0:
            return found
        best = fit >= top - TIE
        described = self.described().any_field
        # A term's described documents, not the best ones: all of them fit best when they tie.
        for n, term in enumerate(terms):
            if (docs := described.get(term)) is not None:
                found[n] = bool(best[docs].any())
        return found

    def naming(self, word: str) -> frozenset[int]:
        """The documents whose descriptions hold a name as written (case and accents aside, not
        stemmed: "France" is not the author "Frances"), or whose address it is part of."""
        described = self.described()
        folded = fold_word(word)
        named = described.words.get(folded, frozenset())
        hosts = described.host_affixes.get(folded)
        # (A word of many documents' descriptions, "The" of every outlet "The ...": not copied.)
        return named if hosts is None else named | frozenset(hosts.tolist())

    def best(self, fit: F32, among: Sequence[int] | None = None) -> list[int]:
        """The documents that fit best (equally, within `TIE`), best first; none when none fits."""
        candidates = np.arange(len(self)) if among is None else np.asarray(among, dtype=np.int64)
        if not len(candidates):
            return []
        top = float(fit[candidates].max())
        if top <= 0:
            return []
        chosen = candidates[fit[candidates] >= top - TIE]
        return [int(d) for d in chosen[np.argsort(-fit[chosen], kind="stable")]]

    def fields(self, document: int, text: str, terms: Sequence[str]) -> dict[str, set[str]]:
        """For each of `terms` (of the question `text`), the descriptions of `document` that hold
        it (no entry: none)."""
        described = self.described()
        hosts = self._names(text).hosts
        found: dict[str, set[str]] = {}
        for term in terms:
            held = {f for f in DESCRIPTIONS if document in described.by_field[f].get(term, ())}
            if term in hosts and document in hosts[term].tolist():
                held.add("outlet")
            if held:
                found[term] = held
        return found


class _Names(NamedTuple):
    """What a question's words written as names point to."""

    terms: set[str]  # the terms of its words written as names: capitalised, past its first word
    hosts: dict[str, I32]  # a capitalised word's term -> the documents whose address it is part of


def _names(spans: Sequence[TermSpan], text: str, described: _Described) -> _Names:
    """The terms a question (`text`, its `spans`) writes as names, and for each term of a
    capitalised word the documents whose address it is part of ("Ledger" in `rivertonledger.com`)."""
    hosts: dict[str, I32] = {}
    for span in spans:
        word = text[span.start : span.end]
        if word[:1].isupper() and (docs := described.host_affixes.get(fold_word(word))) is not None:
            hosts[span.term] = docs if span.term not in hosts else np.union1d(hosts[span.term], docs)
    return _Names({s.term for s in spans if s.start > 0 and text[s.start].isupper()}, hosts)


_NONE = np.empty(0, np.int32)


def _only(a: I32, b: I32) -> int | None:
    """The one document of two sorted sets of documents together, or None when they hold none or
    several."""
    if len(a) > 1 or len(b) > 1 or not (len(a) or len(b)):
        return None
    if len(a) and len(b) and a[0] != b[0]:
        return None
    return int(a[0] if len(a) else b[0])


def _describe(corpus: Corpus) -> _Described:
    by_field: dict[str, defaultdict[str, set[int]]] = {f: defaultdict(set) for f in DESCRIPTIONS}
    affixes: defaultdict[str, set[int]] = defaultdict(set)
    # Every description tokenised in one call (its loops run in C: 10,000 documents in a blink).
    texts = [getattr(doc, field) or "" for doc in corpus.documents for field in DESCRIPTIONS]
    terms, counts = tokenize_many(texts)
    at = 0
    for n, count in enumerate(counts):
        d, f = divmod(n, len(DESCRIPTIONS))
        for term in terms[at : at + count]:
            by_field[DESCRIPTIONS[f]][term].add(d)
        at += count
    words: defaultdict[str, set[int]] = defaultdict(set)
    for n, text in enumerate(texts):
        for word in text_words(text):
            words[word].add(n // len(DESCRIPTIONS))
    for d, doc in enumerate(corpus.documents):
        for label in describe.host_names(doc.source_url):
            for term in tokenize(label):  # a whole label, as a term: "reuters", "bbc"
                by_field["outlet"][term].add(d)
            for word in describe.host_words(label):
                affixes[word].add(d)
    any_field: defaultdict[str, set[int]] = defaultdict(set)
    for postings in by_field.values():
        for term, docs in postings.items():
            any_field[term] |= docs
    return _Described(
        {f: {t: frozenset(docs) for t, docs in postings.items()} for f, postings in by_field.items()},
        {t: np.array(sorted(docs), dtype=np.int32) for t, docs in any_field.items()},
        {w: np.array(sorted(docs), dtype=np.int32) for w, docs in affixes.items()},
        {w: frozenset(docs) for w, docs in words.items()},
    )
