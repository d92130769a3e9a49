"""Parsing time on pathological inputs, at several sizes: does any step grow faster than the text?

`python -m benchmarks.bench_parse [--sizes 10000,20000,40000,80000]` times `parse.parse_document`
(front matter, Markdown blocks and inline markup, paragraphs, sentences, their spans) on text made
of long runs of one delimiter or a mix (each reported case of issue 15 #8 among them), as Markdown
or plain text, and prints the seconds at each size and the growth exponent between the smallest
and the largest: 1 is linear, 2 quadratic. Then markdown-it-py's own inline parser beside our
scanner: on the same inputs, and on ordinary Markdown (`bench.saved_documents`), which is what
decided to keep the scanner (see docs/how-it-answers.md, "Markdown").
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from bot.documents import markdown
from bot.documents.parse import parse_document


class Case(NamedTuple):
    """A pathological input: its name, the document kind, and the text of about n characters."""

    name: str
    suffix: str
    make: Callable[[int], str]


def _backtick_runs(n: int) -> str:
    # Runs of 1, 2, 3... backticks with no closer of their length: each opener looks for one.
    parts: list[str] = []
    size = k = 0
    while size < n:
        k += 1
        parts.append("`" * k + "a")
        size += k + 1
    return "".join(parts)


CASES = [
    Case("'.' * n", ".txt", lambda n: "." * n),
    Case("'.' * n", ".md", lambda n: "." * n),
    Case("'?!' * n/2", ".txt", lambda n: "?!" * (n // 2)),
    Case("'.”' * n/2", ".txt", lambda n: ".”" * (n // 2)),
    Case("'A. ' * n/3", ".txt", lambda n: "A. " * (n // 3)),
    Case("'[' * n", ".md", lambda n: "[" * n),
    Case("'[' * n/2 + ']' * n/2", ".md", lambda n: "[" * (n // 2) + "]" * (n // 2)),
    Case("'![' * n/6 + '](x)' * n/6", ".md", lambda n: "![" * (n // 6) + "](x)" * (n // 6)),
    Case("'[a](u) ' * n/7", ".md", lambda n: "[a](u) " * (n // 7)),
    Case("'[a](' + ' ' * n + 'x'", ".md", lambda n: "[a](" + " " * n + "x"),
    Case("'*a' * n/2", ".md", lambda n: "*a" * (n // 2)),
    Case("'_a' * n/2", ".md", lambda n: "_a" * (n // 2)),
    Case("'~~a' * n/3", ".md", lambda n: "~~a" * (n // 3)),
    Case("'*_a' * n/3", ".md", lambda n: "*_a" * (n // 3)),
    Case("'.*' * n/2", ".md", lambda n: ".*" * (n // 2)),
    Case("backtick runs 1, 2, 3...", ".md", _backtick_runs),
    Case("'x ' + '<!--' * n/4", ".md", lambda n: "x " + "<!--" * (n // 4)),
    Case("'x ' + '<?' * n/2", ".md", lambda n: "x " + "<?" * (n // 2)),
    Case("'x ' + '<![CDATA[' * n/9", ".md", lambda n: "x " + "<![CDATA[" * (n // 9)),
    Case("'x ' + '<!A' * n/3", ".md", lambda n: "x " + "<!A" * (n // 3)),
    Case("'[a]:' + ' ' * n", ".md", lambda n: "[a]:" + " " * n + "\n\nx"),
    Case("'*a* **' + 'Word. ' * n/6 + 'end**'", ".md", lambda n: "*a* **" + "Word. " * (n // 6) + "end**"),
    Case(
        "'A *a*. ' * n/14 + 'x *b* **' + 'Word. ' * n/12 + 'end**'",
        ".md",
        lambda n: "A *a*. " * (n // 14) + "x *b* **" + "Word. " * (n // 12) + "end**",
    ),
    Case("'[a\\n' * n/3 + ']' * n/3 + '(u)'", ".md", lambda n: "[a\n" * (n // 3) + "]" * (n // 3) + "(u)"),
    Case("'> ' * n/2 + 'a'", ".md", lambda n: "> " * (n // 2) + "a"),
    Case("'> a\\n' * n/4", ".md", lambda n: "> a\n" * (n // 4)),
    Case("'- ' * n/2 + 'a'", ".md", lambda n: "- " * (n // 2) + "a"),
]


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds (the least disturbed by other processes)."""
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def growth(sizes: list[int], seconds: list[float]) -> float:
    """The exponent k in seconds ~ size**k between the smallest and the largest size."""
    if seconds[0] <= 0 or seconds[-1] <= 0:
        return math.nan
    return math.log(seconds[-1] / seconds[0]) / math.log(sizes[-1] / sizes[0])


def pathological(sizes: list[int], repeat: int) -> list[str]:
    """`parse_document` on each case at each size."""
    for suffix in (".md", ".txt"):  # imports and markdown-it's parser made before any timing
        parse_document(f"warm{suffix}", "*Warm* [up](u).\n")
    head = f"{'input':<58} {'kind':<5}" + "".join(f"{n:>11,}" for n in sizes) + "   growth"
    lines = [f"parse_document, seconds (best of {repeat}) at each size in characters:", head, "-" * len(head)]
    for case in CASES:
        seconds = []
        for n in sizes:
            text = case.make(n)
            seconds.append(best_of(repeat, functools.partial(parse_document, f"d{case.suffix}", text)))
        cells = "".join(f"{s:>11.4f}" for s in seconds)
        lines.append(f"{case.name:<58} {case.suffix:<5}{cells}   {growth(sizes, seconds):6.2f}")
    return lines


def _markdown_it_inline() -> Callable[[str], object]:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return md.parseInline


def inline_beside_markdown_it(size: int, repeat: int) -> list[str]:
    """Our scanner (`markdown.visible`) and markdown-it's inline parser on the Markdown cases."""
    parse = _markdown_it_inline()
    lines = [
        f"inline markup alone at {size:,} characters, seconds (best of {repeat}):",
        f"{'input':<58} {'ours':>9} {'markdown-it':>12}",
    ]
    for case in CASES:
        if case.suffix != ".md":
            continue
        text = case.make(size)
        ours = best_of(repeat, functools.partial(markdown.visible, text))
        theirs = best_of(repeat, functools.partial(parse, text))
        lines.append(f"{case.name:<58} {ours:>9.4f} {theirs:>12.4f}")
    return lines


def ordinary(sentences: int, repeat: int) -> list[str]:
    """Both inline parsers over the prose blocks of ordinary Markdown files (the bench's corpus)."""
    import numpy as np
    import wordfreq

    from benchmarks.bench import saved_documents, vocabulary
    from benchmarks.bench import sentences as synthetic

    words, p = vocabulary(wordfreq, 20_000)
    _, marked = saved_documents(synthetic(np.random.default_rng(0), words, p, sentences))
    leaves: list[str] = []
    for raw in marked:
        text = raw.decode()
        leaves += [text[leaf.start : leaf.end] for block in markdown.blocks(text, 0) for leaf in block.leaves]
    parse = _markdown_it_inline()
    ours = best_of(repeat, lambda: [markdown.visible(leaf) for leaf in leaves])
    theirs = best_of(repeat, lambda: [parse(leaf) for leaf in leaves])
    chars = sum(map(len, leaves))
    return [
        f"ordinary Markdown: {len(leaves):,} prose blocks ({chars:,} characters, {sentences:,} sentences, "
        f"a bold word and a link in each), best of {repeat}:",
        f"  ours (markdown.visible: shown text and each character's place)  {ours:6.3f} s",
        f"  markdown-it inline parser (tokens only, no places)               {theirs:6.3f} s  "
        f"({theirs / ours:.1f}x ours)",
    ]


def _sizes(text: str) -> list[int]:
    sizes = sorted(int(part.replace("_", "")) for part in text.split(","))
    if len(sizes) < 2 or sizes[0] <= 0:
        raise argparse.ArgumentTypeError("two or more positive sizes, comma-separated")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_parse", description=__doc__)
    parser.add_argument("--sizes", type=_sizes, default=[10_000, 20_000, 40_000, 80_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is shown")
    parser.add_argument("--ordinary-sentences", type=int, default=20_000, help="0 skips that section")
    args = parser.parse_args(argv)
    sections = [pathological(args.sizes, args.repeat), inline_beside_markdown_it(args.sizes[-1], args.repeat)]
    if args.ordinary_sentences > 0:
        sections.append(ordinary(args.ordinary_sentences, args.repeat))
    print("\n\n".join("\n".join(lines) for lines in sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
