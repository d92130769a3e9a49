from __future__ import annotations

from pathlib import Path

import pytest

from bot.composer import Answer, Composer, Excerpt
from bot.corpus import Document
from bot.evaluate import EvalFileError, evaluate, read_cases
from tests.conftest import DEV


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
    assert (report.answerable, report.unrelated) == (3, 2)
    assert report.hit_at_1 == pytest.approx(1 / 3)
    assert report.hit_at_3 == pytest.approx(2 / 3)
    assert report.mrr_at_3 == pytest.approx((1 + 1 / 3) / 3)
    assert (report.abstained_unrelated, report.false_abstentions) == (1, 1)
    assert len(report.misses) == 3


def test_overlong_excerpt_is_not_a_hit(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text('{"q": "a", "gold": ["needle"]}\n', encoding="utf-8")
    report = evaluate(read_cases(f), lambda q: _answer(q, "needle " + "x" * 500))
    assert report.hit_at_3 == 0


@pytest.mark.parametrize("content", ["not json\n", '{"gold": []}\n', '{"q": 1}\n', ""])
def test_bad_files(tmp_path: Path, content: str) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(EvalFileError):
        read_cases(f)


def test_dev_set_targets(composer: Composer) -> None:
    # The targets on the development set (a quality floor, not a tuning target).
    report = evaluate(read_cases(DEV), composer.answer)
    assert report.hit_at_1 >= 0.90
    assert report.hit_at_3 >= 0.97
    assert report.abstained_unrelated == report.unrelated
    assert report.false_abstentions == 0
