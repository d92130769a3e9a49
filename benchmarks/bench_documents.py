"""The cost of the document step (which document a question is about) at scale.

    python -m benchmarks.bench_documents                 # 100,000 sentences in 1,000 documents
    python -m benchmarks.bench_documents --documents 100 --per-file 100 --questions 50

Writes a corpus of prose-like documents (`bench_load.prose`: Zipfian words from wordfreq, names,
numbers, quotations) with front matter as `add` writes it (a title, a subtitle, an author, a site
and a source address, drawn from a few hundred names and outlets), loads it, and times, question by
question: the document step's fit over every document (`DocumentStep.fit`), the metadata route
(`bot.answer.metadata`, which runs the step on a question's remaining words), and the whole answer
by words (`RERANK=false`: the re-ranker's own cost is `bench_rerank`'s to measure).
Content questions are drawn from the corpus's sentences; metadata questions name a document by its
subject, outlet or author. Needs the bench extras (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.bench import vocabulary
from benchmarks.bench_load import prose
from bot import engine
from bot.answer import metadata
from bot.answer.composer import Composer
from bot.config import Settings
from bot.search.ranking import Question, Ranker


def write_documents(
    folder: Path, rng: np.random.Generator, words: list[str], p: np.ndarray, documents: int, per_file: int
) -> list[dict[str, str]]:
    """`documents` Markdown files of `per_file` sentences with front matter; their fields."""
    names = [w.capitalize() for w in words[2000:6000] if w.isalpha()]
    authors = [f"{names[i]} {names[i + 1]}" for i in range(0, 600, 2)]
    outlets = [f"The {names[i]} {names[i + 1]}" for i in range(1000, 1200, 2)]
    sentences = prose(rng, words, p, documents * per_file)
    fields = []
    for d in range(documents):
        chunk = sentences[d * per_file : (d + 1) * per_file]
        paragraphs = [" ".join(chunk[i : i + 4]) for i in range(0, len(chunk), 4)]
        outlet = outlets[int(rng.integers(len(outlets)))]
        field = {
            "title": " ".join(chunk[0].split()[:8]).strip('“”",.?!'),
            "subtitle": " ".join(chunk[1].split()[:14]).strip('“”",.?!'),
            "author": authors[int(rng.integers(len(authors)))],
            "site": outlet,
            "host": outlet.lower().replace("the ", "").replace(" ", ""),
        }
        front = (
            f"---\ntitle: {field['title']}\nsubtitle: {field['subtitle']}\nauthor: {field['author']}\n"
            f"site: {field['site']}\nsource: https://www.{field['host']}.com/news/{d}\n---\n\n"
        )
        (folder / f"story{d:05d}.md").write_text(front + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        fields.append(field)
    return fields


def questions(
    rng: np.random.Generator, composer: Composer, fields: list[dict[str, str]], n: int
) -> list[str]:
    """Half content questions (words of a sentence), half metadata questions naming a document."""
    corpus = composer.corpus
    asked = []
    for i in range(n):
        if i % 2 == 0:
            words = corpus.sentence(int(rng.integers(len(corpus)))).text.split()
            asked.append("What about " + " ".join(words[: min(len(words), 8)]).strip('“”",.?!') + "?")
            continue
        field = fields[int(rng.integers(len(fields)))]
        subject = " ".join(field["title"].split()[:4])
        asked.append(
            [
                f"Who wrote the article about {subject}?",
                f"When was the {field['site']} story published?",
                f"What else did {field['author']} write?",
            ][i // 2 % 3]
        )
    return asked


def timed(call: Callable[[], object]) -> float:
    """Seconds one call takes."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def spread(seconds: Sequence[float]) -> str:
    """p50 and p99 in milliseconds."""
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms"


def run(documents: int, per_file: int, n_questions: int, seed: int) -> list[str]:
    """Build the corpus, time the document step; the report lines."""
    import wordfreq

    rng = np.random.default_rng(seed)
    words, p = vocabulary(wordfreq, 20_000)
    keep = [i for i, w in enumerate(words) if w.isalpha()]
    words, p = [words[i] for i in keep], p[keep] / p[keep].sum()
    with tempfile.TemporaryDirectory(prefix="bench-documents-") as tmp:
        folder = Path(tmp)
        fields = write_documents(folder, rng, words, p, documents, per_file)
        # The document step is lexical; the re-ranker (timed by bench_rerank) would embed 100,000
        # sentences first.
        composer = engine.load(Settings(_env_file=None, corpus_dir=folder, use_cache=False, rerank=False))
    ranker = composer.ranker
    build = timed(ranker.step.described)  # the descriptions' postings, built on first use
    asked = questions(rng, composer, fields, n_questions)
    parsed = [ranker.question(q) for q in asked]
    for q in parsed[:10]:  # warm the caches a running bot has warm
        composer.answer(q.text)
    fit = [timed(lambda q=q: ranker.about(q)) for q in parsed]  # type: ignore[misc]
    route = [
        timed(lambda q=q: metadata.about_documents(composer.corpus, q.text, q, ranker, composer.highlight))  # type: ignore[misc]
        for q in parsed
    ]
    whole = [timed(lambda q=q: composer.answer(q.text)) for q in parsed]  # type: ignore[misc]
    # The within-document IDF of the sentence and paragraph features, on each question's candidates.
    candidates = [ranker.rank(q).ids for q in parsed]
    within = [
        timed(lambda q=q, ids=ids: _within(ranker, q, ids))  # type: ignore[misc]
        for q, ids in zip(parsed, candidates, strict=True)
    ]
    meta = sum(
        1
        for q in asked
        if not composer.answer(q).excerpts or composer.answer(q).excerpts[0].citation.startswith("metadata")
    )
    return [
        f"document step: {len(composer.corpus):,} sentences in {len(composer.corpus.documents):,} documents, "
        f"{len(asked)} questions (half naming a document by subject, outlet or author)",
        f"  descriptions' postings, built once on first use  {build * 1000:8.1f} ms",
        f"  fit over every document, per question           {spread(fit)}",
        f"  metadata route (field words, fit, choice)        {spread(route)}",
        f"  within-document IDF (Index.within), candidates   {spread(within)}",
        f"  whole answer, for scale                         {spread(whole)}",
        f"  ({meta} of {len(asked)} answered from metadata or declined)",
    ]


def _within(ranker: Ranker, question: Question, ids: npt.NDArray[np.int32]) -> None:
    """What the features add for several documents: each query term's IDF within the candidates'
    documents, for sentences and paragraphs."""
    terms, groups = [q.term for q in question.query], ranker.within
    ranker.index.within(terms, ids, ranker.corpus.doc_of, groups.sentences)
    ranker.paragraphs.within(terms, ranker.paragraph_of[ids], groups.paragraph_document, groups.paragraphs)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_documents", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--documents", type=int, default=1000, help="documents (default 1,000)")
    parser.add_argument("--per-file", type=int, default=100, help="sentences a document (default 100)")
    parser.add_argument("--questions", type=int, default=200, help="questions timed (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print("\n".join(run(args.documents, args.per_file, args.questions, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
