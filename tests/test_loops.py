"""A loop that runs until cancelled stops even when a call inside it lost the cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from chatkit.loops import stop_if_cancelled


async def test_a_lost_cancellation_still_stops_the_loop() -> None:
    rounds = 0
    inside = asyncio.Event()

    async def call_that_loses_a_cancellation() -> None:
        inside.set()
        with contextlib.suppress(asyncio.CancelledError):  # as a library's call can
            await asyncio.sleep(10)

    async def loop() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await call_that_loses_a_cancellation()
            stop_if_cancelled()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert rounds == 1


async def test_a_task_not_cancelled_goes_on() -> None:
    stop_if_cancelled()  # nothing asked this task to stop
