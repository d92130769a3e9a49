from __future__ import annotations

import pytest

from bot.answer import render
from bot.answer.composer import AnswerType, Composer, QuestionError, answer_type, holds_type
from bot.documents.corpus import Corpus
from bot.documents.parse import parse_document
from bot.search.retriever import Index
from bot.text import tokenize


def test_answers_with_the_cited_sentence(composer: Composer) -> None:
    answer = composer.answer("How old is Kim Ju-ae?")
    assert not answer.abstained
    top = answer.excerpts[0]
    assert "12 years old" in top.text
    assert (top.document.name, top.citation) == ("article.txt", "¶2.3")
    assert top.document.text[top.start : top.end] == top.text
    assert [top.text[s:e] for s, e in top.matches] == ["Kim", "Ju", "ae", "old"]


def test_excerpts_are_whole_sentences_within_limits(composer: Composer) -> None:
    answer = composer.answer("What did Putin thank North Korea for?")
    assert 1 <= len(answer.excerpts) <= composer.top_k
    scores = [e.score for e in answer.excerpts]
    assert scores == sorted(scores, reverse=True)
    for e in answer.excerpts:
        assert len(e.text) <= 500
        assert e.text[-1] in ".!?”\"'" and (e.text[0].isupper() or e.text[0] in '“"')
    ids = [i for e in answer.excerpts for i in e.sentence_ids]
    assert len(ids) == len(set(ids))  # no sentence twice


def test_quotation_comes_with_the_sentence_that_opens_it(composer: Composer) -> None:
    answer = composer.answer("What opportunity will soldiers spreading the truth about the war get?")
    top = answer.excerpts[0]
    assert "spreading the truth" in top.text
    assert top.text.startswith("“")  # the quotation is shown from its start
    assert len(top.sentence_ids) >= 2


@pytest.mark.parametrize(
    "question",
    [
        "What is the tallest mountain in Africa?",
        "Who discovered penicillin?",
        "What is the capital of France?",
    ],
)
def test_abstains_when_the_article_does_not_say(composer: Composer, question: str) -> None:
    answer = composer.answer(question)
    assert answer.abstained
    assert answer.excerpts == ()


def test_abstention_offers_closest_passages_labelled_apart(composer: Composer) -> None:
    answer = composer.answer("Which team won the world basketball title?")
    assert answer.abstained or answer.excerpts  # either way the shape holds
    if answer.abstained:
        assert all(e.text for e in answer.closest)


def test_author_from_metadata(composer: Composer) -> None:
    answer = composer.answer("Who wrote this article?")
    assert not answer.abstained
    assert "Frances Martel" in answer.excerpts[0].text
    assert answer.excerpts[0].citation.startswith("metadata")
    # A question about what someone wrote in the story is not about the byline.
    assert all(not e.citation.startswith("metadata") for e in composer.answer("What did Kim write?").excerpts)


def test_second_document_of_another_layout(two_documents: Composer) -> None:
    answer = two_documents.answer("Who patented the pneumatic tyre?")
    assert answer.excerpts[0].document.name == "bicycle.md"
    assert "John Boyd Dunlop" in answer.excerpts[0].text
    assert (
        two_documents.answer("Who wrote the history of the bicycle?")
        .excerpts[0]
        .text.endswith("Jane Q. Writer")
    )
    # The article's questions still go to the article.
    top = two_documents.answer("How old is Kim Ju-ae?").excerpts[0]
    assert (top.document.name, top.citation) == ("article.txt", "¶2.3")


@pytest.mark.parametrize("question", ["", "   ", "x" * 501])
def test_bad_questions(composer: Composer, question: str) -> None:
    with pytest.raises(QuestionError):
        composer.answer(question)


def test_stop_words_only_abstains(composer: Composer) -> None:
    assert composer.answer("what is it?").abstained


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How old is she?", AnswerType.NUMBER),
        ("How many soldiers died?", AnswerType.NUMBER),
        ("When did it start?", AnswerType.DATE),
        ("In what year did it start?", AnswerType.DATE),
        ("Who signed it?", AnswerType.PERSON),
        ("Which city was it?", AnswerType.PLACE),
        ("Where was it built?", AnswerType.PLACE),
        ("What is songbun?", AnswerType.NONE),
    ],
)
def test_answer_type(question: str, kind: AnswerType) -> None:
    assert answer_type(question) is kind


def test_holds_type() -> None:
    q = frozenset(tokenize("Kim"))
    assert holds_type("It weighed 22 kg.", AnswerType.NUMBER, q)
    assert not holds_type("It was built in 1885.", AnswerType.NUMBER, q)  # a year is a date
    assert holds_type("It was built in 1885.", AnswerType.DATE, q)
    assert holds_type("Kim met Dennis Rodman.", AnswerType.PERSON, q)
    assert not holds_type("Kim spoke.", AnswerType.PERSON, q)  # only the question's own name


def _composer_for(text: str, **kwargs: int) -> Composer:
    parsed = parse_document("doc.txt", text)
    corpus = Corpus.from_parsed([parsed])
    index = Index.build(tokenize(t) for t in corpus.texts())
    return Composer(corpus, index, **kwargs)


def test_overlong_sentence_is_cut_at_a_clause_within_the_limit() -> None:
    filler = ", ".join(f"item number {i} of the long list" for i in range(40))
    composer = _composer_for(f"The zebra list has {filler}, and finally the quokka entry.\n")
    answer = composer.answer("Where is the quokka entry?")
    top = answer.excerpts[0]
    assert top.truncated and len(top.text) <= 500
    assert "quokka" in top.text and top.text in " ".join(top.document.text.split())


def test_top_k_is_honoured() -> None:
    text = "\n".join(f"Sentence {i} mentions the walrus." for i in range(10))
    assert len(_composer_for(text, top_k=2).answer("What mentions the walrus?").excerpts) == 2
    assert len(_composer_for(text, top_k=5).answer("What mentions the walrus?").excerpts) == 5


def test_a_question_in_the_text_is_not_the_answer() -> None:
    interview = (
        "**Q: When did you open the bakery?**\n\n"
        "A: We opened in March 1998, right after my father retired.\n\n"
        "**Q: What is your best-selling bread?**\n\n"
        "A: The sourdough baguette.\n"
    )
    top = _composer_for(interview).answer("When did the bakery open?").excerpts[0]
    assert "March 1998" in top.text


@pytest.mark.parametrize(
    "question",
    [
        "What did KCNA report about the ceremony?",  # "reporter" and "report" share a stem
        "Who wrote the mutual defense agreement?",
        "What is the title of the new street?",
        "What date did Putin visit Pyongyang?",
    ],
)
def test_metadata_words_about_the_content_ask_the_content(composer: Composer, question: str) -> None:
    # Issue 10 #2: only a question about the document itself goes to its metadata.
    answer = composer.answer(question)
    assert not answer.abstained
    assert not any(e.citation.startswith("metadata") for e in answer.excerpts)


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("When was the article published?", "when it was published"),
        ("What is the source of this story?", "where it comes from"),
    ],
)
def test_metadata_a_document_lacks_is_said_to_be_missing(
    composer: Composer, question: str, said: str
) -> None:
    # Issue 10 #5: the shipped article has no date or source; say so rather than quote "published".
    answer = composer.answer(question)
    assert answer.abstained and answer.excerpts == ()
    assert answer.note == f"The article doesn't say {said}."
    assert render.answer_terminal(answer).startswith(answer.note)
    assert render.answer_json(answer)["note"] == answer.note


def test_overlong_sentence_window_holds_the_most_matches_and_marks_both_cuts() -> None:
    # Issue 10 #10: one match early, three together late; the window is the late part.
    filler = " ".join(f"word{i}" for i in range(120))
    text = f"The walrus appeared first, then {filler}, and at last the narwhal met the beluga whale.\n"
    composer = _composer_for(text)
    top = composer.answer("Where did the walrus, narwhal and beluga whale meet?").excerpts[0]
    assert top.cut == (True, False) and top.truncated
    assert top.text.endswith("the narwhal met the beluga whale.") and "walrus" not in top.text
    assert len(top.text) <= 500
    assert render.excerpt_terminal(top, color=False).startswith("… ")
    assert render.excerpt_markdown(top).startswith("… ")
