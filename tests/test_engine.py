from __future__ import annotations

import json
import multiprocessing
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import engine
from bot.answer import render
from bot.answer.composer import Composer
from bot.config import Settings
from bot.documents import extract, parsing
from bot.documents.parse import decode
from tests.conftest import CORPUS, DATA, ROOT, is_mapped
from tests.test_extract import STORY, page


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
    caplog.set_level("INFO", logger="bot.engine")
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


def _many_files(folder: Path, count: int = 40) -> Path:
    """A corpus of `count` articles made of the seed article's paragraphs, and two broken files."""
    paragraphs = [p for p in (CORPUS / "article.txt").read_text(encoding="utf-8").split("\n") if len(p) > 80]
    rng = random.Random(7)
    (folder / "sub").mkdir(parents=True)
    for i in range(count):
        body = "\n\n".join(rng.sample(paragraphs, 6))
        (folder / ("sub" if i % 3 else "") / f"story{i:03d}.md").write_text(
            f"# Story {i}\n\n{body}\n", encoding="utf-8"
        )
    (folder / "headings.md").write_text("# Only a heading\n", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me.".encode("latin-1"))
    return folder


def _assert_same(a: Composer, b: Composer) -> None:
    assert a.corpus.documents == b.corpus.documents
    assert a.corpus.problems == b.corpus.problems
    for name, column in a.corpus.columns().items():
        np.testing.assert_array_equal(column, b.corpus.columns()[name], err_msg=name)
    assert a.index.terms == b.index.terms
    for name in ("offsets", "doc_ids", "impacts", "baseline", "idf"):
        np.testing.assert_array_equal(getattr(a.index, name), getattr(b.index, name), err_msg=name)


def _uncached(folder: Path) -> Composer:
    return engine.load(Settings(_env_file=None, corpus_dir=folder, use_cache=False))  # type: ignore[call-arg]


def test_process_pool_builds_what_one_process_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _many_files(tmp_path / "c")
    alone = _uncached(folder)
    monkeypatch.setattr(parsing, "POOL_MIN_BYTES", 0)  # real worker processes, even for a small corpus
    monkeypatch.setattr(parsing, "_MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(parsing, "usable_cores", lambda: 3)
    caplog.set_level("WARNING")
    workers: list[int] = []  # how many worker processes run as the work advances
    settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False)  # type: ignore[call-arg]
    pooled = engine.load(settings, progress=lambda *_: workers.append(len(multiprocessing.active_children())))
    assert max(workers) == 2
    _assert_same(pooled, alone)
    assert [p.name for p in pooled.corpus.problems] == ["headings.md", "latin1.txt"]
    assert not [r for r in caplog.records if "pool" in r.message]  # the pool did the work, no fallback


def test_reload_reuses_unchanged_files_and_builds_what_a_fresh_load_builds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _many_files(tmp_path / "c")
    settings = Settings(_env_file=None, corpus_dir=folder, use_cache=False)  # type: ignore[call-arg]
    first = engine.load(settings)
    (folder / "story000.md").write_text("# Changed\n\nThe walrus lives on the ice floe.\n", encoding="utf-8")
    (folder / "sub" / "story001.md").unlink()
    (folder / "added.txt").write_text("Penguins live in the south. They swim.\n", encoding="utf-8")
    caplog.set_level("INFO", logger="bot.engine")
    second = engine.load(settings, previous=first)
    assert "reused 38 of 42 documents" in caplog.text  # not the changed, the added or the broken ones
    _assert_same(second, _uncached(folder))
    assert engine.changes(first.corpus, second.corpus) == engine.Changes(
        added=("added.txt",), removed=("sub/story001.md",), changed=("story000.md",)
    )
    assert second.answer("Where does the walrus live?").excerpts[0].document.name == "story000.md"
    # A reload of a reload works the same way.
    (folder / "added.txt").write_text("Penguins live in the far south.\n", encoding="utf-8")
    _assert_same(engine.load(settings, previous=second), _uncached(folder))


@pytest.mark.parametrize(
    "breakage", [b"Caf\xe9 cr\xe8me, saved as Latin-1.\n", b"", b"# Only a heading now\n"]
)
def test_a_document_an_edit_breaks_keeps_its_last_good_version_on_reload(
    tmp_path: Path, corpus_copy: Path, breakage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 15 #15: a document saved as invalid UTF-8 disappeared from answers.
    settings = _settings(tmp_path, corpus_copy)
    first = engine.load(settings)
    (corpus_copy / "article.txt").write_bytes(breakage)
    (corpus_copy / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    entries = _entries(tmp_path)
    caplog.set_level("WARNING", logger="bot.engine")
    second = engine.load(settings, previous=first)
    (problem,) = second.corpus.problems
    assert problem.name == "article.txt" and problem.kept
    assert f"kept the last good version of {problem}" in caplog.text
    assert engine.changes(first.corpus, second.corpus) == engine.Changes(added=("walrus.txt",))
    assert "12 years old" in second.answer("How old is Kim Ju-ae?").excerpts[0].text
    assert second.answer("Where does the walrus live?").excerpts[0].document.name == "walrus.txt"
    third = engine.load(settings, previous=second)  # still broken: still kept
    assert [d.name for d in third.corpus.documents] == ["article.txt", "walrus.txt"]
    # Not what the files make, so not cached: a new process (no previous load) skips the file.
    assert _entries(tmp_path) == entries
    fresh = engine.load(settings)
    assert [d.name for d in fresh.corpus.documents] == ["walrus.txt"]
    assert [(p.name, p.kept) for p in fresh.corpus.problems] == [("article.txt", False)]
    # ... and caches that corpus; the running bot's next reload still keeps its version.
    assert [d.name for d in engine.load(settings, previous=third).corpus.documents] == [
        "article.txt",
        "walrus.txt",
    ]
    _grow_older_in(corpus_copy, first)
    mended = engine.load(settings, previous=third)
    assert (
        mended.corpus.problems == []
        and "13 years old" in mended.answer("How old is Kim Ju-ae?").excerpts[0].text
    )


def _grow_older_in(folder: Path, composer: Composer) -> None:
    """The article mended, one year on."""
    text = next(d.text for d in composer.corpus.documents if d.name == "article.txt")
    (folder / "article.txt").write_text(
        text.replace("about 12 years old", "about 13 years old"), encoding="utf-8"
    )


def test_a_new_process_reuses_the_cached_corpus_of_the_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _many_files(tmp_path / "c")
    settings = _settings(tmp_path, folder)
    engine.load(settings)
    with (folder / "story000.md").open("a", encoding="utf-8") as fh:
        fh.write("\nThe walrus lives on the ice floe.\n")
    caplog.set_level("INFO", logger="bot.engine")
    changed = engine.load(settings)  # no `previous`: as `python -m bot ask` after an edit
    assert "reused 39 of 42 documents" in caplog.text
    _assert_same(changed, _uncached(folder))
    assert len(_entries(tmp_path)) == 2
    caplog.clear()
    warm = engine.load(settings)
    assert "index loaded from cache" in caplog.text
    _assert_same(warm, changed)
    assert is_mapped(warm.index.impacts)  # memory-mapped: processes share the pages


def test_document_text_is_the_decoded_file(tmp_path: Path) -> None:
    # Cached documents get their text from the files again: it must be what parsing keeps.
    folder = _many_files(tmp_path / "c", count=3)
    (folder / "crlf.txt").write_bytes("\ufeffOne line.\r\nTwo lines, café.\r\n".encode())
    for document in _uncached(folder).corpus.documents:
        assert document.text == decode(document.name, (folder / document.name).read_bytes())


def test_a_script_without_a_main_guard_still_loads(tmp_path: Path) -> None:
    # Spawned workers import the main script again; unguarded, they fail, and the parent parses alone.
    folder = _many_files(tmp_path / "c", count=6)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from bot import engine\nfrom bot.documents import parsing\n"
        "from bot.config import Settings\n"
        "parsing.POOL_MIN_BYTES = 0\n"
        "parsing._MIN_CHUNK_BYTES = 1\n"
        "parsing.usable_cores = lambda: 2\n"
        f"settings = Settings(_env_file=None, corpus_dir=Path({str(folder)!r}), use_cache=False)\n"
        "print(len(engine.load(settings).corpus.documents), 'documents')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "6 documents"
    assert "the process pool failed" in done.stderr


MARKED_UP = (
    "<p>The <em>old bridge</em> &amp; the <strong>ring road</strong> were closed on Monday for "
    "repairs<sup>1</sup>, said <a href='/council'>the council</a>, which&nbsp;expects both to reopen "
    'by June.<!-- advert slot --></p><script>var teaser = "<p>Not part of the story</p>";</script>'
    "<style>p { color: red }</style><p>Engineers found cracks in three of the <code>&lt;main&gt;</code> "
    "spans &#8212; the worst of them near the <span class='place'>river bank</span>.</p>"
)

# The page's own markup. (Inline HTML such as `<sup>` may stay in the Markdown, as Markdown allows
# it; a reader, and the index, see its text only: the shown sentences are checked for every tag.)
_PAGE_MARKUP = re.compile(
    r"</?(?:html|head|body|meta|div|p|span|a|em|strong|script|style|code)\b|<!--|&[#\w]+;"
)
_ANY_MARKUP = re.compile(r"</?[a-z]+\b[^>]*>|<!--|&[#\w]+;")


def test_a_warm_start_keeps_web_pages_extracted_text(
    tmp_path: Path, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page's text is the Markdown of its article: the cache keeps it rather than extract again.
    shutil.copy(DATA / "pages" / "wire-sag-awards.html", corpus_copy / "sag.html")
    (corpus_copy / "bridge.html").write_text(page(STORY + MARKED_UP), encoding="utf-8")
    settings = _settings(tmp_path, corpus_copy)
    cold = engine.load(settings)
    pages = [d for d in cold.corpus.documents if d.name.endswith(".html")]
    assert [d.name for d in pages] == ["bridge.html", "sag.html"]
    for document in pages:  # the whole of each page's text is its article's Markdown: no HTML left
        assert document.text.startswith("---\ntitle: ")
        assert not [m.group() for m in _PAGE_MARKUP.finditer(document.text)], document.name
    shown = [cold.corpus.sentence(i).text for i in range(len(cold.corpus))]
    leftovers = [s for s in shown if _ANY_MARKUP.search(s.replace("<main>", "main"))]  # `<main>` is text here
    assert not leftovers and not [s for s in shown if "Not part of the story" in s or "color: red" in s]
    assert (
        "The old bridge & the ring road were closed on Monday for repairs1, said the council, which"
        in " ".join(shown)
    )
    assert (
        "Engineers found cracks in three of the <main> spans — the worst of them near the river bank."
        in shown
    )

    def no_extraction(raw: bytes) -> None:
        raise AssertionError("a warm start extracted the page again")

    monkeypatch.setattr(extract, "extract", no_extraction)
    warm = engine.load(settings)
    _assert_same(warm, cold)
