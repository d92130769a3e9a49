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
import ipaddress
import os
import re
import socket
import unicodedata
import urllib.parse
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.documents import frontmatter
from bot.documents.article import NOT_AN_ARTICLE, is_article
from bot.documents.corpus import CorpusError
from bot.documents.document import Problem
from bot.documents.extract import address_problem, extract, markdown_document
from bot.documents.folder import document_files, read_bytes, write_atomically
from bot.documents.parse import decode, parse_document

if TYPE_CHECKING:
    import httpx

    from bot.config import Settings  # imported where a page is fetched: `ask` never loads it

HTML_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".md", ".txt")  # articles already: added as they are
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


def add(source: str, folder: Path, *, timeout: float, max_bytes: int, allow_private: bool = False) -> Added:
    """Fetch or read `source`, extract its article and write it into `folder`; from an address that
    is not public (`not_public`) only with `allow_private` (FETCH_ALLOW_PRIVATE). A `.md` or `.txt`
    file is an article already: checked as one and written as it is."""
    if "://" not in source and Path(source).suffix.lower() in TEXT_SUFFIXES:
        return _add_text(Path(source), folder, max_bytes)
    if "://" in source:
        page, addresses = _fetch(source, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private)
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
    write_atomically(path, text.encode("utf-8"))
    return Added(path, updated=existing is not None)


def add_with(settings: Settings, source: str, folder: Path) -> Added:
    """`add` with the settings' fetch timeout, size cap and address rule (FETCH_*)."""
    return add(
        source,
        folder,
        timeout=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        allow_private=settings.fetch_allow_private,
    )


def _add_text(path: Path, folder: Path, max_bytes: int) -> Added:
    """A `.md` or `.txt` article written into `folder` as it is (an update of the document with the
    same `source_url`, if there is one), named after its title."""
    if not path.exists():
        raise SourceError("no such file")
    raw = read_bytes(path, path.name, (max_bytes, "FETCH_MAX_BYTES"))
    text = raw if isinstance(raw, Problem) else decode(path.name, raw)
    if isinstance(text, Problem):
        raise SourceError(f"the file {text.reason}")
    assert isinstance(raw, bytes)
    parsed = parse_document(path.name, text)
    if not is_article(parsed):
        raise SourceError(f"the file {NOT_AN_ARTICLE}")
    source_url = parsed.document.source_url
    existing = _document_from(folder, {_without_fragment(source_url)} if source_url else set())
    target = existing or _free_name(folder, file_stem(parsed.document.title, path.name), path.suffix.lower())
    write_atomically(target, raw)
    return Added(target, updated=existing is not None)


def _fetch(url: str, *, timeout: float, max_bytes: int, allow_private: bool) -> tuple[bytes | str, list[str]]:
    """The page at `url` (text if the server names its charset) and the addresses it answered at."""
    if not url.lower().startswith(("http://", "https://")):
        raise SourceError("only http:// and https:// addresses can be fetched")
    if (problem := address_problem(url)) is not None:
        raise SourceError(f"not a valid address ({problem})")
    return asyncio.run(_download(url, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private))


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NOT_PUBLIC = ("loopback", "unspecified", "link_local", "reserved", "multicast", "private")


def not_public(address: IPAddress) -> str | None:
    """What kind of address that is not on the public internet `address` is ("loopback", "private",
    "link-local", ...: the bot's own machine, its network, a cloud's metadata service), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    kind = next((k.replace("_", "-") for k in _NOT_PUBLIC if getattr(address, f"is_{k}")), None)
    # The rest of what is not global: shared address space (100.64.0.0/10), IANA's own ranges.
    return kind or (None if address.is_global else "special-purpose")


def _address(text: str) -> IPAddress | None:
    """An IP address written as one (a socket's `fe80::1%eth0` without its zone), else None."""
    try:
        return ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None


async def _addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` stands for (an address stands for itself); none when the name cannot
    be resolved: connecting then fails, and says so."""
    if (literal := _address(host)) is not None:
        return [literal]
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [a for *_, sockaddr in found if (a := _address(str(sockaddr[0]))) is not None]


class _Hops:
    """The checks on every hop of a fetch (the address given, each redirect), as httpx event hooks."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.asked = 0  # hops asked so far

    async def response(self, response: httpx.Response) -> None:
        """A redirect must lead to a well-formed http(s) address, named as the server wrote it:
        httpx gives `file:///etc/passwd` this server's host (`file://127.0.0.1/etc/passwd`)."""
        if response.has_redirect_location:
            location = response.headers["Location"]
            with contextlib.suppress(ValueError):  # not even an address: `address_problem` says why
                location = urllib.parse.urljoin(str(response.url), location)
            if (problem := address_problem(location)) is not None:
                raise SourceError(f"it redirects to {location}, which is not a valid address ({problem})")

    async def request(self, request: httpx.Request) -> None:
        """Unless private addresses are allowed, the host must resolve to public addresses only, and
        the connection made must be to one (checked through httpcore's `trace` extension)."""
        hop = f"it redirects to {request.url}, and " if self.asked else ""
        self.asked += 1
        if self.allow_private:
            return
        host = request.url.raw_host.decode("ascii")
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        for address in await _addresses(host, port):
            if (kind := not_public(address)) is not None:
                raise SourceError(hop + _refusal(request.url.host, address, kind, "is"))
        connecting: list[str] = []

        async def peer(event: str, info: dict[str, Any]) -> None:
            # httpcore's `trace` extension: told when a connection is made, before a byte is sent.
            if event == "connection.connect_tcp.started":
                connecting.append(info["host"])
            elif event == "connection.connect_tcp.complete" and connecting[-1] == host:
                # (Through a proxy, which reaches the host for us, only the host's name is checked.)
                stream = info["return_value"]
                server = stream.get_extra_info("server_addr")  # (address, port, ...), as the socket has it
                address = _address(str(server[0])) if server else None
                kind = "unknown" if address is None else not_public(address)
                if kind is not None:
                    await stream.aclose()
                    raise SourceError(hop + _refusal(request.url.host, address, kind, "connected to"))

        request.extensions["trace"] = peer


def _refusal(host: str, address: IPAddress | None, kind: str, verb: str) -> str:
    """Why a host is not fetched from, with the setting that would allow it."""
    named = host if _address(host) is not None else f"{host} {verb} {address}, which"
    return f"{named} is not a public address ({kind}; FETCH_ALLOW_PRIVATE=true allows it)"


async def _download(
    url: str, *, timeout: float, max_bytes: int, allow_private: bool
) -> tuple[bytes | str, list[str]]:
    """`_fetch`'s work, within `timeout` seconds in all: connecting, redirects and every read.

    httpx's own timeouts bound each step, so a server that sends a byte every few seconds kept
    `add` waiting for as long as it liked; the deadline is around the whole page.

    Unless `allow_private`, no hop (the address given, every redirect) goes to an address that is
    not public: a page of the bot's own machine or network (or a cloud's metadata service) would
    otherwise become answerable in Discord. Each hop's host is resolved and checked before it is
    asked; then the address the connection was actually made to is checked too, before a byte is
    sent, so a name that resolves to a public address for the check and to 127.0.0.1 for the
    connection (DNS rebinding) is refused as well.
    """
    import httpx

    hops = _Hops(allow_private)
    too_large = f"the page is larger than the {max_bytes:,}-byte limit (FETCH_MAX_BYTES)"
    headers = {"User-Agent": user_agent(), "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
    client = httpx.AsyncClient(
        follow_redirects=True,
        timeout=timeout,
        headers=headers,
        max_redirects=10,
        event_hooks={"request": [hops.request], "response": [hops.response]},
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
        raise SourceError("not an http(s) address, a saved .html/.htm page or a .md/.txt article")
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


def _free_name(folder: Path, stem: str, suffix: str = ".md") -> Path:
    """`stem.md` in `folder`, or `stem-2.md`, `stem-3.md`, ... when the name is taken."""
    path = folder / f"{stem}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path
