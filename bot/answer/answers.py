"""What an answer is: cited excerpts best first, or an abstention; the data that flows from the
answer stage to the renderings, the Discord layer and the scoring."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.documents.document import Document


class QuestionError(ValueError):
    """A question that cannot be asked (empty, or longer than the limit)."""


class DocumentError(QuestionError):
    """A question pinned to a document the corpus does not hold (or to a name several match)."""


@dataclass(frozen=True)
class Excerpt:
    """Whole sentences of one document that answer (part of) a question."""

    document: Document
    citation: str  # "¶2.3", "¶2.3–4" for two sentences, or "metadata: author"
    text: str  # as it stands in the document, white space folded, no markup
    score: float
    start: int  # span in the document's text
    end: int
    matches: tuple[tuple[int, int], ...] = ()  # spans of `text` that matched the question
    sentence_ids: tuple[int, ...] = ()  # corpus sentence ids (none for metadata)
    cut: tuple[bool, bool] = (False, False)  # an over-long sentence shown in part: cut at start, at end

    @property
    def truncated(self) -> bool:
        """Whether only part of the sentence is shown."""
        return any(self.cut)

    @property
    def paragraph(self) -> int | None:
        """The paragraph number, for sentence excerpts."""
        m = re.match(r"¶(\d+)", self.citation)
        return int(m.group(1)) if m else None


@dataclass(frozen=True)
class ShortAnswer:
    """A span of the top excerpt's own text that answers the question by itself ("about 12 years old")."""

    text: str  # as the excerpt shows it
    document: Document
    start: int  # span in the document's text, as an excerpt's
    end: int
    citation: str  # the sentence that holds it: "¶2.3"


@dataclass(frozen=True)
class Answer:
    """The answer to one question: excerpts best first, or an abstention."""

    question: str
    abstained: bool
    excerpts: tuple[Excerpt, ...] = ()
    closest: tuple[Excerpt, ...] = ()  # when abstaining: nearest passages, not an answer
    coverage: float = 0.0
    terms: tuple[str, ...] = field(default=())
    note: str = ""  # what the documents do not state (why it declined, or which documents are silent)
    reranked: bool = False  # whether the semantic stage re-scored the candidates
    read: bool = False  # whether the reader read the candidates (bot.search.reader)
    relevance: float | None = None  # how much closer to the corpus's meaning than off-topic questions
    short: ShortAnswer | None = None  # given only when the bot is sure (see `bot.answer.short`)
