"""Parsing does work in proportion to its text: steps counted at n and 4n repetitions, never timed.

The parsing loops add their steps to `segment.WORK` (the scanner's stops, emphasis look-backs, the
markup consulted when joining sentences, sentence ends). Backtracking inside a regular expression
cannot be counted from Python; the patterns at risk take their runs whole (possessive quantifiers)
and `python -m benchmarks.bench_parse` times them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.documents import segment
from bot.documents.parse import parse_document

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
@given(head=_TEXT, unit=_TEXT, then=st.just("") | _TEXT, tail=_TEXT, suffix=st.sampled_from([".md", ".txt"]))
def test_work_grows_linearly_with_runs_of_delimiters(
    head: str, unit: str, then: str, tail: str, suffix: str
) -> None:
    # A multiple of 12, so that n and 4n leave the same remainder by 2, 3 and 4: how runs pair up
    # (code spans, emphasis's rule of three) depends on it, and with it the steps per repetition.
    n = max(12, 1500 // len(unit + then) // 12 * 12)
    small = _steps(f"d{suffix}", head + unit * n + then * n + tail)
    large = _steps(f"d{suffix}", head + unit * (4 * n) + then * (4 * n) + tail)
    # Four times the text: four times the steps, give or take; quadratic work would be sixteen.
    assert large <= 6 * small + 100, (small, large)


@pytest.mark.parametrize(
    "make",
    [
        # Issue 15 #8's: each took tens of seconds at these sizes.
        lambda n: "." * (10 * n),
        lambda n: "[" * (5 * n),
        lambda n: "*a" * (5 * n),
        # A bold run that opens in a sentence with other markup: its sentences join one by one,
        # after sentences whose markup the joins must not look at again.
        lambda n: "A *a*. " * n + "x *b* **" + "Word. " * n + "end**",
    ],
)
@pytest.mark.parametrize("name", ["d.md", "d.txt"])
def test_known_hard_inputs_take_linear_work(make: Callable[[int], str], name: str) -> None:
    small, large = _steps(name, make(1000)), _steps(name, make(4000))
    assert large <= 6 * small + 100, (small, large)
