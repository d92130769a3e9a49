from __future__ import annotations

import pytest

from bot.documents.segment import paragraphs, sentences, unattributed_quotes


def split(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        (
            "“We will take all necessary steps,” Kim promised in his address. He left.",
            ["“We will take all necessary steps,” Kim promised in his address.", "He left."],
        ),
        ('"Why?" she asked. Nobody knew.', ['"Why?" she asked.', "Nobody knew."]),
        (
            "Mr. Smith met Dr. Jones on Jan. 5 in St. Louis.",
            ["Mr. Smith met Dr. Jones on Jan. 5 in St. Louis."],
        ),
        ("John F. Kennedy spoke. Then he left.", ["John F. Kennedy spoke.", "Then he left."]),
        ("It grew 3.5 percent, e.g. in Ohio. Good.", ["It grew 3.5 percent, e.g. in Ohio.", "Good."]),
        ("He moved to the U.S. The next year he left.", ["He moved to the U.S.", "The next year he left."]),
        ("The U.S. Army said no.", ["The U.S. Army said no."]),
        ("It ended in 2024. In 2025 it began.", ["It ended in 2024.", "In 2025 it began."]),
        ("He said “no.” Then he left.", ["He said “no.”", "Then he left."]),
        ("Wait... What happened?", ["Wait...", "What happened?"]),
        # Abbreviations only abbreviate before what they stand for: a number, or a name.
        ("The answer was no. She left.", ["The answer was no.", "She left."]),
        ("She studied art. Then she left.", ["She studied art.", "Then she left."]),
        ("It began in World War I. It ended.", ["It began in World War I.", "It ended."]),
        ("It ranked No. 5 under Art. 3 of Vol. II.", ["It ranked No. 5 under Art. 3 of Vol. II."]),
        (
            "He was born on Jan. 5. In Jan. The cold came.",
            ["He was born on Jan. 5.", "In Jan.", "The cold came."],
        ),
        (
            "Martin Luther King Jr. The next day he spoke.",
            ["Martin Luther King Jr.", "The next day he spoke."],
        ),
        ("J. R. R. Tolkien wrote it. Sales rose.", ["J. R. R. Tolkien wrote it.", "Sales rose."]),
        ("Items:\n- first item\n- second item", ["Items:", "- first item", "- second item"]),
        (
            "To build it:\n1. Attach the handlebars.\n2) Fit the pedals. Tighten them.",
            ["To build it:", "1. Attach the handlebars.", "2) Fit the pedals.", "Tighten them."],
        ),
        ("1. Attach the handlebars. Then tighten.", ["1. Attach the handlebars.", "Then tighten."]),
        ("He finished 2. Then he left.", ["He finished 2.", "Then he left."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_hard_wrapped_paragraphs() -> None:
    body = "First line of one\nparagraph. Its second\nsentence.\n\nA second\nparagraph.\n"
    paras = [body[p.start : p.end] for p in paragraphs(body)]
    assert paras == ["First line of one\nparagraph. Its second\nsentence.", "A second\nparagraph."]
    assert len(split(paras[0])) == 2


def test_one_paragraph_a_line_without_blank_lines() -> None:
    body = "First paragraph. Two sentences.\nSecond paragraph.\nThird.\n"
    assert [body[p.start : p.end] for p in paragraphs(body)] == [
        "First paragraph. Two sentences.",
        "Second paragraph.",
        "Third.",
    ]


def test_unattributed_quotes_belong_with_the_sentence_before() -> None:
    block = (
        "“Ready,” Zelensky offered. “For those who stay, there are options. "
        "Those who speak will get that chance.” In December, Kim spoke."
    )
    spans = sentences(block)
    assert len(spans) == 4
    assert unattributed_quotes(block, spans) == [False, True, True, False]
