"""Two chatkit processes' worth of servers over real Redis: an event reaches its clients
whichever server they are connected to."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer

pytestmark = pytest.mark.redis


async def test_visitor_and_agent_on_different_servers(start_server: StartServer,
                                                      redis_url: str) -> None:
    # A channel of this test's own: other runs may share the Redis.
    channel = f"chatkit-test-{uuid.uuid4().hex[:8]}"
    one: TestServer = await start_server(redis_url=redis_url, redis_channel=channel)
    two: TestServer = await start_server(redis_url=redis_url, redis_channel=channel)
    await one.kit.agents.create(email="ada@example.com", name="Ada",  # type: ignore[attr-defined]
                                password="correct horse", role=AgentRole.AGENT)
    visitor, agent = Visitor(one), AgentClient(two)
    await agent.login("ada@example.com", "correct horse")
    await visitor.start()

    sent = await visitor.say("hello from server one", "v-1")
    # The agent on server two hears of the new conversation and joins it.
    update = await agent.next("conversation")
    assert update["id"] == sent["conversation_id"]
    await agent.ok("join", {"conversation_id": sent["conversation_id"]})

    reply = await agent.ok("message", {"conversation_id": sent["conversation_id"],
                                       "client_id": "a-1", "body": "hello from server two"})
    assert await visitor.next("message") == reply
    follow_up = await visitor.say("thanks", "v-2")
    assert await agent.next("message") == follow_up
    await visitor.close()
    await agent.close()


async def test_queue_positions_and_abandonment_across_servers(start_server: StartServer,
                                                              redis_url: str) -> None:
    """Two processes on one store and Redis: a change made by one reaches the waiting
    visitors of the other within a second, each told once; a visitor with a tab on each
    server is abandoned only when both have gone."""
    grace = 0.6
    one: TestServer = await start_server(redis_url=redis_url, abandon_grace=grace,
                                         routing_sweep_interval=0.05)
    two: TestServer = await start_server(redis_url=redis_url, abandon_grace=grace,
                                         routing_sweep_interval=0.05)
    first, second = Visitor(one), Visitor(two)
    await first.start()
    await second.start()
    first_id = (await first.say("hello", "v-1"))["conversation_id"]
    second_id = (await second.say("hello", "v-2"))["conversation_id"]
    assert (await first.next("queue_position"))["position"] == 1
    while (await second.next("queue_position"))["position"] != 2:
        pass
    token = (await second.ok("resume", {"since_seq": 0}))["token"]
    second_tab = Visitor(one)
    resumed = await second_tab.start(token)
    assert resumed["queue"]["position"] == 2

    started = time.monotonic()
    await first.ok("leave", {"conversation_id": first_id})
    moved = await second.next("queue_position")
    assert moved == {"conversation_id": second_id, "team": "support", "position": 1,
                     "estimated_wait": None}
    assert time.monotonic() - started < 1.0
    # (The second tab may first hear the place it had when it connected.)
    while (await second_tab.next("queue_position"))["position"] != 1:
        pass
    # Told once each: neither process repeats it, nor relays the other's.
    await asyncio.sleep(0.6)
    assert second.pending("queue_position") == [] == second_tab.pending("queue_position")

    store = one.kit.store  # type: ignore[attr-defined]
    await second.close()
    await asyncio.sleep(grace * 2.5)
    found = await store.get_conversation(second_id)
    assert found is not None and found.status == "queued"
    await second_tab.close()
    for _ in range(100):
        found = await store.get_conversation(second_id)
        if found is not None and found.status == "resolved":
            break
        await asyncio.sleep(0.05)
    assert found is not None and found.status == "resolved"
    await first.close()
