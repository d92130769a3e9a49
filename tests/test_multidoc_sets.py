"""The several-documents sets written blind by this project's engineers (`tests/data/multidoc2/`
to `multidoc5/`, each with a README saying how) stay sound: every line is well formed, every named
document is in its corpus, every gold of an answerable question stands in the document it names
(white space folded), unrelated questions have no gold, and the counts are those each README
states."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from tests.conftest import DATA

KINDS = ("lexical", "paraphrase", "meta", "unrelated")


class Spec(NamedTuple):
    counts: dict[str, int]  # the README's table
    documents: set[str]  # the corpus folder, whole


SETS = {
    "multidoc2": Spec(
        {"lexical": 41, "paraphrase": 31, "meta": 18, "unrelated": 26},
        {
            "article.txt",
            "geneva-council-backs-380-million-franc-plan-to-cool-the-city-with-lake-water.md",
            "kingston-hospital-to-be-cooled-by-lake-ontario-in-12-4-million-pilot.md",
            "millbrook-to-replace-every-lead-water-pipe-in-the-city-by-2031.md",
            "sharpening-a-kitchen-knife-on-a-whetstone.md",
            "south-korean-city-floats-92-000-solar-panels-on-its-reservoir.md",
        },
    ),
    "multidoc3": Spec(
        {"lexical": 45, "paraphrase": 29, "meta": 18, "unrelated": 26},
        {
            "aldermouth-athletic-fc.md",
            "aldermouth-athletic-win-approval-for-42-000-seat-stadium-on-old-gasworks-site.md",
            "aldermouth-bus-and-tram-drivers-to-strike-on-derby-weekend-after-rejecting-pay.md",
            "article.txt",
            "edith-marsh-painting-of-quarry-lane-stolen-from-aldermouth-maritime-museum.md",
            "ghent-trams-and-buses-halted-as-drivers-strike-over-pay-and-split-shifts.md",
        },
    ),
    "multidoc4": Spec(
        {"lexical": 44, "paraphrase": 29, "meta": 18, "unrelated": 26},
        {
            "article.txt",
            "dredgers-find-wreck-of-the-juno-lost-in-1742-under-salterne-harbour.md",
            "history-of-salterne.md",
            "northwind-air-pilots-begin-72-hour-strike-grounding-more-than-300-flights.md",
            "rolling-blackouts-hit-four-salterne-districts-as-heatwave-breaks-citys.md",
            "students-occupy-university-of-salterne-library-over-9-per-cent-tuition-rise.md",
        },
    ),
    "multidoc5": Spec(
        {"lexical": 41, "paraphrase": 31, "meta": 16, "unrelated": 25},
        {
            "article.txt",
            "harlow-memorial-and-cedar-gap-community-hospital-agree-to-merge.md",
            "pantry-plus-recalls-chicken-salad-and-deli-wraps-after-listeria-cases-in-larkin.md",
            "preparing-your-home-for-wildfire-season.md",
            "recount-confirms-vasquez-won-cedar-gap-mayors-race-by-four-votes.md",
            "wildfire-forces-evacuation-of-2-000-near-bramble-peak-ski-resort.md",
        },
    ),
}


def _fold(text: str) -> str:
    return " ".join(text.split())


def _rows(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name / "questions.jsonl").read_text(encoding="utf-8").splitlines()
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
            values.add(", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])
        else:
            values.add(str(value))
    return values


ROWS = {name: _rows(name) for name in SETS}


@pytest.mark.parametrize("name", SETS)
def test_the_corpus_holds_the_six_documents_and_the_four_pages(name: str) -> None:
    corpus = DATA / name / "corpus"
    assert {p.name for p in corpus.iterdir()} == SETS[name].documents
    assert len(list((DATA / name / "pages").glob("*.html"))) == 4
    assert (corpus / "article.txt").read_bytes() == (DATA / "seed" / "article.txt").read_bytes()


@pytest.mark.parametrize("name", SETS)
def test_every_line_is_well_formed(name: str) -> None:
    for row in ROWS[name]:
        assert set(row) <= {"q", "gold", "kind", "document"}, row
        assert isinstance(row["q"], str) and row["q"].strip(), row
        assert row["kind"] in KINDS, row
        assert isinstance(row["gold"], list), row
        assert all(isinstance(g, str) and g.strip() for g in row["gold"]), row


@pytest.mark.parametrize("name", SETS)
def test_the_counts_per_kind_are_the_readmes(name: str) -> None:
    assert collections.Counter(row["kind"] for row in ROWS[name]) == SETS[name].counts


@pytest.mark.parametrize("name", SETS)
def test_no_question_is_asked_twice(name: str) -> None:
    folded = [" ".join(re.sub(r"[^\w\s]", "", row["q"].lower()).split()) for row in ROWS[name]]
    assert [q for q, n in collections.Counter(folded).items() if n > 1] == []


@pytest.mark.parametrize("name", SETS)
def test_unrelated_questions_and_only_they_have_no_gold_and_no_document(name: str) -> None:
    for row in ROWS[name]:
        if row["kind"] == "unrelated":
            assert row["gold"] == [] and "document" not in row, row
        else:
            assert row["gold"] and row.get("document"), row


@pytest.mark.parametrize("name", SETS)
def test_every_named_document_is_in_the_corpus(name: str) -> None:
    for row in ROWS[name]:
        if "document" in row:
            assert row["document"] in SETS[name].documents, row
            assert (DATA / name / "corpus" / row["document"]).is_file(), row


@pytest.mark.parametrize(
    ("name", "row"),
    [(name, r) for name, rows in ROWS.items() for r in rows if r["kind"] != "unrelated"],
    ids=lambda v: v if isinstance(v, str) else v["q"][:60],
)
def test_every_gold_stands_in_its_document(name: str, row: dict[str, Any]) -> None:
    """A gold is in its document's text, white space folded; a metadata gold may instead be a front
    matter value (an `authors:` list joined with " and ", as `about` shows it)."""
    path = DATA / name / "corpus" / row["document"]
    text = _fold(path.read_text(encoding="utf-8"))
    fields = _front_matter_values(path) if row["kind"] == "meta" else set()
    for gold in row["gold"]:
        assert _fold(gold) in text or gold in fields, (row["q"], gold)
