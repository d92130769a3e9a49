"""Front matter: the YAML mapping between `---` lines that opens a document, read and written.

Only YAML that parses as a mapping is front matter: a Markdown file that opens with a `---`
rule keeps its text. Values are read by PyYAML, so quotes and colons in a title come through
whole, and a list of authors is joined readably.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

# The block itself: a `---` line, anything, a `---` line (line ends as saved, a BOM allowed).
_BLOCK = re.compile(r"\A\ufeff?---[ \t]*(?:\r\n?|\n)(.*?)(?:\r\n?|\n)---[ \t]*(?:\r\n?|\n|\Z)", re.DOTALL)

# Field names people use for the metadata we show, and the one each stands for.
_ALIASES = {
    "title": "title",
    "headline": "title",
    "author": "author",
    "authors": "author",
    "byline": "author",
    "by": "author",
    "source": "source_url",
    "source_url": "source_url",
    "url": "source_url",
    "link": "source_url",
    "published": "published",
    "date": "published",
    "published_date": "published",
}


def read(text: str) -> tuple[dict[str, str], int]:
    """The metadata fields of `text`'s front matter and the offset where its body starts."""
    no_front_matter: tuple[dict[str, str], int] = {}, 1 if text.startswith("\ufeff") else 0
    m = _BLOCK.match(text)
    if m is None:
        return no_front_matter
    import yaml  # only documents with front matter pay for the import

    try:
        data = yaml.load(m.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        log.debug("an opening --- block that is not YAML is text: %s", exc)
        return no_front_matter
    if not isinstance(data, dict):
        return no_front_matter  # a `---` rule and a line of text, say
    fields: dict[str, str] = {}
    for key, value in data.items():
        name = _ALIASES.get(str(key).strip().lower().replace(" ", "_").replace("-", "_"))
        shown = _readable(value)
        if name and shown:
            fields.setdefault(name, shown)
    return fields, m.end()


def write(fields: Mapping[str, str | None]) -> str:
    """Front matter for `fields` (empty values left out), `---` lines included."""
    import yaml

    data = {key: value for key, value in fields.items() if value}
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{body}---\n"


def _readable(value: Any) -> str:
    """A YAML value as one line of text: lists joined ("A, B and C"), names of mappings taken."""
    if isinstance(value, list):
        names = [shown for item in value if (shown := _readable(item))]
        return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    if isinstance(value, dict):
        return _readable(value.get("name", ""))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None:
        return ""
    return " ".join(str(value).split())
