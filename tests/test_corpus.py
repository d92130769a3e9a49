from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.corpus import Corpus, CorpusError, is_boilerplate, load_corpus, parse_document
from tests.conftest import SEED


def test_seed_article_paragraphs_sentences_and_spans(seed_corpus: Path) -> None:
    corpus = load_corpus(seed_corpus)
    assert [d.name for d in corpus.documents] == ["article.txt"]
    doc = corpus.documents[0]
    # Author from the closing "Follow ... on Facebook and Twitter." line, which is not content.
    assert doc.author == "Frances Martel"
    texts = [corpus.sentence(i).text for i in range(len(corpus))]
    assert not any(t.startswith(("Follow", "Read the full article")) for t in texts)
    first = corpus.sentence(0)
    assert str(first.citation) == "¶1.1"
    age = next(corpus.sentence(i) for i in range(len(corpus)) if "12 years old" in texts[i])
    assert str(age.citation) == "¶2.3"
    # Every span points at the sentence's text in the document.
    for i in range(len(corpus)):
        s = corpus.sentence(i)
        assert " ".join(doc.text[s.start : s.end].split()) == s.text


def test_front_matter_and_headings(tmp_path: Path) -> None:
    text = "---\ntitle: A Title\nauthor: 'Ann Author'\nurl: https://example.org/a\ndate: 2024-01-02\n---\n"
    text += "# Heading\n\nFirst paragraph. Second sentence.\n\n## Sub\n\nSecond paragraph.\n"
    parsed = parse_document("a.md", text)
    doc = parsed.document
    assert (doc.title, doc.author, doc.source_url, doc.published) == (
        "A Title",
        "Ann Author",
        "https://example.org/a",
        "2024-01-02",
    )
    assert [(p, s) for p, s, *_ in parsed.sentences] == [(1, 1), (1, 2), (2, 1)]
    assert all(not text[start:end].startswith("#") for _, _, start, end, _ in parsed.sentences)


def test_title_defaults_to_first_heading_then_file_name() -> None:
    assert parse_document("x.md", "# The Heading\n\nBody text.\n").document.title == "The Heading"
    assert parse_document("my_story.txt", "Body text.\n").document.title == "My story"


@pytest.mark.parametrize(
    ("line", "boiler"),
    [
        ("Follow Frances Martel on Facebook and Twitter.", True),
        ("Read the full article here", True),
        ("Share this story", True),
        ("Shares of the company rose after the report.", False),
        ("Kim followed the plan on Sunday.", False),
    ],
)
def test_boilerplate(line: str, boiler: bool) -> None:
    assert is_boilerplate(line) is boiler


def test_bad_documents_are_reported_by_name_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me.".encode("latin-1"))
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    corpus = load_corpus(tmp_path)
    assert [d.name for d in corpus.documents] == ["good.txt"]
    reasons = {p.name: p.reason for p in corpus.problems}
    assert set(reasons) == {"latin1.txt", "empty.md", "binary.txt"}
    assert "UTF-8" in reasons["latin1.txt"]
    assert "empty" in reasons["empty.md"]


@pytest.mark.parametrize("make", ["missing", "empty", "only_bad", "file"])
def test_unusable_corpus_folders(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "c"
    if make == "empty":
        folder.mkdir()
    elif make == "only_bad":
        folder.mkdir()
        (folder / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    elif make == "file":
        folder.write_text("x", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(folder)
    message = str(err.value)
    assert "\n" not in message
    assert ("bad.txt" in message) if make == "only_bad" else (str(folder) in message)


def test_windows_line_ends_and_bom(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes("\ufeffOne sentence.\r\nAnother one.\r\n".encode())
    corpus = load_corpus(tmp_path)
    assert [corpus.sentence(i).text for i in range(len(corpus))] == ["One sentence.", "Another one."]


def test_find_and_paragraph_range(seed_corpus: Path) -> None:
    corpus = load_corpus(seed_corpus)
    i = corpus.find("article.txt", 2, 3)
    assert i is not None and str(corpus.sentence(i).citation) == "¶2.3"
    assert [str(corpus.sentence(j).citation) for j in corpus.paragraph_range(i)] == ["¶2.1", "¶2.2", "¶2.3"]
    assert corpus.find("article.txt", 99, 1) is None


def test_corpus_path_through_dot_folders_and_parent_links(tmp_path: Path) -> None:
    # Hidden names count below the corpus folder only, not in the path that leads to it.
    folder = tmp_path / ".local" / "share" / "corpus"
    (folder / ".git").mkdir(parents=True)
    (folder / "sub").mkdir()
    (folder / "a.txt").write_text("The walrus lives on the ice.\n", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("Penguins live in the south.\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text("Hidden text.\n", encoding="utf-8")
    (folder / ".git" / "c.txt").write_text("Version control.\n", encoding="utf-8")
    for path in (folder, folder / "sub" / ".." / ".." / "corpus"):
        assert [d.name for d in load_corpus(path).documents] == ["a.txt", "sub/b.md"]


def test_file_name_not_utf8_is_a_problem_by_readable_name(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("The walrus lives on the ice.\n", encoding="utf-8")
    try:
        (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("Tea is served.\n", encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    corpus = load_corpus(tmp_path)
    assert [d.name for d in corpus.documents] == ["good.txt"]
    assert [p.name for p in corpus.problems] == ["caf\\xe9.txt"]
    assert "not UTF-8" in corpus.problems[0].reason


def test_paragraph_ids_run_on_across_documents() -> None:
    first = parse_document("a.txt", "One. Two.\n\nThree.\n")
    second = parse_document("b.txt", "Four.\n\nFive. Six.\n")
    corpus = Corpus.from_parsed([first, second])
    assert corpus.doc_of.tolist() == [0, 0, 0, 1, 1, 1]
    assert corpus.paragraph_of.tolist() == [1, 1, 2, 4, 5, 5]  # one apart: b's ¶1 is not a's ¶2
    assert not corpus.same_paragraph(2, 3)
    assert [str(corpus.sentence(i).citation) for i in range(6)] == [
        "¶1.1",
        "¶1.2",
        "¶2.1",
        "¶1.1",
        "¶2.1",
        "¶2.2",
    ]
