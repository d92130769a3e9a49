"""Front matter: the YAML mapping between `---` lines that opens a document, read and written.

Only YAML that parses as a mapping is front matter: a Markdown file that opens with a `---`
rule keeps its text. Values are read by PyYAML, so quotes and colons in a title come through
whole, and a list of authors is joined readably. Each field's lines are found from the nodes
PyYAML composes, so an answer can cite the line that states a value however YAML wrote it
(a list, a quoted or folded scalar).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import yaml

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
    "subtitle": "subtitle",
    "description": "subtitle",
    "standfirst": "subtitle",
    "dek": "subtitle",
    "deck": "subtitle",
    "site": "outlet",
    "site_name": "outlet",
    "sitename": "outlet",
    "outlet": "outlet",
    "publisher": "outlet",
    "publication": "outlet",
}


class FrontMatter(NamedTuple):
    """A document's front matter: its fields, where each is stated, and where the body starts."""

    fields: dict[str, str]
    keys: dict[str, str]  # each field's key as written ("authors", "date")
    lines: dict[str, tuple[int, int]]  # each field's lines in the text: [start, end)
    values: dict[str, tuple[int, int]]  # each field's value in the text, inside its quotes
    body_start: int


def read(text: str) -> tuple[dict[str, str], int]:
    """The metadata fields of `text`'s front matter and the offset where its body starts."""
    found = parse(text)
    return found.fields, found.body_start


def parse(text: str) -> FrontMatter:
    """`text`'s front matter: its metadata fields, the lines stating each, and where the body starts."""
    none = FrontMatter({}, {}, {}, {}, 1 if text.startswith("\ufeff") else 0)
    m = _BLOCK.match(text)
    if m is None:
        return none
    import yaml  # only documents with front matter pay for the import

    loader = _loader()(m.group(1))
    try:
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            return none  # a `---` rule and a line of text, say
        keys = [loader.construct_object(key_node, deep=True) for key_node, _ in node.value]
        for key in keys:
            hash(key)  # a list or mapping as a key: not the mapping front matter is
        # Only the fields we show are built: through YAML's aliases a value can nest deep.
        entries = [
            (key_node, value_node, key, loader.construct_object(value_node, deep=True))
            for (key_node, value_node), key in zip(node.value, keys, strict=True)
            if _ALIASES.get(str(key).strip().lower().replace(" ", "_").replace("-", "_"))
        ]
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # TypeError: a list or mapping as a key
        log.debug("an opening --- block that is not YAML is text: %s", exc)
        return none
    finally:
        loader.dispose()
    found = FrontMatter({}, {}, {}, {}, m.end())
    for key_node, value_node, key, value in entries:
        name = _ALIASES.get(str(key).strip().lower().replace(" ", "_").replace("-", "_"))
        if not name or name in found.fields or not (shown := _readable(value)):
            continue
        found.fields[name] = shown
        found.keys[name] = str(key).strip()
        # The entry's whole lines, from its key to the end of its value, in the document's text.
        start = m.start(1) + key_node.start_mark.index
        end = m.start(1) + value_node.end_mark.index
        found.lines[name] = (text.rfind("\n", 0, start) + 1, start + len(text[start:end].rstrip()))
        value_start = m.start(1) + value_node.start_mark.index
        quoted = int(isinstance(value_node, yaml.ScalarNode) and value_node.style in ("'", '"'))
        found.values[name] = (value_start + quoted, start + len(text[start:end].rstrip()) - quoted)
    return found


def write(fields: Mapping[str, str | list[str] | None]) -> str:
    """Front matter for `fields` (empty values left out), `---` lines included."""
    import yaml

    data = {key: value for key, value in fields.items() if value}
    body = yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{body}---\n"


@lru_cache(maxsize=1)
def _loader() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader (in C where built), reading dates as the text they are written as."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    def as_written(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
        return str(loader.construct_scalar(node))

    Loader.add_constructor("tag:yaml.org,2002:timestamp", as_written)
    return Loader


@lru_cache(maxsize=1)
def _dumper() -> type[yaml.SafeDumper]:
    """PyYAML's safe dumper; a value with an apostrophe is double-quoted (single quotes double it)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if _is_date(value):  # a date stays plain (`2020-01-19`); it reads back as written
            return dumper.represent_scalar("tag:yaml.org,2002:timestamp", value)
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if "'" in value else None)

    Dumper.add_representer(str, string)
    return Dumper


def _is_date(value: str) -> bool:
    try:
        return len(value) == 10 and dt.date.fromisoformat(value) is not None
    except ValueError:
        return False


def _readable(value: Any) -> str:
    """A YAML value as one line of text: a list's items joined ("A, B and C"), names of mappings taken.

    One level only: through YAML's aliases a few lines can nest lists in lists exponentially deep
    (each `[*a, *a, ...]` line multiplies the items), and reading them all took seconds per line.
    """
    names = [shown for item in value if (shown := _scalar(item))] if isinstance(value, list) else []
    if names:
        return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    return _scalar(value)


def _scalar(value: Any) -> str:
    """A scalar, or a mapping's `name`, as one line of text; "" for anything else."""
    if isinstance(value, dict):
        value = value.get("name")
    if value is None or isinstance(value, list | dict):
        return ""
    return " ".join(str(value).split())
