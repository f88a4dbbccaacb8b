"""Nothing on a message's path blocks the event loop: password hashing, KB matching and
database work run off it. asyncio's debug mode reports any callback that holds the loop."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestServer

from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer


async def test_a_whole_conversation_never_blocks_the_loop(
        start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    server: TestServer = await start_server(bot_enabled=True)
    # Start-up (migrations) is allowed to take its time before clients are served.
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.05
    caplog.set_level(logging.WARNING, logger="asyncio")
    await asyncio.sleep(0)  # the loop times callbacks that start after debug is on
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
        loop.set_debug(False)
    slow = [r.getMessage() for r in caplog.records
            if r.name == "asyncio" and "Executing" in r.getMessage()]
    assert slow == []
