"""Scoring question sets against the composer: JSON Lines (shared/eval) and SQuAD v1.1 / v2.0.

A JSON Lines case is answered when one of the first three excerpts holds one of its gold
substrings, and comes from the document its `"document"` key names when it has one. A SQuAD
case is answered when one of them holds the start of one of its answers (its span in the
document covers the answer's offset). Questions to decline are of three kinds: `unrelated` lines
of a JSON Lines file, SQuAD v2.0's `is_impossible` questions, and every question of an
`--off-topic` file. The depth is always three, whatever the bot shows (`TOP_K`).
"""

from __future__ import annotations

import collections
import json
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answer.composer import Answer, Excerpt
from bot.answer.short import KIND_NAMES, KINDS
from bot.search.question import answer_type
from bot.text import fold_space

MAX_HIT_CHARS = 500  # a longer excerpt is not an answer, whatever it holds
DEPTH = 3  # hit@3: the excerpts a reader sees first
UNRELATED, OFF_TOPIC, UNANSWERABLE = "unrelated", "off-topic", "unanswerable"
DECLINE_KINDS = (UNRELATED, OFF_TOPIC, UNANSWERABLE)
WRONG_SHORT_F1 = 0.5  # below this F1, and inside no answer text, a short answer is wrong to a reader


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


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's official normalisation: lower case, no punctuation, no articles, white space folded."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 of a predicted answer against one gold answer."""
    predicted, wanted = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(wanted)).values())
    if not predicted or not wanted:
        return float(predicted == wanted)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def short_scores(prediction: str, case: Case) -> tuple[float, float]:
    """Token F1 and exact match of a short answer, each the best over the case's answer texts
    (SQuAD's answers, or a JSON Lines file's gold strings); 0 for a question to decline."""
    golds = [a.text for a in case.spans] + list(case.gold)
    if not golds:
        return 0.0, 0.0
    f1 = max(token_f1(prediction, g) for g in golds)
    em = max(float(normalize_answer(prediction) == normalize_answer(g)) for g in golds)
    return f1, em


def within_answer(prediction: str, case: Case) -> bool:
    """Whether a short answer's words stand, in order, inside one of the case's answer texts: the
    fair reading where the answer texts are whole phrases (a JSON Lines file's gold strings)."""
    words = normalize_answer(prediction)
    return bool(words) and any(
        f" {words} " in f" {normalize_answer(g)} " for g in [a.text for a in case.spans] + list(case.gold)
    )


def question_kind(question: str) -> str:
    """The kind of question for reporting short answers: when, how many, who, where, other."""
    return KIND_NAMES[answer_type(question)]


@dataclass
class ShortTally:
    """Short answers over the questions of one kind."""

    questions: int = 0
    given: int = 0
    f1: float = 0.0  # sums over the questions given one
    em: float = 0.0
    within: int = 0  # given ones inside an answer text (see `within_answer`)

    def add(self, other: ShortTally) -> None:
        """Count `other`'s questions too."""
        self.questions += other.questions
        self.given += other.given
        self.f1 += other.f1
        self.em += other.em
        self.within += other.within

    def figures(self) -> dict[str, float]:
        """Coverage (share given one), mean F1 and exact match over those given one."""
        given = self.given or 1
        return {
            "questions": self.questions,
            "given": self.given,
            "coverage": round(self.given / self.questions, 4) if self.questions else 0.0,
            "f1": round(self.f1 / given, 4),
            "em": round(self.em / given, 4),
            "within": round(self.within / given, 4),
        }

    def line(self, name: str) -> str:
        """One line of figures."""
        f = self.figures()
        return (
            f"{name} {self.given}/{self.questions} ({f['coverage']:.1%}) F1 {f['f1']:.3f} EM {f['em']:.3f}"
            f" within {f['within']:.3f}"
            if self.given
            else f"{name} 0/{self.questions}"
        )


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
    short: dict[str, ShortTally] = field(default_factory=lambda: {k: ShortTally() for k in KINDS})
    short_to_decline: int = 0  # short answers given to questions to decline
    short_misses: list[str] = field(default_factory=list)  # wrong short answers, described

    @property
    def short_total(self) -> ShortTally:
        """Short answers over every answerable question."""
        total = ShortTally()
        for tally in self.short.values():
            total.add(tally)
        return total

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
        """The report as lines of text: the misses when asked, the short answers, then the figures
        (last four lines)."""
        out = [f"missed: {m}" for m in self.misses] if misses else []
        out += [f"wrong short answer: {m}" for m in self.short_misses] if misses else []
        if self.answerable:
            out.append(self.short_total.line("short answers:"))
            out += [self.short[k].line(f"  {k}:") for k in KINDS if self.short[k].questions]
        if to_decline := sum(self.to_decline.values()):
            out.append(f"short answers to questions to decline: {self.short_to_decline}/{to_decline}")
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
        out["short"] = {"all": self.short_total.figures(), **{k: t.figures() for k, t in self.short.items()}}
        out["short_to_decline"] = self.short_to_decline
        if misses:
            out["misses"] = [str(m) for m in self.misses]
            out["short_misses"] = list(self.short_misses)
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


def squad_articles(path: Path) -> list[QuestionSet]:
    """Each article of a SQuAD file as a question set of its own (its document and questions)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = data["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvalFileError(f"{path}: not a SQuAD file ({exc})") from exc
    return [_squad(path, {"data": [article]}) for article in found]


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


def _score_short(report: Report, case: Case, answer: Answer) -> None:
    """Count a question's short answer (or its absence) in the report."""
    given = answer.short
    if not case.answerable:
        report.short_to_decline += given is not None
        if given is not None:
            report.short_misses.append(f"{case.question!r} is one to decline; gave {given.text!r}")
        return
    tally = report.short[question_kind(case.question)]
    tally.questions += 1
    if given is None:
        return
    f1, em = short_scores(given.text, case)
    tally.given += 1
    tally.f1 += f1
    tally.em += em
    tally.within += within_answer(given.text, case)
    if f1 < WRONG_SHORT_F1 and not within_answer(given.text, case):
        wanted = " or ".join(repr(t) for t in dict.fromkeys([a.text for a in case.spans] + list(case.gold)))
        report.short_misses.append(
            f"{case.question!r} gave {given.text!r} [{given.document.name} {given.citation}], "
            f"F1 {f1:.2f}; the answer is {wanted}"
        )


def evaluate(cases: Iterable[Case], ask: Callable[[str], Answer], skipped: int = 0) -> Report:
    """Score every case with `ask` (which should give at least `DEPTH` excerpts when it can)."""
    report = Report(skipped=skipped)
    for case in cases:
        answer = ask(case.question)
        _score_short(report, case, answer)
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
