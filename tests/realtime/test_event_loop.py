"""Nothing on a message's path blocks the event loop. Two checks, both immune to a busy
machine: the known blocking operations (password hashing, KB matching, opening SQLite) must
never be called on the loop's thread; and no callback may spend much CPU on that thread.
(Wall-clock timing would flag a test that was merely preempted; CPU time alone would miss
argon2, which computes in threads of its own while the caller waits.)"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import time
from typing import Any

import argon2
import pytest
from aiohttp.test_utils import TestServer

from chatkit.kb import KnowledgeBase
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer

LIMIT = 0.05  # seconds of CPU in one callback
BLOCKING = [(argon2.PasswordHasher, "hash"), (argon2.PasswordHasher, "verify"),
            (KnowledgeBase, "answer"), (KnowledgeBase, "search"), (sqlite3, "connect")]


def on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def test_a_whole_conversation_never_blocks_the_loop(
        start_server: StartServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server: TestServer = await start_server(bot_enabled=True)
    # Start-up (migrations) may take its time before clients are served; from here on, not.
    slow: list[tuple[float, str]] = []
    run = asyncio.events.Handle._run

    def timed(handle: Any) -> None:
        start = time.thread_time()
        run(handle)
        spent = time.thread_time() - start
        if spent > LIMIT:
            slow.append((spent, repr(handle)[:300]))

    monkeypatch.setattr(asyncio.events.Handle, "_run", timed)
    # A collection of the whole test session's heap can land in any callback; that is the
    # collector's cost (which `chatkit serve` tunes), not blocking code.
    gc.collect()
    gc.disable()
    called_on_loop: list[str] = []

    def tripwire(name: str, original: Any) -> Any:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if on_loop_thread():
                called_on_loop.append(name)
            return original(*args, **kwargs)
        return guarded

    for owner, name in BLOCKING:
        monkeypatch.setattr(owner, name, tripwire(name, getattr(owner, name)))
    try:
        await server.kit.agents.create(email="ada@example.com", name="Ada",  # type: ignore[attr-defined]
                                       password="correct horse")
        visitor, agent = Visitor(server), AgentClient(server)
        await agent.login("ada@example.com", "correct horse")
        await visitor.start()
        for n in range(20):
            await visitor.say(f"how long does shipping take? ({n})", f"c-{n}")
            await visitor.next("message")  # the bot's answer
        conversation = await visitor.ok("handoff")
        await agent.ok("join", {"conversation_id": conversation["id"]})
        for n in range(20):
            await agent.ok("message", {"conversation_id": conversation["id"],
                                       "client_id": f"a-{n}", "body": "on its way"})
        await agent.ok("resolve", {"conversation_id": conversation["id"]})
        await visitor.close()
        await agent.close()
    finally:
        monkeypatch.undo()
        gc.enable()
    assert called_on_loop == []
    assert slow == []
