"""Background loops: what every loop that runs until cancelled needs."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError when this task was asked to stop but is still running. Loops
    that run until cancelled catch Exception to survive a failed round, so a library that
    turns a cancellation into an Exception keeps them running, and closing the app waits
    for them forever. It happened once: the store's transaction cleanup asked a connection
    the cancellation had invalidated, and its PendingRollbackError replaced the
    CancelledError (fixed in SqlStore._write). Such loops call this between rounds."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
