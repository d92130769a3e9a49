"""Builds and checks the blind held-out question sets (see heldout/README.md, multidoc_heldout/README.md).

    python tests/data/build_heldout.py            # write heldout/docs/{rhine,chronometer}.json, then check
    python tests/data/build_heldout.py --check    # check only: exit 1 and one line a problem if any

It writes the SQuAD v2.0 files from the hand-written questions in `heldout/src/squad_qs.py` (each
`answer_start` computed here), then checks every held-out file: JSON parses; SQuAD offsets point at
their answers, contexts joined are the document, `is_impossible` questions have no answer; the
multi-document set's kinds and gold agree, each content gold stands inside one sentence of its
named document and in no other document, each metadata gold is the document's metadata, a line of
its file or a piece of its saved page; and no question repeats one of any other set in `tests/data`.
Sentences are read by `bot.documents` (splitting text is not answering: no ranking code is used).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import runpy
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.documents.folder import load_corpus
from bot.text import fold_space

DATA = Path(__file__).resolve().parent
SQUAD_BUILT = (  # (document stem, title, id prefix, name of its list in squad_qs.py)
    ("rhine", "Rhine", "rhine", "RHINE"),
    ("chronometer", "Marine chronometer", "chron", "CHRONOMETER"),
)
CONTENT_KINDS = ("lexical", "paraphrase")
KINDS = (*CONTENT_KINDS, "meta", "unrelated")
# What the brief for the multi-document set asks of it (issue 19).
MULTIDOC_COUNTS = {"meta": (7, 10), "content": (40, 10_000), "unrelated": (8, 10)}
_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL | re.IGNORECASE)


def whole_word_starts(context: str, answer: str) -> list[int]:
    """Where `answer` stands in `context` as whole words (not inside a longer word)."""
    pattern = r"(?<!\w)" + re.escape(answer) + r"(?!\w)"
    return [m.start() for m in re.finditer(pattern, context)]


def build_squad(data: Path, stem: str, title: str, prefix: str, questions: list[list[Any]]) -> dict[str, Any]:
    """A SQuAD v2.0 file of one article: the document's paragraphs and their questions."""
    contexts = (data / "heldout" / "docs" / f"{stem}.txt").read_text(encoding="utf-8").split("\n\n")
    if len(contexts) != len(questions):
        raise ValueError(f"{stem}: {len(contexts)} paragraphs but questions for {len(questions)}")
    paragraphs = []
    for p, (context, qas) in enumerate(zip(contexts, questions, strict=True)):
        rows = []
        for q, (question, answer) in enumerate(qas):
            row: dict[str, Any] = {"id": f"{prefix}-p{p:02d}-q{q}", "question": question}
            if answer is None:
                row |= {"answers": [], "is_impossible": True}
            else:
                starts = whole_word_starts(context, answer)
                if not starts:
                    raise ValueError(
                        f"{stem} ¶{p}: answer {answer!r} of {question!r} is not in its paragraph"
                    )
                row |= {"answers": [{"text": answer, "answer_start": starts[0]}], "is_impossible": False}
            rows.append(row)
        paragraphs.append({"context": context, "qas": rows})
    return {"version": "v2.0", "data": [{"title": title, "paragraphs": paragraphs}]}


def squad_text(squad: dict[str, Any]) -> str:
    """A SQuAD file as this folder saves them (indent 1, UTF-8 as is, a final newline)."""
    return json.dumps(squad, indent=1, ensure_ascii=False) + "\n"


def check_squad(path: Path) -> Iterator[str]:
    """Problems of one SQuAD v2.0 file of `heldout/docs` against its document beside it."""
    try:
        squad = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        yield f"{path.name}: not JSON ({exc})"
        return
    if squad.get("version") != "v2.0" or len(squad.get("data", [])) != 1:
        yield f"{path.name}: not a SQuAD v2.0 file of one article"
        return
    paragraphs = squad["data"][0]["paragraphs"]
    contexts = [p["context"] for p in paragraphs]
    documents = [d for d in path.parent.glob(path.stem + ".*") if d.suffix in (".txt", ".md")]
    if len(documents) != 1:
        yield f"{path.name}: no single document beside it ({[d.name for d in documents]})"
    else:
        text = documents[0].read_text(encoding="utf-8")
        # A Markdown guide keeps its front matter above the first paragraph.
        body = text.split("\n---\n\n", 1)[1] if text.startswith("---\n") else text
        if body != "\n\n".join(contexts):
            yield f"{path.name}: its contexts joined are not {documents[0].name}"
    ids = Counter(qa["id"] for p in paragraphs for qa in p["qas"])
    yield from (f"{path.name}: id {i} used {n} times" for i, n in ids.items() if n > 1)
    for paragraph in paragraphs:
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            answers = qa.get("answers", [])
            if bool(qa.get("is_impossible")) == bool(answers):
                yield f"{path.name} {qa['id']}: is_impossible must mean no answers"
            for answer in answers:
                start, text = answer["answer_start"], answer["text"]
                if context[start : start + len(text)] != text:
                    yield f"{path.name} {qa['id']}: answer_start {start} does not point at {text!r}"


def _page_text(page: str) -> str:
    """What a saved page shows a reader, roughly: its text without tags, scripts and styles."""
    return fold_space(html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", page))))


def check_multidoc(data: Path) -> Iterator[str]:
    """Problems of `multidoc_heldout/questions.jsonl` against its corpus and saved pages."""
    folder = data / "multidoc_heldout"
    corpus = load_corpus(folder / "corpus")
    yield from (f"corpus: {problem}" for problem in corpus.problems)
    sentences: dict[str, list[str]] = {doc.name: [] for doc in corpus.documents}
    for i in range(len(corpus)):
        sentence = corpus.sentence(i)
        sentences[sentence.document.name].append(fold_space(sentence.text))
    pages = [page.read_text(encoding="utf-8") for page in sorted((folder / "pages").glob("*.html"))]
    counts: Counter[str] = Counter()
    for number, line in enumerate((folder / "questions.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        where = f"questions.jsonl:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield f"{where}: not JSON ({exc})"
            continue
        question, gold, kind, name = row.get("q"), row.get("gold"), row.get("kind"), row.get("document")
        if set(row) != {"q", "gold", "kind", "document"} or not isinstance(question, str):
            yield f"{where}: keys must be q, gold, kind, document"
            continue
        if kind not in KINDS or not isinstance(gold, list) or not all(isinstance(g, str) and g for g in gold):
            yield f"{where}: kind must be one of {KINDS} and gold a list of strings"
            continue
        counts["content" if kind in CONTENT_KINDS else kind] += 1
        if (kind == "unrelated") != (not gold) or (kind == "unrelated") != (name is None):
            yield f"{where}: unrelated questions, and only they, have no gold and no document"
            continue
        if name is None:
            continue
        if name not in sentences:
            yield f"{where}: no document {name!r} in the corpus"
            continue
        if kind == "meta":
            yield from _check_meta(where, corpus, name, gold, pages)
            continue
        for g in map(fold_space, gold):
            if not any(g in s for s in sentences[name]):
                yield f"{where}: gold {g!r} is not inside one sentence of {name}"
            others = [
                other for other, texts in sentences.items() if other != name and any(g in s for s in texts)
            ]
            if others:
                yield f"{where}: gold {g!r} also stands in {others}, so it cannot tell the documents apart"
    for what, (low, high) in MULTIDOC_COUNTS.items():
        if not low <= counts[what] <= high:
            yield f"questions.jsonl: {counts[what]} {what} questions, not {low} to {high}"


def _check_meta(where: str, corpus: Any, name: str, gold: list[str], pages: list[str]) -> Iterator[str]:
    """A metadata gold is a field as `about` shows it, a line of the file, or a piece of its page."""
    document = next(doc for doc in corpus.documents if doc.name == name)
    fields = [v for v in (document.title, document.author, document.published, document.source_url) if v]
    # A page is the document's when it names the document's source (its canonical address).
    page = _page_text(next((p for p in pages if document.source_url and document.source_url in p), ""))
    for g in map(fold_space, gold):
        if not (any(g in f for f in fields) or g in fold_space(document.text) or g in page):
            yield f"{where}: meta gold {g!r} is neither a field, a line nor on the page of {name}"


def _normalised(question: str) -> str:
    folded = unicodedata.normalize("NFKC", question).casefold().replace("’", "'")
    return " ".join(re.sub(r"[^\w' ]+", " ", folded).split())


def set_questions(path: Path) -> list[str]:
    """Every question of one set in `tests/data`: JSON Lines or SQuAD JSON."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line)["q"] for line in text.splitlines() if line.strip()]
    squad = json.loads(text)
    if "data" not in squad:
        return []  # not a question set (pages/parts.json)
    return [qa["question"] for article in squad["data"] for p in article["paragraphs"] for qa in p["qas"]]


def check_repeats(data: Path, ours: list[Path]) -> Iterator[str]:
    """A question of ours that repeats one of another set (or of its own), case and punctuation aside."""
    seen: dict[str, str] = {}
    # SQuAD's development articles (the reader's fitting and report files) are crowd-written over
    # the same Wikipedia articles as some of ours (the Rhine): a question both a crowd worker and a
    # blind writer asked is a coincidence of the article, not a question copied from a set.
    crowd = {data / "eval" / "squad" / name for name in ("dev_fit.json", "dev_report.json")}
    for path in sorted(p for p in data.rglob("*.json*") if p not in ours and p not in crowd):
        for question in set_questions(path):
            seen.setdefault(_normalised(question), path.relative_to(data).as_posix())
    for path in ours:
        mine: set[str] = set()
        for question in set_questions(path):
            key = _normalised(question)
            if key in seen:
                yield f"{path.name}: {question!r} repeats a question of {seen[key]}"
            if key in mine:
                yield f"{path.name}: {question!r} is asked twice"
            mine.add(key)


def main(argv: list[str] | None = None) -> int:
    """Write the SQuAD files (unless --check), check every held-out set, print counts or problems."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check only; fail if a built file is stale")
    parser.add_argument("--data", type=Path, default=DATA, help="the tests/data folder (default: this one)")
    args = parser.parse_args(argv)
    data: Path = args.data
    source = runpy.run_path(str(data / "heldout" / "src" / "squad_qs.py"))
    problems: list[str] = []
    built: list[Path] = []
    for stem, title, prefix, variable in SQUAD_BUILT:
        path = data / "heldout" / "docs" / f"{stem}.json"
        built.append(path)
        try:
            text = squad_text(build_squad(data, stem, title, prefix, source[variable]))
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if not args.check:
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.name}: stale; run python tests/data/build_heldout.py")
    for path in sorted((data / "heldout" / "docs").glob("*.json")):
        problems.extend(check_squad(path))
    problems.extend(check_multidoc(data))
    problems.extend(check_repeats(data, [*built, data / "multidoc_heldout" / "questions.jsonl"]))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    for path in built:
        qas = [
            qa
            for p in json.loads(path.read_text(encoding="utf-8"))["data"][0]["paragraphs"]
            for qa in p["qas"]
        ]
        impossible = sum(qa["is_impossible"] for qa in qas)
        print(f"{path.name}: {len(qas) - impossible} answerable, {impossible} is_impossible")
    lines = (data / "multidoc_heldout" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = Counter(json.loads(line)["kind"] for line in lines)
    print("questions.jsonl: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
