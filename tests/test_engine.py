from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot import engine, render
from bot.config import Settings
from tests.conftest import CORPUS


def _settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(_env_file=None, corpus_dir=corpus, cache_dir=tmp_path / "cache")  # type: ignore[call-arg]


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").glob("v*/corpus/[!.]*"))


def _answers(settings: Settings) -> list[object]:
    composer = engine.load(settings)
    return [render.answer_json(composer.answer(q)) for q in ("How old is Kim Ju-ae?", "Who wrote it?")]


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    return folder


def test_cache_is_written_reused_and_gives_the_same_answers(
    tmp_path: Path, corpus_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, corpus_copy)
    fresh = _answers(settings)
    folders = _entries(tmp_path)
    assert len(folders) == 1
    names = {p.name for p in folders[0].iterdir()}
    assert "meta.json" in names and all(n.endswith(".npy") for n in names - {"meta.json"})
    caplog.set_level("INFO", logger="bot.cache")
    assert _answers(settings) == fresh
    assert any("loaded from cache" in r.message for r in caplog.records)
    # The arrays load without pickle: nothing in the cache can run code.
    for path in folders[0].glob("*.npy"):
        assert np.load(path, allow_pickle=False).dtype != object


@pytest.mark.parametrize("damage", ["truncate", "meta", "flip"])
def test_corrupt_cache_is_rebuilt(
    tmp_path: Path, corpus_copy: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, corpus_copy)
    fresh = _answers(settings)
    (folder,) = _entries(tmp_path)
    if damage == "truncate":
        (folder / "impacts.npy").write_bytes((folder / "impacts.npy").read_bytes()[:100])
    elif damage == "meta":
        (folder / "meta.json").write_text("{not json", encoding="utf-8")
    else:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        meta["terms"] = meta["terms"][::-1]
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    caplog.set_level("WARNING", logger="bot.cache")
    assert _answers(settings) == fresh
    assert any("rebuilding" in r.message for r in caplog.records)


def test_changed_corpus_changes_the_key(tmp_path: Path, corpus_copy: Path) -> None:
    settings = _settings(tmp_path, corpus_copy)
    _answers(settings)
    first = set(_entries(tmp_path))
    with (corpus_copy / "article.txt").open("a", encoding="utf-8") as fh:
        fh.write("\nKim Ju-ae is now believed to be 13 years old.\n")
    composer = engine.load(settings)
    second = set(_entries(tmp_path))
    assert first < second and len(second) == 2  # side by side: the old version may come back
    texts = [e.text for e in composer.answer("How old is Kim Ju-ae?").excerpts]
    assert any("13 years old" in t for t in texts)


def test_progress_is_reported(tmp_path: Path, corpus_copy: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    engine.load(_settings(tmp_path, corpus_copy), progress=lambda *a: seen.append(a))
    stages = {s for s, _, _ in seen}
    assert {"reading", "splitting", "indexing"} <= stages
    assert all(done <= total for _, done, total in seen)
