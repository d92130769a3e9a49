"""The reader alone, scored on the bot's own candidates of SQuAD development articles.

    python -m training.score --model .cache/reader/run1/reader-int8.onnx \\
        --groups .cache/reader/dev-v1.jsonl.gz .cache/reader/dev-v2.jsonl.gz --split report --read 5

For each answerable question of the chosen split's articles (`training.reader.dev_splits`), the
bot's first `--read` candidates (its words-only order, whose first ten the re-ranker re-orders)
are read with the question, and the answer's sentence is looked for first and among the first
three of the reader's order; beside it, the bot's own order. For SQuAD v2.0's unanswerable
questions, how many the reader declines (no candidate scores above 0) against how many answerable
ones it declines. This is the reader's figure on ranked sentences, before it joins the bot's
answer (`python -m bot eval` scores whole answers).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime

from bot.search.reader import padded, tokenizer
from training.data import read_groups
from training.reader import dev_splits

F32 = npt.NDArray[np.float32]


def scores(session: onnxruntime.InferenceSession, question: str, texts: Sequence[str]) -> F32:
    """The reader's score of each sentence for the question (above 0: it answers)."""
    feed = padded(tokenizer().encode_batch([(question, t) for t in texts]))
    return np.asarray(session.run(["score"], feed)[0], dtype=np.float32)


def score_split(
    session: onnxruntime.InferenceSession, articles: Sequence[dict[str, Any]], read: int
) -> dict[str, float]:
    """hit@1 and hit@3 of the answer's sentence, the bot's order against the reader's, and the
    declined shares of unanswerable and answerable questions."""
    bot1 = bot3 = reader1 = reader3 = answerable = 0
    declined_answerable = declined_unanswerable = unanswerable = 0
    for article in articles:
        sentences = article["sentences"]
        for q in article["questions"]:
            order = q["order"][:read]
            if not order:
                continue
            found = scores(session, q["q"], [sentences[i] for i in order])
            by_reader = [order[i] for i in np.argsort(-found, kind="stable")]
            declines = bool(found.max() <= 0)
            if q["gold"] is None:
                unanswerable += 1
                declined_unanswerable += declines
                continue
            answerable += 1
            declined_answerable += declines
            bot1 += q["gold_rank"] == 0
            bot3 += 0 <= q["gold_rank"] < 3
            reader1 += by_reader[0] == q["gold"]
            reader3 += q["gold"] in by_reader[:3]
    n = max(answerable, 1)
    return {
        "answerable": answerable,
        "bot_hit1": bot1 / n,
        "bot_hit3": bot3 / n,
        "reader_hit1": reader1 / n,
        "reader_hit3": reader3 / n,
        "unanswerable": unanswerable,
        "declined_unanswerable": declined_unanswerable / max(unanswerable, 1),
        "declined_answerable": declined_answerable / n,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="the reader's ONNX file")
    parser.add_argument("--groups", type=Path, nargs="+", required=True, help="development groups")
    parser.add_argument("--split", choices=("train", "fit", "report"), default="report")
    parser.add_argument("--read", type=int, default=5, help="the bot's first N candidates read")
    args = parser.parse_args(argv)
    by_title: dict[str, dict[str, Any]] = {}
    for path in args.groups:  # v2.0 after v1.1: an article in both keeps its unanswerable questions
        by_title.update({a["title"]: a for a in read_groups(path)})
    unanswerable = {t for t, a in by_title.items() if any(q["gold"] is None for q in a["questions"])}
    titles = dev_splits(sorted(by_title), unanswerable)[args.split]
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    figures = score_split(session, [by_title[t] for t in titles], args.read)
    print(f"{args.split} split, {len(titles)} articles: {', '.join(titles)}", file=sys.stderr)
    for name, value in figures.items():
        print(f"{name:24} {value:.3f}" if isinstance(value, float) else f"{name:24} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
