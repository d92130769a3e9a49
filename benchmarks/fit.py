"""Fitting the ranking weights on named question sets, and measuring them on others.

    python -m benchmarks.fit --fit notre_dame dev --write   # store the weights in ranking_weights.json
    python -m benchmarks.fit --fit notre_dame dev --report heldout_article reykjavik
    python -m benchmarks.fit --declines                     # off-topic: each set asked of the others
    python -m benchmarks.fit --squad-together               # the SQuAD-format sets alone and in one corpus
    python -m benchmarks.fit --fit notre_dame dev multidoc --only about title content --write
    python -m benchmarks.fit --fit notre_dame dev multidoc --abstain --write   # declining only

Three fits, all on the `--fit` sets only; the other sets are scored with what was chosen, never
tuned on:
- the lexical weights (`RERANK=false`, and before a sentence's vector can be had): a coarse grid
  over the weights of `bot.search.features.FEATURES`' first lexical columns (the sentence's own
  BM25 fixed at 1) and BM25's k1 and b, for the best MRR@3 of the answer sentence, then the
  document step's columns (`about`, `title`, `content`) with them by coordinate descent;
- the re-ranking weights: every feature, the cosine ones included, and the pool size, by
  coordinate descent from the lexical weights (a full grid over eight weights is too large);
- declining by meaning (`bot.search.ranking.Abstain`): the percentile of the off-topic questions'
  cosines that is each document's reference, how it rises with the number of documents (`power`),
  and how much covered weight makes up for distance, for the most declined off-topic questions at
  ten times the cost of a falsely declined answerable one, each corpus counting alike
  (`--abstain`: these alone; `--abstain --only power`: the power alone).

With `--only NAME...`, only those weights are fitted, lexical and re-ranking both, by coordinate
descent, every other weight, k1 and b, the pool and declining held as `ranking_weights.json` has
them: how the document step's columns were fitted without moving what one-document corpora see.

Figures here are for ranked sentences (is the answer's sentence first, in the first three) and,
for declining, whole answers; `python -m bot eval` scores whole answers and is the figure to report.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot import engine
from bot.answer.composer import Composer, declines
from bot.config import PROJECT_ROOT, Settings
from bot.documents.corpus import document_files
from bot.evaluate import DEPTH, Case, evaluate, read_question_set
from bot.search.features import FEATURES, MEANING, SEMANTIC
from bot.search.ranking import WEIGHTS_FILE, Abstain, Ranker, Rerank, Weights, fitted_params, reranked_order
from bot.search.retriever import Bm25Params
from bot.search.semantic import best_cosines_by_document, document_references
from bot.text import fold_space

DATA = PROJECT_ROOT / "tests" / "data"
CORPUS = PROJECT_ROOT / "corpus"
CACHE = PROJECT_ROOT / ".cache"  # sentence vectors are kept there between runs (by file content)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SetSpec:
    """A question file and the corpus folder it is asked of (none: the file's own SQuAD articles).

    A blind set is only ever reported: its documents stay out of the corpus the weights are
    fitted over, as its questions stay out of the fitting."""

    questions: Path
    corpus: Path | None = None
    blind: bool = False


SETS = {
    # Crowd-written (SQuAD v1.1), given with the project.
    "notre_dame": SetSpec(DATA / "eval" / "squad" / "notre_dame.json"),
    # Written by the project's builders, about the shipped article.
    "dev": SetSpec(DATA / "eval" / "dev.jsonl", CORPUS),
    "article_extra": SetSpec(DATA / "article_extra.jsonl", CORPUS),
    "bicycle": SetSpec(DATA / "bicycle_questions.jsonl", DATA / "bicycle"),
    # Written blind (without running the bot), see tests/data/heldout/README.md.
    "heldout_article": SetSpec(DATA / "heldout" / "article_heldout.jsonl", CORPUS, blind=True),
    "reykjavik": SetSpec(DATA / "heldout" / "docs" / "encyclopedia.json"),
    "ssh_guide": SetSpec(DATA / "heldout" / "docs" / "guide.json"),
    "gw_news": SetSpec(DATA / "heldout" / "docs" / "news.json", blind=True),
    "rhine": SetSpec(DATA / "heldout" / "docs" / "rhine.json"),
    "chronometer": SetSpec(DATA / "heldout" / "docs" / "chronometer.json"),
    # Several news pages added with `add`, the article and the four SQuAD articles in one corpus;
    # written by this project (tests/data/multidoc/README.md).
    "multidoc": SetSpec(DATA / "multidoc" / "questions.jsonl", DATA / "multidoc" / "corpus"),
    # Four news pages, a guide and the article, written blind by another engineer of this project
    # (tests/data/multidoc2/README.md); scored before any change was made for it, then developed on.
    "multidoc2": SetSpec(DATA / "multidoc2" / "questions.jsonl", DATA / "multidoc2" / "corpus"),
    # Written blind by other engineers of this project as fitting data for several documents (their
    # READMEs): four news pages, an encyclopedia-style history or a guide, and the article each.
    "multidoc4": SetSpec(DATA / "multidoc4" / "questions.jsonl", DATA / "multidoc4" / "corpus"),
    "multidoc5": SetSpec(DATA / "multidoc5" / "questions.jsonl", DATA / "multidoc5" / "corpus"),
    # Four news pages, an encyclopedia-style club history and the article, written blind by another
    # engineer of this project (tests/data/multidoc3/README.md); only ever scored in aggregate.
    "multidoc3": SetSpec(DATA / "multidoc3" / "questions.jsonl", DATA / "multidoc3" / "corpus", blind=True),
    # The article and three news pages, written blind (tests/data/multidoc_heldout/README.md).
    "multidoc_heldout": SetSpec(
        DATA / "multidoc_heldout" / "questions.jsonl", DATA / "multidoc_heldout" / "corpus", blind=True
    ),
}
METADATA = "meta"  # lines about the documents themselves: the metadata route answers them, not ranking


@dataclass(frozen=True)
class Scored:
    """One answerable question: its candidates' feature rows (every column, the cosines too), and
    which candidates hold the answer."""

    features: F32
    ids: npt.NDArray[np.int32]
    gold: npt.NDArray[np.bool_]
    factor: F32 | None = field(default=None)  # each candidate's factor (a sentence that asks: less)

    def factors(self) -> F32:
        return self.factor if self.factor is not None else np.ones(len(self.ids), np.float32)


def _gold_sentences(ranker: Ranker, case: Case) -> set[int]:
    corpus = ranker.corpus
    found: set[int] = set()
    for i in range(len(corpus)):
        s = corpus.sentence(i)
        if any(s.document.name == a.document and s.start <= a.start < s.end for a in case.spans):
            found.add(i)
        if any(fold_space(g) in s.text for g in case.gold) and case.document in ("", s.document.name):
            found.add(i)
    return found


def _documents(spec: SetSpec) -> dict[str, str]:
    """The documents a set is asked of, by file name: its corpus folder's and its SQuAD articles."""
    documents: dict[str, str] = {}
    if spec.corpus is not None:
        for name, path in document_files(spec.corpus):
            documents[name] = Path(path).read_bytes().decode("utf-8")
    documents.update(read_question_set(spec.questions).documents)
    return documents


def composer_for(documents: dict[str, str], params: Bm25Params | None = None) -> Composer:
    """A composer over these documents, indexed with `params` (the fitted ones by default), with
    the re-ranking stage and every sentence's vector (kept in `.cache/` between runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in documents.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", newline="")
        settings = Settings(_env_file=None, corpus_dir=folder, cache_dir=CACHE, rerank=True)
        composer = engine.load(settings, params=params or fitted_params())
    if composer.ranker.semantic is not None:
        composer.ranker.semantic.vectors.fill()
        composer.ranker.semantic.vectors.flush()
    return composer


def ranker_for(documents: dict[str, str], params: Bm25Params | None = None) -> Ranker:
    """The ranker of `composer_for`."""
    return composer_for(documents, params).ranker


def load_set(name: str, params: Bm25Params | None = None) -> tuple[Ranker, list[Case]]:
    """The ranker over a set's own documents (indexed with `params`), and its questions."""
    spec = SETS[name]
    return ranker_for(_documents(spec), params), list(read_question_set(spec.questions).cases)


def load_together(
    names: Sequence[str], params: Bm25Params | None = None, *, blind: bool = True
) -> dict[str, list[Scored]]:
    """Every named set scored over one corpus holding all the sets' documents (the blind sets'
    too, unless `blind` is False: when fitting)."""
    documents: dict[str, str] = {}
    for spec in SETS.values():
        if blind or not spec.blind:
            documents.update(_documents(spec))
    ranker = ranker_for(documents, params)
    return {name: list(tables(ranker, read_question_set(SETS[name].questions).cases)) for name in names}


def fitting_tables(names: Sequence[str], params: Bm25Params) -> list[list[Scored]]:
    """Each fitting set's tables: asked of its own documents, and beside every other (not blind)
    document, both of which should rank well."""
    together = load_together(names, params, blind=False)
    return [[*tables(*load_set(name, params)), *together[name]] for name in names]


_QUESTION_VECTORS: dict[str, F32] = {}  # a question's vector, the same in every corpus


def question_vectors(ranker: Ranker, questions: Iterable[str]) -> dict[str, F32]:
    """The model's vectors of `questions` (computed in one batch, then remembered)."""
    wanted = list(dict.fromkeys(questions))
    if ranker.semantic is not None:
        todo = [q for q in wanted if q not in _QUESTION_VECTORS]
        if todo:
            _QUESTION_VECTORS.update(zip(todo, ranker.semantic.model.embed(todo), strict=True))
    return {q: _QUESTION_VECTORS[q] for q in wanted if q in _QUESTION_VECTORS}


def tables(ranker: Ranker, cases: Sequence[Case]) -> Iterator[Scored]:
    """The candidates of every answerable question, with their features (the cosines of every
    candidate too, whatever the pool, so that the pool size can be fitted)."""
    answerable = [c for c in cases if c.answerable and c.kind != METADATA]
    vectors = question_vectors(ranker, (c.question for c in answerable))
    semantic = ranker.semantic
    for case in answerable:
        gold = _gold_sentences(ranker, case)
        question = ranker.question(case.question)
        ranked = ranker.rank(question, rerank=False)
        features = ranked.features.copy()
        if semantic is not None and case.question in vectors and len(ranked.ids):
            vector = vectors[case.question]
            features[:, SEMANTIC:MEANING] = ranker.table.cosines(vector, ranked.ids, semantic.vectors)
            features[:, MEANING] = ranker.meaning_of_documents(question, ranked.ids)
        yield Scored(features, ranked.ids, np.isin(ranked.ids, sorted(gold)), ranker.factors(ranked.ids))


def measure(scored: Sequence[Scored], weights: F32, pool: int = 0) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@3 of the answer sentence: lexical order (`pool` 0), or re-ranked."""
    h1 = h3 = rr = 0.0
    for s in scored:
        if not len(s.ids):
            continue
        if pool > 0:
            order = reranked_order(s.features, s.ids, s.factors(), weights, pool)[0][:3]
        else:
            lexical = s.features[:, :SEMANTIC] @ weights[:SEMANTIC] * s.factors()
            order = np.lexsort((s.ids, -lexical))[:3].astype(np.int32)
        hits = np.flatnonzero(s.gold[order])
        if len(hits):
            rank = int(hits[0]) + 1
            h1 += rank == 1
            h3 += 1
            rr += 1 / rank
    n = len(scored) or 1
    return h1 / n, h3 / n, rr / n


BM25_GRID = [Bm25Params(k1=k1, b=b) for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.3, 0.5, 0.75)]
GRID = {
    "paragraph": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "document": (0.0, 0.25, 0.5, 1.0),
    "antecedent": (0.0, 0.2, 0.4, 0.6, 0.8),
    "answer_type": (0.0, 0.1, 0.2, 0.3),
}
# The document step's columns, fitted with the others by coordinate descent from the grid's best.
DOCUMENT_GRID = {
    "about": (0.0, 0.25, 0.5, 1.0, 2.0, 3.0),
    "title": (0.0, -0.25, -0.5, -1.0),
    "content": (0.0, 0.25, 0.5, 1.0, 2.0),
}
LEXICAL_GRID = {**GRID, **DOCUMENT_GRID}
COSINE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
RERANK_GRID = {
    **LEXICAL_GRID,
    "cos_sentence": COSINE_GRID,
    "cos_window": COSINE_GRID,
    "cos_paragraph": COSINE_GRID,
    "meaning_document": (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0),
}
POOLS = (10, 20, 40, 1000)  # 1000: every candidate (BM25's 40 and their followers)


def balanced(groups: Sequence[Sequence[Scored]], weights: F32, pool: int = 0) -> tuple[float, float, float]:
    """hit@1, hit@3 and MRR@3 averaged over the fitting sets, each counting alike whatever its
    size (Notre Dame's 269 questions would otherwise outweigh the article's 23)."""
    figures = np.array([measure(group, weights, pool) for group in groups if group])
    h1, h3, mrr = figures.mean(axis=0).tolist()
    return h1, h3, mrr


def fit(groups: Sequence[Sequence[Scored]]) -> tuple[Weights, tuple[float, float, float]]:
    """The lexical grid point with the best balanced MRR@3 (the smallest weights among equals),
    then every lexical weight, the document step's too, by coordinate descent from it."""
    best, best_figures = Weights(), (-1.0, -1.0, -1.0)
    names = list(GRID)
    for values in itertools.product(*(GRID[n] for n in names)):
        weights = replace(Weights(), **dict(zip(names, values, strict=True)))
        figures = balanced(groups, weights.vector())
        if figures[2] > best_figures[2]:
            best, best_figures = weights, figures
    return descend(groups, best, best_figures, LEXICAL_GRID)


def descend(
    groups: Sequence[Sequence[Scored]],
    start: Weights,
    figures: tuple[float, float, float],
    grid: dict[str, tuple[float, ...]],
    pool: int = 0,
    rounds: int = 6,
) -> tuple[Weights, tuple[float, float, float]]:
    """Coordinate descent: each weight of `grid` in turn set to its best value, the others held,
    until none improves the balanced MRR@3 (`pool` 0: the lexical order), `rounds` at most."""
    best_weights, best = start, figures
    for _ in range(rounds):
        improved = False
        for name, values in grid.items():
            for value in values:
                weights = replace(best_weights, **{name: value})
                candidate = balanced(groups, weights.vector(), pool)
                if candidate[2] > best[2] + 1e-9:
                    best, best_weights, improved = candidate, weights, True
        if not improved:
            break
    return best_weights, best


def fit_rerank(
    groups: Sequence[Sequence[Scored]], start: Weights
) -> tuple[Weights, int, tuple[float, float, float]]:
    """The re-ranking weights and pool with the best balanced MRR@3, by coordinate descent from
    `start`: each weight in turn set to its grid's best value, all others held, until none improves."""
    best_weights, best_pool = start, POOLS[-1]
    best = balanced(groups, best_weights.vector(), best_pool)
    for _ in range(6):
        weights, figures = descend(groups, best_weights, best, RERANK_GRID, best_pool, rounds=1)
        improved = figures[2] > best[2] + 1e-9
        best_weights, best = weights, figures
        for pool in POOLS:
            figures = balanced(groups, best_weights.vector(), pool)
            if figures[2] > best[2] + 1e-9:
                best, best_pool, improved = figures, pool, True
        if not improved:
            break
    return best_weights, best_pool, best


# ----------------------------------------------------------------------------- declining


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
        grouped.setdefault(tuple(sorted(_documents(SETS[name]))), []).append(name)
    squad = [n for n in names if n in SQUAD_SETS]
    if together and len(squad) > 1:
        grouped[tuple(sorted(d for n in squad for d in _documents(SETS[n])))] = squad
    out = []
    for key, members in grouped.items():
        documents = {n: t for m in members for n, t in _documents(SETS[m]).items()}
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


def cases_of(name: str) -> list[Case]:
    return list(read_question_set(SETS[name].questions).cases)


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


# ----------------------------------------------------------------------------- several documents

SQUAD_SETS = ("notre_dame", "reykjavik", "ssh_guide", "gw_news")  # one SQuAD-format document each


def squad_together() -> list[str]:
    """Whole answers (`python -m bot eval`'s hit@1 and hit@3, re-ranked) to each SQuAD-format set
    asked of its own document alone and of all four documents in one corpus."""

    def scored(documents: dict[str, str], name: str) -> tuple[float, float]:
        composer = composer_for(documents)
        report = evaluate(cases_of(name), lambda q: composer.answer(q, limit=DEPTH))
        return report.hit_at_1, report.hit_at_3

    together = {n: t for name in SQUAD_SETS for n, t in _documents(SETS[name]).items()}
    head = f"  {'set':12} {'alone hit@1':>12} {'hit@3':>6}   {'together hit@1':>14} {'hit@3':>6}"
    lines = [head + f"   {'hit@1 change':>12}"]
    for name in SQUAD_SETS:
        (a1, a3), (t1, t3) = scored(_documents(SETS[name]), name), scored(together, name)
        lines.append(f"  {name:12} {a1:12.3f} {a3:6.3f}   {t1:14.3f} {t3:6.3f}   {t1 - a1:+12.3f}")
    return lines


# ----------------------------------------------------------------------------- the command


def _print_figures(
    names: Sequence[str], fitted: Sequence[str], weights: Weights, pool: int, params: Bm25Params, label: str
) -> dict[str, dict[str, float]]:
    loaded = {name: list(tables(*load_set(name, params))) for name in names}
    together = load_together(names, params)
    rows: dict[str, dict[str, float]] = {}
    for name in names:
        kind = "fitted on" if name in fitted else "out of sample"
        for where, scored in (("alone", loaded[name]), ("together", together[name])):
            h1, h3, mrr = measure(scored, weights.vector(), pool)
            rows[f"{name} ({where})"] = {"hit@1": round(h1, 3), "hit@3": round(h3, 3), "mrr@3": round(mrr, 3)}
            print(
                f"  {label:9} {name:16} {where:8} {kind:13} hit@1 {h1:.3f}  hit@3 {h3:.3f}  MRR@3 {mrr:.3f}"
                f"  ({len(scored)} q)"
            )
    return rows


def _command(argv: Sequence[str] | None) -> str:
    """The command that fitted what is written, as a person would type it."""
    return "python -m benchmarks.fit " + " ".join(sys.argv[1:] if argv is None else argv)


def _write(record: dict[str, object]) -> None:
    WEIGHTS_FILE.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS_FILE}")


def _print_declining(abstain: Abstain, counts: tuple[int, int, int, int]) -> None:
    print(
        f"declining: quantile={abstain.quantile} coverage_weight={abstain.coverage_weight} "
        f"rescue={abstain.rescue} power={abstain.power}: on the fitting sets {counts[2]}/{counts[3]} "
        f"declined, {counts[0]}/{counts[1]} falsely",
        flush=True,
    )


def _fit_abstain_only(
    fit_sets: Sequence[str], only: Sequence[str] | None, write: bool, argv: Sequence[str] | None
) -> int:
    """`--abstain`: declining's parameters on the fitting sets' corpora and questions, the
    ranking held (`--only power`: that alone, the rest as stored); with `write`, stored with the
    command that chose them."""
    if only and set(only) != {"power"}:
        raise SystemExit("--abstain --only takes power alone")
    fitting = folders(fit_sets, together=True)
    held = Rerank.load().abstain if only else None
    rows = asked_of(fitting, fit_sets)
    abstain, counts = fit_abstain(rows, {",".join(f.key): f.off_topic for f in fitting}, held)
    _print_declining(abstain, counts)
    if write:
        stored = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
        stored["rerank"]["abstain"] = asdict(abstain)
        stored["abstain_command"] = _command(argv)
        _write(stored)
    print("\n".join(declines_report(abstain)))
    return 0


def _fit_only(
    fit_sets: Sequence[str],
    report: Sequence[str],
    only: Sequence[str],
    write: bool,
    argv: Sequence[str] | None,
) -> int:
    """`--only`: the named weights, lexical and re-ranking, by coordinate descent from the stored
    ones; everything else held."""
    stored = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))
    params, rerank = fitted_params(), Rerank.load()
    scored = fitting_tables(fit_sets, params)
    grid = {name: RERANK_GRID[name] for name in only}
    start = Weights.load()
    weights, lexical = descend(scored, start, balanced(scored, start.vector()), grid)
    reranked, figures = descend(
        scored, rerank.weights, balanced(scored, rerank.weights.vector(), rerank.pool), grid, rerank.pool
    )
    print(
        f"fitted {', '.join(only)} on {', '.join(fit_sets)}, the rest held: "
        f"lexical {', '.join(f'{n}={getattr(weights, n)}' for n in only)} (MRR@3 {lexical[2]:.3f}); "
        f"reranked {', '.join(f'{n}={getattr(reranked, n)}' for n in only)} (MRR@3 {figures[2]:.3f})",
        flush=True,
    )
    names = list(dict.fromkeys([*fit_sets, *report]))
    figures_lexical = _print_figures(names, fit_sets, weights, 0, params, "lexical")
    figures_reranked = _print_figures(names, fit_sets, reranked, rerank.pool, params, "reranked")
    if write:
        held = {key: stored[key] for key in ("fitted_on", "command") if key in stored}
        stored["weights"] = weights.as_dict()
        stored["rerank"]["weights"] = reranked.as_dict()
        stored["held_from"] = stored.get("held_from", held)  # what fitted the weights held
        stored["fitted_on"] = list(fit_sets)
        stored["command"] = _command(argv)
        stored["sentence_figures"] = {"lexical": figures_lexical, "reranked": figures_reranked}
        _write(stored)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Fit on some sets, report on others; optionally store the weights."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fit", nargs="+", choices=sorted(n for n, spec in SETS.items() if not spec.blind), metavar="SET"
    )
    parser.add_argument("--report", nargs="*", choices=sorted(SETS), default=None, metavar="SET")
    parser.add_argument(
        "--write", action="store_true", help=f"store the fitted weights in {WEIGHTS_FILE.name}"
    )
    parser.add_argument(
        "--declines", action="store_true", help="ask each set's questions of the other sets' documents"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*FEATURES[1:], "power"],
        metavar="NAME",
        help="fit only these weights, holding the others, k1, b, the pool and declining as stored "
        "(with --abstain: power, declining's other numbers held)",
    )
    parser.add_argument(
        "--abstain",
        action="store_true",
        help="fit only declining's parameters (percentile, covered weight, power), the ranking held",
    )
    parser.add_argument(
        "--squad-together",
        action="store_true",
        help="whole answers to each SQuAD-format set, its document alone and all four in one corpus",
    )
    args = parser.parse_args(argv)
    if args.declines:
        print("\n".join(declines_report()))
        return 0
    if args.squad_together:
        print("\n".join(squad_together()))
        return 0
    if not args.fit:
        parser.error("--fit SET... is needed (or --declines)")
    report = args.report if args.report is not None else [s for s in SETS if s not in args.fit]
    if args.only and "power" in args.only and not args.abstain:
        parser.error("power is declining's: --abstain --only power")
    if args.abstain:
        return _fit_abstain_only(args.fit, args.only, args.write, argv)
    if args.only:
        return _fit_only(args.fit, report, args.only, args.write, argv)
    # The BM25 parameters are fitted with the lexical weights: each needs its own index.
    best: tuple[float, Bm25Params, Weights, list[list[Scored]]] | None = None
    for params in BM25_GRID:
        scored = fitting_tables(args.fit, params)
        weights, figures = fit(scored)
        print(f"  k1={params.k1} b={params.b}: MRR@3 {figures[2]:.3f} on {', '.join(args.fit)}", flush=True)
        if best is None or figures[2] > best[0]:
            best = (figures[2], params, weights, scored)
    assert best is not None
    _, params, weights, scored = best
    reranked, pool, figures = fit_rerank(scored, weights)
    print(
        f"fitted on {', '.join(args.fit)}: k1={params.k1} b={params.b}\n"
        f"  lexical:   " + ", ".join(f"{n}={getattr(weights, n)}" for n in FEATURES[:SEMANTIC]) + "\n"
        "  reranked:  " + ", ".join(f"{n}={getattr(reranked, n)}" for n in FEATURES) + f", pool={pool}"
        f" (MRR@3 {figures[2]:.3f} on the fitting sets)",
        flush=True,
    )
    names = list(dict.fromkeys([*args.fit, *report]))
    figures_lexical = _print_figures(names, args.fit, weights, 0, params, "lexical")
    figures_reranked = _print_figures(names, args.fit, reranked, pool, params, "reranked")
    # Declining: fitted on the fitting sets' corpora and questions only.
    fitting = folders(args.fit)
    abstain, counts = fit_abstain(
        asked_of(fitting, args.fit), {",".join(f.key): f.off_topic for f in fitting}
    )
    _print_declining(abstain, counts)
    if args.write:
        record = {
            "weights": weights.as_dict(),
            "bm25": {"variant": params.variant, "k1": params.k1, "b": params.b},
            "rerank": {
                "weights": reranked.as_dict(),
                "pool": pool,
                "abstain": asdict(abstain),
            },
            "fitted_on": args.fit,
            "command": _command(argv),
            "sentence_figures": {"lexical": figures_lexical, "reranked": figures_reranked},
        }
        _write(record)
        fitted_params.cache_clear()  # the declines below answer with what was just written
        print("\n".join(declines_report()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
