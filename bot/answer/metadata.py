"""Questions about the documents themselves: who wrote one, its title, when and where it was
published, its address. They are answered from a document's metadata, citing where the document
states it (a front matter line, its first heading, a byline, a dateline, its subtitle, its file
name), or declined with a note saying what the documents do not state.

Which documents a question asks about is the document step's call (`bot.search.documents`):
people name an article by what it is about ("the article about bike lanes"), by its outlet ("the
Ledger story") or by its author ("What else did Maria Lopez write?"). Documents that fit equally
are each answered, not one picked at random.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from bot.answer.answers import Answer, Excerpt
from bot.documents.corpus import Corpus, View, shown_name
from bot.documents.document import FILE_NAME, FRONT_MATTER, Document, sentence_text
from bot.search.question import Question
from bot.search.ranking import Ranker
from bot.text import tokenize, written_names

# Spans of a text that match the question (the composer's highlighting).
Highlighter = Callable[[str, Question], list[tuple[int, int]]]

# The fields a question can ask for, in the order answers give them, and what they are called.
FIELDS = ("title", "author", "published", "outlet", "source_url")
_LABELS = {
    "author": "who wrote it",
    "title": "its title",
    "published": "when it was published",
    "outlet": "where it was published",
    "source_url": "where it comes from",
}
# Nouns that ask for a field whatever the question word. Matched as words, not stems, so "What did
# KCNA report?" is not a byline question ("reporter" and "report" share a stem).
_NOUNS = {
    "author": "author authors writer writers byline bylines journalist journalists reporter reporters "
    "correspondent columnist",
    "title": "title titles headline headlines",
    "published": "date dated",
    "outlet": "outlet outlets newspaper newspapers paper publication publisher site website agency magazine "
    "wire broadcaster network organization organisation",
    "source_url": "source url link address",
}
_FIELD_NOUNS = {word: field for field, words in _NOUNS.items() for word in words.split()}
# Verbs that ask for a field by the question word they come with: "who wrote" (the author), "when
# was it written" (the date), "what did she write" (her articles); "who published" (the outlet).
_WRITE = frozenset("wrote write writes written writing authored penned reported".split())
_PUBLISH = frozenset("published publish publishes publishing posted printed ran carried filed".split())
# ... and these only with a word for a document: "When did the Gazette run its story?" (but "Who
# runs the department?", "When was that version released?" ask the content).
_PUBLISH_DOCUMENT = frozenset("run runs print prints carry carries release released".split())
# ... and these with "who" or a writer's noun: "Which reporter covered the council vote?" (but
# "What did the story cover?" asks the content).
_COVER = frozenset("cover covers covered covering".split())
_READ = frozenset("read find see view open".split())  # "Where can I read the article online?": its address
_OUT = frozenset("come comes came appear appeared appears".split())  # "When did the story come out?"
_CALLED = frozenset("called named".split())  # "What is the story called?"
# Words that stand for a document ("this article", "the story") or fill the frame of a question
# about one; they name no particular document.
_DOCUMENT_WORDS = frozenset(
    "article articles story stories piece pieces report reports document documents post posts text page "
    "item guide guides essay essays column columns feature features tutorial tutorials explainer "
    "review reviews blog this it one else".split()
)
# What follows a field's noun when it heads the question ("Which news outlet is the story from?").
_FRAME_VERBS = frozenset("is was are were did does do has had published ran carried wrote reported".split())
_WH = frozenset("who whom whose what which when where how".split())
_ARTICLES = frozenset("the a an its this that".split())
LIST_MAX = 10  # documents answered for at most; more fitting equally are declined, asking which


def about_documents(
    corpus: Corpus,
    question: str,
    asked: Question,
    ranker: Ranker,
    highlight: Highlighter,
    document: int | None = None,
    view: View | None = None,
) -> Answer | None:
    """The answer to a question about the documents (who wrote one, when), or None.

    With `document`, the question is about that document alone; with `view` (a server's), about
    the documents it holds alone.
    """
    # "Besides the tuition story, what did Lukas Brenner write?": the rest of the question is read
    # without the exclusion, and the document it names is left out of the answer.
    text, excluded = question, _excluded(ranker, question, view) if document is None else None
    if excluded is not None:
        text = excluded[1]
        asked = ranker.question(text)
    fields, used = _fields(asked.words, _in_names(text))
    if not fields:
        return None
    skip = _WH | used | _DOCUMENT_WORDS
    rest_terms = list(dict.fromkeys(tokenize(" ".join(w for w in asked.words if w not in skip))))
    # "Which paper reported on the hospital pilot?": a field's noun with a verb of writing asks
    # about the document that reported it, named by its subject (but "Which agency published the
    # photos?" may ask what the story says: see below).
    reported = bool(used & set(_FIELD_NOUNS)) and bool(used & (_WRITE | _COVER))
    names_document = reported or any(w in _DOCUMENT_WORDS for w in asked.words)
    if document is not None:
        documents = [document]
    elif not rest_terms:
        documents = corpus.visible(view)
    else:
        documents = _named(ranker, text, rest_terms, names_document, view)
        if not documents:
            return None  # "What did Kim write about the war?" is about the content
    if excluded is not None:
        documents = [d for d in documents if d != excluded[0]]
        if not documents:
            note = f"{shown_name(corpus.documents[excluded[0]].name)} is the only article that fits."
            return Answer(question, abstained=True, terms=asked.terms, note=note)
    wh = next((w for w in asked.words if w in _WH), "")
    if (
        rest_terms
        and wh in ("what", "which")
        and fields[0] in ("author", "outlet")
        and all(_described_by(ranker, d, text, rest_terms, fields[0]) for d in documents)
    ):
        fields = ["title"]  # "What else did Maria Lopez write?": her articles, by their titles
    if len(documents) > LIST_MAX:
        titles = tuple(
            e for d in documents[:LIST_MAX] if (e := _excerpt(corpus.documents[d], "title", asked, highlight))
        )
        note = (
            f"{len(documents)} articles fit that question; say which one (by its subject, outlet or "
            "author), or pin one with the document option."
        )
        return Answer(question, abstained=True, closest=titles, terms=asked.terms, note=note)
    found: list[Excerpt] = []
    silent: list[Document] = []
    for d in documents:
        doc = corpus.documents[d]
        excerpts = [e for name in fields if (e := _excerpt(doc, name, asked, highlight))]
        found += excerpts
        if not excerpts:
            silent.append(doc)
    asked_for = " or ".join(_LABELS[name] for name in fields)
    if not found and reported and not any(w in _DOCUMENT_WORDS for w in asked.words):
        return None  # no document states it: the question may be about what one reports
    if not found:
        which = "The article doesn't" if len(documents) == 1 else "The articles don't"
        if document is not None or len(documents) < len(corpus.visible(view)):
            which = _names(silent) + (" doesn't" if len(silent) == 1 else " don't")
        return Answer(question, abstained=True, terms=asked.terms, note=f"{which} say {asked_for}.")
    note = f"{_names(silent)} {'doesn' if len(silent) == 1 else 'don'}'t say {asked_for}." if silent else ""
    return Answer(
        question, abstained=False, excerpts=tuple(found), coverage=1.0, terms=asked.terms, note=note
    )


# "besides the tuition story", "other than the Gazette's piece": a document left out of the answer.
_EXCLUDING = re.compile(
    r"\b(?:besides|apart from|aside from|other than|except(?: for)?)\s+(?P<phrase>[^,?;]+)", re.IGNORECASE
)


def _excluded(ranker: Ranker, question: str, view: View | None) -> tuple[int, str] | None:
    """The document an exclusion in the question names, and the question without it; or None."""
    found = _EXCLUDING.search(question)
    if found is None:
        return None
    phrase = found["phrase"]
    terms = list(ranker.question(phrase).terms)
    named = _named(ranker, phrase, terms, True, view) if terms else []
    if not named:
        return None
    rest = " ".join((question[: found.start()] + question[found.end() :]).split()).strip(" ,")
    return named[0], rest


def _in_names(question: str) -> frozenset[str]:
    """The words a question writes as parts of names (`written_names`): "the Meridian Wire story"
    names an outlet; it does not ask for one."""
    return frozenset(w.lower() for w in written_names(question))


def _fields(words: Sequence[str], in_names: frozenset[str] = frozenset()) -> tuple[list[str], set[str]]:
    """The metadata fields a question asks for, and the words that ask for them (none of
    `in_names`, the words written as part of a name).

    A field's noun asks for it where the question asks for a thing: right after the question word
    ("Which outlet published ...", "Whose byline ...") or after "is the" ("Who is the author of
    ...", "What is the publication date ..."). After "did" the question asks what someone did, and
    only a verb of writing or publishing makes it about a document ("What did Maria Lopez write?";
    but "What did the state news agency say?" asks the content).
    """
    at = next((n for n, w in enumerate(words) if w in _WH), -1)
    wh = words[at] if at >= 0 else ""
    words = list(words)
    names_document = any(w in _DOCUMENT_WORDS for w in words)
    after = words[at + 1 :]
    if after[:1] in (["is"], ["was"], ["are"], ["were"]):
        framed = [w for w in after[1:6] if w not in _ARTICLES][:3]
    elif (
        (names_document or after[:1] in (["news"], ["web"]))
        and len(after) > 2
        and after[1] in _FIELD_NOUNS
        and after[2] in _FRAME_VERBS
    ):
        # "Which news outlet is the story from?", "What web address does the article have?",
        # "Which news agency reported the strike?"
        framed = after[:2]
    else:
        framed = after[:1] if at >= 0 else list(words)
    nouns = {w: _FIELD_NOUNS[w] for w in framed if w in _FIELD_NOUNS and w not in in_names}
    if wh == "when":  # a time is asked for: "the Alpine Wire story" names the document, not a field
        nouns = {w: f for w, f in nouns.items() if f == "published"}
    if "date" in nouns or "dated" in nouns:  # "the publication date" asks for a date, not an outlet
        nouns.pop("publication", None)
    if "whom" in words and "by" in words:  # "by whom was it written?"
        wh = "who"
    found = set(nouns.values())
    verbs = {w for w in words if w in _WRITE | _PUBLISH | _CALLED | _OUT}
    if names_document:
        verbs |= _PUBLISH_DOCUMENT.intersection(words)
    if wh == "who" or "author" in found:
        verbs |= _COVER.intersection(words)
    used = set(nouns) | verbs
    if not found:
        if verbs & _CALLED and wh in ("what", "which"):
            found.add("title")
        elif wh in ("what", "which") and after[:1] in (["day"], ["year"], ["month"]) and verbs - _CALLED:
            found.add("published")  # "What day was the Acme story published?"
            used.add(after[0])
        elif verbs - _CALLED and wh == "when" and (names_document or not verbs <= _OUT):
            found.add("published")  # "When was it written?", "When did the story come out?"
        elif verbs & (_WRITE | _COVER):
            found.add("author")
        elif verbs & (_PUBLISH | _PUBLISH_DOCUMENT) and wh in ("who", "where", "which", "what"):
            found.add("outlet")
        elif names_document and wh == "who" and words[-1:] == ["by"]:
            found.add("author")  # "Who is the article about bike lanes by?"
            used.add("by")
        elif names_document and wh == "where" and words[-1:] == ["from"]:
            found.add("outlet")  # "Where is the Ledger story from?"
            used.add("from")
        elif names_document and wh == "where" and (reading := _READ.intersection(words)):
            found.add("source_url")  # "Where can I read the Ledger's story online?"
            used |= reading
    return [f for f in FIELDS if f in found], used


def _named(
    ranker: Ranker, question: str, terms: Sequence[str], names_document: bool, view: View | None = None
) -> list[int]:
    """The documents the rest of the question (its `terms` beyond the field asked for) names, best first.

    With a word that stands for a document ("the article about bike lanes"), the rest says which
    by its words anywhere in it; without one, the rest must name the document by its own
    descriptions: an author's or outlet's name, or at least half its title ("When was 'Parasite
    scores historic upset at SAG awards' published?").
    """
    weights = [ranker.questions.weight(t) for t in terms]
    among = None if view is None else ranker.corpus.visible(view)  # a server's view: its documents
    documents = ranker.step.best(ranker.step.fit(question, terms, weights), among)
    if names_document:
        return documents
    kept = []
    for d in documents:
        held = ranker.step.fields(d, question, terms)
        if set(terms) - held.keys():
            continue
        names = any(fields & {"author", "outlet"} for fields in held.values())
        title = set(tokenize(ranker.corpus.documents[d].title))
        if names or 2 * sum("title" in fields for fields in held.values()) >= len(title):
            kept.append(d)
    return kept


def _described_by(ranker: Ranker, document: int, question: str, terms: Sequence[str], field: str) -> bool:
    """Whether every one of `terms` is a word of the document's `field` ("maria lopez": its author)."""
    held = ranker.step.fields(document, question, terms)
    return all(field in held.get(term, ()) for term in terms)


def _names(documents: Sequence[Document]) -> str:
    names = [shown_name(d.name) for d in documents]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _excerpt(doc: Document, field: str, asked: Question, highlight: Highlighter) -> Excerpt | None:
    """The metadata excerpt for one field of a document: the value, citing where it is stated."""
    value = getattr(doc, field)
    stated = doc.statement(field)
    if field == "outlet" and not value and doc.source_url:
        # No site name or dateline: the address says where it was published.
        value, stated = doc.source_url, doc.statement("source_url")
    if not value:
        return None
    label = field.replace("_url", "")
    if stated is None:
        text, start, end, where = f"{label}: {value}", 0, 0, ""
    elif stated.source == FRONT_MATTER:
        text, start, end, where = f"{stated.label}: {value}", stated.start, stated.end, ""
    elif stated.source == FILE_NAME:
        text, start, end, where = (
            f"{label}: {value} (from the file name {shown_name(doc.name)})",
            0,
            0,
            stated.source,
        )
    else:
        text, start, end = sentence_text(doc, stated.start, stated.end), stated.start, stated.end
        where = stated.source
    if field == "outlet" and stated is not None and stated.field == "source_url":
        where = "source address"
    spans = _occurrences(value, text) + highlight(text, asked)
    return Excerpt(
        document=doc,
        citation=f"metadata: {label}" + (f", from the {where}" if where else ""),
        text=text,
        score=1.0,
        start=start,
        end=end,
        matches=tuple(sorted(set(spans))),
    )


def _occurrences(value: str, text: str) -> list[tuple[int, int]]:
    """Where `value` stands in `text`, case aside: left to right, none overlapping."""
    if not (value.isascii() and text.isascii()):
        return [(m.start(), m.end()) for m in re.finditer(re.escape(value), text, re.IGNORECASE)]
    # ASCII: lower case keeps every offset, and no pattern is compiled for each value (at 10,000
    # documents, their values overflow `re`'s cache of compiled patterns).
    haystack, needle = text.lower(), value.lower()
    found: list[tuple[int, int]] = []
    at = haystack.find(needle)
    while at >= 0:
        found.append((at, at + len(needle)))
        at = haystack.find(needle, at + len(needle))
    return found
