"""The feature table: one row a candidate sentence, one column a feature, for a question.

Each feature is a share of the question's IDF weight (or 0/1), so one set of weights
(`bot.search.ranking`) fits questions of any length and corpora of any size.

- `sentence`: BM25 of the sentence for the question's terms;
- `paragraph`: BM25 of the sentence's paragraph, the evidence around it;
- `document`: BM25 of the sentence's document, which of several documents the question is about;
- `antecedent`: for a sentence that leans on the one before it, the question's weight that one
  holds and it lacks: a sentence opening with a pronoun or demonstrative ("It was…", "This
  mural…") names its subject only before it, and an answer follows its question (an interview's
  "Q:");
- `answer_type`: 1 when the sentence holds the kind of thing asked for (when: a date, how many: a
  number, who: a name, where: a place) beyond the question's own words (`bot.search.question`);
- `about`: how well the sentence's document fits the question, by its title, subtitle, author,
  outlet and body, a name only it holds counting most (`bot.search.documents`);
- `title`: 1 for a document's title or subtitle (its paragraph 0): the words of a headline match
  many questions and answer few;
- `content`: BM25 of the sentence for the question's words that do not name the best-fitting
  documents (words of their titles, subtitles, authors and outlets): in "What did supporters of
  the Lakeview bike lane say was wrong with it?", "Lakeview bike lane" says which article, and
  every sentence of it that repeats those words is no nearer the answer. With one document, 0 (as
  `about` and `document`: the same for every sentence);
- `cos_sentence`, `cos_window`, `cos_paragraph` (the re-ranking stage, `bot.search.semantic`): the
  cosine of the question's vector and the sentence's, the sentence's with its paragraph neighbours'
  (their vectors summed), and its paragraph's;
- `meaning_document`: how close the question's meaning comes to the sentence's document
  (`semantic.Relevance`), with several documents.

With several documents, a term's BM25 in a sentence and in a paragraph is weighed by its IDF
within the sentence's document (`Index.within`): which sentence of a document answers is told by
the terms rare in that document.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import Corpus
from bot.documents.document import TITLE_PARAGRAPH
from bot.documents.segment import ASKING, REFERRING
from bot.search.documents import DocumentStep
from bot.search.groups import Groups, paragraph_numbers
from bot.search.question import AnswerType, Question, holds_evidence, type_evidence
from bot.search.retriever import Index
from bot.search.semantic import SentenceVectors, unit

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]

FEATURES = (
    "sentence",
    "paragraph",
    "document",
    "antecedent",
    "answer_type",
    "about",
    "title",
    "content",
    "cos_sentence",
    "cos_window",
    "cos_paragraph",
    "meaning_document",
)
SEMANTIC = FEATURES.index("cos_sentence")  # the columns from here on are the re-ranker's
# How close the question's meaning comes to the sentence's document (`semantic.Relevance`), with
# several documents: known before the pool is chosen, so it takes part in choosing it.
MEANING = FEATURES.index("meaning_document")

# -- a sentence that leans on the one before ------------------------------------------------------

Flags = npt.NDArray[np.bool_]


def leaning(corpus: Corpus) -> Flags:
    """Whether each sentence of a corpus cannot be read without the one before it: it opens with a
    word that points back ("It", "This mural") in the same paragraph, or it follows a question
    (the answer to an interview's "Q:") in the same document (its `marks`, `segment.mark`)."""
    mark = corpus.marks
    before = np.zeros(len(mark), dtype=np.int8)
    before[1:] = mark[:-1]
    same_paragraph = np.zeros(len(mark), dtype=bool)
    same_paragraph[1:] = corpus.paragraph_of[1:] == corpus.paragraph_of[:-1]
    same_document = np.zeros(len(mark), dtype=bool)
    same_document[1:] = corpus.doc_of[1:] == corpus.doc_of[:-1]
    refers = same_paragraph & (mark & REFERRING > 0)
    return np.asarray(refers | same_document & (before & ASKING > 0) & (mark & ASKING == 0))


# -- the table -------------------------------------------------------------------------------------


class FeatureTable:
    """The features of one corpus's sentences for questions (columns: FEATURES)."""

    def __init__(self, corpus: Corpus, index: Index, grouped: Groups, step: DocumentStep) -> None:
        self.corpus = corpus
        self.index = index
        self.grouped = grouped
        self.paragraphs, self.documents, self.within = grouped
        self.step = step
        self.paragraph_of = paragraph_numbers(corpus)
        # Where each sentence's paragraph starts and ends (paragraph numbers run in order).
        self._paragraph_start = np.searchsorted(self.paragraph_of, self.paragraph_of, side="left").astype(
            np.int32
        )
        self._paragraph_end = np.searchsorted(self.paragraph_of, self.paragraph_of, side="right").astype(
            np.int32
        )
        self._titles = np.asarray(corpus.columns()["para_no"] == TITLE_PARAGRAPH)
        self._text: Callable[[int], str] = corpus.text
        self._marks = corpus.marks  # read off each sentence's text when the corpus was built
        self._leans = leaning(corpus)  # (a million sentences in a few milliseconds)
        self._evidence: Callable[[int, AnswerType], tuple[frozenset[str], ...]] = lru_cache(maxsize=16_384)(
            lambda i, kind: type_evidence(self._text(i), kind)
        )

    def asking(self, ids: I32) -> Flags:
        """Whether each of sentences `ids` is itself a question (`segment.asks`)."""
        return np.asarray(self._marks[ids] & ASKING > 0)

    def leans_on_previous(self, i: int) -> bool:
        """Whether sentence i goes with the sentence before it (`leaning`)."""
        return 0 <= i < len(self._leans) and bool(self._leans[i])

    def about(self, question: Question) -> F32:
        """How well each document fits the question (`DocumentStep.fit`)."""
        return self.step.fit(question.text, question.terms, question.weights)

    def features(self, question: Question, ids: I32) -> F32:
        """The feature table of sentences `ids` for a question: one row a sentence, FEATURES columns
        (the re-ranker's, from SEMANTIC on, left 0: `cosines`)."""
        table = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
        total = question.total
        if not len(ids) or not question.query or total <= 0:
            return table
        terms = [q.term for q in question.query]
        query_weight = np.array([q.weight for q in question.query], dtype=np.float32)
        # Impacts of every query term on the candidates and on the sentences before them.
        before = np.maximum(ids - 1, 0)
        impacts = self.index.impacts_at(terms, np.concatenate([ids, before]))
        own, prev = impacts[:, : len(ids)], impacts[:, len(ids) :]
        paragraph = self.paragraphs.impacts_at(terms, self.paragraph_of[ids])
        if len(self.documents) > 1:  # with one document it is the same for every sentence
            at = self.documents.locate(terms, self.corpus.doc_of[ids])
            found = at >= 0
            table[:, 2] = query_weight @ _read(self.documents.impacts, at, found, 0.0) / total
            # Which sentence of a document answers is told by the terms rare in that document.
            own = own * _read(self.within.sentences, at, found, 1.0)
            paragraph *= _read(self.within.paragraphs, at, found, 1.0)
        table[:, 0] = query_weight @ own / total
        table[:, 1] = query_weight @ paragraph / total
        # Which of the question's own terms (or their stand-ins) each sentence holds.
        owner = np.zeros((len(question.terms), len(terms)), dtype=np.float32)
        owner[list(question.owner), np.arange(len(terms))] = 1.0
        term_weight = np.array(question.weights, dtype=np.float32)
        holds = owner @ (own > 0) > 0
        held_before = owner @ (prev > 0) > 0
        gain = term_weight @ (held_before & ~holds)
        table[:, 3] = self._leans[ids] * gain / total
        if question.kind is not AnswerType.NONE:
            asked = frozenset(question.terms)
            table[:, 4] = [holds_evidence(self._evidence(int(i), question.kind), asked) for i in ids]
        table[:, 6] = self._titles[ids]
        if len(self.documents) > 1:
            about = self.about(question)
            table[:, 5] = about[self.corpus.doc_of[ids]]
            naming = self.step.in_best_descriptions(question.terms, about)
            table[:, 7] = (query_weight * ~naming[list(question.owner)]) @ own / total
        return table

    def held_terms(self, question: Question, ids: Sequence[int]) -> dict[int, set[int]]:
        """For each sentence id, the positions (in `question.terms`) of the terms it holds."""
        if not ids or not question.query:
            return {i: set() for i in ids}
        impacts = self.index.impacts_at([q.term for q in question.query], np.asarray(ids, dtype=np.int32))
        rows, cols = np.nonzero(impacts)
        held: dict[int, set[int]] = {i: set() for i in ids}
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            held[ids[c]].add(question.owner[r])
        return held

    # -- the re-ranker's columns

    def _spans(self, ids: I32) -> list[tuple[int, int]]:
        """Each sentence's paragraph, as [start, end) sentence ids."""
        starts, ends = self._paragraph_start[ids], self._paragraph_end[ids]
        return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]

    def needed(self, ids: I32) -> I32:
        """The sentences whose vectors the cosine features of `ids` read: every sentence of their
        paragraphs."""
        return self._needed(self._spans(ids))

    @staticmethod
    def _needed(spans: list[tuple[int, int]]) -> I32:
        if not spans:
            return np.empty(0, np.int32)
        return np.unique(np.concatenate([np.arange(s, e) for s, e in spans])).astype(np.int32)

    def cosines(self, question_vector: F32, ids: I32, vectors: SentenceVectors) -> F32:
        """The cosine features of sentences `ids` (columns `cos_sentence`, `cos_window`,
        `cos_paragraph`); computes the vectors they need that are not yet there."""
        spans = self._spans(ids)
        needed = self._needed(spans)
        where = {int(i): n for n, i in enumerate(needed)}
        got = vectors.get(needed)
        own = got[[where[int(i)] for i in ids]]
        window = np.stack(
            [
                got[[where[j] for j in range(max(int(i) - 1, s), min(int(i) + 2, e))]].sum(axis=0)
                for i, (s, e) in zip(ids, spans, strict=True)
            ]
        )
        paragraph = np.stack([got[where[s] : where[e - 1] + 1].sum(axis=0) for s, e in spans])
        out = np.empty((len(ids), MEANING - SEMANTIC), dtype=np.float32)
        out[:, 0] = own @ question_vector
        out[:, 1] = unit(window) @ question_vector
        out[:, 2] = unit(paragraph) @ question_vector
        return out


def _read(values: F32, at: npt.NDArray[np.int64], found: Flags, absent: float) -> F32:
    """What `values` (kept beside an index's postings) hold at postings `at` (`Index.locate`),
    `absent` where there is no posting."""
    out = np.full(at.shape, absent, dtype=np.float32)
    out[found] = values[at[found]]
    return out
