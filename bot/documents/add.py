"""`python -m bot add SOURCE...`: a web page (by address or saved file) into the corpus as Markdown.

Each source is fetched (http/https only, redirects followed, with a timeout, a size cap and a
User-Agent that names the bot) or read from a `.html`/`.htm` file, its article extracted
(`bot.extract`), and written to the corpus folder as one Markdown document with YAML front
matter, named after its title. A page whose source address is already in the corpus updates
that document in place; a name taken by another document gets a numbered name instead. Nothing
is written for a source that fails: it raises `SourceError` with a one-line reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import stat
import unicodedata
import urllib.parse
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bot.documents import frontmatter
from bot.documents.corpus import (
    NOT_AN_ARTICLE,
    CorpusError,
    Problem,
    document_files,
    is_article,
    parse_document,
    read_bytes,
)
from bot.documents.extract import address_problem, extract, markdown_document

HTML_SUFFIXES = (".html", ".htm")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
    re.IGNORECASE | re.DOTALL,
)
_SLUG_MAX = 80


class SourceError(Exception):
    """A source that cannot be added, with the reason in one line."""


@dataclass(frozen=True)
class Added:
    """Where a source was written, and whether that replaced its earlier version."""

    path: Path
    updated: bool


def user_agent() -> str:
    """The User-Agent the bot fetches pages with: its name, version and what it is."""
    try:
        version = metadata.version("article-bot")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"article-bot/{version} (a Discord bot that answers questions about news articles)"


def add(source: str, folder: Path, *, timeout: float, max_bytes: int) -> Added:
    """Fetch or read `source`, extract its article and write it into `folder`."""
    if "://" in source:
        page, addresses = _fetch(source, timeout=timeout, max_bytes=max_bytes)
        url: str | None = addresses[-1]
    else:
        page, url, addresses = _read(Path(source), max_bytes), None, []
    article = extract(page, url)
    text = markdown_document(article) if article is not None else ""
    if article is None or not is_article(parse_document("page.md", text)):
        raise SourceError(f"the page {NOT_AN_ARTICLE}")
    if article.source_url:
        addresses.append(article.source_url)
    existing = _document_from(folder, {_without_fragment(a) for a in addresses})
    path = existing or _free_name(folder, file_stem(article.title, url or source))
    _write(path, text)
    return Added(path, updated=existing is not None)


def _fetch(url: str, *, timeout: float, max_bytes: int) -> tuple[bytes | str, list[str]]:
    """The page at `url` (text if the server names its charset) and the addresses it answered at."""
    if not url.lower().startswith(("http://", "https://")):
        raise SourceError("only http:// and https:// addresses can be fetched")
    if (problem := address_problem(url)) is not None:
        raise SourceError(f"not a valid address ({problem})")
    return asyncio.run(_download(url, timeout=timeout, max_bytes=max_bytes))


async def _download(url: str, *, timeout: float, max_bytes: int) -> tuple[bytes | str, list[str]]:
    """`_fetch`'s work, within `timeout` seconds in all: connecting, redirects and every read.

    httpx's own timeouts bound each step, so a server that sends a byte every few seconds kept
    `add` waiting for as long as it liked; the deadline is around the whole page.
    """
    import httpx

    async def check_address(request: httpx.Request) -> None:
        # The same check for every address on the way: a redirect may lead to a malformed one.
        if request.url != url and (problem := address_problem(str(request.url))) is not None:
            raise SourceError(f"it redirects to {request.url}, which is not a valid address ({problem})")

    too_large = f"the page is larger than the {max_bytes:,}-byte limit (FETCH_MAX_BYTES)"
    headers = {"User-Agent": user_agent(), "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
    client = httpx.AsyncClient(
        follow_redirects=True,
        timeout=timeout,
        headers=headers,
        max_redirects=10,
        event_hooks={"request": [check_address]},
    )
    try:
        async with asyncio.timeout(timeout), client, client.stream("GET", url) as response:
            if response.is_error:
                raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media and media not in _HTML_TYPES:
                raise SourceError(f"not an HTML page (its content type is {media})")
            if _declared_length(response.headers.get("content-length")) > max_bytes:
                raise SourceError(too_large)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise SourceError(too_large)
            addresses = [url, *(str(r.url) for r in response.history), str(response.url)]
            charset = response.charset_encoding
    except (TimeoutError, httpx.TimeoutException):
        raise SourceError(f"the page did not arrive within {timeout:g} s (timed out)") from None
    except httpx.TooManyRedirects:
        raise SourceError("too many redirects") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise SourceError(f"not a valid address ({exc})") from None
    except httpx.ConnectError as exc:
        raise SourceError(f"cannot connect to {exc.request.url.netloc.decode()} ({_reason(exc)})") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"the page could not be fetched ({_reason(exc)})") from None
    except ValueError as exc:
        # Host names httpx lets through and then fails on, here or after a redirect: IDNA's
        # errors (`xn--a.com`) and the socket's (a label over 63 characters), both UnicodeErrors.
        raise SourceError(f"not a valid address ({_reason(exc)})") from None
    if not media and not _SNIFF.match(body[:4096]):
        raise SourceError("not an HTML page (no content type, and it does not start like one)")
    page: bytes | str = bytes(body)
    if charset:
        with contextlib.suppress(LookupError):
            page = bytes(body).decode(charset, errors="replace")
    return page, addresses


def _declared_length(value: str | None) -> int:
    """A Content-Length header's bytes; 0 when there is none or it is no number (the body is counted)."""
    return int(value) if value and value.strip().isdigit() else 0


def _reason(exc: Exception) -> str:
    """What went wrong, in the words of its first cause ("Connection refused"), not of the
    wrappers around it ("All connection attempts failed")."""
    cause: BaseException = exc
    while (deeper := cause.__cause__ or cause.__context__) is not None:
        cause = deeper
    if isinstance(cause, OSError) and cause.errno:
        return os.strerror(cause.errno) if cause.errno > 0 else str(cause.strerror)
    return " ".join(str(exc).split()) or type(exc).__name__


def _read(path: Path, max_bytes: int) -> bytes:
    """A saved page's bytes; a page over `max_bytes` is refused, as it is when fetched."""
    if path.suffix.lower() not in HTML_SUFFIXES:
        raise SourceError("not an http(s) address or a saved .html/.htm page")
    if not path.exists():
        raise SourceError("no such file")
    raw = read_bytes(path, path.name, (max_bytes, "FETCH_MAX_BYTES"))
    if isinstance(raw, Problem):
        raise SourceError(f"the page {raw.reason}")
    return raw


def _without_fragment(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url)._replace(fragment="").geturl()
    except ValueError:  # a `source:` someone wrote by hand that urllib cannot read: compared as written
        return url.partition("#")[0]


def _document_from(folder: Path, addresses: set[str]) -> Path | None:
    """The corpus Markdown document whose front matter names one of `addresses` as its source.

    A document or folder that cannot be read might be that very one: rather than write a second
    copy beside it (`-2`), the page is refused and the reason named.
    """
    if not addresses or not folder.is_dir():
        return None
    unlisted: list[Problem] = []
    try:
        paths = document_files(folder, unlisted)
    except CorpusError:
        paths = []  # no document yet, so no earlier version (or the folder cannot be listed)
    # A folder that cannot be listed may hold it; a link out of the folder is no document of ours.
    if folders := [problem for problem in unlisted if problem.name.endswith("/")]:
        raise SourceError(f"cannot look for an earlier version of this page: {folders[0]}")
    for name, path in paths:
        if not name.lower().endswith(".md"):
            continue
        try:
            with open(path, "rb") as fh:  # front matter opens the file; a bad byte later is no matter
                head = fh.read(8192).decode("utf-8", errors="replace")
        except OSError as exc:
            problem = Problem(name, f"cannot be read ({exc.strerror or exc})")
            raise SourceError(f"cannot look for an earlier version of this page: {problem}") from None
        source = frontmatter.read(head)[0].get("source_url")
        if source and _without_fragment(source) in addresses:
            return Path(path)
    return None


def file_stem(title: str | None, address: str) -> str:
    """A document's file name stem: its title's words, else its address's last part, else "article"."""
    last_part = Path(urllib.parse.urlsplit(address).path).stem
    return _slug(title or "") or _slug(last_part) or "article"


def _slug(text: str) -> str:
    """ASCII letters and digits of `text` (accents dropped), lower case, joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", "").replace("’", ""))
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > _SLUG_MAX:
            break
        slug = f"{slug}-{word}" if slug else word
    return slug


def _free_name(folder: Path, stem: str) -> Path:
    """`stem.md` in `folder`, or `stem-2.md`, `stem-3.md`, ... when the name is taken."""
    path = folder / f"{stem}.md"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}.md"
        n += 1
    return path


def _write(path: Path, text: str) -> None:
    """Write atomically: a reader (or a bot watching the folder) never sees half a document.

    A new document's mode follows the umask, as any file the user makes; an updated one keeps its
    own. (mkstemp's 0600 hid what `add` wrote from a bot running as another user.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _temporary_file(path.parent)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _temporary_file(folder: Path) -> tuple[Path, int]:
    """A new hidden file in `folder` (the corpus loader and watcher skip dot-files), open to write,
    made with mode 0666 so that the umask decides, as it does for the finished document."""
    while True:
        tmp = folder / f".tmp-add-{secrets.token_hex(8)}.md"
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
