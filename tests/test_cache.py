"""The on-disk cache: shared by concurrent processes, entries side by side, bounded."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bot.cache import Cache
from tests.conftest import CORPUS, DATA, ROOT, is_mapped
from tests.test_cli import run as run_bot

# `python -m bot ask` with INFO logging, to see whether the index came from the cache.
_ASK_LOGGED = (
    "import logging, sys; logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s'); "
    "from bot.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _launch(cache: Path, corpus: Path, question: str, logged: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "CACHE_DIR": str(cache), "USE_CACHE": "true"}
    env.pop("DISCORD_TOKEN", None)
    head = ["-c", _ASK_LOGGED] if logged else ["-m", "bot"]
    return subprocess.Popen(
        [sys.executable, *head, "ask", "--json", "--corpus", str(corpus), question],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _debris(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob(".*"))


def test_parallel_first_runs_over_two_corpora(tmp_path: Path) -> None:
    article, bicycle = tmp_path / "article", tmp_path / "bicycle"
    shutil.copytree(CORPUS, article)
    shutil.copytree(DATA / "bicycle", bicycle)
    cache = tmp_path / "cache"  # fresh: every run races to build it
    asks = [(article, "How old is Kim Ju-ae?"), (bicycle, "Who built the first bicycle?")] * 8

    for logged in (False, True):
        runs = [_launch(cache, corpus, question, logged) for corpus, question in asks]
        outputs = [run.communicate(timeout=120) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, err
            assert '"excerpts": [{' in out
            if not logged:  # the first wave: no warning, not even about the cache
                assert err == ""
            else:  # the second wave: every run found its corpus in the cache
                assert "loaded from cache" in err and "WARNING" not in err, err
        assert _debris(cache) == []
        assert len(list(cache.glob("v*/corpus/*"))) == 2  # one entry per corpus, side by side


def _put(cache: Cache, key: str, size: int) -> None:
    cache.put("corpus", key, {"made": key}, {"data": np.zeros(size, dtype=np.uint8)})


def test_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    unbounded = Cache(tmp_path, max_bytes=1 << 30)
    for age, key in enumerate(["a", "b", "c"]):
        _put(unbounded, key, 1_000)
        past = time.time() - 100 + age  # a, then b, then c: oldest first
        os.utime(unbounded.path("corpus", key) / "meta.json", (past, past))
    entry_bytes = sum(p.stat().st_size for p in unbounded.path("corpus", "a").iterdir())
    cache = Cache(tmp_path, max_bytes=int(3.5 * entry_bytes))  # room for three entries, not four
    assert cache.get("corpus", "a") is not None  # a read makes "a" the most recently used
    _put(cache, "d", 1_000)
    cache.trim(keep=frozenset({cache.path("corpus", "d")}))
    kept = {p.name for p in (tmp_path / "v2" / "corpus").iterdir()}
    assert kept == {"a", "c", "d"}  # b, least recently used, went first


def test_trim_removes_dead_temporary_folders_only(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=1 << 30)
    _put(cache, "a", 10)
    folder = tmp_path / "v2" / "corpus"
    dead, live = folder / ".tmp-dead", folder / ".tmp-live"
    dead.mkdir()
    live.mkdir()  # another process is writing this one right now
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    cache.trim()
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-live", "a"]


def test_an_entry_published_twice_keeps_the_first(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=1 << 30)
    _put(cache, "a", 10)
    first = (cache.path("corpus", "a") / "meta.json").stat().st_ino
    _put(cache, "a", 10)  # as a second process that built the same entry would
    assert (cache.path("corpus", "a") / "meta.json").stat().st_ino == first
    assert _debris(tmp_path) == []
    entry = cache.get("corpus", "a")
    assert entry is not None and entry.meta["made"] == "a"
    assert is_mapped(entry.arrays["data"])


@pytest.mark.parametrize("damage", ["checksum", "missing"])
def test_a_damaged_entry_is_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = Cache(tmp_path, max_bytes=1 << 30)
    _put(cache, "a", 100)
    array = cache.path("corpus", "a") / "data.npy"
    if damage == "checksum":
        array.write_bytes(array.read_bytes()[:-1] + b"\x01")
    else:
        array.unlink()
    assert cache.get("corpus", "a") is None
    assert not cache.path("corpus", "a").exists()  # removed, so the rebuilt one can take its place


def test_entries_are_readable_by_other_users_as_the_umask_allows(tmp_path: Path) -> None:
    # Issue 15 #3's neighbour: shards and command-line runs of other users may share CACHE_DIR.
    cache = tmp_path / "cache"
    result = run_bot("ask", "How old is Kim Ju-ae?", USE_CACHE="true", CACHE_DIR=str(cache), umask=0o022)
    assert result.returncode == 0, result.stderr
    made = list(cache.rglob("*"))
    assert any(p.name == "meta.json" for p in made)
    modes = {str(p.relative_to(cache)): stat.S_IMODE(p.stat().st_mode) for p in made}
    assert modes == {name: 0o755 if (cache / name).is_dir() else 0o644 for name in modes}


@pytest.mark.parametrize("kind", ["a file", "below a file", "read-only"])
def test_an_unusable_cache_folder_is_one_line_and_the_answer_still_comes(tmp_path: Path, kind: str) -> None:
    # Issue 25 #14: eight "cache entry ... is not usable ... rebuilding" lines for entries that
    # never existed, when CACHE_DIR was a file.
    cache, reason = tmp_path / "cache", "Not a directory"
    cache.write_text("not a folder\n", encoding="utf-8")
    if kind == "below a file":
        cache = cache / "sub"
    elif kind == "read-only":
        cache.unlink()
        cache.mkdir(mode=0o555)
        reason = "Permission denied"
    result = run_bot(
        "ask",
        "How old is Kim Ju-ae?",
        USE_CACHE="true",
        CACHE_DIR=str(cache),
        unprivileged=kind == "read-only",
    )
    assert result.returncode == 0, result.stderr
    assert "12 years" in result.stdout
    assert result.stderr.splitlines() == [f"WARNING: cache off: CACHE_DIR {cache} cannot be used ({reason})"]
