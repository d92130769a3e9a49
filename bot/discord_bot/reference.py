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
from bot.discord_bot.views import help_embed, respond
from bot.documents.corpus import Sentence
from bot.search.retriever import QueryTerm
from bot.text import fold_space, tokenize, words

if TYPE_CHECKING:
    from bot.discord_bot.app import ArticleBot

_CITATION = re.compile(r"^\s*(?:(?P<doc>.+?)\s+)?¶?\s*(?P<p>\d+)\.(?P<s>\d+)\s*$")
# What a person has typed of a citation so far: "¶2", "2.", "article.txt ¶2.1".
_CITATION_START = re.compile(r"^\s*(?:(?P<doc>\S+?)\s+)?¶?\s*(?P<p>\d+)(?:\.(?P<s>\d*))?\s*$")
CHOICES_MAX = 25  # Discord's limits on autocomplete: 25 choices,
CHOICE_MAX = 100  # each name and value at most 100 characters
_PREFIX_TERMS = 30  # index terms a half-typed last word may stand for


def citation_choices(composer: Composer, typed: str) -> list[tuple[str, str]]:
    """Up to 25 (name, value) choices for /quote: sentences matching what was typed, as citations.

    A number (`2`, `¶2.`, `¶2.1`) lists that paragraph's sentences; words rank sentences by BM25,
    the last word read as a prefix since the person is still typing it.
    """
    corpus = composer.corpus
    typed = fold_space(typed)
    ids: list[int]
    m = _CITATION_START.match(typed)
    if not typed:
        ids = list(range(min(CHOICES_MAX, len(corpus))))
    elif m is not None:
        ids = _paragraph_sentences(composer, m["doc"], int(m["p"]), m["s"] or "")
    else:
        query = [QueryTerm(t) for t in tokenize(typed)]
        if not typed.endswith(" "):
            partial = list(words(typed.split()[-1]))[-1:] + tokenize(typed.split()[-1])[-1:]
            for start in partial:
                query += [QueryTerm(t) for t in composer.index.with_prefix(start)[:_PREFIX_TERMS]]
        ranking = composer.index.rank(query, CHOICES_MAX) if query else None
        ids = [int(i) for i in ranking.ids] if ranking is not None else []
    single = len(corpus.documents) == 1
    choices = []
    for i in ids[:CHOICES_MAX]:
        sentence = corpus.sentence(i)
        value = _citation(sentence, single)
        if len(value) <= CHOICE_MAX:  # a very long document name cannot be a value; skip it
            choices.append((render.trim_words(f"{value} — {sentence.text}", CHOICE_MAX), value))
    return choices


def _citation(sentence: Sentence, single: bool) -> str:
    return str(sentence.citation) if single else f"{sentence.document.name} {sentence.citation}"


def _paragraph_sentences(composer: Composer, doc: str | None, paragraph: int, sentence: str) -> list[int]:
    """Sentences of paragraph `paragraph` whose number starts with `sentence`, in `doc` or in any."""
    columns = composer.corpus.columns()
    mask = columns["para_no"] == paragraph
    if doc is not None:
        index = next((n for n, d in enumerate(composer.corpus.documents) if d.name == doc), -1)
        mask &= columns["doc"] == index
    ids = np.flatnonzero(mask)
    numbers = columns["sent_no"][ids]
    return [int(i) for i, n in zip(ids, numbers, strict=True) if str(n).startswith(sentence)][:CHOICES_MAX]


def quote_embed(composer: Composer, citation: str) -> dict[str, Any] | None:
    """The sentence at a citation, in bold inside its paragraph; None if there is none."""
    m = _CITATION.match(citation)
    if m is None:
        return None
    docs = composer.corpus.documents
    name = m["doc"] or (docs[0].name if len(docs) == 1 else None)
    if name is None:
        return None
    found = composer.corpus.find(name, int(m["p"]), int(m["s"]))
    if found is None:
        return None
    parts = []
    for j in composer.corpus.paragraph_range(found):
        text = render.escape_markdown(composer.corpus.sentence(j).text)
        parts.append(f"**{text}**" if j == found else text)
    sentence = composer.corpus.sentence(found)
    return {
        "title": render.trim_words(f"{sentence.document.title} {sentence.citation}", render.TITLE_MAX),
        "description": render.trim_sentences(" ".join(parts), render.DESCRIPTION_MAX),
        "footer": {"text": f"{sentence.document.name} ¶{sentence.citation.paragraph}"},
    }


def about_embed(composer: Composer) -> dict[str, Any]:
    """The corpus: each document's metadata, sentence count and content hash."""
    fields = []
    for doc in composer.corpus.documents[: render.FIELDS_MAX]:
        lines = [
            f"by {render.escape_markdown(doc.author)}" if doc.author else None,
            doc.source_url,
            f"published {doc.published}" if doc.published else None,
            f"{doc.sentence_count} sentences · `{doc.name}` · sha256 `{doc.content_hash[:12]}`",
        ]
        fields.append(
            {
                "name": render.trim_words(doc.title, render.FIELD_NAME_MAX),
                "value": render.trim_words("\n".join(x for x in lines if x), render.FIELD_VALUE_MAX),
            }
        )
    count = len(composer.corpus.documents)
    more = f" (first {render.FIELDS_MAX} shown)" if count > render.FIELDS_MAX else ""
    return {
        "title": "The articles I answer from",
        "description": f"{count} document(s), {len(composer.corpus)} sentences{more}.\n"
        + render.rerank_status(composer),
        "fields": fields,
    }


class ReferenceCog(commands.Cog):
    """What the bot reads and how to ask it."""

    def __init__(self, bot: ArticleBot) -> None:
        self.bot = bot

    @app_commands.command(name="about")
    async def about(self, interaction: discord.Interaction[Any]) -> None:
        """List the articles I answer from: title, author, source, date, size."""
        await interaction.response.send_message(embed=discord.Embed.from_dict(about_embed(self.bot.composer)))

    @app_commands.command(name="help")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """How to ask me questions, with examples."""
        await interaction.response.send_message(
            embed=discord.Embed.from_dict(help_embed(self.bot.votes_kept_days)), ephemeral=True
        )

    @app_commands.command(name="quote")
    @app_commands.describe(citation="A citation from an answer, e.g. article.txt ¶2.3 or ¶2.3")
    async def quote(
        self, interaction: discord.Interaction[Any], citation: app_commands.Range[str, 1, 200]
    ) -> None:
        """Show a cited sentence in its paragraph."""
        embed = quote_embed(self.bot.composer, citation)
        if embed is None:
            await respond(
                interaction, f"No sentence at {render.escape_markdown(citation)}; try a citation like ¶2.3."
            )
            return
        await interaction.response.send_message(embed=discord.Embed.from_dict(embed))

    @quote.autocomplete("citation")
    async def _complete_citation(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        composer = self.bot.composer  # searching a large corpus takes a moment: off the loop
        choices = await asyncio.to_thread(citation_choices, composer, current)
        return [app_commands.Choice(name=name, value=value) for name, value in choices]


async def setup(bot: ArticleBot) -> None:
    """The extension's entry point (`bot.load_extension`)."""
    await bot.add_cog(ReferenceCog(bot))
