"""An answer as terminal text, JSON, or Markdown, with the matched words made visible.

Discord embeds are built from the Markdown pieces here (see `bot.discord_app`), so escaping and
highlighting happen in one place for every medium.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from bot.composer import Answer, Excerpt

ABSTAIN_MESSAGE = "The article doesn't say."
CLOSEST_LABEL = "Closest passages (not an answer):"

# Characters Discord and CommonMark treat as markup, and mentions Discord would resolve.
_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()<@:-])")
_BOLD_ON, _BOLD_OFF = "\x1b[1m", "\x1b[0m"


def escape_markdown(text: str) -> str:
    """`text` with every Markdown and mention character escaped, so it shows as written."""
    return _MARKDOWN.sub(r"\\\1", text)


def marked(
    text: str, spans: tuple[tuple[int, int], ...], mark: Callable[[str], str], plain: Callable[[str], str]
) -> str:
    """`text` with `mark` applied to the matched spans and `plain` to the rest."""
    out: list[str] = []
    pos = 0
    for start, end in _merge(text, spans):
        out.append(plain(text[pos:start]))
        out.append(mark(text[start:end]))
        pos = end
    out.append(plain(text[pos:]))
    return "".join(out)


_JOINER = re.compile(r"[\s'’-]*")


def _merge(text: str, spans: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans; words joined only by spaces or hyphens are marked together."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or _JOINER.fullmatch(text, merged[-1][1], start)):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def excerpt_markdown(excerpt: Excerpt) -> str:
    """An excerpt's text in Markdown: escaped, matched words in bold, an ellipsis if cut."""
    body = marked(excerpt.text, excerpt.matches, lambda s: f"**{escape_markdown(s)}**", escape_markdown)
    return f"{body} …" if excerpt.truncated else body


def excerpt_terminal(excerpt: Excerpt, *, color: bool) -> str:
    """An excerpt's text for a terminal: matched words in bold (ANSI) or between ** marks."""
    if color:
        body = marked(excerpt.text, excerpt.matches, lambda s: f"{_BOLD_ON}{s}{_BOLD_OFF}", str)
    else:
        body = marked(excerpt.text, excerpt.matches, lambda s: f"**{s}**", str)
    return f"{body} …" if excerpt.truncated else body


def where(excerpt: Excerpt) -> str:
    """The citation a reader can follow: document and place in it."""
    return f"{excerpt.document.name} {excerpt.citation}"


def fragment_link(excerpt: Excerpt) -> str | None:
    """A link to the source page that scrolls to the excerpt (a `#:~:text=` fragment), if known."""
    url = excerpt.document.source_url
    if not url or not excerpt.text or excerpt.citation.startswith("metadata"):
        return None
    words = excerpt.text.split()
    if len(words) > 8:  # a text fragment of start and end words is shorter and as precise
        target = f"{_quote(' '.join(words[:4]))},{_quote(' '.join(words[-4:]))}"
    else:
        target = _quote(excerpt.text)
    return f"{url.split('#', 1)[0]}#:~:text={target}"


def _quote(text: str) -> str:
    # Fragment directives reserve "-", "&" and ","; percent-encode them with the rest.
    return urllib.parse.quote(text, safe="").replace("-", "%2D")


def answer_terminal(answer: Answer, *, color: bool = False) -> str:
    """The answer as text for a terminal."""
    lines: list[str] = []
    if answer.abstained:
        lines.append(ABSTAIN_MESSAGE)
        if answer.closest:
            lines += ["", CLOSEST_LABEL]
            lines += [f"  - [{where(e)}] {e.text}" for e in answer.closest]
        return "\n".join(lines)
    for rank, excerpt in enumerate(answer.excerpts, start=1):
        lines.append(f"{rank}. [{where(excerpt)}] {excerpt_terminal(excerpt, color=color)}")
    return "\n".join(lines)


def excerpt_json(excerpt: Excerpt) -> dict[str, Any]:
    """One excerpt as a JSON object."""
    return {
        "document": excerpt.document.name,
        "citation": excerpt.citation,
        "text": excerpt.text,
        "score": excerpt.score,
        "span": [excerpt.start, excerpt.end],
        "matches": [list(m) for m in excerpt.matches],
        "truncated": excerpt.truncated,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer as the JSON object of the command line's contract."""
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "excerpts": [excerpt_json(e) for e in answer.excerpts],
        "closest": [excerpt_json(e) for e in answer.closest],
        "coverage": round(answer.coverage, 4),
    }
