"""For the operator: Prometheus metrics and a health check over HTTP (`METRICS_HOST`:`METRICS_PORT`).

`/metrics` is `prometheus-client`'s text format from a registry of this bot's own (several bots in
one process, as in the tests, do not mix); `/healthz` is 200 once the bot is connected to Discord
and 503 before. The server is aiohttp's, which discord.py already brings, on the bot's own loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

# From a cached answer (a millisecond) to a large corpus under load (seconds).
ANSWER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MetricsError(Exception):
    """The metrics server could not start (the port is taken, say); one line."""


class Metrics:
    """The bot's counters, and the HTTP server that shows them."""

    def __init__(self, *, sentences: Callable[[], float], guilds: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "articlebot_questions",
            "Questions answered, by whether the bot declined (the article does not say).",
            ["abstained"],
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "articlebot_answer_seconds",
            "Time to answer a question, retrieval and composition.",
            buckets=ANSWER_BUCKETS,
            registry=self.registry,
        )
        self.feedback = Counter("articlebot_feedback", "Votes on answers.", ["vote"], registry=self.registry)
        corpus = Gauge("articlebot_corpus_sentences", "Sentences in the corpus now.", registry=self.registry)
        corpus.set_function(sentences)
        guild_count = Gauge("articlebot_guilds", "Servers this process is in.", registry=self.registry)
        guild_count.set_function(guilds)
        for abstained in ("true", "false"):  # every series exists from the start, at 0
            self.questions.labels(abstained=abstained)
        for vote in ("up", "down"):
            self.feedback.labels(vote=vote)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def answered(self, seconds: float, *, abstained: bool) -> None:
        """Count one answered question."""
        self.questions.labels(abstained="true" if abstained else "false").inc()
        self.answer_seconds.observe(seconds)

    def voted(self, vote: str) -> None:
        """Count one vote."""
        self.feedback.labels(vote=vote).inc()

    async def serve(self, host: str, port: int, healthy: Callable[[], bool]) -> None:
        """Start serving `/metrics` and `/healthz`; port 0 takes a free one (see `self.port`)."""

        async def metrics(request: web.Request) -> web.Response:
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(request: web.Request) -> web.Response:
            ok = healthy()
            return web.Response(status=200 if ok else 503, text="ok\n" if ok else "not connected\n")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise MetricsError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])  # the port bound, when asked for port 0
        log.info("metrics on http://%s:%d/metrics, health on /healthz", host, self.port)

    async def stop(self) -> None:
        """Stop the server, if it runs."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
