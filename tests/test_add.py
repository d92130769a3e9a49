"""`python -m bot add`: real pages from a real HTTP server on 127.0.0.1, through a real subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.documents import frontmatter
from bot.documents.add import file_stem
from bot.documents.article import NOT_AN_ARTICLE
from bot.documents.document import TITLE_PARAGRAPH
from bot.documents.folder import load_corpus
from bot.documents.parse import decode
from tests.conftest import DATA, ROOT
from tests.test_cli import run

PAGES = DATA / "pages"
KINDS = DATA / "page-kinds"
PAGE_KINDS = json.loads((KINDS / "kinds.json").read_text(encoding="utf-8"))
WIRE = (PAGES / "wire-sag-awards.html").read_bytes()
WIRE_SLUG = "parasite-scores-historic-upset-at-sag-awards.md"
FURNITURE = (
    "Updated 2 hours ago",
    "Reporting by",
    "Share",
    "Advertisement",
    "Our Standards",
    "©",
    "Well deserved",  # a reader's comment
    "Sign up",
    "Photo:",
    "Most read",
    "Cookies",
)


@dataclass
class Site:
    """What the server serves (path -> status, headers, body) and the requests it saw."""

    base: str
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    # path -> (seconds before answering, seconds between pieces of the body, pieces)
    pacing: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    user_agents: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path


def _html(body: bytes) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body


@contextlib.contextmanager
def _serving(host: str) -> Iterator[Site]:
    """A site on `host` (port chosen by the system), serving `Site.routes` until the block ends."""
    served = Site(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.user_agents.append(self.headers.get("User-Agent", ""))
            status, headers, body = served.routes.get(
                self.path, (404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>")
            )
            before, between, pieces = served.pacing.get(self.path, (0.0, 0.0, 1))
            time.sleep(before)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                size = max(1, -(-len(body) // pieces))
                for at in range(0, len(body), size):
                    time.sleep(between if at else 0.0)
                    self.wfile.write(body[at : at + size])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    served.base = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with _serving("127.0.0.1") as served:
        _routes(served)
        yield served


def _routes(served: Site) -> None:
    nav_only = (
        b"<html><head><title>Home</title></head>"
        b"<body><nav><a href='/a'>World</a> <a href='/b'>Sport</a></nav></body></html>"
    )
    served.routes.update(
        {
            "/entertainment/parasite": _html(WIRE),
            "/animals/octopus": _html((PAGES / "feature-octopus-cities.html").read_bytes()),
            "/moved": (301, {"Location": "/entertainment/parasite"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/broken": (500, {"Content-Type": "text/html"}, b"<h1>Internal error</h1>"),
            "/data.json": (200, {"Content-Type": "application/json"}, b'{"title": "not a page"}'),
            "/untyped": (200, {}, b"%PDF-1.7 binary data"),
            "/untyped-page": (200, {}, b"\xef\xbb\xbf" + WIRE),  # no content type, but a page
            "/home": _html(nav_only),
            **{f"/kinds/{name}": _html((KINDS / name).read_bytes()) for name in PAGE_KINDS},
            "/huge": _html(WIRE + b"<!-- padding -->" * 4000),
            "/slow": _html(WIRE),
            # Each step well within the timeout, the whole page not: a piece of the page now and
            # then, and a chain of slow redirects.
            "/trickle": _html(WIRE),
            "/hop1": (302, {"Location": "/hop2"}, b""),
            "/hop2": (302, {"Location": "/hop3"}, b""),
            "/hop3": (302, {"Location": "/entertainment/parasite"}, b""),
            "/to-bad-brackets": (302, {"Location": "http://[::1/page"}, b""),
            "/to-long-label": (302, {"Location": f"http://{'a' * 64}.example/page"}, b""),
            "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        }
    )
    served.pacing.update(
        {"/slow": (3.0, 0.0, 1), "/trickle": (0.0, 0.25, 16)} | {f"/hop{n}": (0.4, 0.0, 1) for n in (1, 2, 3)}
    )


def add(
    *sources: str,
    corpus: Path,
    umask: int = -1,
    timeout: float = 5,
    unprivileged: bool = False,
    allow_private: bool = True,
    program: Sequence[str] = ("-m", "bot"),
) -> subprocess.CompletedProcess[str]:
    """`python -m bot add` with a size cap a test page can pass (and a short timeout where asked);
    the test site is on 127.0.0.1, so private addresses are allowed unless a test says otherwise;
    `program` as `tests.test_cli.run` takes it."""
    return run(
        "add",
        *sources,
        "--corpus",
        str(corpus),
        umask=umask,
        unprivileged=unprivileged,
        program=program,
        FETCH_TIMEOUT_SECONDS=str(timeout),
        FETCH_MAX_BYTES="60000",
        FETCH_ALLOW_PRIVATE=str(allow_private).lower(),
    )


def _sentences(corpus: Path) -> list[str]:
    """The sentences of the corpus's text: its documents' titles and subtitles (¶0) left out."""
    loaded = load_corpus(corpus)
    sentences = (loaded.sentence(i) for i in range(len(loaded)))
    return [s.text for s in sentences if s.citation.paragraph != TITLE_PARAGRAPH]


def test_add_by_url_writes_the_article_as_markdown(site: Site, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    result = add(site.url("/entertainment/parasite"), corpus=corpus)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [str(corpus / WIRE_SLUG)]
    fields, _ = frontmatter.read((corpus / WIRE_SLUG).read_text(encoding="utf-8"))
    assert fields == {
        "title": "'Parasite' scores historic upset at SAG awards",
        "subtitle": "The South Korean thriller became the first foreign-language film to win the top prize "
        "from the Screen Actors Guild.",
        "author": "Lisa Richwine",
        "outlet": "Example Wire",
        "published": "2020-01-20",
        "source_url": "https://wire.example.com/entertainment/parasite-scores-historic-upset-at-sag-awards-2020-01-20/",
    }
    sentences = _sentences(corpus)
    assert any(
        s.startswith("In individual categories, Joaquin Phoenix was named best actor") for s in sentences
    )
    assert not [s for s in sentences for bit in FURNITURE if bit in s]
    assert site.user_agents and all(ua.startswith("article-bot/") for ua in site.user_agents)


def test_add_by_file_and_dropping_the_file_in_read_the_same_article(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    page = PAGES / "feature-octopus-cities.html"
    result = add(str(page), corpus=corpus)
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.name == "octopuses-are-building-underwater-cities-heres-what-scientists-learned.md"
    text = written.read_text(encoding="utf-8")
    assert frontmatter.read(text)[0]["author"] == "Maya Wei-Haas and Tomas Brandt"
    # `add` is a convenience: the page dropped into a corpus reads as the very same document.
    assert decode("page.html", page.read_bytes()) == text
    dropped = tmp_path / "dropped"
    dropped.mkdir()
    shutil.copy(page, dropped / "octopus.html")
    assert _sentences(dropped) == _sentences(corpus)
    assert "Get the Wild Planet newsletter." not in _sentences(dropped)


def test_adding_a_source_again_updates_its_document_in_place(site: Site, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    assert add(site.url("/entertainment/parasite"), corpus=corpus).returncode == 0
    extra = b"<p>The film also won the Palme d'Or at the Cannes festival in May.</p>"
    site.routes["/entertainment/parasite"] = _html(
        WIRE.replace(b"<p>Robert De Niro", extra + b"<p>Robert De Niro")
    )
    again = add(site.url("/moved"), corpus=corpus)  # the same page through a redirect
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [str(corpus / WIRE_SLUG)]
    assert [p.name for p in corpus.iterdir()] == [WIRE_SLUG]
    assert "The film also won the Palme d'Or at the Cannes festival in May." in _sentences(corpus)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_new_document_follows_the_umask_and_an_updated_one_keeps_its_mode(
    site: Site, tmp_path: Path, umask: int
) -> None:
    # Issue 15 #3: documents were written 0600, unreadable by a bot running as another user.
    corpus = tmp_path / "corpus"
    assert add(site.url("/entertainment/parasite"), corpus=corpus, umask=umask).returncode == 0
    written = corpus / WIRE_SLUG
    assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask
    written.chmod(0o664)  # the owner let the group edit it
    again = add(site.url("/moved"), corpus=corpus, umask=umask)
    assert again.returncode == 0 and again.stdout.splitlines() == [str(written)], again.stderr
    assert stat.S_IMODE(written.stat().st_mode) == 0o664
    assert [p.name for p in corpus.iterdir()] == [WIRE_SLUG]  # no temporary file left behind


def test_an_earlier_version_that_cannot_be_read_stops_add_rather_than_duplicate_it(
    site: Site, tmp_path: Path
) -> None:
    # Issue 15 #18: it was skipped silently, and the page written again as `-2`.
    corpus = tmp_path / "corpus"
    assert add(site.url("/entertainment/parasite"), corpus=corpus).returncode == 0
    earlier = corpus / WIRE_SLUG
    earlier.chmod(0)
    try:
        again = add(site.url("/entertainment/parasite"), corpus=corpus, unprivileged=True)
    finally:
        earlier.chmod(0o644)
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"error: {site.url('/entertainment/parasite')}: cannot look for an earlier version of this page: "
        f"{WIRE_SLUG}: cannot be read (Permission denied)"
    ]
    assert [p.name for p in corpus.iterdir()] == [WIRE_SLUG]


def test_an_earlier_version_with_a_bad_byte_in_its_text_is_still_updated(site: Site, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    assert add(site.url("/entertainment/parasite"), corpus=corpus).returncode == 0
    earlier = corpus / WIRE_SLUG
    earlier.write_bytes(earlier.read_bytes() + b"An edit saved as Latin-1: caf\xe9.\n")
    again = add(site.url("/entertainment/parasite"), corpus=corpus)
    assert again.returncode == 0 and again.stdout.splitlines() == [str(earlier)], again.stderr
    assert [p.name for p in corpus.iterdir()] == [WIRE_SLUG]
    assert b"caf\xe9" not in earlier.read_bytes()


def test_a_name_taken_by_another_document_gets_another_name(site: Site, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    mine = corpus / WIRE_SLUG
    mine.write_text("---\ntitle: My own notes\n---\nNotes about the awards night.\n", encoding="utf-8")
    result = add(site.url("/entertainment/parasite"), corpus=corpus)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(corpus / WIRE_SLUG.replace(".md", "-2.md"))]
    assert mine.read_text(encoding="utf-8").endswith("Notes about the awards night.\n")


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("/missing", "HTTP 404"),
        ("/broken", "HTTP 500"),
        ("/data.json", "not an HTML page"),
        ("/untyped", "not an HTML page"),
        ("/home", "the page has no article text (nothing but links and page furniture)"),
        *[
            (f"/kinds/{name}", "the page has no article text (nothing but links and page furniture)")
            for name, spec in PAGE_KINDS.items()
            if spec["kind"] == "menus"  # menus, link lists, sign-in and sign-up forms, footers
        ],
        ("/huge", "larger than the 60,000-byte limit (FETCH_MAX_BYTES)"),
        ("/slow", "timed out"),
        ("/trickle", "within 1 s (timed out)"),
        ("/hop1", "within 1 s (timed out)"),
        ("/to-bad-brackets", "it redirects to http://[::1/page, which is not a valid address (Invalid IPv6"),
        ("/to-long-label", "not a valid address"),
        # Issue 25 #12: the message named file://127.0.0.1/etc/passwd, httpx's rewrite of the address.
        ("/to-file", "it redirects to file:///etc/passwd, which is not a valid address (not an http://"),
        ("/loop", "too many redirects"),
        ("refused", "cannot connect"),
        ("ftp://127.0.0.1/page.html", "only http"),
        ("missing.html", "no such file"),
        ("notes.pdf", "not an http(s) address, a saved .html/.htm page or a .md/.txt article"),
    ],
)
def test_a_bad_source_is_one_line_exit_2_and_nothing_written(
    site: Site, tmp_path: Path, source: str, reason: str
) -> None:
    if source == "refused":
        source = f"http://127.0.0.1:{_refused_port()}/page"
    elif source.startswith("/"):
        source = site.url(source)
    elif "://" not in source:
        source = str(tmp_path / source)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = add(source, corpus=corpus, timeout=1)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {source}: ") and reason in lines[0], lines
    assert "Traceback" not in result.stderr
    assert list(corpus.iterdir()) == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("{site}/entertainment/parasite", "127.0.0.1 is not a public address (loopback;"),
        ("http://localhost:{port}/entertainment/parasite", "which is not a public address (loopback;"),
        ("http://[::1]:{port}/entertainment/parasite", "::1 is not a public address (loopback;"),
        ("http://[::ffff:127.0.0.1]:{port}/page", "::ffff:127.0.0.1 is not a public address (loopback;"),
        ("http://0.0.0.0:{port}/page", "0.0.0.0 is not a public address (unspecified;"),
        ("http://10.20.30.40/page", "10.20.30.40 is not a public address (private;"),
        ("http://192.168.1.1/page", "192.168.1.1 is not a public address (private;"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address (link-local;"),
        ("http://240.0.0.1/page", "240.0.0.1 is not a public address (reserved;"),
    ],
)
def test_an_address_that_is_not_public_is_refused_unless_allowed(
    site: Site, tmp_path: Path, address: str, reason: str
) -> None:
    # Issue 25 #12: `add` fetched whatever a page's address or its redirects led to: the bot's own
    # machine, its network, a cloud's metadata service. Refused before anything is asked of it.
    source = address.format(site=site.base, port=site.base.rpartition(":")[2])
    result = add(source, corpus=tmp_path / "corpus", timeout=3, allow_private=False)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {source}: ") and reason in line, line
    assert line.endswith("FETCH_ALLOW_PRIVATE=true allows it)")
    assert site.user_agents == [] and not (tmp_path / "corpus").exists()
    if address.startswith("{site}"):  # the operator's switch: an intranet's pages
        assert add(source, corpus=tmp_path / "corpus", allow_private=True).returncode == 0


# `python -m bot add ...` where 127.0.0.2 stands for a public site (every 127.x address is this
# machine, so a server there can redirect to the test site on 127.0.0.1, which stays loopback),
# and, with `--rebind`, where resolving a name for the check gives a public address while the
# connection goes where the system resolves it (DNS rebinding). Unpatched where there is no
# check (the code before the fix), so that the test fails for what it tests.
_ADD_PATCHED = """
import ipaddress, sys
import bot.documents.add as add
real = getattr(add, "not_public", None)
if real is not None:
    add.not_public = lambda a: None if a == ipaddress.ip_address("127.0.0.2") else real(a)
if sys.argv[1] == "--rebind":
    del sys.argv[1]

    async def public(host, port):
        return [ipaddress.ip_address("93.184.216.34")]

    add._addresses = public
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _add_patched(source: str, corpus: Path, rebind: bool = False) -> subprocess.CompletedProcess[str]:
    program = ("-c", _ADD_PATCHED, *(["--rebind"] if rebind else []))
    return add(source, corpus=corpus, allow_private=False, program=program)


@pytest.fixture
def public_site(site: Site) -> Iterator[Site]:
    """A site on 127.0.0.2 (a public one, for `_ADD_PATCHED`) whose pages redirect elsewhere."""
    local = site.url("/entertainment/parasite")
    with contextlib.ExitStack() as stack:
        try:
            served = stack.enter_context(_serving("127.0.0.2"))
        except OSError as exc:
            pytest.skip(f"cannot serve on 127.0.0.2: {exc}")
        served.routes.update(
            {
                "/article": _html(WIRE),
                "/to-loopback": (302, {"Location": local}, b""),
                "/to-localhost": (302, {"Location": local.replace("127.0.0.1", "localhost")}, b""),
                "/to-v6": (302, {"Location": "http://[::1]:9/page"}, b""),
                "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
                "/to-private": (301, {"Location": "http://10.0.0.1/admin"}, b""),
                "/hop": (302, {"Location": "/to-loopback"}, b""),
            }
        )
        yield served


@pytest.mark.parametrize(
    ("path", "to", "reason"),
    [
        ("/to-loopback", "{site}/entertainment/parasite", "127.0.0.1 is not a public address (loopback;"),
        ("/hop", "{site}/entertainment/parasite", "127.0.0.1 is not a public address (loopback;"),
        (
            "/to-localhost",
            "http://localhost:{port}/entertainment/parasite",
            "which is not a public address (loopback;",
        ),
        ("/to-v6", "http://[::1]:9/page", "::1 is not a public address (loopback;"),
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is not a public address (link-local;",
        ),
        ("/to-private", "http://10.0.0.1/admin", "10.0.0.1 is not a public address (private;"),
    ],
)
def test_a_redirect_to_an_address_that_is_not_public_is_refused(
    site: Site, public_site: Site, tmp_path: Path, path: str, to: str, reason: str
) -> None:
    # Issue 25 #12: a public page that redirected to http://127.0.0.1:.../ was fetched and became
    # answerable in Discord.
    corpus = tmp_path / "corpus"
    assert _add_patched(public_site.url("/article"), corpus).returncode == 0  # public: fetched
    written = sorted(corpus.iterdir())
    result = _add_patched(public_site.url(path), corpus)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    redirect = to.format(site=site.base, port=site.base.rpartition(":")[2])
    assert line.startswith(f"error: {public_site.url(path)}: it redirects to {redirect}, and "), line
    assert reason in line, line
    assert site.user_agents == [] and sorted(corpus.iterdir()) == written


def test_a_name_that_resolves_elsewhere_when_connecting_is_refused(site: Site, tmp_path: Path) -> None:
    # The address checked must be the address connected to: a name may resolve to a public address
    # for the check and to 127.0.0.1 a moment later (DNS rebinding). Refused once connected, before
    # the request is sent.
    source = site.url("/entertainment/parasite").replace("127.0.0.1", "localhost")
    result = _add_patched(source, tmp_path / "corpus", rebind=True)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {source}: localhost connected to "), line
    assert "which is not a public address (loopback;" in line
    assert site.user_agents == [] and not (tmp_path / "corpus").exists()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://[zz::1]/page", "zz::1"),
        (f"http://{'a' * 64}.example/page", "label empty or too long"),
        ("http://news..example/page", "label empty or too long"),
        ("http://xn--a.example/page", "not allowed"),  # an IDNA error
        ("http://☃.example/page", "IDNA"),
        ("http://", "no host name"),
        ("http:///page", "no host name"),
        ("http://news.example:99999/page", "Port out of range"),
        ("http://news.example:port/page", "Port could not be cast"),
        ("http://news example/page", "characters no host name has"),
        ("http://news\\example/page", "characters no host name has"),
    ],
)
def test_a_malformed_address_is_one_line_and_the_next_source_is_still_added(
    site: Site, tmp_path: Path, address: str, reason: str
) -> None:
    # Issue 15 #5: a traceback, exit 1, and the sources after it dropped.
    corpus = tmp_path / "corpus"
    result = add(address, site.url("/entertainment/parasite"), corpus=corpus)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {address}: not a valid address (") and reason in line, line
    assert result.stdout.splitlines() == [str(corpus / WIRE_SLUG)]


def test_a_saved_page_over_the_size_limit_is_refused_as_a_fetched_one_is(tmp_path: Path) -> None:
    # Issue 15 #7: a 49 MB saved page took minutes and 1.5 GB; by address it is refused at 5 MB.
    huge = tmp_path / "huge.html"
    huge.write_bytes(WIRE + b"<!-- padding -->" * 4000)
    result = add(str(huge), corpus=tmp_path / "corpus")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {huge}: the page is larger than the 60,000-byte limit (FETCH_MAX_BYTES)"
    ]
    assert not (tmp_path / "corpus").exists()


def test_a_broken_page_is_one_line_of_ours_not_the_extractor_s_log(tmp_path: Path) -> None:
    # Issue 15 #13: trafilatura's own ERROR and WARNING lines came before ours.
    broken = tmp_path / "broken.html"
    broken.write_bytes(bytes(range(256)) * 8)  # a binary file saved as .html
    added = add(str(broken), corpus=tmp_path / "corpus")
    assert added.returncode == 2
    assert added.stderr.splitlines() == [f"error: {broken}: the page {NOT_AN_ARTICLE}"]
    folder = tmp_path / "dropped"
    folder.mkdir()
    shutil.copy(broken, folder / "broken.html")
    (folder / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    asked = run("ask", "--corpus", str(folder), "Where does the walrus live?")
    assert asked.returncode == 0
    assert asked.stderr.splitlines() == [f"WARNING: skipped broken.html: {NOT_AN_ARTICLE}"]


def test_a_malformed_source_written_by_hand_in_the_corpus_does_not_stop_add(
    site: Site, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(
        '---\nsource: "http://[::1"\n---\nNotes on the awards.\n', encoding="utf-8"
    )
    result = add(site.url("/entertainment/parasite"), corpus=corpus)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(corpus / WIRE_SLUG)]


def test_short_articles_among_menus_and_footers_are_added(site: Site, tmp_path: Path) -> None:
    articles = [name for name, spec in PAGE_KINDS.items() if spec["kind"] == "article"]
    result = add(*(site.url(f"/kinds/{name}") for name in articles), corpus=tmp_path / "corpus")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(articles) == len(list((tmp_path / "corpus").iterdir()))
    sentences = _sentences(tmp_path / "corpus")
    assert "Forty schools across the county were closed on Monday" in " ".join(sentences)
    assert not [s for s in sentences if len(s.split()) < 4]  # no menu item became a sentence


def test_with_several_sources_the_good_ones_are_added(site: Site, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    result = add(
        site.url("/missing"),
        site.url("/entertainment/parasite"),
        str(PAGES / "daily-heatwave-trains.html"),
        corpus=corpus,
    )
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        str(corpus / WIRE_SLUG),
        str(corpus / "rail-passengers-told-to-avoid-travel-as-heatwave-buckles-tracks.md"),
    ]
    assert len(result.stderr.splitlines()) == 1 and "HTTP 404" in result.stderr


def test_a_page_served_without_a_content_type_is_known_by_its_first_bytes(site: Site, tmp_path: Path) -> None:
    result = add(site.url("/untyped-page"), corpus=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(tmp_path / WIRE_SLUG)]


def test_ask_imports_neither_trafilatura_nor_httpx() -> None:
    code = (
        "import sys; from bot.cli import main; main(['ask', 'How old is Kim Ju-ae?']); "
        "print(sorted(m for m in ('trafilatura', 'httpx', 'discord') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "USE_CACHE": "false"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("title", "address", "stem"),
    [
        (
            "'Parasite' scores historic upset at SAG awards",
            "https://x.org/a",
            "parasite-scores-historic-upset-at-sag-awards",
        ),
        ("Café Zürich: l’été", "https://x.org/a", "cafe-zurich-lete"),
        ("기생충, 미국 배우조합상 수상", "https://news.example.kr/2020/01/parasite-sag.html", "parasite-sag"),
        (None, "/home/me/saved/Octopus Cities.html", "octopus-cities"),
        ("東京", "https://example.jp/", "article"),
        ("word " * 40, "https://x.org/a", "-".join(["word"] * 16)),
    ],
)
def test_file_names_come_from_the_title_then_the_address(title: str | None, address: str, stem: str) -> None:
    assert file_stem(title, address) == stem
