"""Any question, in any script, gets a well-formed answer within the limits."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answer import render
from bot.answer.composer import Composer, QuestionError


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


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.sampled_from(["Kim", "Ju-ae", "old", "Pyongyang", "Putin", "’s", "🙂", "2024"]), max_size=12
    )
)
def test_questions_from_article_words(composer: Composer, words: list[str]) -> None:
    question = " ".join(words) + "?"
    answer = composer.answer(question) if words else None
    if answer is not None and not answer.abstained:
        assert answer.excerpts and answer.excerpts[0].matches
