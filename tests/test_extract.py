"""The extractor behind `add` and .html documents, measured against the saved pages' own parts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.bench_extract import by_trafilatura, compare
from bot.documents.article import MIN_ARTICLE_WORDS, article_words, is_article
from bot.documents.document import Problem
from bot.documents.extract import extract
from bot.documents.parse import decode, parse_bytes
from tests.conftest import DATA

# Prose long enough to be an article, for pages made here.
STORY = (
    "<p>The council met on Tuesday to discuss the new bridge over the river, which engineers say "
    "will take three years to build.</p><p>Residents asked whether the old crossing would stay open "
    "while the work goes on, and the council said it would, at least until the first span is in "
    "place next spring.</p>"
)


def page(body: str, head: str = "") -> str:
    """A small web page: a title, `head`'s tags, and `body` as the article."""
    return (
        f"<html><head><title>Bridge plan</title>{head}</head>"
        f"<body><article><h1>Bridge plan</h1>{body}</article></body></html>"
    )


def test_trafilatura_keeps_every_paragraph_and_no_furniture_is_an_answer() -> None:
    pytest.importorskip("readability")
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


@pytest.mark.parametrize(
    "guess",
    [
        "<footer>© 2019 Example News</footer>",
        "<footer>Copyright 2019 Example News. All rights reserved.</footer>",
        "<p>The old bridge was built in 1987 and repaired in 2015.</p>",
        "<p class='date'>March 2021</p>",
        "<footer>Last updated 2019</footer>",
    ],
)
def test_a_year_somewhere_on_the_page_is_no_publication_date(guess: str) -> None:
    # Issue 15 #2: htmldate's extensive search made 2019-01-01 of a copyright line.
    for head in ("", "<link rel='canonical' href='https://news.example.com/2019/05/bridge'>"):
        article = extract(page(STORY + guess, head))
        assert article is not None and article.published is None, (guess, head)


@pytest.mark.parametrize(
    ("stated", "date"),
    [
        ("<meta property='article:published_time' content='2021-03-04T10:00:00Z'>", "2021-03-04"),
        ("<time datetime='2022-05-06'>6 May 2022</time>", "2022-05-06"),
        ("<p class='byline'>By Ann Lee, March 4, 2021</p>", "2021-03-04"),
    ],
)
def test_a_date_the_page_states_is_its_publication_date(stated: str, date: str) -> None:
    head, body = (stated, "") if stated.startswith("<meta") else ("", stated)
    article = extract(page(body + STORY + "<footer>© 2019 Example News</footer>", head))
    assert article is not None and article.published == date


@pytest.mark.parametrize(
    "canonical", ["http://[::1", f"http://{'a' * 64}.example/bridge", "http://news..example/"]
)
def test_malformed_addresses_in_a_page_neither_break_it_nor_become_its_source(canonical: str) -> None:
    # Issue 15 #5's neighbours: addresses inside a page, fetched or dropped into the corpus.
    links = (
        "<p>Engineers published <a href='http://[::1/plans'>the plans</a> last week, and <a href='/map'>the "
        "map</a> shows where the new span will meet the road on the northern bank of the river.</p>"
    )
    html = page(STORY + links, head=f"<link rel='canonical' href='{canonical}'>")
    article = extract(html, "https://news.example.com/bridge")
    assert article is not None and article.source_url == "https://news.example.com/bridge"
    assert "](http://[::1/plans)" in article.body  # kept as written: it cannot be made absolute
    assert "](https://news.example.com/map)" in article.body
    dropped = decode("bridge.html", html.encode())
    assert isinstance(dropped, str) and "the plans" in dropped and "source:" not in dropped


KINDS = DATA / "page-kinds"
PAGE_KINDS = json.loads((KINDS / "kinds.json").read_text(encoding="utf-8"))


# Every article the project has as a page: the saved news pages and the short ones made for #6.
ARTICLES = [
    DATA / "pages" / name
    for name in sorted(json.loads((DATA / "pages" / "parts.json").read_text(encoding="utf-8")))
] + [KINDS / name for name, spec in PAGE_KINDS.items() if spec["kind"] == "article"]
MENUS = [KINDS / name for name, spec in PAGE_KINDS.items() if spec["kind"] == "menus"]


@pytest.mark.parametrize("path", ARTICLES + MENUS, ids=lambda path: path.name)
def test_a_page_is_an_article_by_its_article_text_not_by_having_a_sentence(path: Path) -> None:
    # Issue 15 #6: a page of menus and sign-up prompts became a document of one-word sentences.
    dropped = parse_bytes(path.name, path.read_bytes())  # as a page dropped into the corpus is read
    if path in MENUS:
        assert dropped == Problem(path.name, "has no article text (nothing but links and page furniture)")
    else:
        assert not isinstance(dropped, Problem), dropped
        assert is_article(dropped) and article_words(dropped) >= MIN_ARTICLE_WORDS
