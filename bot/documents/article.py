"""Page furniture and articles: the short lines of a news page that are not its content, and
whether a web page's text holds an article at all."""

from __future__ import annotations

import re

from bot.documents import markdown
from bot.documents.document import TITLE_PARAGRAPH, ParsedDocument, is_markdown, sentence_text

# Lines of page furniture rather than content, as news pages and blogs everywhere have them:
# share and sign-up prompts, links onward, credits, bylines' timestamps, standards trailers,
# section headings of the page around the article, copyright lines; newsletter and subscription
# pitches, sign-in and account prompts. Short lines only (below).
_BOILERPLATE = re.compile(
    r"""^\W*(?:follow\b.*\b(?:on|at)\b|share\b|subscribe\b|sign\s+up\b|click\b|tap\b|
    (?:sign|log)\s+in(?:\W*$|\s+(?:to|or|with)\b)|
    read\s+(?:the\s+)?(?:full|more|original|rest)\b|read\s+our\b|related\b|advertisement\b|sponsored\b|
    watch\b.*\bvideo|(?:image|photo|photograph|picture|credit)s?\s*(?:by\b|:)|
    copyright\b|©|all\s+rights\s+reserved|
    (?:additional\s+)?(?:reporting|writing|editing|edited|compiled)\s+by\s+(?-i:[A-Z])|
    (?:last\s+)?(?:updated|published|posted)(?:\s+on)?\s*:?\s*
        (?:\d|an?\s+(?:minute|hour|day)|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*\b)|
    our\s+standards\b|(?:editorial|trust)\s+(?:standards|guidelines|principles)\b|
    skip\s+to\b|(?:explore\s+)?more\s+on\s+(?:this|these)\b|most\s+(?:read|viewed|popular|shared)\W*$|
    (?:topics|tags)\s*:|reuse\s+this\b|(?:email|print)\s+this\b|comments?\s*(?:\(\d+\)|\d+)?\W*$|
    (?:get|receive|have)\b[^.!?]{0,60}\b(?:in|to|into)\s+your\s+inbox\b|
    (?:get|enjoy|unlock)\s+unlimited\s+(?:digital\s+)?access\b|
    by\s+(?:signing\s+(?:up|in)|logging\s+in|subscribing|registering|continuing|clicking)\b[^.!?]*\byou\s+agree\b|
    already\s+(?:an?\s+(?:subscriber|member|user)|registered)\s*\?|don[’']?t\s+have\s+an\s+account\b|
    forgot(?:ten)?\s+(?:your\s+)?password\s*\?|create\s+(?:an?\s+|your\s+)(?:free\s+)?account\W*$)""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_MAX_WORDS = 16
# A page is an article when this many words of its text are prose: in sentences that end as
# sentences do, outside link text, and not furniture. Menus, link lists, buttons and form labels
# have none; the shortest article measured (one sentence) has 18, the saved news pages 249 to 345
# (docs/articles.md, "What counts as an article": `python -m benchmarks.bench_extract --article-text`).
MIN_ARTICLE_WORDS = 15
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
NOT_AN_ARTICLE = "has no article text (nothing but links and page furniture)"
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+$")  # what opens a list item's line
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\([^)]*\)")  # `[text](address)`: what trafilatura writes


def article_words(parsed: ParsedDocument) -> int:
    """Words of prose in a document: in its sentences that end as sentences do, link text left out
    (navigation is links, prose runs between them), and list items that open with a link left out
    (lists of stories, results or sections, each a link and a blurb); furniture is filtered out by
    parsing already."""
    document, text = parsed.document, parsed.document.text
    labels = markdown.references(text) if is_markdown(document.name) else frozenset()
    words = 0
    for para_no, _, start, end, _ in parsed.sentences:
        if para_no == TITLE_PARAGRAPH or not _SENTENCE_END.search(sentence_text(document, start, end)):
            continue  # a title or subtitle (from the page's metadata) is not the page's prose
        source = text[start:end]
        if is_markdown(document.name):
            line_start = text.rfind("\n", 0, start) + 1
            if source.startswith(("[", "![")) and _LIST_ITEM.match(text, line_start, start):
                continue
            source = _INLINE_LINK.sub(" ", source)
        words += len(markdown.shown(source, labels).split())
    return words


def is_article(parsed: ParsedDocument) -> bool:
    """Whether a web page's text holds an article, not only menus, links and sign-up prompts."""
    return article_words(parsed) >= MIN_ARTICLE_WORDS


def is_boilerplate(paragraph: str) -> bool:
    """Page furniture (share prompts, "Read the full article here"), not an answer."""
    return len(paragraph.split()) <= _BOILERPLATE_MAX_WORDS and _BOILERPLATE.match(paragraph) is not None
