"""Scoring a question set (the format of shared/eval/README.md) against the composer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.composer import Answer
from bot.text import fold_space

MAX_HIT_CHARS = 500  # a longer excerpt is not an answer, whatever it holds


class EvalFileError(ValueError):
    """The question file cannot be read or a line is not in the expected format."""


@dataclass(frozen=True)
class Case:
    question: str
    gold: tuple[str, ...]
    kind: str


@dataclass
class Report:
    """Scores over a question set, and the questions that missed."""

    answerable: int = 0
    unrelated: int = 0
    hits1: int = 0
    hits3: int = 0
    reciprocal_ranks: float = 0.0
    abstained_unrelated: int = 0
    false_abstentions: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def hit_at_1(self) -> float:
        return self.hits1 / self.answerable if self.answerable else 0.0

    @property
    def hit_at_3(self) -> float:
        return self.hits3 / self.answerable if self.answerable else 0.0

    @property
    def mrr_at_3(self) -> float:
        return self.reciprocal_ranks / self.answerable if self.answerable else 0.0

    def lines(self) -> list[str]:
        """The report as lines of text, misses first, figures last."""
        out = [f"missed: {m}" for m in self.misses]
        out += [
            f"questions: {self.answerable} answerable, {self.unrelated} unrelated",
            f"hit@1: {self.hit_at_1:.3f}  hit@3: {self.hit_at_3:.3f}  MRR@3: {self.mrr_at_3:.3f}",
            f"abstentions: {self.abstained_unrelated}/{self.unrelated} unrelated declined",
            f"false abstentions: {self.false_abstentions}/{self.answerable} answerable declined",
        ]
        return out


def read_cases(path: Path) -> list[Case]:
    """The questions of a JSON Lines file; EvalFileError names the line that is wrong."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from exc
    cases: list[Case] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, gold = row["q"], row.get("gold", [])
            if not isinstance(question, str) or not isinstance(gold, list):
                raise TypeError("q must be a string and gold a list")
            cases.append(Case(question, tuple(str(g) for g in gold), str(row.get("kind", ""))))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{number}: not a question line ({exc})") from exc
    if not cases:
        raise EvalFileError(f"{path} has no questions")
    return cases


def first_hit(answer: Answer, gold: tuple[str, ...], depth: int = 3) -> int | None:
    """The 1-based rank of the first excerpt holding a gold substring, or None."""
    if answer.abstained:
        return None
    wanted = [fold_space(g) for g in gold]
    for rank, excerpt in enumerate(answer.excerpts[:depth], start=1):
        text = fold_space(excerpt.text)
        if len(text) <= MAX_HIT_CHARS and any(g in text for g in wanted):
            return rank
    return None


def evaluate(cases: list[Case], ask: Callable[[str], Answer]) -> Report:
    """Score every case with `ask`."""
    report = Report()
    for case in cases:
        answer = ask(case.question)
        if not case.gold:
            report.unrelated += 1
            if answer.abstained:
                report.abstained_unrelated += 1
            else:
                report.misses.append(f"{case.question!r} answered, but the article does not say")
            continue
        report.answerable += 1
        if answer.abstained:
            report.false_abstentions += 1
            report.misses.append(f"{case.question!r} declined, but the article answers it")
            continue
        rank = first_hit(answer, case.gold)
        if rank == 1:
            report.hits1 += 1
        if rank is not None:
            report.hits3 += 1
            report.reciprocal_ranks += 1 / rank
        if rank != 1:
            top = answer.excerpts[0].citation if answer.excerpts else "nothing"
            report.misses.append(f"{case.question!r} first excerpt {top}, first hit at {rank or '>3'}")
    return report
