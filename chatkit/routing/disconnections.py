"""Disconnections recorded in the store from tasks of their own.

A socket reports its disconnection from the task that is tearing it down, which may be
cancelled halfway; a store write started there could be lost mid-transaction. So the write runs
in a task of its own, and `close()` (at shutdown, before the store closes) waits for those
still running. A write that fails is logged: the sweep notices the connection when it expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Disconnections:
    def __init__(self, whose: str) -> None:
        self.whose = whose  # for the log: "an agent's", "a visitor's"
        self._pending: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """How many are still being recorded."""
        return len(self._pending)

    def record(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(write)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording %s disconnection failed (the sweep will notice it when the "
                      "connection expires)", self.whose, exc_info=task.exception())

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
