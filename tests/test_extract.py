"""The extractor behind `add` and .html documents, measured against the saved pages' own parts."""

from __future__ import annotations

import re

import pytest

from benchmarks.bench_extract import by_trafilatura, compare
from bot.documents.extract import extract
from tests.conftest import DATA

pytest.importorskip("readability")


def test_trafilatura_keeps_every_paragraph_and_no_furniture_is_an_answer() -> None:
    lines = compare(DATA / "pages")
    row = next(line for line in lines if line.startswith("trafilatura "))
    kept, furniture, answers, metadata = re.findall(r"(\d+)/(\d+)", row)
    assert kept[0] == kept[1]  # every article paragraph
    assert answers[0] == "0"  # no furniture among the sentences the corpus makes of it
    assert metadata[0] == metadata[1]  # title, author(s) and date of every page
    assert int(furniture[0]) < int(furniture[1])


def test_links_in_the_written_article_are_absolute() -> None:
    page = (DATA / "pages" / "wire-sag-awards.html").read_bytes()
    assert "Oscar nominations 2020" in by_trafilatura(page).text  # the link text is shown
    article = extract(page)
    assert article is not None
    assert "](https://wire.example.com/entertainment/oscars-nominations-2020/)" in article.body
    assert "](/" not in article.body
