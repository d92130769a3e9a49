"""The vote store as the bot calls it: every call on the store in worker threads of its own, so the
event loop never waits on the disk or the database server."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.stores.feedback import Feedback, FeedbackStore, Tally

T = TypeVar("T")


class Votes:
    """The feedback store, called off the event loop. Its calls raise `bot.stores.database.StoreError`
    (`UnavailableError` when the database is not answering) for the caller to tell the person."""

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store
        # A few threads: a vote waiting on a restarting server does not hold up /forget or pruning,
        # and each call's deadline (the store's) frees its thread should the server stop answering.
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="feedback-db")

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(fn, *args))

    async def record(self, feedback: Feedback, user_id: int) -> Tally:
        """Store the vote (committed when this returns) and give the answer's tally."""
        return await self._call(self.store.record, feedback, user_id)

    async def forget(self, user_id: int) -> int:
        """Delete this person's votes; how many there were."""
        return await self._call(self.store.forget, user_id)

    async def prune(self, days: int) -> int:
        """Delete the votes older than `days` days; how many went."""
        return await self._call(self.store.prune, days)

    def close(self) -> None:
        """Finish pending votes, then close the store."""
        self._threads.shutdown(wait=True)
        self.store.close()
