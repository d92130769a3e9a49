"""A web page's article as a Markdown document: main text and metadata by trafilatura.

One extractor serves `python -m bot add` and `.html`/`.htm` files dropped into the corpus, so a
page reads the same either way: `markdown_document` is both what `add` writes and the text of a
corpus HTML file (its spans index that text, since the page's HTML is not what a reader sees).
trafilatura is imported only here, and only when a page is read.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from bot.documents import frontmatter

# Markdown lines that are structure (lists, quotes, headings, tables, fences), not running text.
_STRUCTURE = re.compile(r"^\s*(?:[-*+]\s|\d{1,9}[.)]\s|>|#{1,6}\s|\||```|~~~)")
# A link or image destination in trafilatura's Markdown: `[text](destination)`.
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
# A host name's characters, once in its ASCII (IDNA) form; `_` is not allowed by the rules but is in use.
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?")
# The codec's message wraps its reason:
# "encoding with 'idna' codec failed (UnicodeError: label empty or too long)".
_INNER_REASON = re.compile(r"\(\w+: (.+)\)$")


@dataclass(frozen=True)
class Article:
    """What a page says and who says it: its main text as Markdown, and its metadata."""

    title: str | None
    authors: tuple[str, ...]
    published: str | None
    source_url: str | None
    body: str
    subtitle: str | None = None  # the page's description: its standfirst, as a rule
    site: str | None = None  # the site's name ("The Riverton Ledger"), not its host name


def extract(page: bytes | str, url: str | None = None) -> Article | None:
    """The article of an HTML page (fetched from `url`, if known), or None if it has no main text."""
    import trafilatura

    # Tables are not answers, images show nothing, and readers' comments are not the article.
    body = trafilatura.extract(
        page,
        url=url,
        output_format="markdown",
        include_formatting=True,
        include_links=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
    )
    if not body:
        return None  # whether what it found is an article is `article.is_article`'s to say
    # Not htmldate's extensive search: it makes a date of any year on the page (a "© 2019" footer
    # becomes 2019-01-01). A date only guessed is no date; the page's own markup states the real one.
    meta = trafilatura.extract_metadata(page, default_url=url, extensive=False)
    source = meta.url if meta is not None and _is_web(meta.url) else url
    return Article(
        title=_one_line(meta.title) if meta is not None else None,
        authors=_authors(meta.author) if meta is not None else (),
        published=meta.date if meta is not None else None,
        source_url=source,
        body=_paragraphs(_absolute_links(body, source)),
        subtitle=_one_line(meta.description) if meta is not None else None,
        site=_site_name(meta.sitename, meta.hostname) if meta is not None else None,
    )


def markdown_document(article: Article) -> str:
    """The article as a Markdown document with YAML front matter (title, subtitle, author, date,
    site, source)."""
    authors: str | list[str] | None = list(article.authors) if len(article.authors) > 1 else None
    fields = {
        "title": article.title,
        "subtitle": article.subtitle,
        "author": article.authors[0] if len(article.authors) == 1 else None,
        "authors": authors,
        "published": article.published,
        "site": article.site,
        "source": article.source_url,
    }
    return frontmatter.write(fields) + "\n" + article.body.strip() + "\n"


def address_problem(url: str) -> str | None:
    """Why `url` is not a well-formed http(s) address, in a few words; None when it is one.

    What `urllib` or the socket would fail on later, with a traceback: brackets that do not close,
    a port that is no number or out of range, no host, a host label empty or over 63 characters
    (the host's IDNA form), white space or other characters no host name has.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - read for its check: ValueError when it is no port
    except ValueError as exc:
        return str(exc)
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http:// or https:// address"
    host = parts.hostname
    if not host:
        return "it has no host name"
    if ":" in host:
        return None  # an IPv6 address in brackets, which urlsplit has checked
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        reason = _INNER_REASON.search(str(exc))
        return f"its host name {host!r}: {reason[1] if reason else exc}"
    if not _HOST_NAME.fullmatch(ascii_host):
        return f"its host name {host!r} has characters no host name has"
    return None


def _is_web(url: str | None) -> bool:
    return url is not None and address_problem(url) is None


def _one_line(text: str | None) -> str | None:
    folded = " ".join((text or "").split())
    return folded or None


def _site_name(name: str | None, host: str | None) -> str | None:
    """The site's name, unless trafilatura fell back to a host name (`source` has the address)."""
    folded = _one_line(name)
    if folded is None or folded == host or (" " not in folded and "." in folded):
        return None
    return folded


def _authors(text: str | None) -> tuple[str, ...]:
    """trafilatura joins several authors with "; "."""
    return tuple(name for part in (text or "").split(";") if (name := " ".join(part.split())))


def _absolute_links(body: str, base: str | None) -> str:
    """Relative link destinations made absolute against the page's address, so they still work."""
    if not base:
        return body
    return _LINK.sub(lambda m: m.group(1) + _joined(base, m.group(2)) + m.group(3), body)


def _joined(base: str, link: str) -> str:
    """`link` made absolute against `base`; a link urllib cannot read (`http://[::1`) stays as written."""
    try:
        return urllib.parse.urljoin(base, link)
    except ValueError:
        return link


def _running_text(line: str) -> bool:
    return bool(line.strip()) and _STRUCTURE.match(line) is None


def _paragraphs(body: str) -> str:
    """trafilatura ends a line between two blocks of text with one newline; Markdown needs two.

    Without the blank line, a dateline or a caption left above a paragraph would read as the
    first words of its first sentence. Lists, quotes, tables and code keep their lines.
    """
    out: list[str] = []
    fenced = False
    previous = ""
    for line in body.strip().splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and _running_text(line) and _running_text(previous):
            out.append("")
        out.append(line.rstrip())
        previous = line
    return "\n".join(out)
