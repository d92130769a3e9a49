"""The command line through a real subprocess, as a user (or another program) runs it."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.cli import terminal_progress
from bot.documents import markdown
from bot.evaluate import read_question_set
from tests.conftest import CORPUS, DATA, DEV, NOTRE_DAME, ROOT


def run(
    *args: str,
    stdin: str | None = None,
    cwd: Path = ROOT,
    umask: int = -1,
    unprivileged: bool = False,
    program: Sequence[str] = ("-m", "bot"),
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as a user runs it; `unprivileged`: held to the files' modes even as root;
    `program`: what Python runs instead of `-m bot` (`-c CODE` that patches the bot, then runs it).
    No DISCORD_TOKEN but one `env` gives."""
    environ = {**os.environ, "USE_CACHE": "false"}
    environ.pop("DISCORD_TOKEN", None)
    environ.update(env)
    return subprocess.run(
        [*(without_root_powers() if unprivileged else []), sys.executable, *program, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=180,  # a hang guard, not a measure: a busy two-core machine took 87 s for one eval
        check=False,
        umask=umask,  # -1: this process's
    )


def without_root_powers() -> list[str]:
    """A command prefix that holds root to the files' modes, as any user is (root's capabilities
    let it read what a mode forbids), so that unreadable files can be tested; none for other users."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a file unreadable")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all", "--"]


def ask_walrus(folder: Path, unprivileged: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
    """`ask --json` where the folder's walrus.txt answers, whatever else is in it; it must answer."""
    result = run(
        "ask",
        "--json",
        "--corpus",
        str(folder),
        "Where does the walrus live?",
        unprivileged=unprivileged,
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["excerpts"][0]["document"] == "walrus.txt"
    return result


def test_ask_prints_cited_excerpts() -> None:
    result = run("ask", "How old is Kim Ju-ae?")
    assert result.returncode == 0, result.stderr
    short, blank, first, *_ = result.stdout.splitlines()
    assert short == "**about 12 years old** [article.txt ¶2.3]" and blank == ""
    assert first.startswith("1. [article.txt ¶2.3]")
    assert "**old**" in first
    assert result.stderr == ""


def test_ask_json_short_answer_is_a_span_of_the_file_or_null() -> None:
    questions = ["How old is Kim Ju-ae?", "What is the tallest mountain in Africa?", "Who is the author?"]
    result = run("ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    answered, declined, metadata = (json.loads(line) for line in result.stdout.splitlines())
    short = answered["short_answer"]
    assert set(short) == {"text", "document", "span", "citation"}
    assert (short["text"], short["document"], short["citation"]) == (
        "about 12 years old",
        "article.txt",
        "¶2.3",
    )
    start, end = short["span"]
    assert (CORPUS / "article.txt").read_bytes().decode("utf-8")[start:end] == short["text"]
    assert short["text"] in answered["excerpts"][0]["text"]
    assert declined["abstained"] and declined["short_answer"] is None
    assert metadata["excerpts"][0]["citation"].startswith("metadata") and metadata["short_answer"] is None


def test_ask_json_contract() -> None:
    result = run("ask", "--json", "How old is Kim Ju-ae?")
    assert result.returncode == 0
    obj = json.loads(result.stdout)
    assert obj["question"] == "How old is Kim Ju-ae?"
    assert obj["abstained"] is False
    assert "12 years old" in obj["excerpts"][0]["text"]
    assert obj["excerpts"][0]["document"] == "article.txt"
    assert obj["excerpts"][0]["citation"] == "¶2.3"


def test_ask_json_from_stdin_one_object_a_line() -> None:
    questions = ["How old is Kim Ju-ae?", "", "Who discovered penicillin?", "x" * 600, "Who is the author?"]
    result = run("ask", "--json", "-", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(questions)
    assert [r["abstained"] for r in rows] == [False, True, True, True, False]
    assert "error" in rows[3] and "limit" in result.stderr
    assert "Frances Martel" in rows[4]["excerpts"][0]["text"]


def test_abstention_in_the_terminal() -> None:
    result = run("ask", "What is the tallest mountain in Africa?")
    assert result.returncode == 0
    assert result.stdout.startswith("The article doesn't say.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", ""), "empty"),
        (("ask", "   "), "empty"),
        (("ask", "q" * 501), "limit is 500"),
        (("ask", "--corpus", "/nonexistent/folder", "hello"), "does not exist"),
        (("eval", "/nonexistent.jsonl"), "cannot read"),
        (("ask", "--top-k", "0", "hello"), "--top-k"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_is_reported_not_raised() -> None:
    result = run("ask", "hello", TOP_K="many")
    assert result.returncode == 2
    assert "TOP_K" in result.stderr and "Traceback" not in result.stderr


def test_env_example_copied_to_env_is_a_valid_configuration(tmp_path: Path) -> None:
    # README's set-up step: `cp .env.example .env`; its empty values mean "not set".
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    # The suite points Settings at no file (conftest.isolate_settings); empty, the variable means `.env`.
    result = run("ask", "How old is Kim Ju-ae?", cwd=tmp_path, ARTICLE_BOT_ENV_FILE="")
    assert result.returncode == 0, result.stderr


def test_corpus_flag_and_setting_and_broken_document(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe broken")
    by_flag = run("ask", "--json", "--corpus", str(folder), "Where does the walrus live?")
    by_setting = run("ask", "--json", "Where does the walrus live?", CORPUS_DIR=str(folder))
    for result in (by_flag, by_setting):
        assert result.returncode == 0
        assert json.loads(result.stdout)["excerpts"][0]["document"] == "walrus.txt"
        assert "broken.txt" in result.stderr and "UTF-8" in result.stderr


def test_eval_prints_the_scores() -> None:
    result = run("eval", str(DEV))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for label in ("hit@1", "hit@3", "MRR@3", "abstentions", "false abstentions"):
        assert label in out


def test_eval_scores_three_excerpts_whatever_the_bot_shows() -> None:
    # Issue 10 "smaller": TOP_K is the display setting; hit@3 is always over three excerpts.
    shown_one = json.loads(run("eval", str(DEV), "--json", TOP_K="1").stdout)
    default = json.loads(run("eval", str(DEV), "--json").stdout)
    assert shown_one == default
    assert shown_one["hit@3"] > shown_one["hit@1"]


def test_eval_squad_with_off_topic_questions_and_misses() -> None:
    squad = NOTRE_DAME
    result = run("eval", str(squad), "--off-topic", str(DEV), "--misses", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["answerable"] == 269 and report["to_decline"] == {"off-topic": 27}
    assert 0 < report["hit@1"] <= report["hit@3"] <= 1
    assert report["misses"] and all(isinstance(m, str) for m in report["misses"])
    # SQuAD's answers have texts: the short answers are scored, per kind, as docs/quality.md reports them.
    shorts = report["short"]
    assert set(shorts) == {"all", "when", "how many", "who", "where", "other"}
    assert shorts["all"]["questions"] == 269 and 0 < shorts["all"]["given"] < 269
    assert shorts["all"]["f1"] >= shorts["all"]["em"] > 0
    assert isinstance(report["short_misses"], list) and "short_to_decline" in report
    text = run("eval", str(squad)).stdout.splitlines()
    assert text[0].startswith("short answers: ") and text[1].startswith("  when: ")
    # Asked beside the shipped article, the same questions still find Notre Dame's sentences.
    beside = json.loads(run("eval", str(squad), "--corpus", str(CORPUS), "--json").stdout)
    assert beside["answerable"] == 269 and beside["hit@3"] > 0.7


def test_about_lists_documents() -> None:
    result = run("about", "--json")
    rows = json.loads(result.stdout)
    assert rows[0]["document"] == "article.txt" and rows[0]["author"] == "Frances Martel"
    assert rows[0]["sentences"] > 20 and len(rows[0]["sha256"]) == 64


def test_ask_path_does_not_import_discord() -> None:
    code = "import sys; from bot.cli import main; main(['ask', 'hi']); print('discord' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_run_without_token_names_the_setting(tmp_path: Path) -> None:
    result = run("run", "--corpus", str(CORPUS), cwd=tmp_path)
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr and ".env.example" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_from_another_working_directory(tmp_path: Path) -> None:
    # Programs outside the repository call the CLI from their own folder.
    result = run("ask", "--json", "How old is Kim Ju-ae?", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["excerpts"][0]["citation"] == "¶2.3"


def test_corpus_given_with_parent_folder_link() -> None:
    result = run("ask", "--json", "--corpus", "../corpus", "How old is Kim Ju-ae?", cwd=ROOT / "tests")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["excerpts"][0]["citation"] == "¶2.3"


@pytest.mark.parametrize("use_cache", ["false", "true"])
def test_file_name_not_utf8_is_reported_and_skipped(tmp_path: Path, use_cache: str) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    try:  # a Latin-1 name, as files copied from old archives have: bytes that are not UTF-8
        (folder / os.fsdecode(b"caf\xe9.txt")).write_text("The cafe serves tea.\n", encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    result = ask_walrus(folder, USE_CACHE=use_cache, CACHE_DIR=str(tmp_path / "cache"))
    assert "caf\\xe9.txt" in result.stderr and "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_json_spans_index_the_file_with_crlf_bom_and_multibyte_text(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    text = (CORPUS / "article.txt").read_bytes().decode("utf-8")
    (folder / "article.txt").write_bytes(("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"))
    (folder / "old_mac.txt").write_bytes(
        "Zoë visited Zürich in 1998.\r\rShe studied the café’s history.\r".encode()
    )
    bicycle = (DATA / "bicycle" / "bicycle.md").read_bytes().decode("utf-8")
    (folder / "bicycle.md").write_bytes(("\ufeff" + bicycle.replace("\n", "\r\n")).encode("utf-8"))
    questions = [json.loads(line)["q"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    questions += [
        json.loads(line)["q"] for line in (DATA / "bicycle_questions.jsonl").read_text().splitlines()
    ]
    questions += ["Where did Zoë go?", "What did she study?"]
    result = run("ask", "--json", "--corpus", str(folder), "-", stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    files = {p.name: p.read_bytes().decode("utf-8") for p in folder.iterdir()}
    shown: dict[str, int] = {}
    for line in result.stdout.splitlines():
        for excerpt in json.loads(line)["excerpts"]:
            if excerpt["citation"].startswith("metadata"):
                continue
            start, end = excerpt["span"]
            file_text = files[excerpt["document"]]
            if excerpt["document"].endswith(".md"):  # what the Markdown shows, markup removed
                source = markdown.shown(file_text[start:end], markdown.references(file_text))
            else:
                source = " ".join(file_text[start:end].split())
            if excerpt["truncated"]:
                assert excerpt["text"] in source
            else:
                assert source == excerpt["text"]
            shown[excerpt["document"]] = shown.get(excerpt["document"], 0) + 1
    assert set(shown) == set(files) and sum(shown.values()) >= len(questions)


def test_long_loads_show_a_progress_bar_per_stage() -> None:
    stream = io.StringIO()
    report = terminal_progress(stream)
    for done in range(0, 1001, 250):
        report("splitting", done, 1000)
    report("reading", 5, 10)  # small: no bar
    shown = stream.getvalue()
    assert "splitting" in shown and "100%" in shown and "1000/1000" in shown
    assert "reading" not in shown


def test_a_folder_without_documents_names_every_kind_of_document(tmp_path: Path) -> None:
    # Issue 15 #16: saved web pages are documents too; the message and .env.example say so.
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.7")
    result = run("ask", "--corpus", str(tmp_path), "hello")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert all(kind in line for kind in (".txt", ".md", ".html", ".htm")), line
    corpus_setting = (ROOT / ".env.example").read_text(encoding="utf-8").split("CORPUS_DIR")[0]
    assert ".html" in corpus_setting.rsplit("\n\n", 1)[-1]


def test_eval_of_squad_articles_whose_titles_are_too_long_for_a_file_name(tmp_path: Path) -> None:
    # Issue 15 #14: a title over 255 bytes was `OSError: File name too long`.
    squad = json.loads(NOTRE_DAME.read_text(encoding="utf-8"))
    article = squad["data"][0]
    long_titles = ["Notre Dame " * 30, "Université " * 30, "Université " * 30 + "again"]  # 300+ bytes each
    squad["data"] = [{**article, "title": title} for title in long_titles]
    f = tmp_path / "squad.json"
    f.write_text(json.dumps(squad), encoding="utf-8")
    result = run("eval", str(f), "--json")
    assert result.returncode == 0, result.stderr
    questions = [qa for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    assert json.loads(result.stdout)["answerable"] == 3 * len(questions)
    names = list(read_question_set(f).documents)
    assert len(set(names)) == 3 and all(len(name.encode()) <= 255 for name in names), names


def test_corpus_files_over_their_size_limit_are_reported_by_name_and_the_others_load(tmp_path: Path) -> None:
    # Issue 15 #7: one 200 MB corpus file took 2 minutes and 5.2 GB on a cold ask.
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    (folder / "long.txt").write_text("The walrus swims.\n" * 100, encoding="utf-8")
    (folder / "long.md").write_text("# Notes\n\n" + "The walrus dives.\n" * 100, encoding="utf-8")
    shutil.copy(DATA / "pages" / "wire-sag-awards.html", folder / "page.html")  # 8,939 bytes
    result = ask_walrus(folder, MAX_DOCUMENT_BYTES="1000", FETCH_MAX_BYTES="5000")
    assert sorted(result.stderr.splitlines()) == [
        "WARNING: skipped long.md: is larger than the 1,000-byte limit (MAX_DOCUMENT_BYTES)",
        "WARNING: skipped long.txt: is larger than the 1,000-byte limit (MAX_DOCUMENT_BYTES)",
        "WARNING: skipped page.html: is larger than the 5,000-byte limit (FETCH_MAX_BYTES)",
    ]
    about = run(
        "about", "--json", "--corpus", str(folder), MAX_DOCUMENT_BYTES="2000", FETCH_MAX_BYTES="100000"
    )
    assert sorted(d["document"] for d in json.loads(about.stdout)) == [
        "long.md",
        "long.txt",
        "page.html",
        "walrus.txt",
    ]


def test_a_folder_that_cannot_be_listed_is_reported_by_name(tmp_path: Path) -> None:
    # Issue 15 #18: its documents were skipped without a word.
    folder = tmp_path / "c"
    (folder / "locked").mkdir(parents=True)
    (folder / "walrus.txt").write_text("The walrus lives on the ice floe.\n", encoding="utf-8")
    (folder / "locked" / "notes.txt").write_text("Walruses use their tusks.\n", encoding="utf-8")
    (folder / "locked").chmod(0)
    try:
        result = ask_walrus(folder, unprivileged=True)
        assert result.stderr.splitlines() == [
            "WARNING: skipped locked/: cannot be listed (Permission denied)"
        ]
        folder.chmod(0)
        whole = run("ask", "--corpus", str(folder), "Where does the walrus live?", unprivileged=True)
        assert whole.returncode == 2
        assert whole.stderr.splitlines() == [
            f"error: corpus folder {folder} cannot be listed (Permission denied)"
        ]
    finally:
        folder.chmod(0o755)
        (folder / "locked").chmod(0o755)
