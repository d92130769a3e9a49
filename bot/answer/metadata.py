"""Questions about the documents themselves: who wrote one, its title, when it was published, where
it comes from. They are answered from a document's metadata, citing the line that states it, or
declined with a note saying what the document does not state."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.answer.answers import Answer, Excerpt
from bot.documents.corpus import Corpus, Document
from bot.search.ranking import Question
from bot.text import fold_space, term_spans, tokenize

# Spans of a text that match the question (the composer's highlighting).
Highlighter = Callable[[str, Question], list[tuple[int, int]]]

# Questions about a document itself: the words that ask for each metadata field, and words that
# name the document. Matched as words, not stems, so "What did KCNA report?" is not a byline
# question ("reporter" and "report" share a stem).
_META_FIELDS = {
    "author": (
        "author",
        "authors",
        "writer",
        "wrote",
        "write",
        "written",
        "byline",
        "journalist",
        "reporter",
    ),
    "title": ("title", "headline", "called", "named"),
    "published": ("published", "publish", "publication", "dated", "date"),
    "source_url": ("source", "url", "link", "website", "outlet", "site"),
}
_META_LABELS = {
    "author": "who wrote it",
    "title": "its title",
    "published": "when it was published",
    "source_url": "where it comes from",
}
_DOCUMENT_WORDS = frozenset("article story piece report document post text page this it".split())
_WH = frozenset("who whom whose what which when where how".split())


def about_documents(
    corpus: Corpus, question: str, asked: Question, top_k: int, highlight: Highlighter
) -> Answer | None:
    """The answer to a question about the documents (who wrote it, when), or None.

    A question is about a document when it asks for a metadata field and its other words
    are only words that name a document ("this article") or words of one document's title.
    """
    ws = [w for w in asked.words if w not in _WH]
    fields = [name for name, field_words in _META_FIELDS.items() if set(field_words) & set(ws)]
    if not fields:
        return None
    field_words = {w for name in fields for w in _META_FIELDS[name]}
    content = [w for w in ws if w not in field_words and w not in _DOCUMENT_WORDS]
    rest = tokenize(" ".join(content))
    documents = [d for d in corpus.documents if rest and _names_title(rest, d.title)]
    if rest and not documents:
        return None  # "What did Kim write about the war?" is about the content
    documents = documents or corpus.documents
    found = [e for d in documents for name in fields if (e := _metadata_excerpt(d, name, asked, highlight))]
    if found:
        return Answer(
            question,
            abstained=False,
            excerpts=tuple(found[:top_k]),
            coverage=1.0,
            terms=asked.terms,
        )
    which = "The article doesn't" if len(documents) == 1 else "The articles don't"
    asked_for = " or ".join(_META_LABELS[name] for name in fields)
    return Answer(question, abstained=True, terms=asked.terms, note=f"{which} say {asked_for}.")


def _metadata_excerpt(doc: Document, name: str, asked: Question, highlight: Highlighter) -> Excerpt | None:
    value = getattr(doc, name)
    if not value:
        return None
    # Cite the line of the document that states the value (front matter or byline).
    at = doc.text.find(value)
    if at < 0:
        return None
    line_start = doc.text.rfind("\n", 0, at) + 1
    line_end = doc.text.find("\n", at)
    line_end = len(doc.text) if line_end < 0 else line_end
    text = fold_space(doc.text[line_start:line_end])
    spans = [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]
    spans += highlight(text, asked)
    return Excerpt(
        document=doc,
        citation=f"metadata: {name.replace('_url', '')}",
        text=text,
        score=1.0,
        start=line_start,
        end=line_end,
        matches=tuple(sorted(set(spans))),
    )


def _names_title(terms: Sequence[str], title: str) -> bool:
    """Whether the terms are words of the title, and at least half of them."""
    title_terms = {s.term for s in term_spans(title)}
    return set(terms) <= title_terms and 2 * len(set(terms)) >= len(title_terms)
