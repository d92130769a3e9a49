"""What a news page says about itself outside its front matter: a dateline's place, date and
outlet ("LAKEVIEW, Mich., March 5 (Great Lakes Press) — ..."), a line that is only a date (under a
byline, say), a date stated in a subtitle, and the names an outlet goes by in its address
(`www.rivertonledger.com` -> "rivertonledger").

Recognised by their general shapes (a capitalised place opening the story, a month and a day,
a name in parentheses before a dash; an address's host labels), never by a list of places,
outlets or sites.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import NamedTuple

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# A month and a day, a year optional ("March 5", "Jan. 5, 2024", "5 March 2024"), or an ISO date.
_DATE = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?\b"
    r"|\b\d{4}-\d{2}-\d{2}\b"
)
# A dateline: a place in capitals (and its state or country), an optional date, an optional
# outlet in parentheses, then a dash: "SEOUL (Harbor News Service) —", "NEW YORK, Feb 11 (AP) -".
_DATELINE = re.compile(
    r"""^(?P<place>[A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+)*(?:,\s+[A-Z][\w'’.\-]*(?:\s+[A-Z][\w'’.\-]*){0,2})?)
    (?:,\s+(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,\s+\d{4})?))?
    \s*(?:\((?P<outlet>[A-Za-z][^()]{1,60})\))?
    \s*[-–—]{1,2}\s""",
    re.VERBOSE,
)
# A line that is a date and nothing else, as pages print one under a byline: "11 February 2016",
# "Tuesday, March 5, 2024 10:30 AM EST".
_DATE_LINE = re.compile(
    rf"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?(?:{_DATE.pattern})"
    r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s+[A-Z]{2,4})?)?\.?"
)
_HOST_LABEL = re.compile(r"^[a-z0-9]+$")
_AFFIX_MIN = 4  # a word must be this long to be taken as part of a host label ("times" in "nytimes")


class Dateline(NamedTuple):
    """What a dateline states: the place, and the date and outlet when it names them; `length` is
    how much of the sentence it takes, up to the dash (`end` the story's first word)."""

    place: str
    date: str | None
    outlet: str | None
    length: int
    end: int


def dateline(sentence: str) -> Dateline | None:
    """The dateline a story's first sentence opens with, or None."""
    m = _DATELINE.match(sentence)
    if m is None or not (m["date"] is None or _DATE.fullmatch(m["date"])):
        return None
    place = m["place"].strip()
    if len(re.sub(r"[^A-Z]", "", place.split(",")[0])) < 2:  # "A —" is a sentence, not a place
        return None
    outlet = " ".join(m["outlet"].split()) if m["outlet"] else None
    return Dateline(place, m["date"], outlet, len(m.group().rstrip()), m.end())


def date_line(text: str) -> bool:
    """Whether a line is a date and nothing else."""
    return _DATE_LINE.fullmatch(text.strip()) is not None


def stated_date(text: str) -> str | None:
    """The first date written out in `text` (a subtitle, say), as written."""
    m = _DATE.search(text)
    return m.group() if m else None


def host_names(url: str | None) -> list[str]:
    """The labels of an address's host that name its site: `www.rivertonledger.com` ->
    ["rivertonledger"], `news.example.co.uk` -> ["news", "example"]. The top-level domain, a
    second-level one as short as `co` before a country code, and `www` are left out."""
    host = (urllib.parse.urlsplit(url or "").hostname or "").lower()
    labels = [label for label in host.split(".") if _HOST_LABEL.match(label)]
    if len(labels) < 2:
        return []
    labels = labels[:-1]  # the top-level domain
    if len(labels) > 1 and len(labels[-1]) <= 3 and len(host.rsplit(".", 1)[-1]) == 2:
        labels = labels[:-1]  # co.uk, com.au: a second level under a country code
    return [label for label in labels if label != "www" and not label.isdigit()]


def host_words(label: str) -> set[str]:
    """Words a person may use for a host label: the label, and its beginnings and endings of
    `_AFFIX_MIN` letters or more ("daily", "example" for "dailyexample"; "times" for "nytimes")."""
    found = {label}
    for cut in range(_AFFIX_MIN, len(label)):
        found.add(label[:cut])
        found.add(label[-cut:])
    return found
