"""Each server's own articles, added and removed from Discord (`/add`, `/remove`) by its moderators.

They live in a folder per server (named by its id) under `SERVERS_DIR`, beside the operator's
corpus folder and never inside it: the operator's folder, its watcher and `python -m bot add` know
nothing of them. The engine loads them with the operator's articles into one corpus and one index,
each named `.servers/<server id>/<file>` (`corpus.SERVER_PREFIX`); a question is answered from its
server's view of that corpus (`Corpus.view`), so a server never sees another's articles.

Adding goes through `bot.documents.add`, the code of `python -m bot add`, into the server's folder,
within the server's limits (`SERVER_MAX_DOCUMENTS`, `SERVER_MAX_BYTES`).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bot.documents.corpus import SERVER_PREFIX, CorpusError
from bot.documents.folder import document_files

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.documents.add import Added

log = logging.getLogger(__name__)


def root(settings: Settings) -> Path:
    """The folder that holds a folder per server: SERVERS_DIR, else `<corpus folder>-servers` beside it."""
    if settings.servers_dir is not None:
        return settings.servers_dir
    corpus = Path(os.path.abspath(settings.corpus_dir))
    return corpus.with_name(f"{corpus.name}-servers")


def folder(settings: Settings, server: int) -> Path:
    """The folder of one server's articles."""
    return root(settings) / str(server)


def corpus_name(server: int, name: str) -> str:
    """A server's document's name in the corpus: `.servers/<server>/<name>`."""
    return f"{SERVER_PREFIX}{server}/{name}"


def servers(settings: Settings) -> list[int]:
    """The servers that have a folder of articles (kept or not yet purged)."""
    try:
        with os.scandir(root(settings)) as entries:
            return sorted(
                int(e.name) for e in entries if e.name.isdigit() and e.is_dir(follow_symlinks=False)
            )
    except FileNotFoundError:
        return []


def files(settings: Settings) -> list[tuple[str, str]]:
    """Every server's documents as (corpus name, path), as `document_files` lists a folder."""
    found: list[tuple[str, str]] = []
    for server in servers(settings):
        try:
            listed = document_files(folder(settings, server))
        except CorpusError:  # an empty folder: every article removed
            continue
        found += [(corpus_name(server, name), path) for name, path in listed]
    return found


class Held(NamedTuple):
    """What a server holds: its documents' names (in its folder) and their bytes."""

    names: tuple[str, ...]
    bytes: int


def held(settings: Settings, server: int) -> Held:
    """The articles a server has added, and their size in all."""
    try:
        listed = document_files(folder(settings, server))
    except CorpusError:
        return Held((), 0)
    return Held(tuple(name for name, _ in listed), sum(os.path.getsize(path) for _, path in listed))


class LimitError(Exception):
    """A server at one of its limits; the message says which, in one line."""


def add(source: str, settings: Settings, server: int) -> Added:
    """Add a page (an address or a saved file) to a server's articles, as `python -m bot add` adds
    it to the corpus; LimitError when the server holds SERVER_MAX_DOCUMENTS articles already, or
    the new one would take it past SERVER_MAX_BYTES (then nothing is kept of it)."""
    from bot.documents.add import add_with

    before = held(settings, server)
    if len(before.names) >= settings.server_max_documents:
        raise LimitError(
            f"this server has {len(before.names)} articles, the most it may have "
            f"(SERVER_MAX_DOCUMENTS); remove one with /remove first"
        )
    target = folder(settings, server)
    # The page may update an article of the same address: its old bytes are put back if it is refused.
    kept = {name: (target / name).read_bytes() for name in before.names}
    added = add_with(settings, source, target)
    after = held(settings, server)
    if after.bytes > settings.server_max_bytes:
        name = added.path.relative_to(target).as_posix()
        if name in kept:
            added.path.write_bytes(kept[name])
        else:
            added.path.unlink()
        raise LimitError(
            f"this server's articles would take {after.bytes:,} bytes, over its "
            f"{settings.server_max_bytes:,}-byte limit (SERVER_MAX_BYTES); remove one with /remove first"
        )
    log.info("server %d added %s", server, added.path.name)
    return added


def remove(settings: Settings, server: int, name: str) -> str:
    """Delete one of a server's articles, named as in its folder or in the corpus; its folder name.
    LookupError when the server has no such article (the operator's cannot be removed so)."""
    own = name.removeprefix(corpus_name(server, ""))
    if own not in held(settings, server).names:
        raise LookupError(f"{name} is not one of this server's articles")
    (folder(settings, server) / own).unlink()
    log.info("server %d removed %s", server, own)
    return own


def purge(settings: Settings, server: int) -> int:
    """Delete every article of a server, and its folder; how many there were. LookupError when the
    server has no folder."""
    if server not in servers(settings):
        raise LookupError(f"no articles are kept for server {server}")
    count = len(held(settings, server).names)
    shutil.rmtree(folder(settings, server))
    log.info("purged the %d articles of server %d", count, server)
    return count


# When the bot left a server: a hidden file in its folder (the loader skips it), its time the moment.
_LEFT = ".left"


def left(settings: Settings, server: int, when: float) -> None:
    """Note that the bot left a server at `when` (its articles are kept SERVER_RETENTION_DAYS)."""
    path = folder(settings, server) / _LEFT
    if path.parent.is_dir():
        path.write_text(f"{when}\n", encoding="utf-8")


def returned(settings: Settings, server: int) -> None:
    """The bot is in the server again: its articles are no longer due for deletion."""
    (folder(settings, server) / _LEFT).unlink(missing_ok=True)


def left_at(settings: Settings, server: int) -> float | None:
    """When the bot left the server, or None while it is in it."""
    try:
        return float((folder(settings, server) / _LEFT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def expired(settings: Settings, now: float) -> list[int]:
    """The servers the bot left more than SERVER_RETENTION_DAYS ago (0: at once)."""
    keep = settings.server_retention_days * 86_400
    return [s for s in servers(settings) if (at := left_at(settings, s)) is not None and now - at >= keep]
