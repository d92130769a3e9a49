from __future__ import annotations

import json

from bot.answer import render
from bot.answer.composer import Answer, Composer, Excerpt
from bot.documents.document import Document
from tests.discord_helpers import embed_length


def _excerpt(text: str, matches: tuple[tuple[int, int], ...], url: str | None = None) -> Excerpt:
    doc = Document(name="a.txt", text=text, title="A", source_url=url)
    return Excerpt(doc, "¶1.2", text, 3.5, 0, len(text), matches, (4,))


def test_markdown_escapes_the_article_then_bolds_matches() -> None:
    text = "Kim_Jong *un* said @everyone <@123> ~x~"
    at = text.index("said")
    e = _excerpt(text, ((0, 3), (at, at + 4)))
    md = render.excerpt_markdown(e)
    assert md.startswith("**Kim**\\_Jong \\*un\\* ")
    assert "**said**" in md
    assert "@everyone" not in md.replace("\\@everyone", "")  # escaped
    assert "<@123>" not in md
    assert "\\~x\\~" in md


def test_adjacent_matches_are_bolded_together() -> None:
    e = _excerpt("Kim Ju-ae is 12.", ((0, 3), (4, 6), (7, 9)))
    assert render.excerpt_markdown(e).startswith("**Kim Ju\\-ae**")
    assert render.excerpt_terminal(e, color=False).startswith("**Kim Ju-ae**")
    assert "\x1b[1mKim Ju-ae\x1b[0m" in render.excerpt_terminal(e, color=True)


def test_json_contract(composer: Composer) -> None:
    answer = composer.answer("How old is Kim Ju-ae?")
    obj = json.loads(json.dumps(render.answer_json(answer)))
    assert obj["question"] == "How old is Kim Ju-ae?"
    assert obj["abstained"] is False
    first = obj["excerpts"][0]
    assert {"document", "citation", "text", "score"} <= set(first)
    assert isinstance(first["score"], float)
    assert "**" not in first["text"]  # plain text, highlighting is a rendering matter
    start, end = first["matches"][0]
    assert first["text"][start:end] == "Kim"


def test_terminal_abstention_is_plain_and_labelled() -> None:
    e = _excerpt("Nearby text.", ())
    text = render.answer_terminal(Answer("q?", True, closest=(e,)))
    assert text.startswith(render.ABSTAIN_MESSAGE)
    assert render.CLOSEST_LABEL in text
    assert render.answer_terminal(Answer("q?", True)) == render.ABSTAIN_MESSAGE


def test_fragment_link_lands_on_the_sentence() -> None:
    e = _excerpt("Short one, here.", (), url="https://example.org/a#top")
    assert render.fragment_link(e) == "https://example.org/a#:~:text=Short%20one%2C%20here."
    long = _excerpt("one two three four five six seven eight nine-ten", (), url="https://example.org/a")
    link = render.fragment_link(long)
    assert link == "https://example.org/a#:~:text=one%20two%20three%20four,six%20seven%20eight%20nine%2Dten"
    assert render.fragment_link(_excerpt("x", ())) is None


def test_an_answer_embed_keeps_its_whole_question() -> None:
    long = "Could you tell me, if it is not too much trouble, " * 6 + "how old is *Kim* Ju-ae?"
    cases = ["How old is Kim Ju-ae?", "a_b*c" * 40, long, "x" * (render.FOOTER_MAX - 7), "  spaced \n out  "]
    for question in cases:
        body = render.excerpts_embed(question, (_excerpt("Kim Ju-ae is 12. " * 120, ((0, 3),)),) * 3)
        assert len(body["title"]) <= render.TITLE_MAX
        assert embed_length(body) <= render.EMBED_TOTAL_MAX
        assert render.keeps_question(question)
        assert render.kept_question(body) == " ".join(question.split())
        declined = render.abstain_embed(question, ())
        assert render.kept_question(declined) == " ".join(question.split())
    assert "footer" not in render.question_fields("How old is Kim Ju-ae?")  # the title is enough
    too_long = "y " * render.FOOTER_MAX
    assert not render.keeps_question(too_long)
    assert embed_length(render.abstain_embed(too_long, ())) <= render.EMBED_TOTAL_MAX
