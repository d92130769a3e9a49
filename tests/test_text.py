from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import fold_space, term_spans, tokenize, tokenize_many, words, written_words
from tests.test_cli import run


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Kim Jong-un", "Kim Jong Un"),  # hyphenated names
        ("Kim’s daughter", "Kim's daughter"),  # curly apostrophe, possessive
        ("KIM JONG UN", "kim jong un"),  # case folding
        ("Ｋｉｍ", "Kim"),  # NFKC: full-width letters
        ("Mu\u0308ller", "Müller"),  # NFD (u and a combining diaeresis), as some keyboards type it
        ("Sa\u0303o Jose\u0301 cafe\u0301s", "São José cafés"),  # accents on several letters
        ("the soldiers' families", "soldier family"),  # plural possessive, stemming
        ("agreements signed", "agreement signing"),
    ],
)
def test_equivalent_spellings_give_the_same_terms(a: str, b: str) -> None:
    assert tokenize(a) == tokenize(b)


def test_stop_words_and_question_words_are_dropped() -> None:
    assert tokenize("What is the name of the street?") == ["name", "street"]
    assert tokenize("Who was it?") == []


def test_numbers_are_terms() -> None:
    assert tokenize("about 12 years old in 2024") == ["12", "year", "old", "2024"]


def test_term_spans_point_at_the_source_words() -> None:
    text = "Kim Ju-ae’s age: about 12."
    spans = term_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["Kim", "Ju", "ae’s", "age", "12"]
    assert [s.term for s in spans] == tokenize(text)


def test_term_spans_of_decomposed_text_point_at_the_source_words() -> None:
    text = "Frau Mu\u0308ller’s cafe\u0301, 1952."
    spans = term_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["Frau", "Mu\u0308ller’s", "cafe\u0301", "1952"]
    assert [s.term for s in spans] == tokenize("Frau Müller’s café, 1952.")
    assert list(words(text)) == ["frau", "muller's", "cafe", "1952"]
    assert written_words(text) == ["Frau", "Müller’s", "café", "1952"]


def test_a_question_typed_with_combining_accents_is_answered(tmp_path: Path) -> None:
    # Issue 25 #13: "Mu\u0308ller" was split at its accent into "Mu" and "ller", a name no
    # document has, and the question was declined.
    (tmp_path / "bakery.txt").write_text(
        "Anna Müller opened the bakery on Station Road in 1952.\n\nIts rye bread sells out by noon.\n",
        encoding="utf-8",
    )
    (tmp_path / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    for question in ("When did Anna Mu\u0308ller open the bakery?", "When did Anna Müller open the bakery?"):
        result = run("ask", "--json", "--corpus", str(tmp_path), question)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert not answer["abstained"], question
        excerpt = answer["excerpts"][0]
        assert excerpt["text"].startswith("Anna Müller opened the bakery") and [5, 11] in excerpt["matches"]


def test_fold_space() -> None:
    assert fold_space("  a\n\t b  c\n") == "a b c"


@given(st.text())
def test_tokenize_agrees_with_term_spans(text: str) -> None:
    # The ASCII fast path and the general path must give the same terms.
    assert tokenize(text) == [s.term for s in term_spans(text)]
    for span in term_spans(text):
        assert 0 <= span.start < span.end <= len(text)


@given(st.text(alphabet="aZ9'’ _-.,\n\tÉé", max_size=60))
def test_ascii_fast_path_agrees_with_term_spans(text: str) -> None:
    ascii_only = text.encode("ascii", "ignore").decode()
    assert tokenize(ascii_only) == [s.term for s in term_spans(ascii_only)]
    assert tokenize(text) == [s.term for s in term_spans(text)]


@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.text(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000ab", max_size=30)
)
def test_fold_space_folds_what_the_pattern_does(text: str) -> None:
    # Every kind of white space counts, as in the regular expression `\s+` it replaced.
    assert fold_space(text) == re.sub(r"\s+", " ", text).strip()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abcXYZ019 '’ʼ‘“”„«»‹›—–‒―…•·\u00a0_-.,\n\téüß½ﬁＫ\u0301\u0308", max_size=50))
def test_tokenize_fast_paths_give_the_terms_of_term_spans(text: str) -> None:
    # tokenize's shortcuts (ASCII, typographic marks mapped to ASCII) change nothing.
    assert tokenize(text) == [span.term for span in term_spans(text)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="abcXYZ019 '’‘“”—…\u00a0_-.,\x01éü½ﬁ\u0308", max_size=30), max_size=6)
    | st.lists(st.text(alphabet="abcXYZ019 '’‘“”—…_-.,", max_size=30), max_size=6)
)
def test_tokenize_many_equals_tokenize_one_by_one(texts: list[str]) -> None:
    terms, lengths = tokenize_many(texts)
    assert lengths == [len(tokenize(t)) for t in texts]
    assert terms == [term for t in texts for term in tokenize(t)]
