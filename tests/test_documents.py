"""Several articles in one corpus (issue 19): which document a question is about, metadata asked
by subject, outlet and author, pinning a document, titles as sentences, declining in a corpus of
many. Through the real command line where a person would ask, and the composer beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.answer.answers import Excerpt
from bot.answer.composer import Composer, DocumentError
from bot.documents.document import sentence_text
from bot.documents.parse import parse_document
from tests.conftest import DATA, NEWSROOM, corpus_folder
from tests.test_cli import run

# The questions this module asks of the newsroom without options: asked together in one process
# (`ask --json -` reads a question a line), not one process a question.
_TOGETHER = (
    "Who wrote the article about Acme?",
    "Who wrote the Market Street Journal story?",
    "Who wrote the Great Lakes Press story?",
    "When did the Harbor Gazette publish the parking story?",
    "What is the headline of the story about Acme's forklifts?",
    "Which outlet published the story about Main Street?",
    "When was the Harbor Gazette site story about parking published?",
    "When did the Harbor Gazette run its garage story?",
    "Which news outlet is the Acme story from?",
    "Where can I read the Harbor Gazette's bike lane piece online?",
    "Who wrote the guide to parking fees?",
    "Who runs the garages?",
    "Who are the authors of the Acme article?",
    "What is the title of the Acme article?",
    "What else did Maria Lopez write?",
    "Who wrote the article about bike lanes?",
    "Who wrote the bike lane article from Lakeview?",
    "Who wrote this article?",
    "When was the Lakeview story published?",
    "What is the title of the volcano article?",
    "Who is the chief executive of Acme?",
    "What did the council vote to remove?",
    "What happened as warehouses automate?",
)
_ASKED: dict[tuple[str, tuple[str, ...], str], dict[str, Any]] = {}


def ask(corpus: Path, question: str, *args: str) -> dict[str, Any]:
    """`python -m bot ask --json` over a corpus folder, as one JSON object."""
    key = (str(corpus), args, question)
    if key not in _ASKED:
        batch = list(dict.fromkeys((*_TOGETHER, question))) if not args else [question]
        done = run(
            "ask", "--corpus", str(corpus), "--json", "-", *args, stdin="".join(q + "\n" for q in batch)
        )
        assert done.returncode == 0, done.stderr
        for asked, line in zip(batch, done.stdout.splitlines(), strict=True):
            _ASKED[(str(corpus), args, asked)] = json.loads(line)
    return _ASKED[key]


def cited(corpus: Path, excerpt: dict[str, Any]) -> str:
    """The text of the file at an excerpt's span."""
    start, end = excerpt["span"]
    return (corpus / excerpt["document"]).read_text(encoding="utf-8")[start:end]


@pytest.mark.parametrize(
    ("question", "document", "value"),
    [
        # by subject, by outlet (the site's name, a dateline's agency), by a title's words
        ("Who wrote the article about Acme?", "acme.md", "Priya Natarajan and David Okafor"),
        ("Who wrote the Market Street Journal story?", "acme.md", "Priya Natarajan and David Okafor"),
        ("Who wrote the Great Lakes Press story?", "lakeview.md", "Tom Becker"),
        ("When did the Harbor Gazette publish the parking story?", "parking.md", "2024-05-02"),
        ("What is the headline of the story about Acme's forklifts?", "acme.md", "Acme's profit doubles"),
        ("Which outlet published the story about Main Street?", "lakeview.md", "Great Lakes Press"),
        # "when" asks for a date even where an outlet's name ("Market Street Journal") is a field noun
        ("When was the Harbor Gazette site story about parking published?", "parking.md", "2024-05-02"),
        ("When did the Harbor Gazette run its garage story?", "parking.md", "2024-05-02"),
        ("Which news outlet is the Acme story from?", "acme.md", "Market Street Journal"),
        (
            "Where can I read the Harbor Gazette's bike lane piece online?",
            "bike-lanes.md",
            "https://www.harborgazette.com/news/city-adds-bike-lanes",
        ),
        ("Who wrote the guide to parking fees?", "parking.md", "Maria Lopez"),
    ],
)
def test_metadata_by_subject_outlet_and_author(
    newsroom: Path, question: str, document: str, value: str
) -> None:
    answer = ask(newsroom, question)
    assert not answer["abstained"]
    [excerpt] = answer["excerpts"]
    assert excerpt["document"] == document and excerpt["citation"].startswith("metadata: ")
    assert value in excerpt["text"]
    assert any(value.startswith(excerpt["text"][s:e]) for s, e in excerpt["matches"])  # the value in bold


def test_a_value_yaml_rewrote_is_cited_at_its_own_lines(newsroom: Path) -> None:
    # `authors:` is a list and the title is a quoted scalar with a doubled quote: neither value is
    # written in the file as the bot shows it, and the answer still cites the line that states it.
    authors = ask(newsroom, "Who are the authors of the Acme article?")["excerpts"][0]
    assert cited(newsroom, authors) == "authors:\n- Priya Natarajan\n- David Okafor"
    title = ask(newsroom, "What is the title of the Acme article?")["excerpts"][0]
    assert title["text"] == "title: Acme's profit doubles as warehouses automate"
    assert cited(newsroom, title) == "title: 'Acme''s profit doubles as warehouses automate'"


def test_what_an_author_wrote_lists_their_articles(newsroom: Path) -> None:
    answer = ask(newsroom, "What else did Maria Lopez write?")
    assert {e["document"] for e in answer["excerpts"]} == {"bike-lanes.md", "parking.md"}
    assert all(e["citation"] == "metadata: title" for e in answer["excerpts"])


def test_what_an_author_wrote_besides_one_article_leaves_it_out(newsroom: Path) -> None:
    for question in (
        "Besides the bike lanes story, what did Maria Lopez write?",
        "What did Maria Lopez write other than the article about bike lanes?",
    ):
        answer = ask(newsroom, question)
        assert answer["question"] == question
        assert [(e["document"], e["citation"]) for e in answer["excerpts"]] == [
            ("parking.md", "metadata: title")
        ]
    # With nothing else to list, it says so; an exclusion in a content question changes nothing.
    only = ask(newsroom, "Apart from the Acme article, what did Priya Natarajan write?")
    assert only["abstained"] and only["note"] == "acme.md is the only article that fits."
    content = ask(newsroom, "Who else besides Maria Lopez covered the council vote?")
    assert not any(e["citation"].startswith("metadata") for e in content["excerpts"])


def test_who_covered_a_story_and_what_day_it_ran(newsroom: Path) -> None:
    reporter = ask(newsroom, "Which reporter covered the council vote?")
    assert [(e["document"], e["text"]) for e in reporter["excerpts"]] == [
        ("lakeview.md", "author: Tom Becker")
    ]
    covered = ask(newsroom, "Who covered the bike lanes story?")
    assert {e["citation"] for e in covered["excerpts"]} == {"metadata: author"}
    day = ask(newsroom, "What day was the Acme story published?")
    assert [(e["document"], e["citation"]) for e in day["excerpts"]] == [("acme.md", "metadata: published")]
    # "covered" asks for a writer only with "who" or a writer's noun; a year only of a document.
    for content in ("Who covered the cost of the lanes?", "What year did the city finish the lanes?"):
        answer = ask(newsroom, content)
        assert not any(e["citation"].startswith("metadata") for e in answer["excerpts"]), content


def test_two_documents_on_one_subject_are_each_answered(newsroom: Path) -> None:
    both = ask(newsroom, "Who wrote the article about bike lanes?")
    assert sorted((e["document"], e["text"]) for e in both["excerpts"]) == [
        ("bike-lanes.md", "author: Maria Lopez"),
        ("lakeview.md", "author: Tom Becker"),
    ]
    one = ask(newsroom, "Who wrote the bike lane article from Lakeview?")
    assert [e["text"] for e in one["excerpts"]] == ["author: Tom Becker"]


def test_every_document_is_answered_for_or_named_when_none_is_meant(newsroom: Path) -> None:
    # Five documents, more than TOP_K (3): none is dropped without a word.
    answer = ask(newsroom, "Who wrote this article?")
    answered = {e["document"] for e in answer["excerpts"]}
    assert answered == set(NEWSROOM) - {"volcano.txt"}
    assert answer["note"] == "volcano.txt doesn't say who wrote it."
    printed = run("ask", "--corpus", str(newsroom), "Who wrote this article?").stdout
    assert "4. [" in printed and printed.rstrip().endswith("volcano.txt doesn't say who wrote it.")


def test_a_date_from_the_dateline_says_so_and_cites_it(newsroom: Path) -> None:
    answer = ask(newsroom, "When was the Lakeview story published?")
    [excerpt] = answer["excerpts"]
    assert excerpt["citation"] == "metadata: published, from the dateline"
    assert cited(newsroom, excerpt).startswith("LAKEVIEW, Mich., March 5 (Great Lakes Press) —")
    assert "March 5" in [excerpt["text"][s:e] for s, e in excerpt["matches"]]


def test_a_title_from_the_file_name_is_the_title_everywhere(newsroom: Path) -> None:
    # Issue 15 #17: `about` showed "Volcano" while the bot said the article had no title.
    about = json.loads(run("about", "--corpus", str(newsroom), "--json").stdout)
    assert next(d["title"] for d in about if d["document"] == "volcano.txt") == "Volcano"
    answer = ask(newsroom, "What is the title of the volcano article?")
    assert not answer["abstained"]
    [excerpt] = answer["excerpts"]
    assert excerpt["document"] == "volcano.txt" and "Volcano" in excerpt["text"]
    assert excerpt["citation"] == "metadata: title, from the file name"


def test_content_questions_still_go_to_the_content(newsroom: Path) -> None:
    answer = ask(newsroom, "Who is the chief executive of Acme?")
    assert "Hannah Cole" in answer["excerpts"][0]["text"]
    # "What did ... publish/write" about a thing named in no description is a content question.
    assert not ask(newsroom, "What did the council vote to remove?")["excerpts"][0]["citation"].startswith(
        "metadata"
    )
    # "runs" publishes only a story ("the Gazette ran its story"): "Who runs the garages?" is content.
    runs = ask(newsroom, "Who runs the garages?")
    assert not any(e["citation"].startswith("metadata") for e in runs["excerpts"] + runs.get("closest", []))


def test_a_question_pinned_to_a_document(newsroom: Path) -> None:
    pinned = ask(newsroom, "How much did it cost?", "--document", "bike-lanes.md")
    assert {e["document"] for e in pinned["excerpts"]} == {"bike-lanes.md"}
    by_title = ask(
        newsroom, "How much did it cost?", "--document", "City adds 40 miles of protected bike lanes"
    )
    assert by_title["excerpts"] == pinned["excerpts"]
    by_part = ask(newsroom, "How much did it cost?", "--document", "lakeview")
    assert {e["document"] for e in by_part["excerpts"]} == {"lakeview.md"}
    assert (
        ask(newsroom, "Who wrote it?", "--document", "parking")["excerpts"][0]["text"]
        == "author: Maria Lopez"
    )


def test_a_pinned_document_that_does_not_answer_is_named(newsroom: Path) -> None:
    answer = ask(newsroom, "Who is the chief executive of Acme?", "--document", "volcano.txt")
    assert answer["abstained"] and answer["excerpts"] == []
    assert answer["note"].startswith("volcano.txt (“Volcano”) doesn't say")
    # Asked of the whole corpus, the same question is answered.
    assert not ask(newsroom, "Who is the chief executive of Acme?")["abstained"]


@pytest.mark.parametrize(
    ("document", "message"), [("nowhere", "no document matches"), ("md", "documents match")]
)
def test_an_unknown_or_ambiguous_document_is_one_line_and_exit_2(
    newsroom: Path, document: str, message: str
) -> None:
    for question in ("Who is the mayor?", "-"):
        done = run("ask", "--corpus", str(newsroom), "--document", document, question, stdin="Who?\n")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_titles_are_sentences_of_their_own(newsroom: Path, newsroom_composer: Composer) -> None:
    # "warehouses" stands only in acme.md's title: the title is found and cited as ¶0.1.
    answer = ask(newsroom, "What happened as warehouses automate?")
    top = answer["excerpts"][0]
    assert (top["document"], top["citation"]) == ("acme.md", "¶0.1")
    assert top["text"] == "Acme's profit doubles as warehouses automate"
    assert cited(newsroom, top) == "Acme''s profit doubles as warehouses automate"  # the value, quotes aside


def test_a_subtitle_is_a_sentence_unless_the_body_opens_with_it() -> None:
    front = "---\ntitle: Lava reaches town\nsubtitle: Walls held, officials said.\n---\n\n"
    parsed = parse_document("a.md", front + "The eruption began at noon.\n")
    texts = [(p, s, sentence_text(parsed.document, a, b)) for p, s, a, b, _ in parsed.sentences]
    assert texts[:2] == [(0, 1, "Lava reaches town"), (0, 2, "Walls held, officials said.")]
    repeated = parse_document("a.md", front + "Walls held, officials said.\n\nThe eruption began at noon.\n")
    assert [(p, s) for p, s, *_ in repeated.sentences] == [(0, 1), (1, 1), (2, 1)]


def test_names_spread_over_documents_are_declined(newsroom_composer: Composer) -> None:
    # Hannah Cole is only in acme.md, Grindavik only in volcano.txt: each holds some of the
    # question's names, no single document answers it as a whole.
    assert newsroom_composer.answer("When did Hannah Cole visit the walls at Grindavik?").abstained
    assert not newsroom_composer.answer("What did Hannah Cole say about the forklifts?").abstained
    assert not newsroom_composer.answer("What did the walls at Grindavik do?").abstained


def test_an_unknown_document_is_a_question_error(newsroom_composer: Composer) -> None:
    with pytest.raises(DocumentError, match=r"no document matches 'nowhere'; the documents are acme\.md"):
        newsroom_composer.answer("Who is the mayor?", document="nowhere")


def test_development_set_through_the_command_line() -> None:
    # The multi-document development set scores as docs/quality.md says (metadata lines all hit first).
    folder = DATA / "multidoc"
    done = run(
        "eval",
        str(folder / "questions.jsonl"),
        "--corpus",
        str(folder / "corpus"),
        "--kind",
        "meta",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hit@1"] == 1.0


def test_only_the_answers_own_document_decides_whether_to_decline(newsroom_composer: Composer) -> None:
    # Each more document judged would be one more chance for an off-topic question to come close.
    corpus = newsroom_composer.corpus
    first_of = {int(d): int(np.flatnonzero(corpus.doc_of == d)[0]) for d in np.unique(corpus.doc_of)}
    a, b = sorted(first_of)[:2]

    def excerpt(sentence: int) -> Excerpt:
        document = corpus.documents[int(corpus.doc_of[sentence])]
        return Excerpt(document, "", "", 0.0, 0, 0, sentence_ids=(sentence,))

    shown = [excerpt(first_of[a]), excerpt(first_of[b]), excerpt(first_of[a] + 1)]
    assert newsroom_composer.judged(shown) == [(0, a), (2, a)]
    assert newsroom_composer.judged([excerpt(first_of[b]), *shown]) == [(0, b), (2, b)]


_HARBOUR = {
    "juno.md": """---
title: Dredgers find wreck of the Juno under Salterne harbour
site: The Coast Lantern
source: https://thecoastlantern.example/heritage/juno-wreck
---

Work on the deep quay has stopped for six weeks after a dredger brought up timbers and a bell.

SALTERNE, June 4 — The wreck of the Juno, a merchant ship that sank in a storm in 1742, has been
found buried in silt by a dredger deepening the harbour.

Divers raised a bronze bell on Monday.
""",
    "strike.md": """---
title: Pilots begin 72-hour strike, grounding 300 flights
source: https://meridianwire.example/business/pilots-strike
---

## Summary

- Flights cancelled for three days

PORTVALE (Meridian Wire) - Pilots at Northwind Air began a 72-hour strike on Monday over pay.

The airline's chief executive, Annika Solberg, said the demand would add 38 million euros a year.
""",
    "pilot.md": """---
title: Hospital to be cooled by lake water in pilot project
site: Lakeshore Gazette
author: Dana Marsh
published: 2024-06-02
---

The council approved a pilot project that will cool the regional hospital with lake water.

The state news agency published photos of the pump house on Tuesday.
""",
}


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three news pages whose datelines stand after a standfirst or a summary."""
    return corpus_folder(tmp_path_factory, "harbour", _HARBOUR)


def test_a_dateline_after_a_standfirst_or_a_summary_states_the_date_and_outlet(harbour: Path) -> None:
    when = ask(harbour, "When was the article about the Juno wreck published?")
    [excerpt] = when["excerpts"]
    assert excerpt["document"] == "juno.md"
    assert excerpt["citation"] == "metadata: published, from the dateline"
    assert cited(harbour, excerpt).startswith("SALTERNE, June 4 —")
    outlet = ask(harbour, "Which outlet published the pilots' strike story?")
    assert outlet["excerpts"][0]["citation"] == "metadata: outlet, from the dateline"
    assert "Meridian Wire" in outlet["excerpts"][0]["text"]
    # A dateline after the first sentence stays in its sentence: the place it names is found.
    where = ask(harbour, "What happened in Portvale?")
    assert where["excerpts"][0]["document"] == "strike.md" and "Portvale" not in where.get("note", "")


def test_which_paper_or_news_agency_reported_a_story_is_its_outlet(harbour: Path) -> None:
    paper = ask(harbour, "Which paper reported on the hospital pilot?")
    assert paper["excerpts"][0]["citation"].startswith("metadata: outlet")
    assert paper["excerpts"][0]["document"] == "pilot.md"
    agency = ask(harbour, "Which news agency reported the pilots' strike?")
    assert agency["excerpts"][0]["citation"].startswith("metadata: outlet")
    assert agency["excerpts"][0]["document"] == "strike.md"
    # "published the photos" asks what a story says: the content, not the outlet.
    photos = ask(harbour, "Which agency published photos of the pump house?")
    assert not photos["abstained"]
    assert not photos["excerpts"][0]["citation"].startswith("metadata")


def test_a_field_noun_inside_a_name_does_not_ask_for_that_field(harbour: Path) -> None:
    # "Wire" in "the Meridian Wire story" names the outlet; "link" asks for the address.
    link = ask(harbour, "Can you give me the link to the Meridian Wire story?")
    assert [e["citation"] for e in link["excerpts"]] == ["metadata: source"]
    assert link["excerpts"][0]["document"] == "strike.md"
    # In a title-cased question the capitals name nothing: "Link" still asks for the address; nor
    # does an acronym: "URL" asks for it too.
    titled = ask(harbour, "What Is The Link To The Meridian Wire Story?")
    assert [e["citation"] for e in titled["excerpts"]] == ["metadata: source"]
    url = ask(harbour, "What is the URL of the Meridian Wire story?")
    assert [(e["document"], e["citation"]) for e in url["excerpts"]] == [("strike.md", "metadata: source")]
