"""Background loops: what every loop that runs until cancelled needs."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise CancelledError when this task was asked to stop but is still running: a
    cancellation that arrived inside a store call can be lost on its way out (seen at
    shutdown with the SQLite store: the sweep went on, and closing the app waited for it
    forever). Loops that run until cancelled call this between rounds."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
