"""Front matter read and written as YAML: whatever a person writes, no traceback; what we write reads back."""

from __future__ import annotations

import pytest

from bot.documents import frontmatter


@pytest.mark.parametrize(
    "block",
    [
        "published: 2020-13-45",  # a date YAML would build and cannot
        "? [a, b]\n: c",  # a list as a key
        "title: [unclosed",
        "{a: 1}: 2",
    ],
)
def test_any_opening_block_reads_without_error(block: str) -> None:
    fields, start = frontmatter.read(f"---\n{block}\n---\nBody.\n")
    assert set(fields) <= {"published", "title"}
    assert start in (0, len(f"---\n{block}\n---\n"))


def test_dates_read_as_written() -> None:
    text = "---\npublished: 2020-13-45\ndate: 2024-05-02T10:00:00Z\n---\nBody.\n"
    assert frontmatter.read(text)[0] == {"published": "2020-13-45"}
    assert frontmatter.read("---\ndate: 2024-05-02\n---\nx")[0] == {"published": "2024-05-02"}


def test_written_front_matter_is_plain_where_it_can_be() -> None:
    written = frontmatter.write(
        {
            "title": "'Parasite' scores: a \"first\"",
            "authors": ["Ann Poe", "Bo O'Neil"],
            "published": "2020-01-19",
        }
    )
    assert written.splitlines() == [
        "---",
        'title: "\'Parasite\' scores: a \\"first\\""',
        "authors:",
        "- Ann Poe",
        '- "Bo O\'Neil"',
        "published: 2020-01-19",
        "---",
    ]
    assert frontmatter.read(written + "Body.\n")[0] == {
        "title": "'Parasite' scores: a \"first\"",
        "author": "Ann Poe and Bo O'Neil",
        "published": "2020-01-19",
    }


def test_lists_nested_through_aliases_are_not_read() -> None:
    # Seven lines whose lists repeat the one before nine times: 9**7 names if read all the way down
    # (millions, for seconds); one level is read, so the nested ones give no author at all.
    lines = ["a0: &a0 [Ann Poe, Bo Roe, Cy Doe, Di Loe, Ed Moe, Flo Noe, Gus Soe, Hal Toe, Ida Woe]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]
    fields, _ = frontmatter.read("---\n" + "\n".join(lines) + "\nauthors: *a6\ntitle: Bombs\n---\nBody.\n")
    assert fields == {"title": "Bombs"}
    flat, _ = frontmatter.read("---\n" + lines[0] + "\nauthors: *a0\n---\nBody.\n")
    assert flat["author"].startswith("Ann Poe, Bo Roe,") and flat["author"].endswith("and Ida Woe")
