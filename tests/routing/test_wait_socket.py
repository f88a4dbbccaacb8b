"""The visitor's wait end to end: real Socket.IO clients and server, short timers. Positions
reach every waiting visitor within a second of a change; leaving, closing every tab, and
reloading within the grace period."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import AgentClient, Visitor

ROUTING = """
default_team: support
teams:
  - {id: support, name: Support}
agents:
  ada@example.com: {teams: [support], capacity: 1}
"""
PASSWORD = "a good password"
GRACE = 0.6

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def routed(start_server: Start, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, abandon_grace=GRACE,
                                routing_sweep_interval=0.05)
    await server.kit.agents.create(  # type: ignore[attr-defined]
        email="ada@example.com", name="Ada", password=PASSWORD, role=AgentRole.AGENT)
    return server


async def queued(server: TestServer, n: int) -> tuple[Visitor, dict[str, Any], str]:
    """A visitor whose first message queues their chat (no bot here)."""
    visitor = Visitor(server)
    resumed = await visitor.start()
    sent = await visitor.say("hello, anyone?", f"m-{n}")
    return visitor, resumed, sent["conversation_id"]


async def position(visitor: Visitor, conversation_id: str, expected: int) -> float:
    """Seconds until the visitor is told it is at `expected` (earlier positions skipped)."""
    started = time.monotonic()
    while True:
        wait = await visitor.next("queue_position")
        assert wait["conversation_id"] == conversation_id
        if wait["position"] == expected:
            assert wait["team"] == "support"
            return time.monotonic() - started


async def status_seen(agent: AgentClient, conversation_id: str, status: str) -> None:
    while True:
        conversation = await agent.next("conversation")
        if conversation["id"] == conversation_id and conversation["status"] == status:
            return


async def test_waiting_visitors_are_told_where_they_stand(routed: TestServer) -> None:
    one, _, first = await queued(routed, 1)
    two, _, second = await queued(routed, 2)
    three, _, third = await queued(routed, 3)
    clients: list[Visitor | AgentClient] = [one, two, three]
    try:
        assert await position(one, first, 1) < 1.0
        assert await position(two, second, 2) < 1.0
        assert await position(three, third, 3) < 1.0

        # An agent comes online and gets the first: the others move up within a second.
        ada = AgentClient(routed)
        clients.append(ada)
        await ada.login("ada@example.com", PASSWORD)
        await ada.ok("presence", {"status": "online"})
        waited = await asyncio.gather(position(two, second, 1), position(three, third, 2))
        assert max(waited) < 1.0

        # A second tab of the third visitor gets where it stands in its resume.
        token = (await three.ok("resume", {"since_seq": 0}))["token"]
        other_tab = Visitor(routed)
        clients.append(other_tab)
        resumed = await other_tab.start(token)
        assert resumed["conversation"]["status"] == "queued"
        assert resumed["queue"] == {"conversation_id": third, "team": "support",
                                    "position": 2, "estimated_wait": None}

        # Bad input changes nothing; someone else's conversation is not theirs to leave.
        refused = await two.call("leave", {"conversation_id": 5})
        assert not refused["ok"] and refused["error"]["code"] == "invalid_payload"
        refused = await two.call("leave", {"conversation_id": third})
        assert not refused["ok"] and refused["error"]["code"] == "not_found"

        # The second visitor ends the chat: abandoned, the agents hear it, the third moves up
        # (in both its tabs).
        left = await two.ok("leave", {"conversation_id": second})
        assert left["status"] == "resolved" and left["agent_id"] is None
        await status_seen(ada, second, "resolved")
        await position(three, third, 1)
        await position(other_tab, third, 1)
        refused = await two.call("leave", {"conversation_id": second})
        assert not refused["ok"] and refused["error"]["code"] == "conflict"

        # One tab closed of two: still waiting, well past the grace period.
        await three.close()
        await asyncio.sleep(GRACE * 2.5)
        found = await routed.kit.store.get_conversation(third)  # type: ignore[attr-defined]
        assert found is not None and found.status == "queued"
        # The last closed: abandoned after the grace period.
        await other_tab.close()
        started = time.monotonic()
        await status_seen(ada, third, "resolved")
        assert time.monotonic() - started >= GRACE * 0.9
        events = await routed.kit.store.list_events(  # type: ignore[attr-defined]
            conversation_id=third)
        resolved = [e for e in events if e.kind == "conversation.resolved"]
        assert [e.data["how"] for e in resolved] == ["gone"]
    finally:
        for client in clients:
            await client.close()


async def test_a_reload_within_the_grace_period_keeps_the_place(routed: TestServer) -> None:
    visitor, _, conversation_id = await queued(routed, 1)
    token = (await visitor.ok("resume", {"since_seq": 0}))["token"]
    await visitor.close()
    await asyncio.sleep(GRACE / 3)
    reloaded = Visitor(routed)
    try:
        resumed = await reloaded.start(token)
        assert resumed["queue"]["position"] == 1
        await asyncio.sleep(GRACE * 2.5)
        found = await routed.kit.store.get_conversation(  # type: ignore[attr-defined]
            conversation_id)
        assert found is not None and found.status == "queued"
    finally:
        await reloaded.close()


async def test_a_handoff_says_where_the_visitor_stands(start_server: Start,
                                                     tmp_path: Path) -> None:
    # A staffed team whose chats wait to be picked: the handoff is queued, not sent to the
    # offline form, and stays in line.
    path = tmp_path / "routing.yaml"
    path.write_text("teams: [{id: support, strategy: manual}]\n", encoding="utf-8")
    server = await start_server(bot_enabled=True, routing_path=path)
    await server.kit.agents.create(  # type: ignore[attr-defined]
        email="ada@example.com", name="Ada", password=PASSWORD, role=AgentRole.AGENT)
    ada = AgentClient(server)
    await ada.login("ada@example.com", PASSWORD)
    await ada.ok("presence", {"status": "online"})
    visitor = Visitor(server)
    try:
        await visitor.start()
        await visitor.say("hello", "m-1")
        handed = await visitor.ok("handoff", {})
        assert handed["status"] == "queued"
        wait = await visitor.next("queue_position")
        assert wait["conversation_id"] == handed["id"] and wait["position"] == 1
    finally:
        await visitor.close()
        await ada.close()
