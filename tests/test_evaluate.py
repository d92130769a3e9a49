from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import engine
from bot.answer.answers import ShortAnswer
from bot.answer.composer import Answer, Excerpt
from bot.config import Settings
from bot.documents.document import Document
from bot.evaluate import (
    DEPTH,
    OFF_TOPIC,
    UNANSWERABLE,
    UNRELATED,
    Case,
    EvalFileError,
    evaluate,
    normalize_answer,
    read_question_set,
    token_f1,
)
from tests.conftest import CORPUS, DATA, DEV, NOTRE_DAME

HELDOUT_ARTICLE = DATA / "heldout" / "article_heldout.jsonl"


def read_cases(path: Path) -> list[Case]:
    """The questions of a file (see `read_question_set`)."""
    return list(read_question_set(path).cases)


def _answer(q: str, *texts: str, abstained: bool = False) -> Answer:
    doc = Document(name="d", text="", title="d")
    return Answer(q, abstained, tuple(Excerpt(doc, "¶1.1", t, 1.0, 0, 0) for t in texts))


def test_scores_hits_ranks_and_abstentions(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        '{"q": "a", "gold": ["alpha  beta"], "kind": "lexical"}\n'
        '{"q": "b", "gold": ["gamma"], "kind": "lexical"}\n'
        '{"q": "c", "gold": ["delta"], "kind": "lexical"}\n'
        '{"q": "d", "gold": [], "kind": "unrelated"}\n'
        "\n"
        '{"q": "e", "gold": [], "kind": "unrelated"}\n',
        encoding="utf-8",
    )
    answers = {
        "a": _answer("a", "x alpha\nbeta y"),  # white space is folded before matching
        "b": _answer("b", "no", "nope", "gamma"),
        "c": _answer("c", "delta", abstained=True),
        "d": _answer("d", abstained=True),
        "e": _answer("e", "something"),
    }
    report = evaluate(read_cases(f), answers.__getitem__)
    assert (report.answerable, report.to_decline) == (3, {UNRELATED: 2})
    assert report.hit_at_1 == pytest.approx(1 / 3)
    assert report.hit_at_3 == pytest.approx(2 / 3)
    assert report.mrr_at_3 == pytest.approx((1 + 1 / 3) / 3)
    assert (report.declined, report.false_abstentions) == ({UNRELATED: 1}, 1)
    assert len(report.misses) == 3
    assert report.lines()[-2] == "abstentions: 1/2 unrelated declined"


def test_overlong_excerpt_is_not_a_hit(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text('{"q": "a", "gold": ["needle"]}\n', encoding="utf-8")
    report = evaluate(read_cases(f), lambda q: _answer(q, "needle " + "x" * 500))
    assert report.hit_at_3 == 0


def test_lines_with_null_gold_are_skipped_and_counted(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        '{"q": "a", "gold": ["x"]}\n{"q": "b", "gold": null, "kind": "reported"}\n', encoding="utf-8"
    )
    questions = read_question_set(f)
    assert [c.question for c in questions.cases] == ["a"]
    assert questions.skipped == 1
    report = evaluate(questions.cases, lambda q: _answer(q, "x"), skipped=questions.skipped)
    assert any(line.startswith("skipped: 1 ") for line in report.lines())


@pytest.mark.parametrize(
    "content", ["not json\n", '{"gold": []}\n', '{"q": 1}\n', '{"q": "a", "gold": "x"}\n', ""]
)
def test_bad_files(tmp_path: Path, content: str) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(EvalFileError):
        read_cases(f)


def _squad(version: str) -> dict[str, object]:
    first = "The bridge was opened in 1932. It carries eight lanes."
    second = "Its designer was John Bradfield."
    return {
        "version": version,
        "data": [
            {
                "title": "Sydney Harbour Bridge",
                "paragraphs": [
                    {
                        "context": first,
                        "qas": [
                            {
                                "id": "1",
                                "question": "When did it open?",
                                "answers": [{"answer_start": first.index("1932"), "text": "1932"}],
                            },
                            {
                                "id": "2",
                                "question": "How many lanes?",
                                "answers": [{"answer_start": 42, "text": "eight"}],
                            },
                        ],
                    },
                    {
                        "context": second,
                        "qas": [
                            {
                                "id": "3",
                                "question": "Who designed it?",
                                "answers": [{"answer_start": 17, "text": "John Bradfield"}],
                            },
                            {"id": "4", "question": "Who painted it?", "answers": [], "is_impossible": True},
                        ],
                    },
                ],
            }
        ],
    }


def test_squad_articles_become_documents_and_answers_spans(tmp_path: Path) -> None:
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(_squad("v2.0")), encoding="utf-8")
    questions = read_question_set(f)
    (name, text), *rest = questions.documents.items()
    assert not rest and name == "Sydney_Harbour_Bridge.txt"
    # Paragraphs in order, a blank line apart; every answer's offset points at its text.
    assert text.split("\n\n")[1].strip() == "Its designer was John Bradfield."
    for case in questions.cases:
        for span in case.spans:
            assert text[span.start : span.start + len(span.text)] == span.text
    assert [c.kind for c in questions.cases if not c.answerable] == [UNANSWERABLE]


def test_squad_hit_is_the_excerpt_that_holds_the_answer_start(tmp_path: Path) -> None:
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(_squad("1.1")), encoding="utf-8")
    questions = read_question_set(f)
    name, text = next(iter(questions.documents.items()))
    doc = Document(name=name, text=text, title=name)
    sentences = [(0, 30), (31, 54), (56, 88)]  # the three sentences' spans in `text`

    def excerpt(n: int) -> Excerpt:
        start, end = sentences[n]
        return Excerpt(doc, f"¶1.{n}", text[start:end], 1.0, start, end)

    # Every question gets the same answer: the designer's sentence, then the opening sentence.
    report = evaluate(questions.cases, lambda q: Answer(q, False, (excerpt(2), excerpt(0))))
    # "Who designed it?" is a hit at 1, "When did it open?" at 2, "How many lanes?" a miss.
    assert (report.hits1, report.hits3, report.answerable) == (1, 2, 3)
    assert report.to_decline == {UNANSWERABLE: 1} and report.declined == {}


def test_off_topic_questions_count_as_ones_to_decline(tmp_path: Path) -> None:
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(_squad("1.1")), encoding="utf-8")
    off = read_question_set(f).off_topic()
    assert not off.documents
    assert {c.kind for c in off.cases} == {OFF_TOPIC}
    report = evaluate(off.cases, lambda q: _answer(q, abstained=True))
    assert report.declined == {OFF_TOPIC: 4}  # every question, the unanswerable one too


@pytest.mark.parametrize("rerank", [False, True])
def test_dev_set_targets(rerank: bool) -> None:
    # The targets on the development set (a quality floor, not a tuning target): by words
    # alone (RERANK=false, READER=false), and as the bot answers by default. With the re-ranker one
    # of its 23 questions ("Who attended the inauguration with Kim?") finds the inauguration's
    # sentence before the one naming the daughter: 0.913 at hit@1, the price of four to five
    # points on every written-blind set (docs/quality.md).
    settings = Settings(_env_file=None, corpus_dir=CORPUS, use_cache=False, rerank=rerank, reader=rerank)
    composer = engine.load(settings)
    report = evaluate(read_cases(DEV), lambda q: composer.answer(q, limit=DEPTH))
    assert report.hit_at_1 >= (0.9 if rerank else 0.95)
    assert report.hit_at_3 == 1.0
    assert report.declined.get(UNRELATED) == report.to_decline[UNRELATED]
    assert report.false_abstentions == 0


def test_the_re_ranker_floor_on_the_blind_article_set() -> None:
    # Written blind (tests/data/heldout): a floor under what the re-ranker measured out of sample
    # (0.714 at hit@1, 3 of 70 refused; by words alone 0.614 and 11 refused), not a target.
    composer = engine.load(Settings(_env_file=None, corpus_dir=CORPUS, use_cache=False))
    report = evaluate(read_cases(HELDOUT_ARTICLE), lambda q: composer.answer(q, limit=DEPTH))
    assert report.hit_at_1 >= 0.68 and report.hit_at_3 >= 0.8
    assert report.false_abstentions <= 5


def test_crowd_written_questions_floor(tmp_path: Path) -> None:
    # A floor under the crowd-written set the weights were fitted on (docs/quality.md): a change
    # that loses several points here has broken something general.
    questions = read_question_set(NOTRE_DAME)
    for name, text in questions.documents.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    composer = engine.load(Settings(_env_file=None, corpus_dir=tmp_path, use_cache=False))  # type: ignore[call-arg]
    report = evaluate(questions.cases, lambda q: composer.answer(q, limit=DEPTH))
    # Re-ranked: 0.744 / 0.907 when fitted; by words alone 0.688 / 0.874.
    assert report.hit_at_1 >= 0.72
    assert report.hit_at_3 >= 0.88
    assert report.false_abstentions <= 3


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        ("the 1870s", "1870s", 1.0),  # articles and punctuation do not count (SQuAD's normalisation)
        ("Around 21–24%", "21–24%", 2 / 3),
        ("Saint Bernadette", "Saint Bernadette Soubirous", 0.8),
        ("$9 million", "9 million dollars", 0.8),
        ("Paris", "Rome", 0.0),
    ],
)
def test_token_f1_is_squads(prediction: str, gold: str, f1: float) -> None:
    assert token_f1(prediction, gold) == pytest.approx(f1)
    assert normalize_answer("The  U.S. Army's, a unit!") == "us armys unit"


def test_short_answers_scored_per_kind_and_wrong_ones_listed(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        '{"q": "When did it open?", "gold": ["opened in 1932 by the premier"]}\n'
        '{"q": "Who designed it?", "gold": ["John Bradfield"]}\n'
        '{"q": "How many lanes?", "gold": ["eight"]}\n'
        '{"q": "What is it?", "gold": ["a bridge"]}\n'
        '{"q": "Who painted it?", "gold": []}\n',
        encoding="utf-8",
    )
    doc = Document(name="d", text="", title="d")
    given = {"When did it open?": "in 1932", "Who designed it?": "Ralph Freeman", "Who painted it?": "Kim"}

    def ask(q: str) -> Answer:
        short = ShortAnswer(given[q], doc, 0, 1, "¶1.1") if q in given else None
        return Answer(q, False, (Excerpt(doc, "¶1.1", "text", 1.0, 0, 0),), short=short)

    report = evaluate(read_cases(f), ask)
    when, who, many = report.short["when"], report.short["who"], report.short["how many"]
    assert (when.questions, when.given, when.f1, when.em) == (1, 1, pytest.approx(4 / 7), 0.0)
    assert (who.questions, who.given, who.f1) == (1, 1, 0.0)
    assert (many.questions, many.given) == (1, 0)
    assert report.short_total.figures()["coverage"] == 0.5 and report.short_to_decline == 1
    assert len(report.short_misses) == 2  # the wrong name, and one given to a question to decline
    assert "'Ralph Freeman'" in report.short_misses[0] and "'John Bradfield'" in report.short_misses[0]
    lines = report.lines(misses=True)
    assert sum(line.startswith("wrong short answer: ") for line in lines) == 2
    # "in 1932" stands inside the gold phrase: SQuAD's F1 is low, yet it is right.
    assert "short answers: 2/4 (50.0%) F1 0.286 EM 0.000 within 0.500" in lines
    assert lines[-2] == "abstentions: 0/1 unrelated declined"  # the figures stay the last four lines
    assert report.as_json()["short"]["when"]["f1"] == pytest.approx(0.5714)
