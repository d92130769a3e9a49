"""The reader's training code on a tiny SQuAD sample: groups made by the bot's own splitter and
ranker, a few steps whose loss falls, and an ONNX export that onnxruntime runs as torch does."""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT

if os.environ.get("CI"):  # CI installs the train extra: the training code must be tested there
    import torch
else:
    torch = pytest.importorskip("torch", reason="the train extra is not installed")

from bot.search.reader import padded, tokenizer
from training import data, reader

SQUAD = ROOT / "tests" / "data" / "eval" / "squad" / "notre_dame.json"


@pytest.fixture(scope="module")
def groups(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    """Two small articles cut from the Notre Dame set, made into training groups."""
    source = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][0]
    articles = [
        {"title": f"Sample_{n}", "paragraphs": source["paragraphs"][at : at + 4]}
        for n, at in enumerate((0, 4))
    ]
    folder = tmp_path_factory.mktemp("squad")
    (folder / "sample.json").write_text(json.dumps({"version": "1.1", "data": articles}), encoding="utf-8")
    out = folder / "groups.jsonl.gz"
    titles = list(data.build(data.read_articles(folder / "sample.json"), out))
    assert titles == ["Sample_0", "Sample_1"]
    return data.read_groups(out)


def test_groups_hold_the_answer_sentence_and_the_bots_mistakes(groups: list[dict[str, object]]) -> None:
    for article in groups:
        sentences = article["sentences"]
        assert isinstance(sentences, list)
        for q in article["questions"]:  # type: ignore[attr-defined]
            gold = sentences[q["gold"]]
            start, end = q["answer"]
            assert 0 <= start < end <= len(gold)
            # The negatives are the bot's own candidates, in its order, none holding the answer.
            order = q["order"]
            assert [i for i in order if i in q["candidates"]] == q["candidates"]
            assert q["gold"] not in q["candidates"]
            assert all(gold[start:end].lower() not in sentences[i].lower() for i in q["candidates"])
            assert q["gold_rank"] == (order.index(q["gold"]) if q["gold"] in order else -1)


def test_a_group_has_one_target_and_its_answer_span(groups: list[dict[str, object]]) -> None:
    pool = reader.pool_of(groups)  # type: ignore[arg-type]
    rng = random.Random(1)
    for a, q in pool.questions[:20]:
        group = reader.make_group(pool, a, q, rng, drop=0.0)
        assert 1 <= group.target <= len(group.members)
        answering = group.members[group.target - 1]
        assert answering.answer is not None
        assert [m for m in group.members if m.answer is not None] == [answering]
    dropped = [reader.make_group(pool, a, q, rng, drop=1.0) for a, q in pool.questions[:5]]
    assert all(g.target == reader.NO_ANSWER and all(m.answer is None for m in g.members) for g in dropped)


def test_a_few_steps_lower_the_loss_and_the_export_runs_as_torch(
    groups: list[dict[str, object]], tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    pool = reader.pool_of(groups)  # type: ignore[arg-type]
    rng = random.Random(3)
    batch = reader.Batch(
        [reader.make_group(pool, a, q, rng, drop=0.0) for a, q in pool.questions[:4]], tokenizer()
    )
    assert batch.spans, "the answering sentences' spans are labelled"
    model = reader.load_base(seed=5)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.eval()  # no dropout: the same batch, so the loss can only fall by learning
    with torch.no_grad():
        before = float(reader.loss_of(model, batch)[0])
    for _ in range(6):
        loss = reader.loss_of(model, batch)[0]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        after = float(reader.loss_of(model, batch)[0])
    assert after < before * 0.8

    import onnxruntime

    fp32 = reader.export(model, tmp_path / "reader.onnx", quantise=False)
    pairs = [*[(g.question, m.text) for g in batch.groups for m in g.members][:6], ("Who?", "Him.")]
    expected = reader.torch_outputs(model, pairs)
    inputs = padded(tokenizer().encode_batch(pairs))
    session = onnxruntime.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    got = session.run(None, inputs)
    ids = inputs["input_ids"]
    np.testing.assert_allclose(got[0], expected[0], atol=1e-4)
    real = ids != 0  # the span logits of padding are not read
    np.testing.assert_allclose(got[1][real], expected[1][real], atol=1e-4)
    np.testing.assert_allclose(got[2][real], expected[2][real], atol=1e-4)


def test_a_resumed_run_starts_from_its_checkpoint_and_skips_the_questions_seen(
    groups: list[dict[str, object]], tmp_path: Path
) -> None:
    source = tmp_path / "groups.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(g) + "\n" for g in groups)
    model = reader.load_base(seed=5)
    with torch.no_grad():
        for parameter in model.score.parameters():
            parameter.fill_(0.25)  # not what any seed draws: the resumed run must have read them
    start = tmp_path / "start.pt"
    torch.save(model.state_dict(), start)
    seen = len(reader.pool_of(groups).questions)  # type: ignore[arg-type]
    out_dir = tmp_path / "run"
    argv = ["--train", str(source), "--out", str(out_dir), "--steps", "2", "--threads", "1", "--no-quantise"]
    assert reader.main([*argv, "--resume", str(start), "--skip", str(seen)]) == 0

    record = json.loads((out_dir / "training.json").read_text(encoding="utf-8"))
    assert record["resumed_from"] == {"sha256": reader.sha256_of(start), "skip": seen}
    assert record["log"]["steps"] == 0, "every question was seen before: none is trained on again"
    saved = torch.load(out_dir / "checkpoint.pt", weights_only=True)
    for name, value in model.state_dict().items():
        assert torch.equal(saved[name], value), name
