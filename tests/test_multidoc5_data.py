"""The fifth multi-document set (`tests/data/multidoc5/`, written blind) stays sound: every line is
well formed, every named document is in its corpus, every gold of an answerable question stands in
the document it names (white space folded), unrelated questions have no gold, kinds are the four
allowed, and the counts are those its README states."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DATA

SET = DATA / "multidoc5"
CORPUS = SET / "corpus"
QUESTIONS = SET / "questions.jsonl"
KINDS = ("lexical", "paraphrase", "meta", "unrelated")
COUNTS = {"lexical": 41, "paraphrase": 31, "meta": 16, "unrelated": 25}  # the README's table
DOCUMENTS = {
    "article.txt",
    "harlow-memorial-and-cedar-gap-community-hospital-agree-to-merge.md",
    "pantry-plus-recalls-chicken-salad-and-deli-wraps-after-listeria-cases-in-larkin.md",
    "preparing-your-home-for-wildfire-season.md",
    "recount-confirms-vasquez-won-cedar-gap-mayors-race-by-four-votes.md",
    "wildfire-forces-evacuation-of-2-000-near-bramble-peak-ski-resort.md",
}


def _fold(text: str) -> str:
    return " ".join(text.split())


def _rows() -> list[dict[str, Any]]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _front_matter_values(path: Path) -> set[str]:
    """A document's front matter values as text; a list also as its names joined with " and "."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return set()
    meta = yaml.safe_load(text[4 : text.index("\n---", 4)])
    values: set[str] = set()
    for value in meta.values():
        if isinstance(value, list):
            names = [str(v) for v in value]
            values.update(names)
            values.add(" and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0])
        else:
            values.add(str(value))
    return values


ROWS = _rows()


def test_the_corpus_holds_the_six_documents_and_the_four_pages() -> None:
    assert {p.name for p in CORPUS.iterdir()} == DOCUMENTS
    assert len(list((SET / "pages").glob("*.html"))) == 4
    assert (CORPUS / "article.txt").read_bytes() == (DATA / "seed" / "article.txt").read_bytes()


def test_every_line_is_well_formed() -> None:
    for row in ROWS:
        assert set(row) <= {"q", "gold", "kind", "document"}, row
        assert isinstance(row["q"], str) and row["q"].strip(), row
        assert row["kind"] in KINDS, row
        assert isinstance(row["gold"], list), row
        assert all(isinstance(g, str) and g.strip() for g in row["gold"]), row


def test_the_counts_per_kind_are_the_readmes() -> None:
    assert collections.Counter(row["kind"] for row in ROWS) == COUNTS


def test_no_question_is_asked_twice() -> None:
    folded = [" ".join(re.sub(r"[^\w\s]", "", row["q"].lower()).split()) for row in ROWS]
    assert [q for q, n in collections.Counter(folded).items() if n > 1] == []


def test_unrelated_questions_and_only_they_have_no_gold_and_no_document() -> None:
    for row in ROWS:
        if row["kind"] == "unrelated":
            assert row["gold"] == [] and "document" not in row, row
        else:
            assert row["gold"] and row.get("document"), row


def test_every_named_document_is_in_the_corpus() -> None:
    for row in ROWS:
        if "document" in row:
            assert row["document"] in DOCUMENTS, row
            assert (CORPUS / row["document"]).is_file(), row


@pytest.mark.parametrize("row", [r for r in ROWS if r["kind"] != "unrelated"], ids=lambda r: r["q"][:60])
def test_every_gold_stands_in_its_document(row: dict[str, Any]) -> None:
    """A gold is in its document's text, white space folded; a metadata gold may instead be a front
    matter value (an `authors:` list joined with " and ", as `about` shows it)."""
    path = CORPUS / row["document"]
    text = _fold(path.read_text(encoding="utf-8"))
    fields = _front_matter_values(path) if row["kind"] == "meta" else set()
    for gold in row["gold"]:
        assert _fold(gold) in text or gold in fields, (row["q"], gold)
