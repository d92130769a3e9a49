"""The short answer: spans of the asked kind in sentences, the choice among them, the gate, and
the span it points to in the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot import engine
from bot.answer import render, short
from bot.answer.answers import Answer, Excerpt, ShortAnswer
from bot.answer.composer import Composer
from bot.config import Settings
from bot.documents.document import Document, sentence_text, source_span
from bot.documents.parse import parse_document
from bot.search.question import AnswerType, answer_type
from bot.text import tokenize, words
from tests.discord_helpers import embed_length

DOC = Document(
    name="a.txt",
    text="Kim visited Pyongyang. Smith met Jones and Kim. The mayor of Springfield said so.",
    title="A",
)


def _spans(sentence: str, question: str, document: Document = DOC) -> list[str]:
    kind = answer_type(question)
    found = short.spans(sentence, kind, frozenset(tokenize(question)), frozenset(words(question)), document)
    return [sentence[s:e] for s, e in found]


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # Dates: whole, or the year alone when the question asks for a year.
        (
            "When did the bridge open?",
            "The bridge opened on 19 March 1932 after eight years.",
            ["19 March 1932"],
        ),
        ("In what year did the bridge open?", "The bridge opened on 19 March 1932.", ["1932"]),
        ("In what year did it open?", "It opened in 1854–1855.", ["1854"]),
        ("During what years was he president?", "He was president 1987–2005.", ["1987–2005"]),
        (
            "When was it signed?",
            "It was signed on Monday, February 11, 2016, in Washington.",
            ["Monday, February 11, 2016"],
        ),
        (
            "When did it flourish?",
            "It flourished in the 19th century and again in the 1960s.",
            ["19th century", "1960s"],
        ),
        # Numbers with their unit; the unit left out when the question names it; a year is no number.
        ("How old is Kim Ju-ae?", "Kim Ju-ae is believed to be about 12 years old.", ["about 12 years old"]),
        ("How many seats does the stadium have?", "The stadium has 80,795 seats.", ["80,795"]),
        ("How many people live there?", "In 1998 the town had 4,000 residents.", ["4,000 residents"]),
        ("How much did it cost?", "It cost $215 million to build.", ["$215 million"]),
        ("What percentage voted?", "Turnout was 57.6% of voters.", ["57.6%"]),
        ("How many chapels are there?", "There are fifty-seven chapels.", ["fifty-seven"]),
        # Names: the question's own names are not answers; titles and initials stay with the name.
        ("Who painted the mural?", "The mural was painted by Millard Sheets in 1964.", ["Millard Sheets"]),
        ("Who is the president?", "The president is Rev. John I. Jenkins.", ["Rev. John I. Jenkins"]),
        ("Who did Kim meet?", "Kim met Vladimir Putin's envoy.", ["Vladimir Putin"]),
        # A sentence's first word is a name only where the document writes it as one.
        ("Who did it?", "After the war Smith did it.", ["Smith"]),
        ("Who visited?", "Kim visited the site.", ["Kim"]),
        # Places: a name after a word that places it.
        (
            "Where is the headquarters?",
            "The headquarters moved to Rome from Paris, said Jones.",
            ["Rome", "Paris"],
        ),
    ],
)
def test_spans_of_the_kind_asked(question: str, sentence: str, expected: list[str]) -> None:
    assert _spans(sentence, question) == expected


def _written_as_name_by_patterns(document_text: str, word: str) -> bool:
    # What `_written_as_name` decided before it found words with str.find: a pattern compiled per word.
    if re.search(rf"(?<![\w’'-]){re.escape(word.lower())}(?![\w’'-])", document_text):
        return False
    return re.search(rf"[\w,;:]\s+{re.escape(word)}(?![\w’'-])", document_text) is not None


# Pieces of a document around a word W (w: written in lower case): every way it can touch
# a word character, punctuation or white space (`\s` holds more than the space).
_PIECES = ["W", "w", "Ws", "-W", "W's", "W’", "_W", "éW", "a", "x1", ",", ";", ":", ".", "'", "’", "-"]
_SPACES = [" ", "  ", "\n", "\t", "\u00a0", "\u2003"]


@settings(max_examples=300, deadline=None)
@example(word="Smith", pieces=["a", " ", "W", " ", "x1", "w"])  # glued to a word: not its lower case
@example(word="Smith", pieces=["a", " ", "W", " ", "w", "x1"])
@example(word="Smith", pieces=["a", "\u00a0", "W"])  # after a word and white space: a name
@example(word="Smith", pieces=["a", " ", "Ws"])  # part of a longer word: not it
@example(word="Smith", pieces=[".", " ", "W"])  # after a full stop: it opens a sentence
@given(
    word=st.sampled_from(["Smith", "The", "É", "Ab-c", "O'Neil"]),
    pieces=st.lists(st.sampled_from(_PIECES + _SPACES), max_size=14),
)
def test_written_as_name_decides_as_the_patterns_did(word: str, pieces: list[str]) -> None:
    text = "".join(p.replace("W", word).replace("w", word.lower()) for p in pieces)
    short._written_as_name.cache_clear()
    assert short._written_as_name(text, word) == _written_as_name_by_patterns(text, word), (text, word)


def test_kinds_without_spans_give_none() -> None:
    assert _spans("The mural shows a river.", "When was the mural painted?") == []
    assert _spans("It was blue.", "How many were there?") == []
    assert _spans("Kim Ju-ae smiled.", "Who is Kim Ju-ae?") == []  # only the question's own name


def test_source_span_points_into_markdown_and_folded_text() -> None:
    text = "# Tower\n\nThe **Eiffel   Tower** was completed\nin [1889](https://example.org/x).\n"
    parsed = parse_document("t.md", text)
    _, _, start, end, _ = parsed.sentences[1]  # ¶1.1; ¶0.1 is the title, "Tower"
    shown = sentence_text(parsed.document, start, end)
    assert shown == "The Eiffel Tower was completed in 1889."
    for piece in ("Eiffel Tower", "1889", "completed in"):
        at = shown.index(piece)
        s, e = source_span(parsed.document, start, end, at, at + len(piece))
        assert sentence_text(parsed.document, s, e) == piece
    s, e = source_span(parsed.document, start, end, shown.index("Eiffel"), shown.index("Tower") + 5)
    assert text[s:e] == "Eiffel   Tower"


def _answer(scores: tuple[float, ...]) -> Answer:
    excerpts = tuple(Excerpt(DOC, f"¶1.{n}", "x", score, 0, 1, (), (n,)) for n, score in enumerate(scores))
    return Answer("q?", abstained=False, excerpts=excerpts)


def test_confidence_is_the_margin_of_the_top_excerpt() -> None:
    assert short.confidence(_answer((1.5, 1.0, 0.2))) == pytest.approx(0.5)
    assert short.confidence(_answer((0.7,))) == pytest.approx(0.7)
    assert short.confidence(Answer("q?", abstained=True)) == 0.0


def _proposal(
    kind: str, rivals: int = 0, gap: int = short.FAR, confidence: float = 1.0, support: float = 1.0
) -> short.Proposal:
    best = short.Candidate(0, 0, 4, "1932", 0, False)
    return short.Proposal(kind, best, rivals, gap, confidence, support)


def test_gate_per_kind() -> None:
    gate = short.Gate(
        min_confidence={"when": 0.2, "who": 0.1, "other": None},
        min_support={"when": 0.5, "who": 0.0},
        min_gap={"when": None, "who": 3},
    )
    assert gate.admits(_proposal("when"))
    assert not gate.admits(_proposal("when", confidence=0.1))  # the ranker was not sure
    assert not gate.admits(_proposal("when", support=0.4))  # the excerpt holds too little of the question
    assert not gate.admits(_proposal("when", rivals=1, gap=50))  # when: only a candidate without rivals
    assert gate.admits(_proposal("who", rivals=2, gap=3)) and not gate.admits(
        _proposal("who", rivals=2, gap=2)
    )
    assert not gate.admits(_proposal("other"))  # never for this kind
    assert not gate.admits(_proposal("where"))  # a kind the gate does not know


def test_stored_gate_names_its_sets_and_command() -> None:
    data = json.loads(short.PARAMS_FILE.read_text(encoding="utf-8"))
    assert set(data["gate"]) == set(short.KINDS)
    assert data["fitted_on"] and data["command"].startswith("python -m benchmarks.fit_short ")
    gate = short.Gate.load()
    assert set(gate.min_confidence) == set(short.KINDS)


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Composer:
    folder = tmp_path_factory.mktemp("bridge")
    (folder / "bridge.md").write_text(
        "# The harbour bridge\n\n"
        "The harbour bridge was opened on **19 March 1932** by Premier Jack Lang. "
        "Its designer was John Bradfield, working with Ralph Freeman.\n\n"
        "The bridge carries eight lanes of traffic and two railway lines.\n\n"
        "Painting the bridge takes about ten years and uses 30,000 litres of paint.\n",
        encoding="utf-8",
    )
    loaded = engine.load(Settings(_env_file=None, corpus_dir=folder, use_cache=False))  # type: ignore[call-arg]
    # A gate that admits every kind at once: what is tested here is the choice, not the fit.
    everything = {k: 0.0 for k in short.KINDS}
    gate = short.Gate(dict(everything), dict(everything), {k: 1 for k in short.KINDS})
    return Composer(loaded.corpus, loaded.index, short_gate=gate)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the harbour bridge opened?", "19 March 1932"),
        ("How many lanes does the bridge carry?", "eight"),
        ("How much paint does painting the bridge use?", "30,000 litres"),
        ("Who designed the bridge?", "John Bradfield"),  # nearer "designer" than Ralph Freeman
    ],
)
def test_the_composer_gives_a_span_of_the_top_excerpt(bridge: Composer, question: str, expected: str) -> None:
    answer = bridge.answer(question)
    given = answer.short
    assert given is not None and given.text == expected
    assert given.text in answer.excerpts[0].text
    assert sentence_text(given.document, given.start, given.end) == expected  # its span in the file
    assert given.citation.startswith("¶")


def test_no_short_answer_when_declined_or_for_metadata(composer: Composer) -> None:
    assert composer.answer("What is the tallest mountain in Africa?").short is None
    metadata = composer.answer("Who is the author?")
    assert metadata.excerpts[0].citation.startswith("metadata") and metadata.short is None


def test_the_embed_shows_it_in_bold_with_its_citation_within_limits() -> None:
    text = "Kim Ju-ae is 12. " * 40
    excerpt = Excerpt(DOC, "¶1.2", text[:500], 1.0, 0, 500, ((0, 3),), (4,))
    for said in ("about *12* years old", "x" * 5000):
        given = ShortAnswer(said, DOC, 0, len(said), "¶1.2")
        embed = render.excerpts_embed("How old is Kim Ju-ae?" * 12, (excerpt,) * 10, short=given)
        head, first = embed["description"].split("\n\n")[:2]
        assert head.startswith("**") and head.endswith("** — a.txt ¶1.2")
        assert first.startswith("**1.**")
        assert len(embed["description"]) <= render.DESCRIPTION_MAX
        assert embed_length(embed) <= render.EMBED_TOTAL_MAX
    assert (
        "about \\*12\\* years old"
        in render.excerpts_embed(
            "q", (excerpt,), short=ShortAnswer("about *12* years old", DOC, 0, 5, "¶1.2")
        )["description"]
    )


def test_terminal_puts_it_first(tmp_path: Path) -> None:
    given = ShortAnswer("1932", DOC, 0, 4, "¶1.1")
    excerpt = Excerpt(DOC, "¶1.1", "It opened in 1932.", 1.0, 0, 18, (), (0,))
    text = render.answer_terminal(Answer("q?", False, (excerpt,), short=given))
    assert text.splitlines()[:3] == ["**1932** [a.txt ¶1.1]", "", "1. [a.txt ¶1.1] It opened in 1932."]
    assert AnswerType.DATE is answer_type("When did it open?")
