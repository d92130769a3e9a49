"""The vote store as the bot calls it: every call on the store in one thread of its own, so the
event loop never waits on the disk and the one connection is only ever used from that thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from bot.stores.feedback import Feedback, FeedbackStore, Tally


class Votes:
    """The feedback store, called from its own thread."""

    def __init__(self, store: FeedbackStore) -> None:
        self.store = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedback-db")

    async def record(self, feedback: Feedback, user_id: int) -> Tally:
        """Store the vote (committed when this returns) and give the answer's tally."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.store.record, feedback, user_id)

    def close(self) -> None:
        """Finish pending votes, then close the file."""
        self._thread.shutdown(wait=True)
        self.store.close()
