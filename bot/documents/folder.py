"""The corpus folder on disk: which files are documents, reading them under their size caps,
loading them all into a `Corpus`, and writing one whole.

A corpus is a folder of UTF-8 `.txt` and `.md` files and saved web pages (`.html`, `.htm`, read
as the Markdown of their article: `bot.extract`), one document a file, each with optional YAML
front matter (see `bot.frontmatter`: title, subtitle, author, outlet, source/url, published/date).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bot.documents.corpus import Corpus, CorpusError
from bot.documents.document import HTML_SUFFIXES, SUFFIXES, ParsedDocument, Problem
from bot.documents.parse import parse_bytes

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

_KINDS = ", ".join(SUFFIXES[:-1]) + f" or {SUFFIXES[-1]}"  # for messages: every kind, none forgotten


class SizeCaps(NamedTuple):
    """The largest corpus file read, in bytes, by kind (settings MAX_DOCUMENT_BYTES, FETCH_MAX_BYTES):
    a larger one is reported and skipped, not read (one of 200 MB took minutes and gigabytes)."""

    text: int  # .txt and .md
    page: int  # .html and .htm: extracting a page costs several times more a byte

    @classmethod
    def from_settings(cls, settings: Settings) -> SizeCaps:
        """The caps the settings set."""
        return cls(text=settings.max_document_bytes, page=settings.fetch_max_bytes)

    def of(self, name: str) -> tuple[int, str]:
        """The cap for a file, and the setting that sets it."""
        if name.lower().endswith(HTML_SUFFIXES):
            return self.page, "FETCH_MAX_BYTES"
        return self.text, "MAX_DOCUMENT_BYTES"


def read_bytes(
    path: str | Path, name: str, cap: tuple[int, str] | None = None, *, follow: bool = True
) -> bytes | Problem:
    """A file's bytes, or the problem reading it; past `cap` (bytes, the setting) it is not read.
    Without `follow`, a path whose last part is a link is not read (see `read_document`)."""
    try:
        with open(os.open(path, os.O_RDONLY | (0 if follow else os.O_NOFOLLOW)), "rb") as fh:
            if cap is None:
                return fh.read()
            limit, setting = cap
            too_big = os.fstat(fh.fileno()).st_size > limit  # known before reading a byte of it
            raw = b"" if too_big else fh.read(limit + 1)  # one byte past: it may have grown since
            if too_big or len(raw) > limit:
                return Problem(name, f"is larger than the {limit:,}-byte limit ({setting})")
            return raw
    except OSError as exc:
        return Problem(name, f"cannot be read ({exc.strerror or exc})")


def read_document(name: str, path: str, caps: SizeCaps | None) -> tuple[str, bytes | Problem]:
    """A corpus file's name (as `document_files` gives it) and its bytes, or the problem with it.

    The engine always gives `caps`; None reads a file whatever its size (tests, tools). A link is
    never followed here: `document_files` gives the path a link inside the folder leads to, so a
    file turned into a link since it was listed is not read.
    """
    if not is_utf8_name(name):  # shown escaped, and skipped
        readable = os.fsencode(name).decode("utf-8", "backslashreplace")
        return readable, Problem(readable, "has a file name that is not UTF-8; rename the file")
    return name, read_bytes(path, name, caps.of(name) if caps else None, follow=False)


def is_utf8_name(name: str) -> bool:
    """Whether a file name (as `document_files` gives it) is UTF-8. Python keeps a name's undecodable
    bytes as lone surrogates, which no text output (JSON, Discord, the cache key, a database's text
    column) can carry."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def document_files(folder: Path, unlisted: list[Problem] | None = None) -> list[tuple[str, str]]:
    """The corpus files under `folder` as (name, path), the name being the path below `folder`
    with `/` between folders; sorted. Raises CorpusError if there is no usable folder.

    A folder below that cannot be listed, and a link to a file outside `folder`, are skipped and
    reported, never silently: added to `unlisted` (a folder as `sub/`), or logged as a warning
    when the caller gives no list. Links to folders are not followed.
    """
    if not folder.exists():
        raise CorpusError(f"corpus folder {folder} does not exist")
    if not folder.is_dir():
        raise CorpusError(f"corpus path {folder} is not a folder")
    found: list[tuple[tuple[str, ...], str]] = []
    problems: list[Problem] = []
    root = os.path.realpath(folder)

    def walk(directory: str, parts: tuple[str, ...]) -> None:
        # os.scandir and strings, not Path.rglob: at 10,000 files pathlib's objects cost seconds.
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError as exc:
            name = "".join(f"{part}/" for part in parts) or "./"
            problems.append(Problem(name, f"cannot be listed ({exc.strerror or exc})"))
            return
        for entry in listed:
            # Hidden files and folders are skipped below the corpus folder only: the folder's
            # own path may well pass through `..` or a dot-folder (`~/.local/share/...`).
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):  # as rglob: links to folders are not followed
                walk(entry.path, (*parts, entry.name))
            elif entry.name.lower().endswith(SUFFIXES) and entry.is_file():
                path = entry.path
                if entry.is_symlink():
                    # Whoever can write into the folder must not make the bot answer from any file
                    # it can read (the `.env` holding the token): a link is read only where it
                    # leads inside the folder, and then by the path it leads to (`read_document`).
                    path = os.path.realpath(path)
                    if os.path.commonpath((root, path)) != root:
                        name = "/".join((*parts, entry.name))
                        problems.append(Problem(name, "is a link to a file outside the corpus folder"))
                        continue
                found.append(((*parts, entry.name), path))

    walk(os.fspath(folder), ())
    if unlisted is None:
        for problem in problems:
            log.warning("skipped %s", problem)
    else:
        unlisted += problems
    if not found and problems and problems[0].name == "./":
        raise CorpusError(f"corpus folder {folder} {problems[0].reason}")
    if not found:
        raise CorpusError(f"corpus folder {folder} has no documents ({_KINDS} files)")
    found.sort(key=lambda item: item[0])  # by path components, as paths sort
    return [("/".join(parts), path) for parts, path in found]


def load_corpus(folder: Path, caps: SizeCaps | None = None) -> Corpus:
    """Load every document under `folder`; bad ones are reported in `Corpus.problems`."""
    parsed: list[ParsedDocument] = []
    problems: list[Problem] = []
    for file_name, path in document_files(folder):
        name, raw = read_document(file_name, path, caps)
        result = raw if isinstance(raw, Problem) else parse_bytes(name, raw)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            parsed.append(result)
    return Corpus.from_parsed(parsed, problems)


def write_atomically(path: Path, content: bytes) -> None:
    """Write a whole corpus file or nothing, so a reader (a bot watching the folder) never sees half
    of it: a hidden temporary file beside it (the loader and the watcher skip dot-files), renamed
    into place. A new file's mode follows the umask (mkstemp's 0600 would hide it from a bot running
    as another user); a replaced file keeps its own. The temporary name is short whatever the file's:
    one built from it took a name near the file system's 255-byte limit past it, so that file could
    never be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            with contextlib.suppress(FileNotFoundError):
                os.fchmod(fh.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
