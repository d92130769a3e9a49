"""Scoring question sets against the composer: JSON Lines (shared/eval) and SQuAD v1.1 / v2.0.

A JSON Lines case is answered when one of the first three excerpts holds one of its gold
substrings, and comes from the document its `"document"` key names when it has one. A SQuAD
case is answered when one of them holds the start of one of its answers (its span in the
document covers the answer's offset). Questions to decline are of three kinds: `unrelated` lines
of a JSON Lines file, SQuAD v2.0's `is_impossible` questions, and every question of an
`--off-topic` file. The depth is always three, whatever the bot shows (`TOP_K`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answer.composer import Answer, Excerpt
from bot.text import fold_space

MAX_HIT_CHARS = 500  # a longer excerpt is not an answer, whatever it holds
DEPTH = 3  # hit@3: the excerpts a reader sees first
UNRELATED, OFF_TOPIC, UNANSWERABLE = "unrelated", "off-topic", "unanswerable"
DECLINE_KINDS = (UNRELATED, OFF_TOPIC, UNANSWERABLE)


class EvalFileError(ValueError):
    """The question file cannot be read or a line is not in the expected format."""


@dataclass(frozen=True)
class AnswerSpan:
    """Where a SQuAD answer stands: its document, its offset in the document's text, its text."""

    document: str
    start: int
    text: str


@dataclass(frozen=True)
class Case:
    """One question and what answers it; no gold and no spans means it should be declined."""

    question: str
    gold: tuple[str, ...] = ()
    kind: str = ""
    spans: tuple[AnswerSpan, ...] = ()
    document: str = ""  # the file an answer must come from, when the set says

    @property
    def answerable(self) -> bool:
        """Whether the documents answer it."""
        return bool(self.gold or self.spans)


@dataclass(frozen=True)
class QuestionSet:
    """The cases of a file and, for SQuAD, the documents they are asked of (name -> text)."""

    cases: tuple[Case, ...]
    documents: dict[str, str] = field(default_factory=dict)
    skipped: int = 0  # lines with `"gold": null`: reported questions awaiting review

    def off_topic(self) -> QuestionSet:
        """The same questions as ones to decline (asked of other documents)."""
        return QuestionSet(tuple(Case(c.question, kind=OFF_TOPIC) for c in self.cases))

    def kinds(self, *kinds: str) -> QuestionSet:
        """The cases of these kinds only ("meta", "unrelated", ...), for a figure by kind."""
        return QuestionSet(tuple(c for c in self.cases if c.kind in kinds), self.documents, self.skipped)


@dataclass(frozen=True)
class Miss:
    """A question scored wrong, and what the bot gave instead."""

    question: str
    kind: str
    rank: int | None  # rank of the first hit beyond the first, or None
    abstained: bool
    given: str  # the first excerpt given, cited, or "" when declined

    def __str__(self) -> str:
        if not self.kind:
            what = "declined, but it is answered" if self.abstained else f"first hit at {self.rank or '>3'}"
        else:
            what = f"answered, but it is {self.kind}"
        return f"{self.question!r} {what}" + (f"; gave {self.given}" if self.given else "")


@dataclass
class Report:
    """Scores over a question set, and the questions that missed."""

    answerable: int = 0
    hits1: int = 0
    hits3: int = 0
    reciprocal_ranks: float = 0.0
    false_abstentions: int = 0
    to_decline: dict[str, int] = field(default_factory=dict)  # kind -> questions
    declined: dict[str, int] = field(default_factory=dict)  # kind -> declined
    skipped: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def hit_at_1(self) -> float:
        return self.hits1 / self.answerable if self.answerable else 0.0

    @property
    def hit_at_3(self) -> float:
        return self.hits3 / self.answerable if self.answerable else 0.0

    @property
    def mrr_at_3(self) -> float:
        return self.reciprocal_ranks / self.answerable if self.answerable else 0.0

    def lines(self, *, misses: bool = False) -> list[str]:
        """The report as lines of text: the misses when asked, then the figures (last four lines)."""
        out = [f"missed: {m}" for m in self.misses] if misses else []
        if self.skipped:
            out.append(f"skipped: {self.skipped} lines with no gold yet (reported, awaiting review)")
        counts = ", ".join(f"{self.to_decline[k]} {k}" for k in DECLINE_KINDS if k in self.to_decline)
        declined = ", ".join(
            f"{self.declined.get(k, 0)}/{self.to_decline[k]} {k}"
            for k in DECLINE_KINDS
            if k in self.to_decline
        )
        out += [
            f"questions: {self.answerable} answerable"
            + (f", {counts}" if counts else "")
            + (f"; {len(self.misses)} missed (--misses lists them)" if self.misses and not misses else ""),
            f"hit@1: {self.hit_at_1:.3f}  hit@3: {self.hit_at_3:.3f}  MRR@3: {self.mrr_at_3:.3f}",
            f"abstentions: {declined + ' declined' if declined else 'none to decline'}",
            f"false abstentions: {self.false_abstentions}/{self.answerable} answerable declined",
        ]
        return out

    def as_json(self, *, misses: bool = False) -> dict[str, Any]:
        """The figures as one JSON object (and the misses when asked)."""
        out: dict[str, Any] = {
            "answerable": self.answerable,
            "hit@1": round(self.hit_at_1, 4),
            "hit@3": round(self.hit_at_3, 4),
            "mrr@3": round(self.mrr_at_3, 4),
            "false_abstentions": self.false_abstentions,
            "declined": {k: self.declined.get(k, 0) for k in self.to_decline},
            "to_decline": dict(self.to_decline),
            "skipped": self.skipped,
        }
        if misses:
            out["misses"] = [str(m) for m in self.misses]
        return out


def read_question_set(path: Path) -> QuestionSet:
    """The questions of a JSON Lines or SQuAD JSON file; EvalFileError says what is wrong."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from exc
    stripped = content.lstrip()
    if stripped.startswith("{") and '"data"' in stripped[:4096]:
        try:
            data = json.loads(content)
        except ValueError:
            data = None  # not one JSON document: JSON Lines, whose first line mentions "data"
        if isinstance(data, dict) and "data" in data:
            return _squad(path, data)
    return _json_lines(path, content)


def _json_lines(path: Path, content: str) -> QuestionSet:
    cases: list[Case] = []
    skipped = 0
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question, gold = row["q"], row.get("gold", [])
            if not isinstance(question, str):
                raise TypeError("q must be a string")
            if gold is None:  # a reported answer nobody has reviewed yet: not a question to score
                skipped += 1
                continue
            if not isinstance(gold, list):
                raise TypeError("gold must be a list (or null)")
            kind = str(row.get("kind", ""))
            document = row.get("document") or ""
            if not isinstance(document, str):
                raise TypeError("document must be a file name")
            cases.append(
                Case(question, tuple(str(g) for g in gold), kind if gold else UNRELATED, (), document)
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{number}: not a question line ({exc})") from exc
    if not cases:
        raise EvalFileError(f"{path} has no questions")
    return QuestionSet(tuple(cases), skipped=skipped)


_UNSAFE_NAME = re.compile(r"[^\w.-]+")
# File systems take names of up to 255 bytes; the rest leaves room for "-123.txt".
_STEM_MAX_BYTES = 200


def squad_document_name(title: str, taken: Iterable[str] = ()) -> str:
    """A file name for a SQuAD article, unique among `taken`, short enough for any file system."""
    stem = _UNSAFE_NAME.sub("_", title).strip("._")
    stem = stem.encode("utf-8")[:_STEM_MAX_BYTES].decode("utf-8", "ignore").rstrip("._") or "article"
    name, n, used = f"{stem}.txt", 2, set(taken)
    while name in used:
        name, n = f"{stem}-{n}.txt", n + 1
    return name


def _squad(path: Path, data: dict[str, Any]) -> QuestionSet:
    """SQuAD v1.1/v2.0: each article a document, its paragraphs in order, a blank line apart."""
    cases: list[Case] = []
    documents: dict[str, str] = {}
    try:
        for article in data["data"]:
            name = squad_document_name(str(article.get("title", "article")), documents)
            parts: list[str] = []
            offset = 0
            for paragraph in article["paragraphs"]:
                context = str(paragraph["context"]).strip("\n")
                for qa in paragraph["qas"]:
                    spans = tuple(
                        AnswerSpan(name, offset + int(a["answer_start"]), str(a["text"]))
                        for a in qa.get("answers", [])
                        if context[int(a["answer_start"]) :].startswith(str(a["text"]))
                    )
                    if qa.get("is_impossible"):
                        cases.append(Case(str(qa["question"]), kind=UNANSWERABLE))
                    elif spans:
                        cases.append(Case(str(qa["question"]), spans=spans))
                    else:
                        raise ValueError(f"question {qa.get('id')!r} has no answer that matches its context")
                parts.append(context)
                offset += len(context) + 2
            documents[name] = "\n\n".join(parts) + "\n"
    except (KeyError, TypeError, ValueError) as exc:
        raise EvalFileError(f"{path}: not a SQuAD file ({exc})") from exc
    if not cases:
        raise EvalFileError(f"{path} has no questions")
    return QuestionSet(tuple(cases), documents)


def _holds(excerpt: Excerpt, case: Case) -> bool:
    text = fold_space(excerpt.text)
    if len(text) > MAX_HIT_CHARS or (case.document and excerpt.document.name != case.document):
        return False
    if any(fold_space(g) in text for g in case.gold):
        return True
    for span in case.spans:
        # A cut sentence holds the answer only if the part shown does.
        shown = not excerpt.truncated or fold_space(span.text) in text
        if excerpt.document.name == span.document and excerpt.start <= span.start < excerpt.end and shown:
            return True
    return False


def first_hit(answer: Answer, case: Case, depth: int = DEPTH) -> int | None:
    """The 1-based rank of the first excerpt that answers the case, or None."""
    if answer.abstained:
        return None
    for rank, excerpt in enumerate(answer.excerpts[:depth], start=1):
        if _holds(excerpt, case):
            return rank
    return None


def _given(answer: Answer) -> str:
    if not answer.excerpts:
        return ""
    e = answer.excerpts[0]
    text = e.text if len(e.text) <= 100 else e.text[:99] + "…"
    return f"[{e.document.name} {e.citation}] {text}"


def evaluate(cases: Iterable[Case], ask: Callable[[str], Answer], skipped: int = 0) -> Report:
    """Score every case with `ask` (which should give at least `DEPTH` excerpts when it can)."""
    report = Report(skipped=skipped)
    for case in cases:
        answer = ask(case.question)
        if not case.answerable:
            kind = case.kind if case.kind in DECLINE_KINDS else UNRELATED
            report.to_decline[kind] = report.to_decline.get(kind, 0) + 1
            if answer.abstained:
                report.declined[kind] = report.declined.get(kind, 0) + 1
            else:
                report.misses.append(Miss(case.question, kind, None, False, _given(answer)))
            continue
        report.answerable += 1
        if answer.abstained:
            report.false_abstentions += 1
            report.misses.append(Miss(case.question, "", None, True, ""))
            continue
        rank = first_hit(answer, case)
        if rank == 1:
            report.hits1 += 1
        if rank is not None:
            report.hits3 += 1
            report.reciprocal_ranks += 1 / rank
        if rank != 1:
            report.misses.append(Miss(case.question, "", rank, False, _given(answer)))
    return report
