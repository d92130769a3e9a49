from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.documents import frontmatter
from bot.documents.article import is_boilerplate
from bot.documents.corpus import Corpus, CorpusError
from bot.documents.document import Problem
from bot.documents.folder import document_files, load_corpus
from bot.documents.parse import parse_document
from bot.text import fold_space
from tests.conftest import CORPUS, DATA, SEED
from tests.test_cli import run


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
    # The title is paragraph 0's sentence, cited ¶0.1; the headings are not sentences.
    assert [(p, s) for p, s, *_ in parsed.sentences] == [(0, 1), (1, 1), (1, 2), (2, 1)]
    assert text[parsed.sentences[0][2] : parsed.sentences[0][3]] == "A Title"
    assert all(not text[start:end].startswith("#") for _, _, start, end, _ in parsed.sentences)


@pytest.mark.parametrize(
    ("name", "item"), [("assembly.txt", "2. Fit the pedals."), ("assembly.md", "Fit the pedals.")]
)
def test_numbered_list_items_are_one_sentence_each(name: str, item: str) -> None:
    text = (
        "# Assembly\n\nUnpack the box.\n\nYou will need a spanner:\n"
        "1. Attach the handlebars to the stem.\n2. Fit the pedals.\n3. Pump the tyres.\n"
    )
    parsed = parse_document(name, text)
    rows = {text[start:end]: (p, s) for p, s, start, end, _ in parsed.sentences}
    assert rows.pop("Assembly") == (0, 1)  # the first heading is the title
    assert len(rows) == 5
    assert rows[item] == (2, 3)  # in Markdown the item's number is list structure, not its text
    assert all(any(ch.isalpha() for ch in sentence) for sentence in rows)


def test_a_markdown_file_opening_with_a_rule_keeps_its_text() -> None:
    text = "---\n\nThe opening paragraph, after a rule.\n\n---\n\nThe closing paragraph.\n"
    parsed = parse_document("rule.md", text)
    shown = [text[start:end] for _, _, start, end, _ in parsed.sentences]
    assert shown == ["The opening paragraph, after a rule.", "The closing paragraph."]
    assert parsed.document.title == "Rule"


@pytest.mark.parametrize(
    "front",
    [
        "title: \"'Parasite' scores historic upset at SAG awards\"\n",
        "title: '''Parasite'' scores historic upset at SAG awards'\n",
        "title: >-\n  'Parasite' scores historic\n  upset at SAG awards\n",
    ],
)
def test_front_matter_is_yaml(front: str) -> None:
    text = (
        f"---\n{front}authors:\n  - Jane Doe\n  - name: John Roe\n  - Ann Poe\ndate: 2020-01-19\n---\nBody.\n"
    )
    doc = parse_document("a.md", text).document
    assert doc.title == "'Parasite' scores historic upset at SAG awards"
    assert doc.author == "Jane Doe, John Roe and Ann Poe"
    assert doc.published == "2020-01-19"


@pytest.mark.parametrize("block", ["Just a line of text.", "title: 'Parasite' scores: a", "- a list"])
def test_an_opening_block_that_is_not_a_yaml_mapping_is_text(block: str) -> None:
    text = f"---\n{block}\n---\nBody sentence.\n"
    parsed = parse_document("a.txt", text)
    assert parsed.document.title == "A"
    assert any(block in text[start:end] for _, _, start, end, _ in parsed.sentences)


def test_front_matter_written_reads_back_whole() -> None:
    fields = {
        "title": "'Parasite' scores historic upset: \"a first\" # at SAG",
        "author": "Jane Doe and John Roe",
        "published": "2020-01-19",
        "source": "https://example.org/a?b=c#d",
        "empty": None,
    }
    doc = parse_document("a.md", frontmatter.write(fields) + "Body.\n").document
    assert (doc.title, doc.author, doc.published, doc.source_url) == (
        fields["title"],
        fields["author"],
        fields["published"],
        fields["source"],
    )


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
        # Furniture of news pages in general, one of each kind.
        ("Updated 2 hours ago", True),
        ("Published March 14, 2023", True),
        ("Last updated: 19 July 2022", True),
        ("Reporting by Lisa Richwine; Editing by Daniel Wallis", True),
        ("Our Standards: The Example Wire Trust Principles.", True),
        ("Read our editorial guidelines", True),
        ("Photograph: Andy Rain/EPA", True),
        ("Photograph by Peter Godfrey-Smith", True),
        ("Explore more on these topics", True),
        ("Most viewed", True),
        ("Comments (412)", True),
        ("Sign in", True),
        ("Log in or register to comment", True),
        ("Reuse this content", True),
        ("© 2022 Daily Example News & Media Limited. All rights reserved.", True),
        # ... and sentences that only start like it.
        ("Published in 1851, the novel sold poorly.", False),
        ("Updated figures show a rise in cases.", False),
        ("Editing by hand took the team a week.", False),
        ("Most popular among voters was the tax cut.", False),
        ("Comments from the minister angered farmers.", False),
        ("Credit card debt rose in May.", False),
        ("Log in on the server is integrated with the directory.", False),
        # Sign-up, sign-in and subscription prompts (issue 15 #6) ...
        ("Get the best stories in your inbox every morning.", True),
        ("Receive the stories that matter straight to your inbox.", True),
        ("By signing up you agree to our Terms of Use and Privacy Policy.", True),
        ("By continuing, you agree to our use of cookies.", True),
        ("Already a subscriber? Sign in", True),
        ("Don't have an account? Create an account", True),
        ("Forgot your password?", True),
        ("Create a free account", True),
        ("Get unlimited digital access for $1 a week.", True),
        # ... and sentences that only look like them.
        ("By signing the deal, the two firms agree to share costs.", False),
        ("Already a member of the party in 1990, she ran for mayor.", False),
        ("Forgotten passwords cost firms millions a year.", False),
        ("Create an account of what happened, the judge told the clerk.", False),
        ("Get unlimited holidays, the firm's founder promised staff.", False),
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


def test_corpus_path_through_dot_folders_and_links(tmp_path: Path) -> None:
    # Hidden names count below the corpus folder only, not in the path that leads to it; the path
    # may pass through links and `..`; inside, a link is followed where it stays in the folder.
    folder = tmp_path / ".local" / "share" / "corpus"
    (folder / ".git").mkdir(parents=True)
    (folder / "sub").mkdir()
    (folder / "a.txt").write_text("The walrus lives on the ice.\n", encoding="utf-8")
    (folder / "sub" / "b.md").write_text("Penguins live in the south.\n", encoding="utf-8")
    (folder / ".hidden.txt").write_text("Hidden text.\n", encoding="utf-8")
    (folder / ".git" / "c.txt").write_text("Version control.\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("DISCORD_TOKEN=not-for-questions\n", encoding="utf-8")
    (folder / "again.md").symlink_to(Path("sub") / "b.md")  # inside: read
    (folder / "notes.txt").symlink_to(Path("..") / ".." / ".." / "outside.txt")  # outside: skipped
    (folder / "hidden.txt").symlink_to(".hidden.txt")  # a dot-file, but inside the folder
    (folder / "linked").symlink_to(tmp_path, target_is_directory=True)  # folder links: not followed
    (tmp_path / "corpus-link").symlink_to(folder, target_is_directory=True)
    for path in (folder, folder / "sub" / ".." / ".." / "corpus", tmp_path / "corpus-link"):
        unlisted: list[Problem] = []
        files = document_files(path, unlisted)
        assert [name for name, _ in files] == ["a.txt", "again.md", "hidden.txt", "sub/b.md"]
        assert [str(problem) for problem in unlisted] == [
            "notes.txt: is a link to a file outside the corpus folder"
        ]
        corpus = load_corpus(path)
        assert [d.name for d in corpus.documents] == ["a.txt", "again.md", "hidden.txt", "sub/b.md"]
        assert "DISCORD_TOKEN" not in " ".join(d.text for d in corpus.documents)


def test_a_file_link_out_of_the_corpus_is_skipped_and_named(tmp_path: Path) -> None:
    # Issue 25 #11: `ln -s ../.env corpus/notes.txt` made the bot answer with the token.
    (tmp_path / ".env").write_text("DISCORD_TOKEN=MTIz.secret-token\n", encoding="utf-8")
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS / "article.txt", folder / "article.txt")
    (folder / "notes.txt").symlink_to(Path("..") / ".env")
    asked = run("ask", "--json", "--corpus", str(folder), "What is the DISCORD_TOKEN?")
    assert "secret-token" not in asked.stdout + asked.stderr
    assert asked.stderr.splitlines() == [
        "WARNING: skipped notes.txt: is a link to a file outside the corpus folder"
    ]
    pinned = run("ask", "--corpus", str(folder), "--document", "notes", "What is the DISCORD_TOKEN?")
    assert pinned.returncode == 2 and "secret-token" not in pinned.stdout + pinned.stderr
    about = run("about", "--json", "--corpus", str(folder))
    assert [d["document"] for d in json.loads(about.stdout)] == ["article.txt"]
    # `add` is not stopped by it: a link out of the folder is no earlier version of a page.
    added = run("add", str(DATA / "pages" / "wire-sag-awards.html"), "--corpus", str(folder))
    assert added.returncode == 0, added.stderr


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


_WORDS = [
    "Kim",
    "café",
    "Zürich",
    "naïve",
    "東京",
    "🙂",
    "said",
    "the",
    "report",
    "2024",
    "Ju-ae",
    "“quoted”",
]
_LINE_ENDS = ["\n", "\r\n", "\r"]


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, str]:
    """A document as written with Unix line ends, and the same one as some editor saved it."""
    first = st.sampled_from([w for w in _WORDS if w[0].isalnum()])
    sentence = st.tuples(first, st.lists(st.sampled_from(_WORDS), max_size=8)).map(
        lambda t: " ".join([t[0], *t[1]]) + "."
    )
    paragraph = st.lists(sentence, min_size=1, max_size=3).map(" ".join)
    paragraphs = draw(st.lists(paragraph, min_size=1, max_size=5))
    blank = draw(st.booleans())  # blank-line separated, or one paragraph a line
    unix = ("\n\n" if blank else "\n").join(paragraphs) + "\n"
    saved = unix.replace("\n", draw(st.sampled_from(_LINE_ENDS)))
    return unix, ("\ufeff" if draw(st.booleans()) else "") + saved


@settings(max_examples=150, deadline=None)
@given(document=_documents())
def test_spans_index_the_files_own_text(
    tmp_path_factory: pytest.TempPathFactory, document: tuple[str, str]
) -> None:
    unix, saved = document
    folder = tmp_path_factory.mktemp("c")
    (folder / "unix.txt").write_bytes(unix.encode("utf-8"))
    (folder / "saved.txt").write_bytes(saved.encode("utf-8"))
    corpus = load_corpus(folder)
    by_doc: dict[str, list[tuple[str, str]]] = {"unix.txt": [], "saved.txt": []}
    for i in range(len(corpus)):
        s = corpus.sentence(i)
        file_text = (folder / s.document.name).read_bytes().decode("utf-8")
        assert s.document.text == file_text
        assert fold_space(file_text[s.start : s.end]) == s.text
        by_doc[s.document.name].append((str(s.citation), s.text))
    # Line ends and a BOM change no sentence and no citation.
    assert by_doc["saved.txt"] == by_doc["unix.txt"]


@pytest.mark.parametrize(
    ("opening", "author"),
    [
        ("By Jane Doe\n\n", "Jane Doe"),
        ("By Jane Doe and John Roe\n\n", "Jane Doe and John Roe"),
        (
            "Science\n\nA headline on its own line\n\nBy Helen Carter, Science Correspondent\n\n",
            "Helen Carter",
        ),
        ("By Tuesday, the river had fallen.\n\n", None),
    ],
)
def test_bylines_by_their_shape(opening: str, author: str | None) -> None:
    text = opening + "The story itself begins here, and it is longer than any byline.\n"
    parsed = parse_document("story.txt", text)
    assert parsed.document.author == author
    stated = parsed.document.statement("author")
    if author is not None:
        assert stated is not None and text[stated.start : stated.end].startswith("By ")
        assert all(not text[a:b].startswith("By ") for _, _, a, b, _ in parsed.sentences)  # not an answer


def test_a_line_that_is_only_a_date_before_the_story_is_its_date() -> None:
    text = "By Helen Carter, Science Correspondent\n\n11 February 2016\n\nScientists announced a discovery.\n"
    document = parse_document("news.txt", text).document
    assert (document.author, document.published) == ("Helen Carter", "11 February 2016")
    stated = document.statement("published")
    assert stated is not None and (stated.source, text[stated.start : stated.end]) == (
        "date line",
        "11 February 2016",
    )
    # In a paragraph with more to it, or deep in the story, a date is content.
    late = "By Helen Carter\n\nA.\n\nB.\n\nC.\n\nD.\n\n11 February 2016\n"
    assert parse_document("late.txt", late).document.published is None
    assert parse_document("in.txt", "11 February 2016. It rained.\n").document.published is None
