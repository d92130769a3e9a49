"""The reader: the shipped model (checked, loaded with sockets refused), its order, spans and
declining through the command line, and `READER=false` answering as the stages before it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import engine
from bot.answer.composer import Composer
from bot.config import Settings
from bot.documents import parsing
from bot.search import reader
from bot.search.ranking import ReaderStage, read_order
from bot.search.reader import Fitted, Loading, Reader, ReaderError, Reading, Span, best_span
from tests.conftest import ROOT


def test_read_order_re_scores_only_what_was_read_and_keeps_scores_falling() -> None:
    scores = np.array([5.0, 4.0, 3.0, 2.5, 1.0], np.float32)
    read = np.array([-2.0, 3.0, 0.0], np.float32)  # the second candidate answers, the first does not
    order, new = read_order(scores, read, 1.0)
    assert order.tolist() == [1, 0, 2, 3, 4]  # 7, 3, 3: a tie kept in the ranker's order; then the rest
    assert new[:3].tolist() == [3.0, 7.0, 3.0]
    assert np.all(np.diff(new[order]) <= 0)  # falling, the unread capped at the lowest read
    unread, kept = read_order(scores, np.empty(0, np.float32), 1.0)
    assert unread.tolist() == list(range(5)) and kept.tolist() == scores.tolist()


def test_best_span_stays_inside_the_sentence_and_ends_after_it_starts() -> None:
    # [CLS] q q [SEP] s0 s1 s2 [SEP]: the question's tokens score highest, and must not be chosen.
    sequence_ids = [None, 0, 0, None, 1, 1, 1, None]
    offsets = [(0, 0), (0, 3), (4, 7), (0, 0), (0, 4), (5, 9), (10, 15), (0, 0)]
    start = np.array([0, 9, 9, 0, 1, 0, 5, 0], np.float32)
    end = np.array([0, 9, 9, 0, 6, 1, 0, 0], np.float32)  # end's best (s0) stands before start's best (s2)
    span = best_span(start, end, sequence_ids, offsets)
    assert span is not None and (span.start, span.end) in {(0, 4), (10, 15)}
    assert 0 < span.probability < 1
    assert best_span(start, end, [None, 0, None], offsets[:3]) is None  # a sentence cut away entirely


def test_a_reader_file_that_is_not_the_one_checked_is_refused(tmp_path: Path) -> None:
    changed = tmp_path / "reader.onnx"
    changed.write_bytes(reader.MODEL_FILE.read_bytes()[:-1] + b"\0")
    with pytest.raises(ReaderError, match="not the reader this bot was checked with"):
        Reader(changed)
    with pytest.raises(ReaderError, match="cannot read"):
        Reader(tmp_path / "missing.onnx")


def test_the_shipped_reader_loads_and_reads_with_sockets_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the reader opened a socket")

    monkeypatch.setattr(socket, "socket", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    model = Reader()  # not the process's cached one: this load is the one watched
    reading = model.read(
        "When did the bridge open?",
        ["The bridge opened to traffic in May 1937.", "Its towers are painted orange."],
    )
    assert reading.scores.shape == (2,) and len(reading.spans) == 2
    assert reading.scores[0] > reading.scores[1]
    span = reading.spans[0]
    assert span is not None and "1937" in "The bridge opened to traffic in May 1937."[span.start : span.end]


def _ask(corpus: Path, tmp_path: Path, question: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", question],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CORPUS_DIR": str(corpus), "CACHE_DIR": str(tmp_path / "cache"), **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class FakeReader:
    """A reader whose scores and spans the test sets: by a piece of each sentence's text."""

    def __init__(self, scores: dict[str, float], spans: dict[str, tuple[str, float]] | None = None) -> None:
        self.scores, self.spans = scores, spans or {}
        self.read_texts: list[list[str]] = []

    def read(self, question: str, sentences: Sequence[str]) -> Reading:
        self.read_texts.append(list(sentences))
        scores = [next((v for k, v in self.scores.items() if k in s), -5.0) for s in sentences]
        spans: list[Span | None] = []
        for text in sentences:
            found = next(((piece, p) for piece, p in self.spans.values() if piece in text), None)
            spans.append(
                Span(text.index(found[0]), text.index(found[0]) + len(found[0]), found[1]) if found else None
            )
        return Reading(np.array(scores, np.float32), tuple(spans))


STORY = """# The ferry vote

The ferry company held a vote among its passengers about the name of the ferry.

The company named its newest ferry the Northern Aurora after the vote.

The ferry will sail between the two islands twice a day from the spring.
"""


def _composer(tmp_path: Path, text: str = STORY) -> Composer:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "story.md").write_text(text, encoding="utf-8")
    settings = Settings(
        _env_file=None, corpus_dir=folder, cache_dir=tmp_path / "cache", rerank=False, reader=False
    )
    return engine.load(settings)


def _with(composer: Composer, model: FakeReader, **fitted: Any) -> Composer:
    composer.ranker.reader = ReaderStage(model, Fitted(**fitted))
    return composer


def test_the_reader_re_orders_what_it_reads_and_nothing_else(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    question = "What name did the ferry company vote on for the ferry?"
    before = composer.answer(question)
    first, second = before.excerpts[0].text, before.excerpts[1].text
    assert not before.read
    model = FakeReader({second: 4.0, first: -4.0})  # it reads the second as the answer
    after = _with(composer, model, candidates=3, weight=1.0).answer(question)
    assert after.read and after.excerpts[0].text == second and after.excerpts[1].text == first
    assert len(model.read_texts) == 1 and len(model.read_texts[0]) <= 3  # the first three alone
    alone = _with(composer, FakeReader({second: 4.0, first: -4.0}), candidates=1, weight=1.0).answer(question)
    assert alone.read and alone.excerpts[0].text == first  # it read the first alone: the order stands
    composer.ranker.reader = None
    assert composer.answer(question) == before  # READER=false: as the stages before it


def test_the_reader_declines_when_nothing_it_read_answers_and_answers_what_it_is_sure_of(
    tmp_path: Path,
) -> None:
    composer = _composer(tmp_path)
    asked = "What name did the ferry company vote on for the ferry?"
    assert not composer.answer(asked).abstained
    assert _with(composer, FakeReader({}), decline=-1.0).answer(asked).abstained  # every score -5
    assert not _with(composer, FakeReader({}), decline=-6.0).answer(asked).abstained
    # A question in other words than the page's: declined by words; the reader is sure it is answered.
    other = "How many journeys does the vessel make per day?"
    composer.ranker.reader = None
    declined_before = composer.answer(other).abstained
    assert declined_before
    rescued = _with(composer, FakeReader({"twice a day": 5.0}), rescue=4.0).answer(other)
    unsure = _with(composer, FakeReader({"twice a day": 3.0}), rescue=4.0).answer(other)
    assert unsure.abstained == declined_before
    assert not rescued.abstained and "twice a day" in rescued.excerpts[0].text


def test_the_short_answer_is_the_reader_s_span_when_its_gate_admits_it(tmp_path: Path) -> None:
    composer = _composer(tmp_path)
    question = "What did the company name its newest ferry?"
    spans = {"named": ("the Northern Aurora", 0.9)}
    sure = _with(composer, FakeReader({"named its newest ferry": 4.0}, spans), span=0.5).answer(question)
    assert sure.short is not None and sure.short.text == "the Northern Aurora"
    raw = (tmp_path / "corpus" / "story.md").read_text(encoding="utf-8")
    assert raw[sure.short.start : sure.short.end] == "the Northern Aurora"  # a span of the file
    assert sure.short.citation == sure.excerpts[0].citation
    unsure = _with(composer, FakeReader({"named its newest ferry": 4.0}, spans), span=0.95).answer(question)
    composer.ranker.reader = None
    assert unsure.short == composer.answer(question).short  # under the gate: the rules' answer, or none


def test_a_reader_that_fails_to_load_turns_itself_off_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    composer = _composer(tmp_path)
    question = "What did the company name its newest ferry?"
    before = composer.answer(question)

    def broken() -> Reader:
        raise ReaderError("cannot read reader-int8.onnx: No such file or directory")

    composer.ranker.reader = ReaderStage(Loading(broken), Fitted())
    with caplog.at_level("WARNING"):
        answer = composer.answer(question)
    assert not answer.read and answer.excerpts == before.excerpts
    assert "reader off: cannot read reader-int8.onnx" in caplog.text and composer.ranker.reader is None


def test_ask_says_whether_the_reader_read_the_answer(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "story.md").write_text(STORY, encoding="utf-8")
    question = "What did the company name its newest ferry?"
    read = _ask(folder, tmp_path, question)
    unread = _ask(folder, tmp_path, question, READER="false")
    assert read["read"] is True and unread["read"] is False
    assert not read["abstained"] and not unread["abstained"]
    about = subprocess.run(
        [sys.executable, "-m", "bot", "about", "--corpus", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CACHE_DIR": str(tmp_path / "cache"), "READER_CANDIDATES": "3"},
        check=False,
    )
    assert "Reader: reads the first 3 candidates with the question." in about.stdout


def test_a_reload_keeps_the_loaded_reader_instead_of_loading_it_again(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "ferry.txt").write_text(
        "The company named its newest ferry Aurora. It carries four hundred people.\n", encoding="utf-8"
    )
    settings = Settings(_env_file=None, corpus_dir=folder, cache_dir=tmp_path / "cache", rerank=False)
    first = engine.load(settings)
    assert first.ranker.reader is not None
    (folder / "bridge.txt").write_text("The bridge opened in May after two years.\n", encoding="utf-8")
    second = engine.load(settings, previous=first)
    assert len(second.corpus.documents) == 2
    assert second.ranker.reader is first.ranker.reader  # the same model: its 23 MB file read once
    first.ranker.reader = None  # a reader turned off (it failed to load) stays off on reload
    assert engine.load(settings, previous=first).ranker.reader is None


def test_reader_threads_sets_the_threads_a_reading_runs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def threads_of(settings: Settings) -> int:
        stage = engine.reader_stage(settings)
        assert stage is not None and isinstance(stage.model, Loading)
        stage.model.read("When?", ["In May."])  # waits for the load
        session = stage.model._model._session  # type: ignore[union-attr]  # the loaded one's
        return int(session.get_session_options().intra_op_num_threads)

    assert threads_of(Settings(_env_file=None, reader_threads=3)) == 3
    monkeypatch.setattr(parsing, "usable_cores", lambda: 1)
    assert threads_of(Settings(_env_file=None)) == 1  # a process that may use one core reads on one
    monkeypatch.setattr(parsing, "usable_cores", lambda: 16)
    assert threads_of(Settings(_env_file=None)) == reader.DEFAULT_THREADS == 2
    with pytest.raises(ValueError, match="reader_threads"):
        Settings(_env_file=None, reader_threads=0)
