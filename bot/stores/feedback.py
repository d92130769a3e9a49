"""The feedback store: people's votes on answers, in one SQLite file that only this module opens.

Schema and versions: `PRAGMA user_version` is the schema version, and `MIGRATIONS[n]` takes a file
from version n to n + 1. Opening a file runs the missing steps in one transaction (so two bot
processes opening it at once cannot both migrate it); a file from a newer bot is refused, not misread.

Privacy: no Discord user or guild id is stored. A voter is `HMAC-SHA256(salt, user id)`, which lets a
person's second vote on the same answer replace the first and does nothing else. The salt is 32
random bytes made when the file is created and kept inside it (table `meta`): hashes then stay the
same across restarts and across the processes that share the file, while a hash cannot be turned
back into an id without the file (a Discord id is a guessable number; an unsalted hash of it could be
reversed by trying ids). Whoever holds the file can still test a given id, so treat it as private.

Durability: WAL journal with `synchronous=FULL`; `record` returns once the vote is on disk, so a
vote acknowledged to Discord survives the process being killed right after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

Vote = Literal["up", "down"]

# MIGRATIONS[n] brings a file from schema version n to n + 1; append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE votes (
            answer_key TEXT NOT NULL,  -- which answer: corpus, question and citations shown
            voter TEXT NOT NULL,       -- HMAC of the Discord user id with the file's salt
            vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
            question TEXT NOT NULL,
            shown TEXT NOT NULL,       -- JSON [{"citation", "text"}], best first
            corpus TEXT NOT NULL,      -- the corpus content hash the answer came from
            abstained INTEGER NOT NULL,
            time TEXT NOT NULL,        -- UTC, ISO 8601
            PRIMARY KEY (answer_key, voter)
        )""",
        "CREATE INDEX votes_by_time ON votes (time)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class FeedbackError(Exception):
    """The feedback file cannot be used; the message is one line naming it."""


class Shown(NamedTuple):
    """One excerpt as the person saw it."""

    citation: str  # "article.txt ¶2.3"
    text: str


class Tally(NamedTuple):
    """Votes on one answer."""

    up: int
    down: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Feedback:
    """One vote on one answer: what was asked, what was shown, over which corpus."""

    question: str
    shown: tuple[Shown, ...]
    corpus: str
    vote: Vote
    abstained: bool = False
    time: dt.datetime = field(default_factory=_now)

    @property
    def answer_key(self) -> str:
        """The same question over the same corpus, showing the same citations, is the same answer."""
        key = json.dumps([self.corpus, self.question, [s.citation for s in self.shown]], ensure_ascii=False)
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Exported:
    """One answer's votes of one kind: a line of `feedback export`."""

    feedback: Feedback  # the latest of these votes
    count: int

    def as_eval_line(self) -> dict[str, Any]:
        """The line in the format of `shared/eval` (`q`, `gold`, `kind`), with the vote's details.

        An up-vote makes a test question whose gold is the top excerpt (none when the bot rightly
        declined); a down-vote is `reported`, with no gold, for a person to review.
        """
        fb = self.feedback
        if fb.vote == "up":
            gold: list[str] | None = [] if fb.abstained or not fb.shown else [fb.shown[0].text]
            kind = "feedback"
        else:
            gold, kind = None, "reported"
        return {
            "q": fb.question,
            "gold": gold,
            "kind": kind,
            "vote": fb.vote,
            "votes": self.count,
            "abstained": fb.abstained,
            "citations": [{"citation": s.citation, "text": s.text} for s in fb.shown],
            "corpus": fb.corpus,
            "time": fb.time.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True)
class Stats:
    """Votes by day, the share of up-votes, the most reported questions."""

    by_day: tuple[tuple[str, int, int], ...]  # (YYYY-MM-DD, up, down)
    most_reported: tuple[tuple[str, int], ...]  # (question, down-votes)

    @property
    def up(self) -> int:
        return sum(day[1] for day in self.by_day)

    @property
    def down(self) -> int:
        return sum(day[2] for day in self.by_day)

    def lines(self) -> list[str]:
        """A short report for the terminal."""
        total = self.up + self.down
        if not total:
            return ["votes: 0"]
        out = [f"votes: {total} ({self.up} up, {self.down} down), {self.up / total:.0%} up", "by day:"]
        out += [f"  {day}  up {up:>4}  down {down:>4}" for day, up, down in self.by_day]
        if self.most_reported:
            out.append("most reported:")
            out += [f"  {n:>4}  {question}" for question, n in self.most_reported]
        return out


class FeedbackStore:
    """Votes in one SQLite file. Thread-safe; every call blocks, so the bot calls it off its loop."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise FeedbackError(f"no feedback database at {path} (setting FEEDBACK_DB)")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            # One connection shared under a lock: the bot's single store thread, or the CLI.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"cannot open the feedback database {path}: {exc}") from None
        self._lock = threading.Lock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._salt = self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise FeedbackError(f"{path} is not a usable feedback database: {exc}") from None
        except FeedbackError:
            self._db.close()
            raise

    def _migrate(self) -> bytes:
        """Bring the file to SCHEMA_VERSION in one transaction; the salt, made once."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # another process opening the file waits here
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise FeedbackError(
                    f"{self.path} has feedback schema {version}; this bot knows up to {SCHEMA_VERSION}"
                )
            for step in MIGRATIONS[version:]:
                for statement in step:
                    db.execute(statement)
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_hex(32),))
            salt = str(db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()[0])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return bytes.fromhex(salt)

    def voter(self, user_id: int | str) -> str:
        """The salted hash that stands for a person in this file."""
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()

    def record(self, feedback: Feedback, user_id: int | str) -> Tally:
        """Store a vote, replacing this person's earlier vote on the same answer; the answer's tally.

        Returns only after the vote is committed to disk.
        """
        shown = json.dumps([s._asdict() for s in feedback.shown], ensure_ascii=False)
        key = feedback.answer_key
        with self._lock:
            self._db.execute(
                """INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (answer_key, voter) DO UPDATE
                   SET vote = excluded.vote, time = excluded.time""",
                (
                    key,
                    self.voter(user_id),
                    feedback.vote,
                    feedback.question,
                    shown,
                    feedback.corpus,
                    int(feedback.abstained),
                    _iso(feedback.time),
                ),
            )  # autocommit: the statement is its own transaction
            return self._tally(key)

    def tally(self, answer_key: str) -> Tally:
        """Up- and down-votes on one answer."""
        with self._lock:
            return self._tally(answer_key)

    def _tally(self, answer_key: str) -> Tally:
        up, down = self._db.execute(
            "SELECT COALESCE(SUM(vote = 'up'), 0), COALESCE(SUM(vote = 'down'), 0)"
            " FROM votes WHERE answer_key = ?",
            (answer_key,),
        ).fetchone()
        return Tally(int(up), int(down))

    def export(self, vote: Vote | None = None) -> Iterator[Exported]:
        """Each answer's votes of each kind, in the order first voted: a test question or report apiece."""
        rows = self._query(
            """SELECT question, shown, corpus, vote, abstained, MAX(time), COUNT(*) FROM votes
               WHERE ?1 IS NULL OR vote = ?1
               GROUP BY answer_key, vote ORDER BY MIN(rowid)""",
            (vote,),
        )
        for question, shown, corpus, kind, abstained, time, count in rows:
            feedback = Feedback(
                question=question,
                shown=tuple(Shown(**s) for s in json.loads(shown)),
                corpus=corpus,
                vote=kind,
                abstained=bool(abstained),
                time=dt.datetime.fromisoformat(time),
            )
            yield Exported(feedback, int(count))

    def stats(self, most: int = 10) -> Stats:
        """Votes by day (UTC), and the questions most often voted down."""
        by_day = self._query(
            "SELECT substr(time, 1, 10), SUM(vote = 'up'), SUM(vote = 'down')"
            " FROM votes GROUP BY 1 ORDER BY 1"
        )
        reported = self._query(
            """SELECT question, COUNT(*) FROM votes WHERE vote = 'down'
               GROUP BY question ORDER BY COUNT(*) DESC, question LIMIT ?""",
            (most,),
        )
        return Stats(
            by_day=tuple((day, int(up), int(down)) for day, up, down in by_day),
            most_reported=tuple((q, int(n)) for q, n in reported),
        )

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the file (a checkpoint folds the WAL back into it)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _iso(time: dt.datetime) -> str:
    return time.astimezone(dt.UTC).isoformat(timespec="seconds")
