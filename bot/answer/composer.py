"""Turning a question into an answer: ranked sentences become cited excerpts, or an abstention.

The ranking is `bot.search.ranking`'s and questions about the documents themselves go to
`bot.answer.metadata`; here are the excerpts (whole sentences; a quotation with the sentence that
opens it, a sentence that refers back with the one it refers to) and the decision to decline: the
best excerpts cover too little of the question's weight, or the question names something no
document mentions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from bot.answer import metadata, short
from bot.answer.answers import Answer, DocumentError, Excerpt, QuestionError, ShortAnswer
from bot.documents.corpus import Corpus, DocumentNotFoundError, shown_name
from bot.documents.document import Sentence
from bot.search.groups import Groups
from bot.search.question import AnswerType, Question, answer_type, holds_type
from bot.search.ranking import Abstain, Ranked, Ranker, ReaderStage, Semantic, Weights
from bot.search.retriever import Index
from bot.text import term_spans

F32 = npt.NDArray[np.float32]

__all__ = [
    "Answer",
    "AnswerType",
    "Composer",
    "DocumentError",
    "Excerpt",
    "QuestionError",
    "answer_type",
    "holds_type",
]

# Declining (chosen on the open question sets, see docs/quality.md): the best passage must cover
# this share of the question's IDF weight, and more when the question names something unknown.
MIN_COVERAGE = 0.2
NAMED_COVERAGE = 0.6  # "What is X called in English?": a name the corpus lacks, the rest well covered
DEPTH = 3  # excerpts judged for abstention, whatever the bot shows (TOP_K)


def declines(coverage: float, named: bool, relevance: float | None, abstain: Abstain | None) -> bool:
    """Whether the corpus does not answer a question.

    By words: too little of the question's weight is covered by the best excerpts (more is needed
    when the question names something no document mentions, `named`). With the re-ranking stage,
    by meaning too (`relevance`: how much closer the question comes to the corpus than off-topic
    questions do, None until it can be told): a meaning further from the corpus than covered
    words make up for is declined, and a meaning at least as close as the corpus's reference
    overrules the coverage rule (a paraphrase, a misspelling), but not for a name no document has.
    """
    lexical = coverage < (NAMED_COVERAGE if named else MIN_COVERAGE)
    if relevance is None or abstain is None:
        return lexical
    far = abstain.coverage_weight * (coverage - MIN_COVERAGE) + relevance < 0
    if named:
        return lexical or far
    return far or (lexical and relevance < abstain.rescue)


class Composer:
    """Answers questions over one corpus and its index."""

    def __init__(
        self,
        corpus: Corpus,
        index: Index,
        *,
        top_k: int = 3,
        max_question_chars: int = 500,
        max_excerpt_chars: int = 500,
        weights: Weights | None = None,
        grouped: Groups | None = None,
        semantic: Semantic | None = None,
        short_gate: short.Gate | None = None,
        reader: ReaderStage | None = None,
    ) -> None:
        self.corpus = corpus
        self.index = index
        self.ranker = Ranker(corpus, index, weights, grouped, semantic, reader)
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        self.max_excerpt_chars = max_excerpt_chars
        self._term_spans = lru_cache(maxsize=4096)(term_spans)  # excerpts repeat: highlight once
        self.short_gate = short_gate or short.Gate.load()

    # -- the question ---------------------------------------------------------------------------

    def check(self, question: str) -> str:
        """The question, trimmed; QuestionError if it is empty or too long."""
        q = question.strip()
        if not q:
            raise QuestionError("the question is empty")
        if len(q) > self.max_question_chars:
            raise QuestionError(
                f"the question is {len(q)} characters long; the limit is {self.max_question_chars}"
            )
        return q

    # -- answering ------------------------------------------------------------------------------

    def pinned(self, document: str | None, server: int | None = None) -> int | None:
        """The corpus position of the document a question is pinned to (a file name or a title, see
        `Corpus.resolve`), among those `server` sees; DocumentError when no document, or several, match."""
        if document is None:
            return None
        try:
            return self.corpus.resolve(document, self.corpus.view(server))
        except DocumentNotFoundError as exc:
            raise DocumentError(str(exc)) from None

    def answer(
        self, question: str, limit: int | None = None, document: str | None = None, server: int | None = None
    ) -> Answer:
        """The answer to `question` (checked with `check`): up to `limit` excerpts (`top_k`), from
        `document` alone when one is named (see `pinned`), from what `server`'s members see
        (`Corpus.view`: the operator's articles and the server's own; None, a DM: the operator's)."""
        limit = limit or self.top_k
        q = self.check(question)
        view = self.corpus.view(server)
        pinned = self.pinned(document, server)
        asked = self.ranker.question(q)
        terms = asked.terms
        if not terms:
            return Answer(q, abstained=True)
        meta = metadata.about_documents(self.corpus, q, asked, self.ranker, self.highlight, pinned, view)
        if meta is not None:
            return meta
        ranked = self.ranker.rank(asked, document=pinned, server=server)
        if not len(ranked.ids):
            return self._declined(Answer(q, abstained=True, terms=terms), pinned)
        excerpts = self._excerpts(ranked.ids.tolist(), ranked.scores.tolist(), asked, max(limit, DEPTH))
        coverages = self.coverages(excerpts[:DEPTH], asked)
        best = max(coverages, default=0.0)
        relevances = self.ranker.relevance(asked) if ranked.reranked else None
        judged = self.judged(excerpts[:DEPTH])
        # Shown (ask --json): the relevance of the document the answer comes from.
        relevance = None if relevances is None or not judged else float(relevances[judged[0][1]])
        read = ranked.reading is not None
        if self._reader_declines(ranked, lambda: self._declines(judged, coverages, asked, relevances)):
            declined = Answer(
                q,
                abstained=True,
                closest=excerpts[: self.top_k],
                coverage=best,
                terms=terms,
                reranked=ranked.reranked,
                read=read,
                relevance=relevance,
            )
            return self._declined(declined, pinned)
        answer = Answer(
            q,
            abstained=False,
            excerpts=excerpts,
            coverage=best,
            terms=terms,
            reranked=ranked.reranked,
            read=read,
            relevance=relevance,
        )
        given = self._read_short(ranked, excerpts) or short.short_answer(
            self.corpus, answer, asked, self.short_gate
        )
        return replace(answer, excerpts=excerpts[:limit], short=given)

    def _reader_declines(self, ranked: Ranked, before: Callable[[], bool]) -> bool:
        """Whether to decline: as the stages before the reader would (`before`), unless the reader
        read the candidates and found one that answers above `Fitted.rescue`; and whenever the
        best it read scores under `Fitted.decline`."""
        stage = self.ranker.reader
        if ranked.reading is None or stage is None:
            return before()
        fitted, best = stage.fitted, float(ranked.reading.scores.max())
        if fitted.decline is not None and best < fitted.decline:
            return True
        if fitted.rescue is not None and best >= fitted.rescue:
            return False
        return before()

    def _read_short(self, ranked: Ranked, excerpts: Sequence[Excerpt]) -> ShortAnswer | None:
        """The reader's span in the sentence it put first, as the short answer, when that sentence
        leads the top excerpt, the span is shown in it, and its probability passes the fitted gate."""
        stage = self.ranker.reader
        if ranked.reading is None or stage is None or stage.fitted.span is None:
            return None
        span = ranked.reading.spans[0]
        if span is None or span.probability < stage.fitted.span or not excerpts:
            return None
        top = excerpts[0]
        if int(ranked.ids[0]) not in top.sentence_ids:
            return None
        given = short.span_answer(self.corpus, int(ranked.ids[0]), span.start, span.end)
        return given if given.text in top.text else None

    def judged(self, excerpts: Sequence[Excerpt]) -> list[tuple[int, int]]:
        """The excerpts that decide whether to decline, as (position, document): with several
        documents, those of the first excerpt's document, the one the answer is about (each more
        document judged would be one more chance for an off-topic question to come close)."""
        found = [
            (n, int(self.corpus.doc_of[e.sentence_ids[0]])) for n, e in enumerate(excerpts) if e.sentence_ids
        ]
        return [(n, d) for n, d in found if d == found[0][1]] if found else []

    def _declines(
        self,
        judged: Sequence[tuple[int, int]],
        coverages: Sequence[float],
        asked: Question,
        relevances: F32 | None,
    ) -> bool:
        """Whether none of the `judged` excerpts answers the question (`declines`, excerpt by
        excerpt, each by its own document).

        With one document, whether the question names something no document mentions is a fact
        about the corpus. With several it is one about the excerpt's document
        (`Questions.names_unknown`): a question whose names are spread over several documents is
        one that no single document answers as a whole, and is declined. How close the
        question's meaning comes is the document's too (`semantic.Relevance`).
        """
        semantic = self.ranker.semantic
        abstain = semantic.rerank.abstain if semantic is not None else None
        corpus_wide = len(self.corpus.documents) == 1
        for position, document in judged:
            relevance = None if relevances is None else float(relevances[document])
            named = self.ranker.questions.names_unknown(asked, None if corpus_wide else document)
            if not declines(coverages[position], named, relevance, abstain):
                return False
        return True

    def _declined(self, answer: Answer, pinned: int | None) -> Answer:
        """A declined answer to a question pinned to a document says which document does not say."""
        if pinned is None:
            return answer
        doc = self.corpus.documents[pinned]
        return replace(answer, note=f"{shown_name(doc.name)} (“{doc.title}”) doesn't say.")

    def coverages(self, excerpts: Sequence[Excerpt], asked: Question) -> list[float]:
        """Each excerpt's share of the question's IDF weight, found in it and its paragraph
        neighbours; an excerpt that holds no term itself counts for nothing (neighbours only add)."""
        same = self.corpus.same_paragraph
        around = {
            e: [
                *([first - 1] if same(first, first - 1) else []),
                *range(first, last + 1),
                *([last + 1] if same(last, last + 1) else []),
            ]
            for e in excerpts
            if e.sentence_ids
            for first, last in [(e.sentence_ids[0], e.sentence_ids[-1])]
        }
        held = self.ranker.table.held_terms(asked, sorted({j for ids in around.values() for j in ids}))
        coverages = []
        for e in excerpts:
            ids = around.get(e, [])
            if not ids or not any(held[i] for i in e.sentence_ids) or not asked.total:
                coverages.append(0.0)
                continue
            terms = set().union(*(held[j] for j in ids))
            coverages.append(sum(asked.weights[n] for n in terms) / asked.total)
        return coverages

    def _excerpts(
        self, ids: Sequence[int], scores: Sequence[float], asked: Question, depth: int
    ) -> tuple[Excerpt, ...]:
        """Best-first excerpts, each a sentence with what it needs to be read, merged if they meet."""
        groups: list[tuple[float, list[int]]] = []
        for score, i in zip(scores, ids, strict=True):
            members = self._readable(i)
            merged = False
            for g, (g_score, g_ids) in enumerate(groups):
                if set(members) & set(g_ids):
                    union = sorted(set(members) | set(g_ids))
                    if self._span_length(union) <= self.max_excerpt_chars:
                        groups[g] = (max(g_score, score), union)
                    merged = True
                    break
            if not merged:
                groups.append((score, members))
            if len(groups) >= depth + 2:
                break
        # Only the excerpts that can be shown are built (highlighting is the costly part).
        return tuple(self._excerpt(members, score, asked) for score, members in groups[:depth])

    def _readable(self, i: int) -> list[int]:
        """Sentence i with the sentence it cannot be read without, when it fits.

        A quotation with no attribution of its own goes with the sentence that opens it, a
        sentence that opens with "It" or "This" with the sentence that names what it means, and an
        answer with its question.
        """
        corpus = self.corpus
        if (corpus.same_paragraph(i, i - 1) and corpus.quoted(i)) or self.ranker.table.leans_on_previous(i):
            pair = [i - 1, i]
        elif corpus.same_paragraph(i, i + 1) and corpus.quoted(i + 1):
            pair = [i, i + 1]
        else:
            return [i]
        return pair if self._span_length(pair) <= self.max_excerpt_chars else [i]

    def _span_length(self, ids: Sequence[int]) -> int:
        """Characters of the excerpt made of sentences `ids` (consecutive), as shown."""
        return sum(len(self.corpus.sentence(i).text) for i in ids) + len(ids) - 1

    def _excerpt(self, ids: list[int], score: float, asked: Question) -> Excerpt:
        first, last = self.corpus.sentence(ids[0]), self.corpus.sentence(ids[-1])
        doc = first.document
        text = " ".join(self.corpus.sentence(i).text for i in ids)
        cut = (False, False)
        if len(text) > self.max_excerpt_chars:
            text, cut = self._window(text, asked)
        citation = str(first.citation)
        if len(ids) > 1:
            citation += f"–{last.citation.sentence}"
        return Excerpt(
            document=doc,
            citation=citation,
            text=text,
            score=round(score, 4),
            start=first.start,
            end=last.end,
            matches=tuple(self.highlight(text, asked)),
            sentence_ids=tuple(ids),
            cut=cut,
        )

    def _window(self, text: str, asked: Question) -> tuple[str, tuple[bool, bool]]:
        """The part of an over-long sentence with the most matched weight, cut at clauses or words."""
        limit = self.max_excerpt_chars
        weight = {t: asked.weights[n] for n, t in enumerate(asked.terms)}
        owner = {q.term: asked.terms[n] for q, n in zip(asked.query, asked.owner, strict=True)}
        matches = [(s.start, s.end, weight[owner[s.term]]) for s in term_spans(text) if s.term in owner]
        # Starts to choose from: the text's start, clause boundaries, then word boundaries.
        starts = [0] + [m.end() for m in re.finditer(r"[,;:—–()]\s+", text)]
        starts += [m.end() for m in re.finditer(r"\s+", text)]
        best_start, best_weight = 0, -1.0
        for start in sorted(set(starts)):
            if start > len(text) - limit // 2 and best_weight >= 0:
                break
            held: dict[str, float] = {}
            for s, e, w in matches:
                if s >= start and e <= start + limit:
                    held[text[s:e].lower()] = w
            # Prefer a clause boundary (or the start) over a mid-clause word break at equal weight.
            total = sum(held.values()) + (
                0.001 if start == 0 or text[start - 2 : start - 1] in ",;:—–()" else 0
            )
            if total > best_weight:
                best_start, best_weight = start, total
        piece = text[best_start : best_start + limit]
        cut_end = best_start + limit < len(text)
        if cut_end and " " in piece:
            piece = piece[: piece.rfind(" ")]
        return piece.strip(" ,;:—–"), (best_start > 0, cut_end)

    def highlight(self, text: str, asked: Question) -> list[tuple[int, int]]:
        """Spans of `text` whose words match a question term or one of its stand-ins."""
        wanted = {q.term for q in asked.query}
        return [(s.start, s.end) for s in self._term_spans(text) if s.term in wanted]

    def context(self, excerpt: Excerpt, radius: int) -> tuple[list[Sentence], list[Sentence]]:
        """Up to `radius` sentences before and after an excerpt, in its document."""
        if not excerpt.sentence_ids:
            return [], []
        first, last = excerpt.sentence_ids[0], excerpt.sentence_ids[-1]
        before = [
            self.corpus.sentence(j)
            for j in range(first - radius, first)
            if self.corpus.same_document(first, j)
        ]
        after = [
            self.corpus.sentence(j)
            for j in range(last + 1, last + 1 + radius)
            if self.corpus.same_document(last, j)
        ]
        return before, after
