"""Markdown documents: shown and indexed text is what a reader sees; spans still point into the file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot import engine
from bot.answer import render
from bot.config import Settings
from bot.documents.document import sentence_text
from bot.documents.folder import load_corpus
from bot.documents.markdown import shown, visible
from bot.documents.parse import parse_document
from bot.text import fold_space

_READER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _plain(tokens: list[Token]) -> str:
    out: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline", "text_special"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak") or (
            token.type == "html_inline" and token.content.lower().startswith("<br")
        ):
            out.append("\n")
        elif token.children and token.type != "image":
            out.append(_plain(token.children))
    return "".join(out)


def rendered(source: str) -> list[str]:
    """markdown-it's own reading: the plain text of each paragraph, white space folded."""
    tokens = _READER.parse(source)
    return [
        fold_space(_plain(t.children or []))
        for n, t in enumerate(tokens)
        if t.type == "inline" and tokens[n - 1].type == "paragraph_open"
    ]


_WORDS = [
    "Kim",
    "said",
    "café",
    "2024",
    "U.S.",
    "a",
    "end.",
    "(x)",
    "it's",
    "—",
    "snake_case",
    "5*3",
    "a_b",
    "“q”",
]


def _inline(depth: int, links: bool = True) -> st.SearchStrategy[str]:
    words = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4).map(" ".join)
    if depth == 0:
        return words
    inner, plain = _inline(depth - 1, links), _inline(depth - 1, False)
    pair = st.tuples(inner, inner)
    return st.one_of(
        words,
        inner.map(lambda t: f"*{t}*"),
        inner.map(lambda t: f"**{t}**"),
        inner.map(lambda t: f"_{t}_"),
        inner.map(lambda t: f"~~{t}~~"),
        words.map(lambda t: f"`{t}`"),
        *([plain.map(lambda t: f'[{t}](https://example.org/a_(b)?c=1 "title")')] if links else []),
        words.map(lambda t: f"![{t}](picture.png)"),
        inner.map(lambda t: f'<span class="x">{t}</span>'),
        st.sampled_from(["\\*", "\\_", "&amp;", "&copy;", "&#169;", "<https://example.org>", "\\[x\\]"]),
        pair.map(" ".join),
        pair.map("\n".join),
        pair.map("".join),
        st.tuples(inner, st.sampled_from([".", ",", "!", ")", "'s"])).map("".join),
    )


@settings(max_examples=500, deadline=None)
@given(source=st.lists(_inline(3), min_size=1, max_size=4).map(" ".join))
def test_shown_text_is_what_markdown_it_renders(source: str) -> None:
    assert shown(source) == fold_space(_plain(_READER.parseInline(source)))
    v = visible(source)
    offsets = [v.offset(i) for i in range(len(v.text))]
    assert all(a < b for a, b in itertools.pairwise(offsets))
    # Each shown character comes from its place in the source (entities aside).
    assert all(source[o] == ch for o, ch in zip(offsets, v.text, strict=True) if ch.isalnum())


_BLOCK_KINDS = ["paragraph", "bullets", "numbers", "quote", "code", "fence", "table", "html", "rule"]


@st.composite
def _markdown_documents(draw: st.DrawFn) -> str:
    sentence = st.tuples(st.sampled_from(["Kim", "The", "It"]), _inline(2)).map(lambda t: f"{t[0]} {t[1]}.")
    blocks = []
    for kind in draw(st.lists(st.sampled_from(_BLOCK_KINDS), min_size=1, max_size=6)):
        lines = draw(st.lists(sentence, min_size=1, max_size=3))
        if kind == "paragraph":
            blocks.append("\n".join(lines))
        elif kind == "bullets":
            blocks.append("\n".join(f"- {line}" for line in lines))
        elif kind == "numbers":
            blocks.append("\n".join(f"{n}. {line}" for n, line in enumerate(lines, start=1)))
        elif kind == "quote":
            blocks.append("\n".join(f"> {line}" for line in lines))
        elif kind == "code":
            blocks.append("\n".join(f"    code {line}" for line in lines))
        elif kind == "fence":
            blocks.append("```python\nfenced = 'Kim said.'\n\nmore()\n```")
        elif kind == "table":
            blocks.append("| Kim | said |\n|---|---|\n| table cell. | 2024 |")
        elif kind == "html":
            blocks.append('<div class="ad">\nHTML block text.\n</div>')
        else:
            blocks.append("* * *")
    return "\n\n".join(blocks) + "\n"


@settings(max_examples=150, deadline=None)
@given(source=_markdown_documents(), line_end=st.sampled_from(["\n", "\r\n"]))
def test_markdown_sentences_show_the_rendered_text_and_their_spans_show_them(
    source: str, line_end: str
) -> None:
    text = source.replace("\n", line_end)
    parsed = parse_document("doc.md", text)
    doc = parsed.document
    by_paragraph: dict[int, list[str]] = {}
    for para, _, start, end, _ in parsed.sentences:
        shown_text = sentence_text(doc, start, end)
        assert shown_text and shown_text == shown(text[start:end])
        by_paragraph.setdefault(para, []).append(shown_text)
    # What the sentences show, paragraph by paragraph, is what markdown-it renders as prose:
    # no code, table, HTML block or rule text, and nothing of the prose lost.
    prose = [p for p in rendered(source) if any(ch.isalnum() for ch in p)]
    assert " ".join(" ".join(s) for s in by_paragraph.values()) == " ".join(prose)


REAL = """---
title: The Eiffel Tower
---
Paris landmarks
===============

The **Eiffel Tower** was completed in [1889](https://en.wikipedia.org/wiki/Eiffel_Tower).
It is *324 metres* tall, and its designer's firm was led by _Gustave Eiffel_.
Visitors pay in euros \\(&euro;\\) at the <abbr title="ticket office">desk</abbr>.

![The tower at night](https://example.org/tower.jpg)

> “It is the tallest structure in Paris,” said the guide. Its `lift` is original.

| Year | Visitors |
|------|----------|
| 2019 | 6.2 million |

```python
tower = "The tallest structure in Europe."
```

    indented code is not an answer either.

<div class="share">Share this story on every network you know.</div>

---

## Visiting

1. Buy a ticket online.
2. Take the lift to the [second floor][floors].

[floors]: https://example.org/floors
"""


def test_a_real_markdown_document() -> None:
    parsed = parse_document("tower.md", REAL)
    doc = parsed.document
    sentences = [
        (p, s, sentence_text(doc, start, end), REAL[start:end]) for p, s, start, end, _ in parsed.sentences
    ]
    assert [(p, s, text) for p, s, text, _ in sentences] == [
        (0, 1, "The Eiffel Tower"),  # the front matter's title, a sentence of its own (¶0.1)
        (1, 1, "The Eiffel Tower was completed in 1889."),
        (1, 2, "It is 324 metres tall, and its designer's firm was led by Gustave Eiffel."),
        (1, 3, "Visitors pay in euros (€) at the desk."),
        (2, 1, "“It is the tallest structure in Paris,” said the guide."),
        (2, 2, "Its lift is original."),
        (3, 1, "Buy a ticket online."),
        (3, 2, "Take the lift to the second floor."),
    ]
    # Spans still point into the file, markup and all.
    assert (
        sentences[1][3]
        == "The **Eiffel Tower** was completed in [1889](https://en.wikipedia.org/wiki/Eiffel_Tower)."
    )
    assert sentences[7][3] == "Take the lift to the [second floor][floors]."
    assert doc.title == "The Eiffel Tower"  # the front matter's, before the first heading's


def test_titles_come_from_headings_without_their_markup() -> None:
    doc = parse_document("t.md", "Some *Emphatic* `Title`\n---\n\nBody text.\n").document
    assert doc.title == "Some Emphatic Title"


def test_markdown_answers_show_no_markup_and_discord_escapes_once(tmp_path: Path) -> None:
    (tmp_path / "tower.md").write_bytes(REAL.replace("\n", "\r\n").encode("utf-8"))
    composer = engine.load(Settings(_env_file=None, corpus_dir=tmp_path, use_cache=False))  # type: ignore[call-arg]
    answer = composer.answer("When was the Eiffel Tower completed?")
    first = answer.excerpts[0]
    assert first.text.startswith("The Eiffel Tower was completed in 1889.")
    assert shown(first.document.text[first.start : first.end]) == first.text
    assert "**" not in first.text and "](" not in first.text
    euros = composer.answer("What currency do visitors pay in at the desk?").excerpts[0]
    assert euros.text == "Visitors pay in euros (€) at the desk."
    assert "euros \\(€\\)" in render.excerpt_markdown(euros)  # escaped once for Discord, not twice
    assert "\\\\" not in render.excerpt_markdown(euros)


def test_code_tables_html_blocks_and_rules_are_not_answers(tmp_path: Path) -> None:
    (tmp_path / "tower.md").write_text(REAL, encoding="utf-8")
    corpus = load_corpus(tmp_path)
    texts = " ".join(corpus.sentence(i).text for i in range(len(corpus)))
    for fragment in ("Europe", "indented code", "Share this", "6.2 million", "Visitors |", "Visiting", "---"):
        assert fragment not in texts


@pytest.mark.parametrize(
    "source",
    [
        "[a [b](u) c](v)",  # links hold no links: the outer brackets are text
        "![a [b](u) c](v) d",  # images may hold links, and show nothing
        "`.x_y-->[**x_y<!--*]()<b>*",  # a run that ends a link's text is followed by nothing
        "[*a*](u) [a*](u)*",
        "``a` b`` c ``` d ``",  # a code span closes at a run of its own length only
        "[" * 10 + "a" + "]" * 10 + "(u)",  # (markdown-it stops looking 20 deep; CommonMark does not)
        "*a **b *c* d** e*" * 50,
        "x <!-- y" + " <!--" * 50,
        "[x](u" + " " * 200 + "'t')",
    ],
)
def test_tricky_inline_markdown_shows_what_markdown_it_renders(source: str) -> None:
    assert shown(source) == fold_space(_plain(_READER.parseInline(source)))


def test_a_long_emphasis_after_other_markup_stays_one_sentence_and_shows_its_text() -> None:
    text = "*Note* **" + "Word. " * 2000 + "end**\n"
    parsed = parse_document("d.md", text)
    assert len(parsed.sentences) == 1  # no sentence inside the bold can be shown without its marks
    _, _, start, end, _ = parsed.sentences[0]
    assert sentence_text(parsed.document, start, end) == "Note " + "Word. " * 2000 + "end"
