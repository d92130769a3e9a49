"""The ranker: question analysis, features, stand-ins for words the corpus lacks, and the fit."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.fit.declining import Asked, decided, fit_abstain
from benchmarks.fit.tables import Scored, measure
from benchmarks.fit.weights import fit
from bot.answer.composer import Composer
from bot.documents.corpus import Corpus
from bot.documents.parse import parse_document
from bot.documents.segment import refers_back
from bot.search.features import FEATURES
from bot.search.question import AnswerType, answer_type, near_spellings
from bot.search.ranking import Abstain, Ranker, Weights
from bot.search.retriever import Index
from bot.text import tokenize


def _ranker(text: str, name: str = "doc.txt") -> Ranker:
    corpus = Corpus.from_parsed([parse_document(name, text)])
    return Ranker(corpus, Index.build(tokenize(t) for t in corpus.texts()))


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What was the amount of wins he attained?", AnswerType.NUMBER),
        ("What is the size of the endowment?", AnswerType.NUMBER),
        ("In what year did the library open?", AnswerType.DATE),
        ("Which individual painted the interior?", AnswerType.PERSON),
        ("In which location do students spend their third year?", AnswerType.PLACE),
        ("How often is it published?", AnswerType.NUMBER),
        ("How did it start?", AnswerType.NONE),
        ("What is the name of the river?", AnswerType.PERSON),
    ],
)
def test_answer_type_reads_the_noun_after_the_question_word(question: str, kind: AnswerType) -> None:
    assert answer_type(question) is kind


def test_near_spellings_are_one_edit_away() -> None:
    found = near_spellings("cavanugh")
    assert "cavanaugh" in found  # a letter left out
    assert "cavnaugh" in found  # two letters swapped
    assert "cvanaugh" not in found  # two edits
    assert "cavanugh" not in found


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [("It was built in 1881.", True), ("This mural is known as X.", True), ("Italy won.", False)],
)
def test_refers_back(sentence: str, expected: bool) -> None:
    assert refers_back(sentence) is expected


TEXT = (
    "The Lobund Institute was founded by Father Cavanaugh in 1950.\n\n"
    "Reykjavík is the capital of Iceland. It has a population of 140,000.\n\n"
    "The television station broadcasts from the campus.\n"
)


def test_a_typo_in_a_rare_name_still_finds_it() -> None:
    ranker = _ranker(TEXT)
    question = ranker.question("Who did Cavanugh found?")
    assert "cavanaugh" in {q.term for q in question.query}
    top = ranker.rank(question).ids[0]
    assert "Cavanaugh" in ranker.corpus.sentence(int(top)).text
    assert not ranker.questions.names_unknown(question)


def test_accents_are_optional() -> None:
    ranker = _ranker(TEXT)
    assert not ranker.questions.names_unknown(ranker.question("What is Reykjavik the capital of?"))


def test_an_acronym_or_an_unknown_name_is_not_an_unknown_name_when_spelt_out() -> None:
    ranker = _ranker(TEXT)
    assert not ranker.questions.names_unknown(ranker.question("Which TV station broadcasts from the campus?"))
    assert ranker.questions.names_unknown(ranker.question("What is the capital of France?"))


def test_antecedent_lets_a_pronoun_sentence_answer() -> None:
    ranker = _ranker(TEXT)
    question = ranker.question("What is the population of Reykjavík?")
    ranked = ranker.rank(question)
    column = FEATURES.index("antecedent")
    second = next(int(i) for i in ranked.ids if ranker.corpus.sentence(int(i)).text.startswith("It has"))
    # The sentence lacks "Reykjavík" but the one it leans on has it.
    assert ranked.features[list(ranked.ids).index(second), column] > 0


def test_an_excerpt_that_refers_back_comes_with_its_antecedent() -> None:
    corpus = Corpus.from_parsed([parse_document("doc.txt", TEXT)])
    composer = Composer(corpus, Index.build(tokenize(t) for t in corpus.texts()))
    top = composer.answer("What is the population?").excerpts
    holding = [e for e in top if "140,000" in e.text]
    assert holding and holding[0].text.startswith("Reykjavík is the capital")
    assert holding[0].citation == "¶2.1–2"


def _scored(rows: list[list[float]], gold: int) -> Scored:
    features = np.array([r + [0.0] * (len(FEATURES) - len(r)) for r in rows], dtype=np.float32)
    ids = np.arange(len(rows), dtype=np.int32)
    return Scored(features, ids, ids == gold)


def test_fit_finds_the_weight_that_ranks_the_answer_first() -> None:
    # The answer's sentence matches less by itself (column 0) but more by its paragraph (column 1).
    scored = [_scored([[1.0, 0.0], [0.6, 1.0]], gold=1) for _ in range(5)]
    assert measure(scored, Weights().vector())[0] == 0.0
    weights, (h1, h3, mrr) = fit([scored])
    assert weights.paragraph > 0.4 and (h1, h3, mrr) == (1.0, 1.0, 1.0)


def test_within_a_document_its_own_name_says_little() -> None:
    # "Riverton" stands in every sentence of the Riverton story and in no other document: rare in
    # the corpus, it told nothing about which of the story's sentences answers, yet outweighed
    # the word that does ("parking") in each sentence that holds it.
    riverton = (
        "Riverton finished its bike lanes on Monday.\n\nRiverton paid for the lanes with a grant.\n\n"
        "Shop owners in Riverton complained about lost parking.\n\nRiverton plans more lanes next year.\n"
    )
    lakeview = (
        "Lakeview removed its parking meters.\n\nParking in Lakeview is free on Sundays.\n\n"
        "The parking garage in Lakeview opened in May.\n\nLakeview has no bike lanes, only parking.\n"
    )
    corpus = Corpus.from_parsed(
        [parse_document("riverton.txt", riverton), parse_document("lakeview.txt", lakeview)]
    )
    ranker = Ranker(corpus, Index.build(tokenize(t) for t in corpus.texts()))
    question = ranker.question("Who complained about parking in Riverton?")
    ids = np.arange(4, dtype=np.int32)  # the Riverton story's sentences
    sentence = ranker.table.features(question, ids)[:, FEATURES.index("sentence")]
    complained = 2
    others = np.delete(sentence, complained)
    assert others.max() < 0.1 * sentence[complained]
    assert ranker.rank(question).ids[0] == complained


def test_meaning_of_documents_is_each_sentences_document_relevance() -> None:
    text = "The walrus dives for clams.\n\nIt lives on the sea ice.\n"
    one = _ranker(text)
    question = one.question("What does the walrus eat?")
    # Without the re-ranking stage (or with one document) the column is 0 for every sentence.
    np.testing.assert_array_equal(one.meaning_of_documents(question, np.arange(2, dtype=np.int32)), 0.0)


def test_the_declining_fit_judges_each_document_against_its_own_reference() -> None:
    # Two documents; off-topic questions come to 0.1..0.9 of document 0 and 0.0..0.8 of document 1.
    off = np.stack([np.linspace(0.1, 0.9, 9), np.linspace(0.0, 0.8, 9)]).astype(np.float32)
    near = np.array([0.95, 0.1], np.float32)  # an answerable question: near document 0
    far = np.array([0.5, 0.75], np.float32)  # an off-topic one, close to document 1
    rows = [
        Asked("c", True, ((0.5, False, 0),), near, False),
        Asked("c", False, ((0.5, False, 1),), far, False),
    ]
    # power 0: each document's 90th percentile (document 1's: 0.72), so "far" is answered; power 1:
    # with two documents the percentile rises to the 95th (0.76), and it is declined.
    at_one = Abstain(quantile=90.0, coverage_weight=0.0, rescue=0.0, power=0.0)
    rising = Abstain(quantile=90.0, coverage_weight=0.0, rescue=0.0, power=1.0)
    assert decided(rows, {"c": off}, at_one) == [False, False]
    assert decided(rows, {"c": off}, rising) == [False, True]
    # Fitting the power alone keeps the held quantile and weight, and finds a power that declines it.
    chosen, counts = fit_abstain(rows, {"c": off}, held=at_one)
    assert (chosen.quantile, chosen.coverage_weight) == (90.0, 0.0) and chosen.power > 0.5
    assert counts == (0, 1, 1, 1)  # none refused of one answerable, one declined of one off-topic
