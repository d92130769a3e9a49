"""Training groups for the reader, made with the bot's own sentence splitter and ranker.

    python -m training.data --squad ../shared/squad/train-v1.0.json --out .cache/reader/train.jsonl.gz

Each SQuAD article becomes a corpus of one document, as `python -m bot eval` makes it (its
paragraphs a blank line apart), loaded by the bot's engine, so the sentences are the ones the bot
shows and the candidates the ones it ranks. The candidates are the words-only order
(`RERANK=false`): the re-ranker re-orders the first `pool` (10) of that very order, so its first
ten are the same sentences, and no sentence vector is needed (an hour saved on two cores). One JSON line an
article: its sentences' texts and paragraphs, and for each question the sentence that holds the
answer (with the answer's place in its text), the bot's first candidates in its order, those of
them that do not hold the answer (its actual mistakes, best first), and the rank the bot gave the
answer's sentence. A question
without an answer (SQuAD v2.0's `is_impossible`) keeps the bot's candidates alone.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import engine
from bot.answer.composer import Composer
from bot.config import Settings
from bot.documents.corpus import Corpus
from bot.evaluate import squad_document_name
from bot.text import fold_space

CANDIDATES = 10  # the bot's first candidates kept for each question (the reader reads fewer)
# The Notre Dame set (tests/data/eval/squad/notre_dame.json) fits the ranking weights: out of training.
EXCLUDED = frozenset({"University_of_Notre_Dame"})


@dataclass(frozen=True)
class Article:
    """One SQuAD article: its title, its paragraphs, and each paragraph's questions."""

    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[tuple[int, str, str | None, int], ...]  # paragraph, question, answer text, answer start


def read_articles(
    path: Path, exclude: frozenset[str] = EXCLUDED, per_article: int = 0, seed: int = 0
) -> list[Article]:
    """The articles of a SQuAD v1.1 or v2.0 file, those in `exclude` left out; with `per_article`,
    at most that many of each article's questions (a seeded sample)."""
    rng = random.Random(seed)
    data = json.loads(path.read_text(encoding="utf-8"))
    articles = []
    for article in data["data"]:
        title = str(article.get("title", "article"))
        if title in exclude:
            continue
        paragraphs: list[str] = []
        questions: list[tuple[int, str, str | None, int]] = []
        for p, paragraph in enumerate(article["paragraphs"]):
            context = str(paragraph["context"]).strip("\n")
            paragraphs.append(context)
            for qa in paragraph["qas"]:
                answers = [
                    a
                    for a in qa.get("answers", [])
                    if context[int(a["answer_start"]) :].startswith(a["text"])
                ]
                if qa.get("is_impossible") or not answers:
                    if qa.get("is_impossible"):
                        questions.append((p, str(qa["question"]), None, -1))
                    continue
                first = answers[0]
                questions.append((p, str(qa["question"]), str(first["text"]), int(first["answer_start"])))
        if per_article and len(questions) > per_article:
            questions = [questions[i] for i in sorted(rng.sample(range(len(questions)), per_article))]
        articles.append(Article(title, tuple(paragraphs), tuple(questions)))
    return articles


def load_corpus(title: str, paragraphs: Sequence[str]) -> Composer:
    """The bot's composer over one article, its paragraphs a blank line apart (as `bot eval`
    reads SQuAD), ranking by words."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / squad_document_name(title)).write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False, rerank=False)
        return engine.load(settings)


def answer_place(text: str, answer: str, near: int) -> list[int] | None:
    """Where `answer` stands in a sentence's (space-folded) text: the occurrence nearest `near`."""
    wanted = fold_space(answer)
    found, at = [], text.find(wanted)
    while at >= 0 and wanted:
        found.append(at)
        at = text.find(wanted, at + 1)
    if not found:
        return None
    start = min(found, key=lambda s: abs(s - near))
    return [start, start + len(wanted)]


def holds(text: str, answer: str) -> bool:
    """Whether a sentence's text holds the answer's words (it answers too: no negative)."""
    return fold_space(answer).lower() in text.lower()


def article_groups(article: Article) -> dict[str, Any]:
    """One article's sentences and, for each of its questions, the answer's sentence and the bot's
    candidates that do not hold the answer."""
    composer = load_corpus(article.title, article.paragraphs)
    corpus: Corpus = composer.ranker.corpus
    ranker = composer.ranker
    sentences = [corpus.sentence(i) for i in range(len(corpus))]
    paragraph_of = ranker.table.paragraph_of.tolist()
    offsets, at = [], 0
    for paragraph in article.paragraphs:
        offsets.append(at)
        at += len(paragraph) + 2
    questions = []
    for p, question, answer, start in article.questions:
        ranked = ranker.rank(ranker.question(question))
        order = ranked.ids.tolist()
        record: dict[str, Any] = {"q": question, "paragraph": p, "order": order[:CANDIDATES]}
        if answer is None:
            record["candidates"] = order[:CANDIDATES]
            record["gold"] = None
            questions.append(record)
            continue
        where = offsets[p] + start
        gold = next((s.id for s in sentences if s.start <= where < s.end), None)
        if gold is None:
            continue
        place = answer_place(sentences[gold].text, answer, where - sentences[gold].start)
        record["gold"] = gold
        record["answer"] = place
        record["gold_rank"] = order.index(gold) if gold in order else -1
        record["candidates"] = [
            i for i in order[:CANDIDATES] if i != gold and not holds(sentences[i].text, answer)
        ]
        record["others"] = [
            i for i in range(len(sentences)) if i != gold and holds(sentences[i].text, answer)
        ]
        questions.append(record)
    return {
        "title": article.title,
        "sentences": [s.text for s in sentences],
        "paragraph_of": paragraph_of,
        "questions": questions,
    }


def _work(article: Article) -> str:
    logging.disable(logging.WARNING)
    return json.dumps(article_groups(article), ensure_ascii=False)


def build(articles: Sequence[Article], out: Path, workers: int = 1) -> Iterator[str]:
    """Write the groups of `articles` to `out` (gzipped JSON Lines), yielding each title when done."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as sink:
        if workers <= 1:
            lines: Iterator[str] = map(_work, articles)
            for article, line in zip(articles, lines, strict=True):
                sink.write(line + "\n")
                yield article.title
        else:
            with ProcessPoolExecutor(workers) as pool:
                for article, line in zip(articles, pool.map(_work, articles, chunksize=4), strict=True):
                    sink.write(line + "\n")
                    yield article.title


def read_groups(path: Path) -> list[dict[str, Any]]:
    """The articles' groups written by `build`."""
    with gzip.open(path, "rt", encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, required=True, help="a SQuAD v1.1 or v2.0 JSON file")
    parser.add_argument("--out", type=Path, required=True, help="where to write the groups (.jsonl.gz)")
    parser.add_argument("--articles", type=int, default=0, help="only the first N articles (0: all)")
    parser.add_argument("--only", nargs="*", default=None, help="only the articles with these titles")
    parser.add_argument("--per-article", type=int, default=0, help="at most N questions an article (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of that sample")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    args = parser.parse_args(argv)
    articles = read_articles(args.squad, per_article=args.per_article, seed=args.seed)
    if args.only is not None:
        articles = [a for a in articles if a.title in set(args.only)]
    if args.articles:
        articles = articles[: args.articles]
    for n, title in enumerate(build(articles, args.out, args.workers), start=1):
        print(f"{n}/{len(articles)} {title}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
