"""The corpus itself: `/about` lists the documents, `/quote` shows a cited sentence, `/help`."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import discord
import numpy as np
from discord import app_commands
from discord.ext import commands

from bot.answer import render
from bot.answer.composer import Composer
from bot.discord_bot.views import ADD_HINT, CHOICE_MAX, CHOICES_MAX, help_embed, respond
from bot.documents.corpus import DocumentNotFoundError, View, listed_names, server_of, shown_name
from bot.documents.document import FILE_NAME, FRONT_MATTER, Document, Sentence, sentence_text
from bot.search.retriever import QueryTerm
from bot.text import fold_space, tokenize, words

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

# Every citation the bot prints: `¶2.3`, `article.txt ¶2.3`, `¶9.1–2` (two sentences shown together),
# and a metadata excerpt's `article.txt metadata: author` (`, from the dateline`).
_CITATION = re.compile(r"^\s*(?:(?P<doc>.+?)\s+)?¶?\s*(?P<p>\d+)\.(?P<s>\d+)(?:\s*[–—-]\s*(?P<t>\d+))?\s*$")
_METADATA = re.compile(r"^\s*(?:(?P<doc>.+?)\s+)?metadata:\s*(?P<field>[a-z]+)\b.*$")
# What a person has typed of a citation so far: "¶2", "2.", "article.txt ¶2.1".
_CITATION_START = re.compile(r"^\s*(?:(?P<doc>\S+?)\s+)?¶?\s*(?P<p>\d+)(?:\.(?P<s>\d*))?\s*$")
_PREFIX_TERMS = 30  # index terms a half-typed last word may stand for


def citation_choices(composer: Composer, typed: str, server: int | None = None) -> list[tuple[str, str]]:
    """Up to 25 (name, value) choices for /quote: sentences matching what was typed, as citations,
    of the documents `server` sees.

    A number (`2`, `¶2.`, `¶2.1`) lists that paragraph's sentences; words rank sentences by BM25,
    the last word read as a prefix since the person is still typing it.
    """
    corpus = composer.corpus
    view = corpus.view(server)
    typed = fold_space(typed)
    ids: list[int]
    m = _CITATION_START.match(typed)
    if not typed:
        spans = (composer.ranker.sentences_of(n) for n in corpus.visible(view)[:CHOICES_MAX])
        ids = [i for start, end in spans for i in range(start, end)][:CHOICES_MAX]
    elif m is not None:
        ids = _paragraph_sentences(composer, m["doc"], int(m["p"]), m["s"] or "", view)
    else:
        query = [QueryTerm(t) for t in tokenize(typed)]
        if not typed.endswith(" "):
            partial = list(words(typed.split()[-1]))[-1:] + tokenize(typed.split()[-1])[-1:]
            for start in partial:
                query += [QueryTerm(t) for t in composer.index.with_prefix(start)[:_PREFIX_TERMS]]
        ranking = composer.index.rank(query, CHOICES_MAX, ranges=corpus.spans(server)) if query else None
        ids = [int(i) for i in ranking.ids] if ranking is not None else []
    single = len(corpus.visible(view)) == 1
    choices = []
    for i in ids[:CHOICES_MAX]:
        sentence = corpus.sentence(i)
        value = _citation(sentence, single)
        if len(value) <= CHOICE_MAX:  # a very long document name cannot be a value; skip it
            label = _citation(sentence, single, shown_name(sentence.document.name))
            choices.append((render.trim_words(f"{label} — {sentence.text}", CHOICE_MAX), value))
    return choices


def _citation(sentence: Sentence, single: bool, name: str | None = None) -> str:
    """A sentence's citation; its document named (`name`, else its own name) unless the only one."""
    return str(sentence.citation) if single else f"{name or sentence.document.name} {sentence.citation}"


def _paragraph_sentences(
    composer: Composer, doc: str | None, paragraph: int, sentence: str, view: View | None
) -> list[int]:
    """Sentences of paragraph `paragraph` whose number starts with `sentence`, in `doc` or in any
    of `view`'s documents."""
    columns = composer.corpus.columns()
    mask = columns["para_no"] == paragraph
    if view is not None:
        mask &= view[columns["doc"]]
    if doc is not None:
        index = next((n for n, d in enumerate(composer.corpus.documents) if d.name == doc), -1)
        mask &= columns["doc"] == index
    ids = np.flatnonzero(mask)
    numbers = columns["sent_no"][ids]
    return [int(i) for i, n in zip(ids, numbers, strict=True) if str(n).startswith(sentence)][:CHOICES_MAX]


class QuoteError(ValueError):
    """A citation /quote cannot show, and why, in a line for the person who asked."""


def quote_embed(composer: Composer, citation: str, server: int | None = None) -> dict[str, Any]:
    """The sentences at a citation in bold inside their paragraph (or the metadata line it cites),
    of a document `server` sees; QuoteError says why there are none."""
    corpus = composer.corpus
    m = _CITATION.match(citation) or _METADATA.match(citation)
    if m is None:
        raise QuoteError(
            f"{citation} is not a citation; try one like ¶2.3 or {shown_name(corpus.documents[0].name)} ¶2.3."
        )
    doc = _cited_document(
        composer, corpus.view(server), m["doc"], m.groupdict().get("p"), m.groupdict().get("s")
    )
    if "field" in m.groupdict():
        return _metadata_quote(doc, m["field"])
    first = corpus.find(doc.name, int(m["p"]), int(m["s"]))
    last = corpus.find(doc.name, int(m["p"]), int(m["t"] or m["s"]))
    if first is None or last is None or last < first:
        raise QuoteError(f"No sentence at {shown_name(doc.name)} {citation.rsplit(maxsplit=1)[-1]}.")
    parts = []
    for j in corpus.paragraph_range(first):
        text = render.escape_markdown(corpus.sentence(j).text)
        parts.append(f"**{text}**" if first <= j <= last else text)
    sentence = corpus.sentence(first)
    cited = str(sentence.citation) + (f"–{corpus.sentence(last).citation.sentence}" if last > first else "")
    return {
        "title": render.trim_words(f"{doc.title} {cited}", render.TITLE_MAX),
        "description": render.trim_sentences(" ".join(parts), render.DESCRIPTION_MAX),
        "footer": {"text": f"{shown_name(doc.name)} ¶{sentence.citation.paragraph}"},
    }


def _cited_document(
    composer: Composer, view: View | None, name: str | None, paragraph: str | None, sentence: str | None
) -> Document:
    """The document (of `view`'s) a citation names; with none named, the only one, or QuoteError
    offering those that have the sentence cited."""
    corpus = composer.corpus
    documents = [corpus.documents[n] for n in corpus.visible(view)]
    if name is None:
        if len(documents) == 1:
            return documents[0]
        cited = f"¶{paragraph}.{sentence}" if paragraph else "that"
        having = [
            shown_name(d.name)
            for d in documents
            if paragraph is None or corpus.find(d.name, int(paragraph), int(sentence or 0)) is not None
        ]
        raise QuoteError(
            f"I read {len(documents)} documents, so a citation needs the document's name, "
            f"like {shown_name(documents[0].name)} {cited}."
            + (f" Documents with a {cited}: {listed_names(having)}." if having else "")
        )
    exact = [d for d in documents if d.name == name]
    if exact:
        return exact[0]
    try:
        return corpus.documents[corpus.resolve(name, view)]
    except DocumentNotFoundError as exc:
        raise QuoteError(f"No document for that citation: {exc}.") from None


def _metadata_quote(doc: Document, field: str) -> dict[str, Any]:
    """A metadata citation's line: where the document states the field, as the file has it."""
    stated = doc.statement("source_url" if field == "source" else field)
    if stated is None and field == "outlet":  # no site name or dateline: the address says where
        stated = doc.statement("source_url")
    if stated is None:
        raise QuoteError(f"{shown_name(doc.name)} does not state its {field}.")
    if stated.source == FILE_NAME:
        text = f"{doc.title} (the file name {shown_name(doc.name)})"
    elif stated.source == FRONT_MATTER:
        text = doc.text[stated.start : stated.end]
    else:
        text = sentence_text(doc, stated.start, stated.end)
    return {
        "title": render.trim_words(f"{doc.title} metadata: {field}", render.TITLE_MAX),
        "description": render.trim_words(render.escape_markdown(text), render.DESCRIPTION_MAX),
        "footer": {"text": f"{shown_name(doc.name)}, from the {stated.source}"},
    }


def about_embed(composer: Composer, server: int | None = None) -> dict[str, Any]:
    """The corpus as `server` sees it: each document's metadata, sentence count and content hash."""
    corpus = composer.corpus
    documents = [corpus.documents[n] for n in corpus.visible(corpus.view(server))]
    own = sum(server_of(d.name) != 0 for d in documents)
    fields = []
    for doc in documents[: render.FIELDS_MAX]:
        lines = [
            f"by {render.escape_markdown(doc.author)}" if doc.author else None,
            render.escape_markdown(doc.outlet) if doc.outlet else None,
            doc.source_url,
            f"published {doc.published}" if doc.published else None,
            f"{doc.sentence_count} sentences · `{shown_name(doc.name)}` · sha256 `{doc.content_hash[:12]}`",
        ]
        fields.append(
            {
                "name": render.trim_words(doc.title, render.FIELD_NAME_MAX),
                "value": render.trim_words("\n".join(x for x in lines if x), render.FIELD_VALUE_MAX),
            }
        )
    count = len(documents)
    more = f" (first {render.FIELDS_MAX} shown)" if count > render.FIELDS_MAX else ""
    pin = " Ask one alone with `/ask document:`." if count > 1 else ""
    sentences = sum(d.sentence_count for d in documents)
    added = f" {own} of them added in this server with `/add`." if own else ""
    return {
        "title": "The articles I answer from",
        "description": f"{count} document(s), {sentences} sentences{more}.{pin}{added}\n"
        + ADD_HINT
        + "\n"
        + render.rerank_status(composer)
        + "\n"
        + render.reader_status(composer),
        "fields": fields,
    }


class ReferenceCog(commands.Cog):
    """What the bot reads and how to ask it."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        """List the articles I answer from: title, author, source, date, size."""
        embed = about_embed(self.bot.composer, interaction.guild_id)
        await interaction.response.send_message(embed=discord.Embed.from_dict(embed))

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """How to ask me questions, with examples."""
        await interaction.response.send_message(
            embed=discord.Embed.from_dict(help_embed(self.bot.votes_kept_days)), ephemeral=True
        )

    @app_commands.command(name="quote")
    @app_commands.describe(citation="A citation from an answer, e.g. article.txt ¶2.3, ¶2.3 or ¶9.1–2")
    async def quote(
        self, interaction: discord.Interaction[Any], citation: app_commands.Range[str, 1, 200]
    ) -> None:
        """Show a cited sentence in its paragraph."""
        try:
            embed = quote_embed(self.bot.composer, citation, interaction.guild_id)
        except QuoteError as exc:
            await respond(interaction, render.escape_markdown(str(exc)))
            return
        await interaction.response.send_message(embed=discord.Embed.from_dict(embed))

    @quote.autocomplete("citation")
    async def _complete_citation(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        composer = self.bot.composer  # searching a large corpus takes a moment: off the loop
        choices = await asyncio.to_thread(citation_choices, composer, current, interaction.guild_id)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`)."""
    await bot.add_cog(ReferenceCog(bot))
