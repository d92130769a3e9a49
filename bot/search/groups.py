"""The paragraph and document indexes read beside the sentence index, and how many sentences and
paragraphs each document has: the paragraph's and the document's BM25 features, and a term's IDF
within its document (`bot.search.features`), read them. The engine caches the two indexes with
the sentence index (`bot.cache`): at a million sentences building them takes most of a second.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from bot.documents.corpus import Corpus
from bot.search.retriever import Index

I32 = npt.NDArray[np.int32]


class Groups(NamedTuple):
    """The paragraph and document indexes read beside the sentence index (`Index.grouped`)."""

    paragraphs: Index
    documents: Index


def paragraph_numbers(corpus: Corpus) -> I32:
    """Each sentence's paragraph, numbered 0.. in order across the corpus."""
    para = corpus.paragraph_of
    group = np.zeros(len(para), dtype=np.int32)
    if len(para) > 1:
        np.cumsum(para[1:] != para[:-1], out=group[1:])
    return group


def groups(corpus: Corpus, index: Index) -> Groups:
    """The paragraph and document indexes of a corpus, from its sentence index's postings."""
    return Groups(index.grouped(paragraph_numbers(corpus)), index.grouped(corpus.doc_of))


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
