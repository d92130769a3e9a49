"""For the operator: metrics and health over HTTP, shards split over several processes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.answer.composer import Composer
from bot.discord_bot.app import ArticleBot
from bot.discord_bot.votes import Votes
from bot.stores.feedback import open_feedback
from tests.discord_helpers import bot_process, bot_settings, custom_ids, embed_of
from tests.fake_discord import FakeDiscord, running_bot, shard_of
from tests.test_cli import run


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.asyncio
async def test_metrics_change_after_an_answer_and_a_vote_and_health_follows_ready(
    fake: FakeDiscord, composer: Composer, tmp_path: Path
) -> None:
    settings = bot_settings(discord_guild_id=fake.guild_id, metrics_port=0)
    client = ArticleBot(composer, settings, votes=Votes(open_feedback(tmp_path / "fb.sqlite3")))
    fake.hold_ready()
    stop = asyncio.Event()

    async def run_bot() -> None:
        async with running_bot(fake, client):
            await stop.wait()

    task = asyncio.create_task(run_bot())
    try:
        await _until(lambda: bool(fake.identifies))
        assert client.metrics.port is not None  # serving since before the gateway connected
        port = client.metrics.port
        assert (await _get(f"http://127.0.0.1:{port}/healthz"))[0] == 503
        fake.release_ready()
        await fake.wait_ready()
        await _until(client.is_ready)
        assert (await _get(f"http://127.0.0.1:{port}/healthz"))[0] == 200

        before = await _metrics(port)
        assert before[("articlebot_guilds", ())] == 1
        assert before[("articlebot_corpus_sentences", ())] == len(composer.corpus)
        handle = await fake.send_slash("ask", {"question": "How old is Kim Ju-ae?"})
        data = (await fake.wait_response(handle))["data"]
        await fake.wait_response(await fake.send_slash("ask", {"question": "Who won the World Cup in 1998?"}))
        assert handle.message is not None
        vote = next(i for i in custom_ids(data) if i.startswith("ab:vote:up:"))
        await fake.wait_response(await fake.click(handle.message, vote))
        after = await _metrics(port)
    finally:
        stop.set()
        await task
    asked = ("articlebot_questions_total", (("abstained", "false"),))
    declined = ("articlebot_questions_total", (("abstained", "true"),))
    assert after[asked] == before[asked] + 1 and after[declined] == before[declined] + 1
    assert (
        after[("articlebot_answer_seconds_count", ())] == before[("articlebot_answer_seconds_count", ())] + 2
    )
    ups = ("articlebot_feedback_total", (("vote", "up"),))
    assert after[ups] == before[ups] + 1
    with pytest.raises(aiohttp.ClientConnectionError):  # closing the bot stops the server
        await _get(f"http://127.0.0.1:{port}/healthz")


@pytest.mark.asyncio
async def test_two_processes_split_the_shards(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        home = shard_of(fake.guild_id, 2)
        other_guild, _ = fake.add_guild(shard=(1 - home, 2))
        guild_of = {home: fake.guild_id, 1 - home: other_guild}
        processes = {
            shard: bot_process(fake, tmp_path, SHARD_COUNT="2", SHARD_IDS=str(shard), sync_guild=False)
            for shard in (0, 1)
        }
        try:
            await fake.wait_ready(timeout=30, count=2)
            assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
            for shard in (0, 1):
                handle = await fake.send_slash(
                    "ask", {"question": "How old is Kim Ju-ae?"}, guild_id=guild_of[shard]
                )
                response = await fake.wait_response(handle, timeout=10)
                assert "¶2.3" in embed_of(response["data"])["description"]
        finally:
            for process in processes.values():
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
            outputs = {
                shard: await asyncio.to_thread(p.communicate, timeout=20) for shard, p in processes.items()
            }
    for shard, (_, err) in outputs.items():
        assert processes[shard].returncode == 0, err
        assert err.count("answered in") == 1  # each process answered the guild routed to its shard
        assert f"this process runs shards {shard} of 2" in err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHARD_IDS": "0-3"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_IDS": "4", "SHARD_COUNT": "4"}, "shard 4 is not below SHARD_COUNT 4"),
        ({"SHARD_IDS": "one", "SHARD_COUNT": "4"}, "not a shard id"),
    ],
)
def test_a_bad_shard_combination_is_one_line_and_exit_2(env: dict[str, str], message: str) -> None:
    result = run("run", **env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: bad setting SHARD_IDS:") and message in line


@pytest.mark.asyncio
async def test_a_taken_metrics_port_is_one_line_and_exit_1(fake: FakeDiscord, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = bot_process(fake, tmp_path, METRICS_PORT=str(port))
        _, err = await asyncio.to_thread(process.communicate, timeout=30)
    assert process.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot serve metrics on 127.0.0.1:{port}") and "Traceback" not in err
