"""Any question, in any script, gets a well-formed answer within the limits."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer import render
from bot.answer.composer import Composer, QuestionError
from bot.text import tokenize


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(question=st.text(min_size=0, max_size=600))
def test_any_question_gets_a_well_formed_answer(composer: Composer, question: str) -> None:
    try:
        answer = composer.answer(question)
    except QuestionError:
        assert not question.strip() or len(question.strip()) > composer.max_question_chars
        return
    assert len(answer.excerpts) <= composer.top_k
    assert not (answer.abstained and answer.excerpts)
    for excerpt in (*answer.excerpts, *answer.closest):
        assert 0 < len(excerpt.text) <= 500
        assert excerpt.text == " ".join(excerpt.text.split())
        assert all(0 <= s < e <= len(excerpt.text) for s, e in excerpt.matches)
        render.excerpt_markdown(excerpt)
    render.answer_json(answer)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.sampled_from(["Kim", "Ju-ae", "old", "Pyongyang", "Putin", "’s", "🙂", "2024"]), max_size=12
    )
)
def test_questions_from_article_words(composer: Composer, words: list[str]) -> None:
    # Made only of the article's words, a question is answered, its own words in bold in the first
    # excerpt; made of none of them, it is declined. (A bot that always declined passed before.)
    question = " ".join(words) + "?"
    terms = tokenize(question)
    known = [term for term in terms if term in composer.index.term_id]
    answer = composer.answer(question)
    if terms and len(known) == len(terms):
        assert not answer.abstained, question
        first = answer.excerpts[0]
        bold = {term for start, end in first.matches for term in tokenize(first.text[start:end])}
        assert bold and bold <= set(terms), (question, first.text, bold)
    elif not known:
        assert answer.abstained and not answer.excerpts, question
