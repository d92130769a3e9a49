"""The command line: `ask`, `eval`, `about`, `add`, `servers`, `feedback`, `run`, `sync`; it
parses, calls, prints.

Exit codes (`bot.exit_codes`): 0 done (an abstention is an answer); 1 the bot could not run
(Discord refused the token or could not be reached); 2 bad usage or bad input (empty or over-long
question, unreadable corpus, missing or unusable feedback database, bad settings, missing token,
a source `add` could not add), with one line on stderr for each; 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from bot.config import Settings
from bot.documents.corpus import CorpusError
from bot.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from bot.answer.composer import Composer
    from bot.documents.add import Added
    from bot.stores.documents import Mirror


class UsageError(Exception):
    """Bad input: reported as one line on stderr, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Answer questions about the articles in a corpus folder."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--corpus", type=Path, metavar="DIR", help="corpus folder (setting CORPUS_DIR)")
        return p

    ask = add("ask", "answer a question from the terminal, offline")
    ask.add_argument("question", help='the question, or "-" to read one question a line from stdin')
    ask.add_argument("--json", action="store_true", help="print JSON (one object a line with -)")
    ask.add_argument("--top-k", type=int, metavar="N", help="excerpts at most (setting TOP_K)")
    ask.add_argument(
        "--document",
        metavar="NAME",
        help="answer from this document alone: its file name or title (or part of one)",
    )
    ask.add_argument(
        "--server",
        type=int,
        metavar="ID",
        help="ask as that Discord server's members do: its own articles (/add) and the corpus's",
    )

    ev = add("eval", "score a question file: JSON Lines (as in shared/eval) or SQuAD v1.1/v2.0 JSON")
    ev.add_argument("file", type=Path)
    ev.add_argument(
        "--off-topic", type=Path, metavar="FILE", help="also ask this file's questions, as ones to decline"
    )
    ev.add_argument("--misses", action="store_true", help="list the misses, with the excerpt given instead")
    ev.add_argument(
        "--kind",
        nargs="+",
        metavar="KIND",
        help='score only the lines of these kinds ("meta", "unrelated", ...)',
    )
    ev.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    add_cmd = add("add", "add web pages to the corpus as Markdown documents (by address or saved .html)")
    add_cmd.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="an http(s):// address or a .html/.htm file"
    )

    about = add("about", "list the corpus documents and their metadata")
    about.add_argument("--json", action="store_true")

    fb = sub.add_parser("feedback", help="the votes people gave the bot's answers (setting FEEDBACK_DB)")
    db_help = "the feedback database: a path, sqlite:///PATH or postgresql://USER@HOST:PORT/DB (FEEDBACK_DB)"
    fb.add_argument("--db", metavar="ADDRESS", help=db_help)
    fb_sub = fb.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = fb_sub.add_parser(
        "export", help="one JSON object a line, in the format of tests/data/eval: up-votes as test questions"
    )
    export.add_argument("--vote", choices=("up", "down"), help="only up-votes or only down-votes")
    stats = fb_sub.add_parser(
        "stats", help="votes by day, the share of up-votes, the most reported questions"
    )
    copy = fb_sub.add_parser(
        "copy",
        help="copy every vote and the salt into another database that holds none (SQLite <-> PostgreSQL)",
    )
    copy.add_argument(
        "--to", required=True, metavar="ADDRESS", help="the database to copy into (made if need be)"
    )
    for action in (export, stats, copy):  # --db after the action too: `feedback export --db FILE`
        action.add_argument("--db", metavar="ADDRESS", default=argparse.SUPPRESS, help=db_help)

    srv = add(
        "servers",
        "the articles servers added with /add (kept in SERVERS_DIR): list them, or purge a server's",
    )
    srv_sub = srv.add_subparsers(dest="servers_command", required=True, metavar="ACTION")
    srv_sub.add_parser("list", help="each server's id, articles, bytes, and when the bot left it")
    purge = srv_sub.add_parser("purge", help="delete every article of a server now")
    purge.add_argument("server", type=int, metavar="ID", help="the server's id")

    add("run", "start the Discord bot (needs DISCORD_TOKEN)")
    add("sync", "sync the slash commands globally with Discord (needs DISCORD_TOKEN)")
    add("bench", "moved: run `python -m benchmarks.bench` from the repository's folder")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UsageError(f"bad setting {field}: {message}") from None
    updates: dict[str, object] = {}
    if getattr(args, "corpus", None) is not None:
        updates["corpus_dir"] = args.corpus
    if getattr(args, "top_k", None) is not None:
        if not 1 <= args.top_k <= 10:
            raise UsageError("--top-k must be between 1 and 10")
        updates["top_k"] = args.top_k
    return settings.model_copy(update=updates)


def terminal_progress(stream: TextIO) -> Callable[[str, int, int], None]:
    """A progress bar (tqdm) for each stage of a long load; small corpora load in a blink, no bar."""
    bars: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if total < (20_000 if stage == "indexing" else 200):
            return
        if stage not in bars:
            from tqdm import tqdm  # only a long load pays for the import

            bars[stage] = tqdm(total=total, desc=f"{stage:>9}", file=stream, unit_scale=total >= 10_000)
        bar = bars[stage]
        if not bar.disable and done > bar.n:
            bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


def _composer(settings: Settings) -> Composer:
    from bot import engine

    progress = terminal_progress(sys.stderr) if sys.stderr.isatty() else None
    try:
        return engine.load(settings, progress=progress)
    except CorpusError as exc:
        raise UsageError(str(exc)) from None


def _ask(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.answer import render
    from bot.answer.composer import Answer, QuestionError

    if args.question != "-":
        composer = _composer(settings)
        try:
            answer = composer.answer(args.question, document=args.document, server=args.server)
        except QuestionError as exc:
            raise UsageError(str(exc)) from None
        if args.json:
            out.write(json.dumps(render.answer_json(answer), ensure_ascii=False) + "\n")
        else:
            out.write(render.answer_terminal(answer, color=out.isatty()) + "\n")
        _keep_vectors(composer)
        return EXIT_OK

    composer = _composer(settings)
    try:
        composer.pinned(args.document, args.server)  # an unknown document is bad usage, not a bad line
    except QuestionError as exc:
        raise UsageError(str(exc)) from None
    for line in sys.stdin:
        question = line.rstrip("\n")
        error = None
        try:
            answer = (
                composer.answer(question, document=args.document, server=args.server)
                if question.strip()
                else Answer(question.strip(), True)
            )
        except QuestionError as exc:
            answer, error = Answer(question.strip()[: settings.max_question_chars], True), str(exc)
            print(f"warning: {exc}", file=sys.stderr)
        if args.json:
            obj = render.answer_json(answer)
            if error:
                obj["error"] = error
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            out.write(f"Q: {answer.question}\n{render.answer_terminal(answer)}\n\n")
        out.flush()
    _keep_vectors(composer)
    return EXIT_OK


def _keep_vectors(composer: Composer) -> None:
    """Save the sentence vectors this run computed, so that the next run need not."""
    if composer.ranker.semantic is not None:
        composer.ranker.semantic.vectors.flush()


def _eval(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    import tempfile

    from bot.evaluate import DEPTH, EvalFileError, evaluate, read_question_set

    try:
        questions = read_question_set(args.file)
        off_topic = read_question_set(args.off_topic).off_topic() if args.off_topic else None
    except EvalFileError as exc:
        raise UsageError(str(exc)) from None
    if args.kind:
        questions = questions.kinds(*args.kind)
        if not questions.cases:
            raise UsageError(f"{args.file} has no questions of kind {', '.join(args.kind)}")
    cases = questions.cases + (off_topic.cases if off_topic else ())
    with tempfile.TemporaryDirectory(prefix="article-bot-eval-") as tmp:
        if questions.documents:
            # A SQuAD file's articles are documents; --corpus puts them beside that folder's.
            settings = settings.model_copy(
                update={"corpus_dir": _eval_corpus(Path(tmp), questions.documents, args.corpus)}
            )
        composer = _composer(settings)
        if composer.ranker.semantic is not None:  # scored as the bot answers once its vectors are in
            composer.ranker.semantic.vectors.fill()
            _keep_vectors(composer)
        report = evaluate(cases, lambda q: composer.answer(q, limit=DEPTH), skipped=questions.skipped)
    if args.json:
        out.write(json.dumps(report.as_json(misses=args.misses), ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(report.lines(misses=args.misses)) + "\n")
    return EXIT_OK


def _eval_corpus(folder: Path, documents: dict[str, str], beside: Path | None) -> Path:
    """A corpus folder holding `documents` and, when given, a copy of the folder `beside`."""
    import shutil

    from bot.documents.folder import document_files

    if beside is not None:
        try:
            for name, path in document_files(beside):
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        except CorpusError as exc:
            raise UsageError(str(exc)) from None
    for name, text in documents.items():
        if (folder / name).exists():
            raise UsageError(f"the corpus already has a document named {name}")
        (folder / name).write_text(text, encoding="utf-8", newline="")
    return folder


def _about(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    composer = _composer(settings)
    docs = composer.corpus.documents
    semantic = composer.ranker.semantic
    vectors = semantic.vectors.per_document() if semantic is not None else [None] * len(docs)
    rows: list[dict[str, object]] = [
        {
            "document": d.name,
            "title": d.title,
            "subtitle": d.subtitle,
            "author": d.author,
            "outlet": d.outlet,
            "source_url": d.source_url,
            "published": d.published,
            "sentences": d.sentence_count,
            "vectors": done,  # sentences with the re-ranker's vector so far; null: no re-ranking
            "sha256": d.content_hash,
            # Where each value was found: "front matter", "heading", "byline", "dateline", ...
            "stated": {s.field: s.source for s in d.stated},
        }
        for d, done in zip(docs, vectors, strict=True)
    ]
    if args.json:
        out.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return EXIT_OK
    for d, row in zip(docs, rows, strict=True):
        where = {s.field: s.source for s in d.stated}
        named = " (title from the file name)" if where.get("title") == "file name" else ""
        out.write(f"{d.name}: {d.title}{named}\n")
        for key in ("subtitle", "author", "outlet", "source_url", "published", "sentences", "sha256"):
            if row[key] is not None:
                source = where.get(key, "front matter")
                out.write(
                    f"  {key}: {row[key]}"
                    + (f" (from the {source})" if source != "front matter" else "")
                    + "\n"
                )
    out.write(_rerank_line(settings, composer) + "\n")
    out.write(_reader_line(composer) + "\n")
    return EXIT_OK


def _rerank_line(settings: Settings, composer: Composer) -> str:
    """What the re-ranking stage is doing: off and why, or how far its sentence vectors are."""
    from bot.answer import render

    if not settings.rerank:
        why = "RERANK=false"
    elif len(composer.corpus) > settings.rerank_max_sentences:
        why = f"more than RERANK_MAX_SENTENCES, {settings.rerank_max_sentences:,} sentences"
    else:
        why = "the model could not be loaded; the warning above says why"
    return render.rerank_status(composer, why)


def _reader_line(composer: Composer) -> str:
    from bot.answer import render

    return render.reader_status(composer)


def _add(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.documents.add import SourceError

    mirror = _shared_corpus(settings)  # with CORPUS_DB: the folder first caught up, so updates keep names
    failed = 0
    for source in args.sources:
        try:
            added, unshared = _add_source(source, settings, mirror)
        except SourceError as exc:
            print(f"error: {source}: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(
                f"error: {source}: cannot write to {settings.corpus_dir} ({exc.strerror or exc})",
                file=sys.stderr,
            )
            failed += 1
            continue
        if unshared is not None:
            print(f"error: {source}: written to the folder but not shared ({unshared})", file=sys.stderr)
            failed += 1
        out.write(f"{added.path}\n")
        out.flush()
    if mirror is not None:
        mirror.store.close()
    return EXIT_USAGE if failed else EXIT_OK


def _shared_corpus(settings: Settings) -> Mirror | None:
    """The shared corpus (CORPUS_DB) mirrored into the corpus folder, or None without one."""
    if settings.corpus_db is None:
        return None
    from bot.stores.database import StoreError
    from bot.stores.documents import open_mirror

    try:
        return open_mirror(settings)
    except (StoreError, OSError) as exc:
        raise UsageError(str(exc)) from None


_ADD_TRIES = 5  # times a page takes another name when other processes publish the one it chose


def _add_source(source: str, settings: Settings, mirror: Mirror | None) -> tuple[Added, str | None]:
    """Add one source to the corpus folder and, with a shared corpus, publish it; why it was not
    published, if it was not.

    Another process may publish a document of the chosen name meanwhile (another page of the same
    title): then its version is fetched and the page added again, which finds that name taken and
    takes the next (or, when both added the same page, finds it and updates it).
    """
    from bot.documents.add import add_with
    from bot.stores.database import StoreError

    tries = 0
    while True:
        added = add_with(settings, source, settings.corpus_dir)
        if mirror is None:
            return added, None
        name = added.path.relative_to(settings.corpus_dir).as_posix()
        tries += 1
        try:
            published = mirror.publish([name])
            if not published.taken:
                return added, str(published.skipped[0]) if published.skipped else None
            if tries == _ADD_TRIES:
                return added, f"other processes published a document named {name} each of {tries} times"
            mirror.sync()
        except (StoreError, OSError) as exc:
            return added, str(exc)


def _servers(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    import datetime

    from bot.documents import servers
    from bot.stores.database import StoreError

    if args.servers_command == "purge":
        mirror = _shared_corpus(settings)  # with CORPUS_DB: caught up, then the deletions shared
        try:
            count = servers.purge(settings, args.server)
            if mirror is not None:
                mirror.publish().log_unsent("servers purge")
        except (LookupError, StoreError) as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(
                f"cannot delete the articles of server {args.server} ({exc.strerror or exc})"
            ) from None
        finally:
            if mirror is not None:
                mirror.store.close()
        out.write(f"deleted the {count} articles of server {args.server}\n")
        return EXIT_OK
    mirror = _shared_corpus(settings)  # with CORPUS_DB: caught up first, so every machine lists alike
    if mirror is not None:
        mirror.store.close()
    for server in servers.servers(settings):
        held = servers.held(settings, server)
        at = servers.left_at(settings, server)
        where = (
            ""
            if at is None
            else f", left {datetime.datetime.fromtimestamp(at, datetime.UTC):%Y-%m-%d %H:%M} UTC"
        )
        out.write(f"{server}: {len(held.names)} articles, {held.bytes:,} bytes{where}\n")
    return EXIT_OK


def _feedback(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from bot.stores.database import StoreError
    from bot.stores.feedback import copy_votes, open_feedback

    address = args.db or settings.feedback_db.get_secret_value()
    try:
        if args.feedback_command == "copy":  # the source is migrated as the bot would; the target made
            with open_feedback(address) as source, open_feedback(args.to) as target:
                copied = copy_votes(source, target)
                out.write(f"copied {copied} votes and the salt from {source.where} to {target.where}\n")
            return EXIT_OK
        with open_feedback(address, read_only=True) as store:  # a report changes nothing
            if args.feedback_command == "export":
                for line in store.export(args.vote):
                    out.write(json.dumps(line.as_eval_line(), ensure_ascii=False) + "\n")
            else:
                out.write("\n".join(store.stats().lines()) + "\n")
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":  # `bench` only says where the benchmarks went
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # The bot's own messages only: a library's log lines (trafilatura's three about a broken page,
    # before ours that names it) would break "one line on stderr a problem".
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(logging.Filter("bot"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    try:
        settings = _settings(args)
        if args.command == "ask":
            return _ask(args, settings, sys.stdout)
        if args.command == "eval":
            return _eval(args, settings, sys.stdout)
        if args.command == "about":
            return _about(args, settings, sys.stdout)
        if args.command == "add":
            return _add(args, settings, sys.stdout)
        if args.command == "servers":
            return _servers(args, settings, sys.stdout)
        if args.command == "feedback":
            return _feedback(args, settings, sys.stdout)
        if args.command in ("run", "sync"):
            from bot.discord_bot import app

            code: int = app.main(settings, sync_globally=args.command == "sync")
            return code
        if args.command == "bench":
            raise UsageError(
                "the benchmarks are not part of the bot: run `python -m benchmarks.bench` "
                "(and `python -m benchmarks.fit`) from the repository's folder"
            )
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE  # pragma: no cover - parser.error exits
