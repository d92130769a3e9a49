"""The named question sets, the corpus folder each is asked of, and a composer over a set's documents."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot import engine
from bot.answer.composer import Composer
from bot.config import PROJECT_ROOT, Settings
from bot.documents.folder import document_files
from bot.evaluate import Case, read_question_set
from bot.search.ranking import Ranker, fitted_params
from bot.search.retriever import Bm25Params

DATA = PROJECT_ROOT / "tests" / "data"
CORPUS = PROJECT_ROOT / "corpus"
CACHE = PROJECT_ROOT / ".cache"  # sentence vectors are kept there between runs (by file content)


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
SQUAD_SETS = ("notre_dame", "reykjavik", "ssh_guide", "gw_news")  # one SQuAD-format document each


def documents_of(spec: SetSpec) -> dict[str, str]:
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
    return ranker_for(documents_of(spec), params), list(read_question_set(spec.questions).cases)


def cases_of(name: str) -> list[Case]:
    """A named set's questions."""
    return list(read_question_set(SETS[name].questions).cases)
