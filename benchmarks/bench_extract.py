"""Which extractor for `add`: trafilatura against readability-lxml on saved news pages; and what
one large document costs to read, for the size caps.

`python -m benchmarks.bench_extract [PAGES]` (needs the bench extras). PAGES (default
`tests/data/pages`) holds saved pages and `parts.json`, which names for each page its metadata,
the openings of its article's paragraphs, and snippets of its furniture by kind (navigation,
share bars, comments, trailers, copyright lines...). For each extractor it prints which
paragraphs it kept, which furniture it let through, before and after the corpus's own furniture
filter (what could become an answer), which metadata it found, and its time per page.

`python -m benchmarks.bench_extract --article-text` prints, for the saved pages, the pages of
`tests/data/page-kinds/` (short articles; pages of menus, links and sign-up prompts) and the news
pages of `tests/data/multidoc_heldout/pages/`, the article words `article.is_article` decides by
and its decision, by the set each page belongs to.

`python -m benchmarks.bench_extract --sizes 1 5 10` loads a corpus of one document of each size
(MB; `engine.load`, no cache, no worker processes: reading, parsing, tokenising, indexing): plain
text, Markdown and a web page, made of the wire story's article paragraphs repeated, each in a
fresh process, and prints the seconds and the process's peak resident memory (VmHWM) above what
it held before.
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.documents import markdown
from bot.documents.document import ParsedDocument, sentence_text
from bot.documents.extract import extract, markdown_document
from bot.documents.parse import parse_document
from bot.text import fold_space

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Reading:
    """What one extractor made of one page."""

    text: str  # the extracted text, markup removed, white space folded
    answers: str  # what could be an answer: the sentences of the document the corpus makes of it
    metadata: dict[str, str | None]
    seconds: float


def _answers(parsed: ParsedDocument) -> str:
    doc = parsed.document
    return " ".join(sentence_text(doc, start, end) for _, _, start, end, _ in parsed.sentences)


def by_trafilatura(page: bytes) -> Reading:
    """trafilatura, as `add` runs it (`bot.extract`)."""
    started = time.perf_counter()
    article = extract(page)
    seconds = time.perf_counter() - started
    if article is None:
        return Reading("", "", {}, seconds)
    parsed = parse_document("page.md", markdown_document(article))
    meta = {"title": article.title, "author": parsed.document.author, "published": article.published}
    return Reading(markdown.shown(article.body), _answers(parsed), meta, seconds)


def by_readability(page: bytes) -> Reading:
    """readability-lxml: the main content's HTML, read as paragraphs of text; it finds a title only."""
    import lxml.html
    from readability import Document

    started = time.perf_counter()
    found = Document(page)
    tree = lxml.html.fromstring(found.summary(html_partial=True))
    blocks = [fold_space(el.text_content()) for el in tree.iter("p", "li", "h1", "h2", "h3", "h4", "pre")]
    title = found.short_title()
    seconds = time.perf_counter() - started
    parsed = parse_document("page.txt", "\n\n".join(b for b in blocks if b))
    return Reading(fold_space(tree.text_content()), _answers(parsed), {"title": title}, seconds)


def compare(pages: Path) -> list[str]:
    """The comparison, as report lines."""
    parts: dict[str, Any] = json.loads((pages / "parts.json").read_text(encoding="utf-8"))
    extractors: dict[str, Callable[[bytes], Reading]] = {
        "trafilatura": by_trafilatura,
        "readability-lxml": by_readability,
    }
    lines: list[str] = []
    totals: dict[str, list[int]] = {name: [0, 0, 0, 0, 0] for name in extractors}
    times: dict[str, list[float]] = {name: [] for name in extractors}
    for name, truth in parts.items():
        page = (pages / name).read_bytes()
        content: list[str] = truth["content"]
        furniture: dict[str, str] = truth["furniture"]
        lines.append(f"{name}: {len(content)} article paragraphs, {len(furniture)} kinds of furniture")
        for label, run in extractors.items():
            reading = run(page)
            times[label].append(reading.seconds)
            kept = [c for c in content if c in reading.text]
            leaked = [kind for kind, snippet in furniture.items() if snippet in reading.text]
            answered = [kind for kind, snippet in furniture.items() if snippet in reading.answers]
            meta = [key for key, want in truth["metadata"].items() if reading.metadata.get(key) == want]
            totals[label] = [
                a + b
                for a, b in zip(
                    totals[label],
                    (len(kept), len(content), len(leaked), len(answered), len(meta)),
                    strict=True,
                )
            ]
            lost = [c[:40] for c in content if c not in kept]
            lines.append(
                f"  {label:<17} paragraphs kept {len(kept)}/{len(content)}"
                + (f" (lost: {'; '.join(lost)})" if lost else "")
                + f"; furniture kept: {', '.join(leaked) or 'none'}"
                + f"; after the corpus filter: {', '.join(answered) or 'none'}"
                + f"; metadata right: {', '.join(meta) or 'none'}"
            )
    lines.append("")
    lines.append(
        f"{'extractor':<17} {'paragraphs kept':>16} {'furniture kept':>15} {'after filter':>13} "
        f"{'metadata right':>15} {'ms/page':>8}"
    )
    n_meta = sum(len(t["metadata"]) for t in parts.values())
    n_furniture = sum(len(t["furniture"]) for t in parts.values())
    for label, counts in totals.items():
        kept_n, total_n, leaked_n, answered_n, meta_n = counts
        ms = statistics.median(times[label]) * 1e3
        lines.append(
            f"{label:<17} {f'{kept_n}/{total_n}':>16} {f'{leaked_n}/{n_furniture}':>15} "
            f"{f'{answered_n}/{n_furniture}':>13} {f'{meta_n}/{n_meta}':>15} {ms:>8.1f}"
        )
    return lines


def article_text(pages: Path, kinds: Path) -> list[str]:
    """Each page's article words and whether it is taken for an article, as report lines."""
    from bot.documents.article import article_words, is_article

    known: dict[str, dict[str, str]] = {
        name: {"kind": "article", "set": "saved news pages"}
        for name in json.loads((pages / "parts.json").read_text(encoding="utf-8"))
    }
    where = dict.fromkeys(known, pages)
    for name, spec in json.loads((kinds / "kinds.json").read_text(encoding="utf-8")).items():
        known[name], where[name] = spec, kinds
    # News pages another session wrote for a blind question set: articles the rule never saw.
    for path in sorted((ROOT / "tests" / "data" / "multidoc_heldout" / "pages").glob("*.html")):
        known[path.name], where[path.name] = {"kind": "article", "set": "written elsewhere"}, path.parent
    lines = [f"{'page':<36} {'kind':<18} {'set':<17} {'sentences':>9} {'article words':>13}  taken for"]
    right: dict[str, list[int]] = {}
    for name, spec in known.items():
        article = extract((where[name] / name).read_bytes())
        parsed = parse_document("page.md", markdown_document(article)) if article is not None else None
        words = article_words(parsed) if parsed is not None else 0
        taken = parsed is not None and is_article(parsed)
        lines.append(
            f"{name:<36} {spec['kind']:<18} {spec['set']:<17} {len(parsed.sentences) if parsed else 0:>9} "
            f"{words:>13}  {'an article' if taken else 'no article'}"
        )
        if spec["kind"] in ("article", "menus"):
            tally = right.setdefault(spec["set"], [0, 0])
            tally[0] += taken == (spec["kind"] == "article")
            tally[1] += 1
    lines.append("")
    lines += [f"decided right, {label}: {n}/{total}" for label, (n, total) in right.items()]
    return lines


KINDS = {"text": ".txt", "markdown": ".md", "page": ".html"}


def large_document(kind: str, size: int) -> tuple[str, bytes]:
    """A document of about `size` bytes: the wire story's article paragraphs, repeated."""
    page = (ROOT / "tests" / "data" / "pages" / "wire-sag-awards.html").read_bytes()
    article = extract(page)
    assert article is not None
    paragraphs = [p for p in article.body.split("\n\n") if p and not p.startswith("#")]
    shown = [markdown.shown(p) for p in paragraphs]
    one = {
        "text": "\n\n".join(shown) + "\n\n",
        "markdown": "\n\n".join(paragraphs) + "\n\n",
        "page": "".join(f"<p>{html.escape(p)}</p>\n" for p in shown),
    }[kind]
    body = one * (size // len(one.encode()) + 1)
    if kind == "page":
        body = f"<html><head><title>Large</title></head><body><article>{body}</article></body></html>"
    return f"large{KINDS[kind]}", body.encode()


def _resident_peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it starts anew at exec)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load_one(kind: str, size: int) -> dict[str, float]:
    """Load a corpus of one large document here (the child process of `document_costs`)."""
    import tempfile

    from bot import engine
    from bot.config import Settings
    from bot.documents import parsing

    # In this process, so that its peak is the whole cost (one file is one piece of work: a pool
    # worker would parse it alone, no faster, and its memory would not show here).
    parsing.POOL_MIN_BYTES = 1 << 62
    name, raw = large_document(kind, size)
    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        small.mkdir()
        large.mkdir()
        (small / "small.md").write_text("# Warm\n\nImports done. Caches made.\n", encoding="utf-8")
        (large / name).write_bytes(raw)
        settings = Settings(_env_file=None, corpus_dir=small, use_cache=False)
        # Caps that let this one document in: its cost is what is measured.
        settings = settings.model_copy(update={"max_document_bytes": len(raw), "fetch_max_bytes": len(raw)})
        engine.load(settings)  # the imports and the first load's set-up, not counted
        before = _resident_peak_mib()
        started = time.perf_counter()
        composer = engine.load(settings.model_copy(update={"corpus_dir": large}))
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "mib": _resident_peak_mib() - before, "sentences": len(composer.corpus)}


def document_costs(sizes_mb: list[float]) -> list[str]:
    """Seconds and peak memory to read one document of each kind and size, as report lines."""
    lines = [f"{'document':<10} {'MB':>6} {'sentences':>10} {'seconds':>8} {'peak MiB':>9}"]
    for size in sizes_mb:
        for kind in KINDS:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_extract", "--load-one", kind, str(int(size * 1e6))],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            cost = json.loads(done.stdout)
            lines.append(
                f"{kind:<10} {size:>6g} {cost['sentences']:>10,} {cost['seconds']:>8.2f} {cost['mib']:>9.0f}"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the comparison; 2 if readability-lxml (the bench extra) is missing."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_extract", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("pages", nargs="?", type=Path, default=ROOT / "tests" / "data" / "pages")
    parser.add_argument("--sizes", nargs="+", type=float, metavar="MB", help="the cost of large documents")
    parser.add_argument("--article-text", action="store_true", help="which pages are taken for articles")
    parser.add_argument("--load-one", nargs=2, metavar=("KIND", "BYTES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_one:
        print(json.dumps(_load_one(args.load_one[0], int(args.load_one[1]))))
        return 0
    if args.sizes:
        print("\n".join(document_costs(args.sizes)))
        return 0
    if args.article_text:
        print("\n".join(article_text(args.pages, ROOT / "tests" / "data" / "page-kinds")))
        return 0
    try:
        import readability  # noqa: F401
    except ImportError:
        print("the comparison needs the bench extras: pip install -e '.[bench]'")
        return 2
    print("\n".join(compare(args.pages)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
