"""An answer as terminal text, JSON, or Markdown, with the matched words made visible.

Discord embeds are built from the Markdown pieces here (see `bot.discord_bot`), so escaping and
highlighting happen in one place for every medium.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from bot.answer.answers import ShortAnswer
from bot.answer.composer import Answer, Composer, Excerpt
from bot.documents.corpus import shown_name
from bot.text import fold_space

ABSTAIN_MESSAGE = "The article doesn't say."
CLOSEST_LABEL = "Closest passages (not an answer):"

# Characters Discord and CommonMark treat as markup, and mentions Discord would resolve.
_MARKDOWN_CHARS = r"[\\*_~`|>#\[\]()<@:-]"
_MARKDOWN = re.compile(f"({_MARKDOWN_CHARS})")
_ESCAPED = re.compile(rf"\\({_MARKDOWN_CHARS})")
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


def _ellipses(excerpt: Excerpt, body: str) -> str:
    """An ellipsis where a long sentence was cut, at either end."""
    start, end = excerpt.cut
    return ("… " if start else "") + body + (" …" if end else "")


def excerpt_markdown(excerpt: Excerpt) -> str:
    """An excerpt's text in Markdown: escaped, matched words in bold, an ellipsis where cut."""
    body = marked(excerpt.text, excerpt.matches, lambda s: f"**{escape_markdown(s)}**", escape_markdown)
    return _ellipses(excerpt, body)


def excerpt_terminal(excerpt: Excerpt, *, color: bool) -> str:
    """An excerpt's text for a terminal: matched words in bold (ANSI) or between ** marks."""
    if color:
        body = marked(excerpt.text, excerpt.matches, lambda s: f"{_BOLD_ON}{s}{_BOLD_OFF}", str)
    else:
        body = marked(excerpt.text, excerpt.matches, lambda s: f"**{s}**", str)
    return _ellipses(excerpt, body)


def abstain_message(answer: Answer) -> str:
    """Why there is no answer: what the documents do not state, or that they do not say."""
    return answer.note or ABSTAIN_MESSAGE


def where(excerpt: Excerpt) -> str:
    """The citation a reader can follow: document and place in it."""
    return f"{shown_name(excerpt.document.name)} {excerpt.citation}"


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


def short_where(short: ShortAnswer) -> str:
    """The citation of a short answer: the document and the sentence that holds it."""
    return f"{shown_name(short.document.name)} {short.citation}"


def answer_terminal(answer: Answer, *, color: bool = False) -> str:
    """The answer as text for a terminal: the short answer first when there is one."""
    lines: list[str] = []
    if answer.short is not None and not answer.abstained:
        text = f"{_BOLD_ON}{answer.short.text}{_BOLD_OFF}" if color else f"**{answer.short.text}**"
        lines += [f"{text} [{short_where(answer.short)}]", ""]
    if answer.abstained:
        lines.append(abstain_message(answer))
        if answer.closest:
            lines += ["", CLOSEST_LABEL]
            lines += [f"  - [{where(e)}] {e.text}" for e in answer.closest]
        return "\n".join(lines)
    for rank, excerpt in enumerate(answer.excerpts, start=1):
        lines.append(f"{rank}. [{where(excerpt)}] {excerpt_terminal(excerpt, color=color)}")
    if answer.note:  # the documents an answer for each of several could not give one for
        lines.append(answer.note)
    return "\n".join(lines)


def excerpt_json(excerpt: Excerpt) -> dict[str, Any]:
    """One excerpt as a JSON object."""
    return {
        "document": shown_name(excerpt.document.name),
        "citation": excerpt.citation,
        "text": excerpt.text,
        "score": excerpt.score,
        "span": [excerpt.start, excerpt.end],
        "matches": [list(m) for m in excerpt.matches],
        "truncated": excerpt.truncated,
        "cut": list(excerpt.cut),
    }


def short_json(short: ShortAnswer | None) -> dict[str, Any] | None:
    """A short answer as a JSON object (None: null)."""
    if short is None:
        return None
    return {
        "text": short.text,
        "document": shown_name(short.document.name),
        "span": [short.start, short.end],
        "citation": short.citation,
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """The answer as the JSON object of the command line's contract."""
    return {
        "question": answer.question,
        "abstained": answer.abstained,
        "short_answer": short_json(answer.short),
        "excerpts": [excerpt_json(e) for e in answer.excerpts],
        "closest": [excerpt_json(e) for e in answer.closest],
        "coverage": round(answer.coverage, 4),
        "reranked": answer.reranked,
        "read": answer.read,
        "relevance": None if answer.relevance is None else round(answer.relevance, 4),
        **({"note": answer.note} if answer.note else {}),
    }


def rerank_status(composer: Composer, why_off: str = "") -> str:
    """Whether answers are re-ranked by meaning (when not, `why_off` says why), and how far the
    sentence vectors are."""
    semantic = composer.ranker.semantic
    if semantic is None:
        return f"Re-ranking by meaning: off{f' ({why_off})' if why_off else ''}."
    done, total = semantic.vectors.progress()
    model = semantic.model.name
    return f"Re-ranking by meaning ({model}): sentence vectors for {done:,} of {total:,} sentences."


def reader_status(composer: Composer) -> str:
    """Whether the reader reads the candidates, and how many."""
    stage = composer.ranker.reader
    if stage is None:
        return "Reader: off."
    return f"Reader: reads the first {stage.fitted.candidates} candidates with the question."


# -- Discord ------------------------------------------------------------------------------------
# Discord's limits on what one message may carry.
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FOOTER_MAX = 2048
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
EMBED_TOTAL_MAX = 6000
LABEL_MAX = 80
CUSTOM_ID_MAX = 100
SHORT_MAX = 300  # a short answer is a phrase; cut anything longer, never the excerpts' room

_SENTENCE_END = re.compile(r"(?<=[.!?…”\"'])\s+")


def trim_words(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut.strip():
        cut = cut[: cut.rstrip().rfind(" ")]
    cut = cut.rstrip("\\")  # never leave a dangling Markdown escape
    return cut.rstrip() + "…"


def trim_sentences(markdown: str, limit: int) -> str:
    """Markdown cut to `limit` at the last sentence boundary that keeps bold marks paired."""
    if len(markdown) <= limit:
        return markdown
    best = 0
    for m in _SENTENCE_END.finditer(markdown):
        if m.start() + 2 > limit:
            break
        if markdown[: m.start()].count("**") % 2 == 0:
            best = m.start()
    if best == 0:
        return trim_words(markdown.replace("**", ""), limit)
    return markdown[:best] + " …"


def unescape_markdown(text: str) -> str:
    """The inverse of `escape_markdown`."""
    return _ESCAPED.sub(r"\1", text)


def question_title(question: str) -> str:
    """The question, echoed safely as an embed title."""
    return trim_words(escape_markdown(fold_space(question)), TITLE_MAX)


# An answer's embed keeps its whole question, so buttons can ask it again after a restart: in the
# title when it fits there, else also in the footer, which is plain text (no escaping) and longer.
# A question pinned to one document keeps the document's file name in the footer's first line.
_ASKED = "Asked: "
_DOCUMENT = "Document: "
DOCUMENT_NAME_MAX = 100  # a document named in a footer, as in a slash command's option


def question_fields(question: str, document: str | None = None) -> dict[str, Any]:
    """The embed fields that show and keep a question: a title, and a footer when the title is cut
    or the question is pinned to a `document` (its file name).

    A question too long even for the footer (over 2,041 characters) is shown but not kept; see
    `keeps_question`.
    """
    folded = fold_space(question)
    title = question_title(folded)
    fields: dict[str, Any] = {"title": title}
    lines = [_DOCUMENT + document] if document else []
    if title != escape_markdown(folded):
        lines.append(_ASKED + folded)
    if lines and len("\n".join(lines)) <= FOOTER_MAX:
        fields["footer"] = {"text": "\n".join(lines)}
    return fields


def keeps_question(question: str, document: str | None = None) -> bool:
    """Whether an answer's embed keeps the whole question (else it must offer no buttons)."""
    fields = question_fields(question, document)
    footer = str(fields.get("footer", {}).get("text", ""))
    if document and not footer.startswith(_DOCUMENT):
        return False
    return _ASKED in footer or fields["title"] == escape_markdown(fold_space(question))


def kept_question(embed: dict[str, Any]) -> str | None:
    """The question an answer's embed keeps (see `question_fields`), or None if it has none."""
    footer = str(embed.get("footer", {}).get("text") or "")
    for line in footer.split("\n"):
        if line.startswith(_ASKED):
            return footer[footer.index(line) + len(_ASKED) :]
    title = str(embed.get("title") or "")
    return unescape_markdown(title) if title else None


def kept_document(embed: dict[str, Any]) -> str | None:
    """The document an answer's embed says its question was pinned to, or None."""
    first = str(embed.get("footer", {}).get("text") or "").split("\n", 1)[0]
    return first[len(_DOCUMENT) :] if first.startswith(_DOCUMENT) else None


def _question_embed(question: str, document: str | None = None) -> tuple[dict[str, Any], int]:
    """The question's fields, and the room they leave for the description in Discord's 6,000."""
    fields = question_fields(question, document)
    used = len(fields["title"]) + len(fields.get("footer", {}).get("text", ""))
    return fields, min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - used)


def _cite_line(excerpt: Excerpt) -> str:
    link = fragment_link(excerpt)
    label = escape_markdown(where(excerpt))
    return f"[{label}]({link})" if link else label


def excerpts_embed(
    question: str,
    excerpts: tuple[Excerpt, ...],
    *,
    first_number: int = 1,
    widened: dict[int, tuple[str, str]] | None = None,
    short: ShortAnswer | None = None,
    document: str | None = None,
) -> dict[str, Any]:
    """An answer as Discord embed data: the short answer in bold when given, then the cited
    excerpts, matches in bold, within every limit.

    `widened` maps an excerpt's position to (before, after) context shown around it in plain text;
    `document` is the file the question was pinned to.
    """
    fields, budget = _question_embed(question, document)
    head = ""
    if short is not None:
        text = trim_words(short.text, SHORT_MAX)
        head = f"**{escape_markdown(text)}** — {escape_markdown(short_where(short))}\n\n"
        budget -= len(head)
    blocks: list[str] = []
    for n, excerpt in enumerate(excerpts):
        body = excerpt_markdown(excerpt)
        if widened and n in widened:
            before, after = widened[n]
            body = " ".join(p for p in (escape_markdown(before), body, escape_markdown(after)) if p)
        cite = _cite_line(excerpt)
        room = budget // max(len(excerpts), 1) - len(cite) - 16
        blocks.append(f"**{first_number + n}.** {trim_sentences(body, room)}\n— {cite}")
    description = "\n\n".join(blocks)
    return {**fields, "description": head + description[:budget]}


def abstain_embed(question: str, closest: tuple[Excerpt, ...], document: str | None = None) -> dict[str, Any]:
    """Beside "the article doesn't say": the question, and the closest passages labelled as such."""
    lines = [f"> {trim_sentences(excerpt_markdown(e), 900)}\n— {_cite_line(e)}" for e in closest]
    description = f"*{CLOSEST_LABEL}*\n" + "\n".join(lines) if lines else "No passage comes close."
    fields, budget = _question_embed(question, document)
    return {**fields, "description": description[:budget]}
