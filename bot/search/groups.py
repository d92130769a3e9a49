"""The paragraph and document indexes read beside the sentence index, and for each term in each
document how much its weight in a sentence and in a paragraph of that document changes when its
IDF is taken among the document's own (`Index.within`): the paragraph's and the document's BM25
features, and the sentence's and paragraph's with several documents, read them
(`bot.search.features`). The engine caches them with the sentence index (`bot.cache`): at a
million sentences building them takes most of a second.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import Corpus
from bot.search.retriever import Index

F32 = npt.NDArray[np.float32]
I32 = npt.NDArray[np.int32]


class Within(NamedTuple):
    """For each posting of the document index (a term in a document), how much the term's weight
    in one of the document's sentences, and in one of its paragraphs, changes when its IDF is
    taken among the document's sentences (paragraphs) rather than among all (`Index.within`)."""

    sentences: F32
    paragraphs: F32


class Groups(NamedTuple):
    """The paragraph and document indexes read beside the sentence index (`Index.grouped`), and
    the within-document factors kept beside the document index's postings."""

    paragraphs: Index
    documents: Index
    within: Within


def paragraph_numbers(corpus: Corpus) -> I32:
    """Each sentence's paragraph, numbered 0.. in order across the corpus."""
    para = corpus.paragraph_of
    group = np.zeros(len(para), dtype=np.int32)
    if len(para) > 1:
        np.cumsum(para[1:] != para[:-1], out=group[1:])
    return group


class DocumentGroups(NamedTuple):
    """How many sentences and paragraphs each document has, and each paragraph's document: what
    the sentence and paragraph features need to weigh a term by its IDF within its document."""

    sentences: I32  # sentences per document
    paragraph_document: I32  # each paragraph's document
    paragraphs: I32  # paragraphs per document

    @classmethod
    def of(cls, corpus: Corpus, paragraph_of: I32) -> DocumentGroups:
        """A corpus's, given each sentence's paragraph (`paragraph_numbers`)."""
        n = len(corpus.documents)
        starts = (
            np.flatnonzero(np.diff(paragraph_of, prepend=-1)) if len(paragraph_of) else np.empty(0, np.int64)
        )
        document = corpus.doc_of[starts].astype(np.int32)
        sentences = np.bincount(corpus.doc_of, minlength=n).astype(np.int32)
        return cls(sentences, document, np.bincount(document, minlength=n).astype(np.int32))


def groups(corpus: Corpus, index: Index) -> Groups:
    """The paragraph and document indexes of a corpus, from its sentence index's postings, and
    the within-document factors of its sentences' and paragraphs' terms."""
    paragraph_of = paragraph_numbers(corpus)
    counts = DocumentGroups.of(corpus, paragraph_of)
    paragraphs, documents = index.grouped(paragraph_of), index.grouped(corpus.doc_of)
    # A document holds a term when one of its paragraphs does: the same postings, in the same order.
    paragraphs_by_document = paragraphs.index.grouped(counts.paragraph_document)
    within = Within(
        index.within(documents, counts.sentences),
        paragraphs.index.within(paragraphs_by_document, counts.paragraphs),
    )
    return Groups(paragraphs.index, documents.index, within)
