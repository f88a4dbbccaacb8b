"""Two chatkit processes' worth of servers over real Redis: an event reaches its clients
whichever server they are connected to."""

from __future__ import annotations

import os
import uuid

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CHATKIT_TEST_REDIS")
    if not url:
        pytest.skip("Redis tests need CHATKIT_TEST_REDIS (e.g. redis://127.0.0.1:6379/0)")
    return url


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
