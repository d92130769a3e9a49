"""Declining by meaning: every set's questions asked of every corpus, and declining's fitted numbers."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.fit.sets import SETS, SQUAD_SETS, cases_of, composer_for, documents_of
from benchmarks.fit.tables import F32, question_vectors
from bot.answer.composer import Composer, declines
from bot.evaluate import DEPTH, Case
from bot.search.ranking import Abstain
from bot.search.semantic import best_cosines_by_document, document_references


@dataclass(frozen=True)
class Asked:
    """One question asked of one corpus, with what declining depends on."""

    corpus: str
    answerable: bool  # the corpus answers it (it is its own set's answerable question)
    judged: tuple[tuple[float, bool, int], ...]  # the excerpts that decide: coverage, named, document
    cosines: F32  # its best cosine over each document's sentences
    settled: bool  # declined whatever the rule (no candidate), or a metadata answer (never declined)
    declined_by_settled: bool = False


@dataclass(frozen=True)
class Folder:
    """The corpus of some sets (those asked of the same documents) and its off-topic cosines."""

    key: tuple[str, ...]
    names: list[str]
    composer: Composer
    off_topic: F32  # each off-topic question's best cosine over each document (rows: documents)
    lexical: Composer  # the same corpus without the re-ranking stage (RERANK=false)


def folders(names: Iterable[str], *, together: bool = False) -> list[Folder]:
    """The corpora of the named sets, each with the re-ranking stage and all its vectors; with
    `together`, one more: the named SQuAD-format articles in one corpus (each set's questions
    asked of its article beside the others, as `--squad-together` asks them)."""
    names = list(names)
    grouped: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        grouped.setdefault(tuple(sorted(documents_of(SETS[name]))), []).append(name)
    squad = [n for n in names if n in SQUAD_SETS]
    if together and len(squad) > 1:
        grouped[tuple(sorted(d for n in squad for d in documents_of(SETS[n])))] = squad
    out = []
    for key, members in grouped.items():
        documents = {n: t for m in members for n, t in documents_of(SETS[m]).items()}
        composer = composer_for(documents)
        semantic = composer.ranker.semantic
        assert semantic is not None, "the re-ranking stage could not be loaded"
        off_topic = best_cosines_by_document(
            semantic.vectors.matrix(), semantic.relevance.off_topic, semantic.vectors.starts
        )
        indexes = composer.ranker.table.grouped
        lexical = Composer(composer.corpus, composer.index, grouped=indexes)
        out.append(Folder(key, members, composer, off_topic, lexical))
    return out


def ask_all(folder: Folder, cases: Iterable[tuple[Case, bool]], *, lexical: bool = False) -> list[Asked]:
    """Each question asked of the folder's corpus, with what declining depends on (`lexical`:
    ordered and covered as with RERANK=false)."""
    composer, ranker = (folder.lexical if lexical else folder.composer), folder.composer.ranker
    semantic = ranker.semantic
    assert semantic is not None
    cases = list(cases)
    vectors = question_vectors(ranker, (c.question for c, _ in cases))
    matrix, starts = semantic.vectors.matrix(), semantic.vectors.starts
    several = len(composer.corpus.documents) > 1
    out = []
    for case, answerable in cases:
        answer = composer.answer(case.question, limit=DEPTH)
        asked = ranker.question(case.question)
        # No term or candidate (declined), or an answer from the documents' metadata: no rule applies.
        shown = list((answer.excerpts or answer.closest)[:DEPTH])
        settled = not shown or not shown[0].sentence_ids
        judged: tuple[tuple[float, bool, int], ...] = ()
        if not settled:
            coverages = composer.coverages(shown, asked)
            judged = tuple(
                (coverages[n], ranker.questions.names_unknown(asked, d if several else None), d)
                for n, d in composer.judged(shown)
            )
        cosines = best_cosines_by_document(matrix, vectors[case.question][None, :], starts)[:, 0]
        out.append(
            Asked(",".join(folder.key), answerable, judged, cosines, settled, settled and answer.abstained)
        )
    return out


def decided(rows: Sequence[Asked], off_topic: dict[str, F32], abstain: Abstain | None) -> list[bool]:
    """Whether each question is declined under `abstain` (the composer's own rule), or by words
    alone (`abstain` None: RERANK=false)."""
    references: dict[str, F32] = {}
    if abstain is not None:
        for key, scores in off_topic.items():
            # The documents with sentences (an empty one's cosines are all -1), as the bot counts.
            documents = int(np.count_nonzero((scores > -1).any(axis=1)))
            references[key] = document_references(scores, abstain.quantile, abstain.power, documents)
    return [
        r.declined_by_settled
        if r.settled
        else all(
            declines(
                coverage,
                named,
                float(r.cosines[d] - references[r.corpus][d]) if abstain is not None else None,
                abstain,
            )
            for coverage, named, d in r.judged
        )
        for r in rows
    ]


def rates(rows: Sequence[Asked], declined: Sequence[bool]) -> tuple[int, int, int, int]:
    """Answerable questions declined, answerable, others declined, others."""
    false = sum(d for r, d in zip(rows, declined, strict=True) if r.answerable)
    right = sum(d for r, d in zip(rows, declined, strict=True) if not r.answerable)
    answerable = sum(r.answerable for r in rows)
    return false, answerable, right, len(rows) - answerable


QUANTILES = (80.0, 85.0, 90.0, 95.0)
COVERAGE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
POWERS = (0.0, 0.5, 0.75, 1.0)  # how a document's reference rises with the number of documents
FALSE_DECLINE_COST = 10.0  # a refused answerable question costs ten accepted off-topic ones


def fit_abstain(
    rows: Sequence[Asked], off_topic: dict[str, F32], held: Abstain | None = None
) -> tuple[Abstain, tuple[int, int, int, int]]:
    """The abstention parameters with the best trade-off on `rows` (see FALSE_DECLINE_COST); with
    `held`, only the power of the number of documents, the rest as `held` has them (so that a
    corpus of one document declines as before)."""
    best: tuple[float, Abstain, tuple[int, int, int, int]] | None = None
    several = any(len(scores) > 1 for scores in off_topic.values())
    powers = POWERS if several else (1.0,)
    if held is not None:
        grid = [(held.quantile, held.coverage_weight, power) for power in powers]
    else:
        grid = list(itertools.product(QUANTILES, COVERAGE_WEIGHTS, powers))
    for quantile, weight, power in grid:
        abstain = Abstain(quantile=quantile, coverage_weight=weight, rescue=0.0, power=power)
        declined = decided(rows, off_topic, abstain)
        counts = rates(rows, declined)
        # Each corpus counts alike, whatever its number of questions: a corpus of several
        # documents asked 1,300 off-topic questions would otherwise drown the refusals of
        # another's few hundred answerable ones.
        values = []
        for corpus in dict.fromkeys(r.corpus for r in rows):
            mine = [(r, d) for r, d in zip(rows, declined, strict=True) if r.corpus == corpus]
            false, answerable, right, others = rates([r for r, _ in mine], [d for _, d in mine])
            values.append(right / max(others, 1) - FALSE_DECLINE_COST * false / max(answerable, 1))
        value = float(np.mean(values))
        if best is None or value > best[0] + 1e-12:
            best = (value, abstain, counts)
    assert best is not None
    return best[1], best[2]


def asked_of(folders_: Sequence[Folder], askers: Sequence[str], *, lexical: bool = False) -> list[Asked]:
    """Every folder asked its own sets' questions (answerable and not) and the other sets' (all
    off-topic there), the sets limited to `askers`."""
    rows: list[Asked] = []
    for folder in folders_:
        cases = [(c, c.answerable) for n in folder.names if n in askers for c in cases_of(n)]
        # Other sets' questions, which this corpus should decline: those of sets whose documents
        # it does not hold (the several-documents set holds the SQuAD articles).
        cases += [
            (c, False)
            for other in folders_
            if other is not folder and not set(other.key) & set(folder.key)
            for n in other.names
            if n in askers
            for c in cases_of(n)
        ]
        rows += ask_all(folder, cases, lexical=lexical)
    return rows


def declines_report(abstain: Abstain | None = None) -> list[str]:
    """Each set's questions asked of its own documents and of every other set's: declined and
    falsely declined, under `abstain` (by default the fitted one)."""
    every = folders(SETS, together=True)
    rows = asked_of(every, list(SETS))
    by_words = asked_of(every, list(SETS), lexical=True)
    off_topic = {",".join(f.key): f.off_topic for f in every}
    lines = []
    for folder in every:
        semantic = folder.composer.ranker.semantic
        assert semantic is not None
        own = [r for r in rows if r.corpus == ",".join(folder.key)]
        chosen = abstain or semantic.rerank.abstain
        false, answerable, right, others = rates(own, decided(own, off_topic, chosen))
        lexical = [r for r in by_words if r.corpus == ",".join(folder.key)]
        words = rates(lexical, decided(lexical, off_topic, None))
        lines.append(
            f"  {', '.join(folder.names):40} of {others} questions it does not answer, declined "
            f"{right / max(others, 1):.1%} (by words alone {words[2] / max(others, 1):.1%}); "
            f"of {answerable} it does, falsely declined {false} (by words alone {words[0]})"
        )
    return lines
