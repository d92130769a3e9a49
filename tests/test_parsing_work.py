"""Parsing does work in proportion to its text: steps counted at n and 4n repetitions, never timed.

The parsing loops add their steps to `segment.WORK` (the scanner's stops, emphasis look-backs, the
markup consulted when joining sentences, sentence ends). Backtracking inside a regular expression
cannot be counted from Python; the patterns at risk take their runs whole (possessive quantifiers)
and `python -m benchmarks.bench_parse` times them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.documents import segment
from bot.documents.corpus import parse_document

# What starts or ends something in a sentence or in Markdown, and plain text between.
_PIECES = [
    *(".", "!", "?", "…", ". ", "?! ", "Word. ", "No. 5 ", "U.S. ", '"', "“", "”", "'", ")", "(", " ", "\n"),
    *("*", "**", "***", "_", "__", "~", "~~", "`", "``", "[", "]", "![", "](", "(u)", "](u) ", "][]"),
    *("<", ">", "<b>", "</b>", "<!--", "-->", "<?", "?>", "<!A", "<![CDATA[", "&amp;", "&", "\\", "a", "A"),
    *("\n\n", "- ", "1. ", "> ", "# ", "    ", "[a]: /u\n", "[a]:   ", "<https://example.org>", "|"),
]
_TEXT = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4).map("".join)


def _steps(name: str, text: str) -> int:
    before = segment.WORK.steps
    parse_document(name, text)
    return segment.WORK.steps - before


@settings(max_examples=80, deadline=None)
@given(head=_TEXT, unit=_TEXT, tail=_TEXT, suffix=st.sampled_from([".md", ".txt"]))
def test_work_grows_linearly_with_runs_of_delimiters(head: str, unit: str, tail: str, suffix: str) -> None:
    # A multiple of 12, so that n and 4n leave the same remainder by 2, 3 and 4: how runs pair up
    # (code spans, emphasis's rule of three) depends on it, and with it the steps per repetition.
    n = max(12, 1500 // len(unit) // 12 * 12)
    small = _steps(f"d{suffix}", head + unit * n + tail)
    large = _steps(f"d{suffix}", head + unit * (4 * n) + tail)
    # Four times the text: four times the steps, give or take; quadratic work would be sixteen.
    assert large <= 6 * small + 100, (small, large)


def test_the_reported_inputs_take_few_steps() -> None:
    # Issue 15 #8: each took tens of seconds; every one is now a few steps a character.
    for text in ("." * 40_000, "[" * 20_000, "*a" * 20_000, "*a* **" + "Word. " * 5_000 + "end**"):
        for name in ("d.md", "d.txt"):
            assert _steps(name, text) <= 2 * len(text)
