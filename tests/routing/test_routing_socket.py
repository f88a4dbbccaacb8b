"""Routing end to end: real Socket.IO clients, a real server, short timers."""

from __future__ import annotations

import asyncio
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
  - {id: billing, name: Billing, skills: [billing], strategy: least_busy}
  - {id: vip, name: VIP desk, strategy: manual}
agents:
  ada@example.com: {teams: [support], capacity: 1}
  bo@example.com: {teams: [support, billing], skills: [billing], capacity: 2}
  cy@example.com: {teams: [billing], skills: [billing, spanish], capacity: 2}
  ed@example.com: {teams: [billing], capacity: 2}   # lacks the skill: never assigned billing
  di@example.com: {teams: [vip, support], capacity: 1}
"""
PASSWORD = "a good password"
# Short, for the test of an offer running out; long enough that an agent under a loaded CI
# machine still accepts in time where a test means them to.
ACCEPT_TIMEOUT = 2.0
NAMES = ("ada", "bo", "cy", "di")

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def routed(start_server: Start, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, accept_timeout=ACCEPT_TIMEOUT,
                                disconnect_grace=0.3,
                                routing_sweep_interval=0.05, bot_enabled=True)
    for name in NAMES:
        await server.kit.agents.create(  # type: ignore[attr-defined]
            email=f"{name}@example.com", name=name.title(), password=PASSWORD,
            role=AgentRole.AGENT)
    return server


async def online(server: TestServer, name: str, *, presence: str = "online") -> AgentClient:
    client = AgentClient(server)
    await client.login(f"{name}@example.com", PASSWORD)
    ack = await client.ok("presence", {"status": presence})
    assert ack["presence"] == presence
    return client


async def handoff(server: TestServer, team: str | None = None) -> tuple[Visitor, str]:
    """A visitor who asks for a person (from the bot's menu, for a team)."""
    visitor = Visitor(server)
    await visitor.start()
    if team is None:
        sent = await visitor.say("I want to talk to a human please", "h-1")
    else:
        sent = await visitor.ok("message", {"client_id": "h-1",
                                            "reply_to": {"seq": 1, "choice": team}})
    return visitor, sent["conversation_id"]


async def assignment(agent: AgentClient, conversation_id: str) -> dict[str, Any]:
    while (offer := (await agent.next("assignment"))["conversation"])["id"] != conversation_id:
        pass
    found: dict[str, Any] = offer
    return found


async def close(*clients: AgentClient | Visitor) -> None:
    for client in clients:
        await client.close()


async def test_a_handoff_goes_to_an_online_agent_of_its_team(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    cy = await online(routed, "cy")
    visitor, conversation_id = await handoff(routed, "billing")
    offer = await assignment(cy, conversation_id)
    assert (offer["status"], offer["agent_name"], offer["queue_team"]) == ("assigned", "Cy",
                                                                           "billing")
    assert offer["accept_deadline"] is not None
    # Accepting is joining: the transcript comes with it and the offer no longer runs out.
    joined = await cy.ok("join", {"conversation_id": conversation_id})
    assert joined["conversation"]["accept_deadline"] is None
    assert [m["sender"] for m in joined["messages"]] == ["bot", "visitor", "bot"]
    # Ada (support) heard nothing of a billing chat.
    await asyncio.sleep(0.2)
    assert ada.pending("assignment") == []
    assert [c for c in ada.pending("conversation") if c["id"] == conversation_id] == []
    while (changed := await visitor.next("conversation"))["status"] != "assigned":
        pass
    assert changed["agent_name"] == "Cy"
    await close(ada, cy, visitor)


async def test_capacity_is_respected_and_resolving_frees_a_place(routed: TestServer) -> None:
    ada = await online(routed, "ada")  # capacity 1
    first, first_id = await handoff(routed)
    await assignment(ada, first_id)
    await ada.ok("join", {"conversation_id": first_id})
    second, second_id = await handoff(routed)
    queue = await ada.next("queue")
    while queue["length"] != 1:
        queue = await ada.next("queue")
    assert queue["team"] == "support"
    listed = await ada.ok("queue")
    assert [c["id"] for c in listed["conversations"]] == [second_id]
    # Taking it by hand is refused too: she is at capacity.
    ack = await ada.call("join", {"conversation_id": second_id})
    assert ack["error"]["code"] == "conflict" and "capacity" in ack["error"]["message"]
    await ada.ok("resolve", {"conversation_id": first_id})
    await assignment(ada, second_id)
    await close(ada, first, second)


async def test_an_offer_not_accepted_moves_on_to_the_next_agent(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    visitor, conversation_id = await handoff(routed)
    await assignment(ada, conversation_id)
    bo = await online(routed, "bo")
    # Ada does not accept in time: Bo gets it, and Ada is set away.
    offer = await assignment(bo, conversation_id)
    assert offer["agent_name"] == "Bo"
    while (await ada.next("presence"))["presence"] != "away":
        pass
    ack = await ada.call("message", {"conversation_id": conversation_id, "client_id": "x",
                                     "body": "too late"})
    assert ack["error"]["code"] == "conflict"
    await bo.ok("join", {"conversation_id": conversation_id})
    await asyncio.sleep(ACCEPT_TIMEOUT + 0.2)  # past the timeout: accepted chats stay
    conversation = await routed.kit.store.get_conversation(conversation_id)  # type: ignore[attr-defined]
    assert conversation.agent_name == "Bo" and conversation.status == "assigned"
    await close(ada, bo, visitor)


async def test_a_gone_agent_s_chats_go_back_to_the_front(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    first, first_id = await handoff(routed)
    await assignment(ada, first_id)
    await ada.ok("join", {"conversation_id": first_id})
    second, second_id = await handoff(routed)  # waits: Ada is full
    await ada.close()
    # After the grace period Ada is offline and her chat is first in line again.
    store = routed.kit.store  # type: ignore[attr-defined]
    for _ in range(100):
        waiting = await store.queue("support")
        if len(waiting) == 2:
            break
        await asyncio.sleep(0.05)
    assert [c.id for c in waiting] == [first_id, second_id]
    presence = await store.get_presence([waiting[0].agent_id or (
        await store.get_agent_by_email("ada@example.com")).id])
    assert [p.presence for p in presence.values()] == ["offline"]
    # The next agent to come online gets the front of the queue first.
    bo = await online(routed, "bo")
    assert (await bo.next("assignment"))["conversation"]["id"] == first_id
    await close(bo, first, second)


async def test_reconnecting_within_the_grace_period_keeps_the_chat(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    visitor, conversation_id = await handoff(routed)
    await assignment(ada, conversation_id)
    await ada.ok("join", {"conversation_id": conversation_id})
    await ada.close()
    again = AgentClient(routed)
    await again.login("ada@example.com", PASSWORD)
    await asyncio.sleep(0.6)
    joined = await again.ok("join", {"conversation_id": conversation_id})
    assert joined["conversation"]["agent_name"] == "Ada"
    await close(again, visitor)


async def test_a_manual_team_s_agents_pick_from_its_queue(routed: TestServer) -> None:
    kit = routed.kit  # type: ignore[attr-defined]
    di = await online(routed, "di")
    ada = await online(routed, "ada")
    visitor, conversation_id = await handoff(routed)
    # Transferred to the manual VIP desk by Ada: nobody is assigned, Di picks it.
    await assignment(ada, conversation_id)
    await ada.ok("join", {"conversation_id": conversation_id})
    moved = await ada.ok("transfer", {"conversation_id": conversation_id, "to_team": "vip",
                                      "note": "asks about the gold plan"})
    assert (moved["status"], moved["queue_team"], moved["agent_id"]) == ("queued", "vip", None)
    await asyncio.sleep(0.2)
    assert (await kit.store.get_conversation(conversation_id)).status == "queued"
    ack = await ada.call("pick", {"conversation_id": conversation_id})
    assert ack["error"]["code"] == "forbidden"  # not in the VIP team
    picked = await di.ok("pick", {})
    assert picked["conversation"]["id"] == conversation_id
    assert picked["conversation"]["agent_name"] == "Di"
    note = next(m for m in picked["messages"] if m["internal"])
    assert note["meta"]["note"] == "asks about the gold plan" and note["sender"] == "system"
    # The visitor saw that they were being transferred, never the note.
    page = await visitor.ok("history", {"conversation_id": conversation_id})
    assert not any(m["internal"] for m in page["messages"])
    assert "transferred" in page["messages"][-1]["body"]
    seen = [m["body"] for m in visitor.pending("message")]
    assert not any("gold plan" in body for body in seen)
    # Picking again: Di is at capacity (1), and the queue is empty anyway.
    ack = await di.call("pick", {})
    assert ack["error"]["code"] == "not_found"
    await close(di, ada, visitor)


async def test_transfer_to_an_agent_who_sees_the_whole_history(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    visitor, conversation_id = await handoff(routed)
    await assignment(ada, conversation_id)
    await ada.ok("join", {"conversation_id": conversation_id})
    await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a1",
                             "body": "Let me look."})
    cy = await online(routed, "cy")
    cy_id = (await routed.kit.store.get_agent_by_email("cy@example.com")).id  # type: ignore[attr-defined]
    ack = await ada.call("transfer", {"conversation_id": conversation_id,
                                      "to_agent_id": cy_id, "to_team": "billing"})
    assert ack["error"]["code"] == "invalid_payload"
    moved = await ada.ok("transfer", {"conversation_id": conversation_id,
                                      "to_agent_id": cy_id, "note": "refund, order 42"})
    assert moved["agent_name"] == "Cy" and moved["accept_deadline"] is not None
    await assignment(cy, conversation_id)
    joined = await cy.ok("join", {"conversation_id": conversation_id})
    bodies = [m["body"] for m in joined["messages"]]
    assert "Let me look." in bodies and any("refund, order 42" in b for b in bodies)
    # Ada is no longer in it.
    ack = await ada.call("message", {"conversation_id": conversation_id, "client_id": "a2",
                                     "body": "still me?"})
    assert ack["error"]["code"] == "conflict"
    # An offline agent cannot be given it.
    ada_id = (await routed.kit.store.get_agent_by_email("ada@example.com")).id  # type: ignore[attr-defined]
    await ada.ok("presence", {"status": "away"})
    ack = await cy.call("transfer", {"conversation_id": conversation_id, "to_agent_id": ada_id})
    assert ack["error"]["code"] == "conflict"
    await close(ada, cy, visitor)


async def test_routing_events_are_validated(routed: TestServer) -> None:
    ada = await online(routed, "ada")
    for event, payload in [("presence", {"status": "offline"}), ("presence", {}),
                           ("pick", {"conversation_id": 5}),
                           ("transfer", {"conversation_id": "x"}),
                           ("transfer", {"conversation_id": "x", "to_team": "a b c" * 50}),
                           ("queue", {"team": "billing", "extra": 1})]:
        ack = await ada.call(event, payload)
        assert ack["error"]["code"] == "invalid_payload", (event, payload, ack)
    ack = await ada.call("queue", {"team": "billing"})
    assert ack["error"]["code"] == "forbidden"
    ack = await ada.call("transfer", {"conversation_id": "missing", "to_team": "billing"})
    assert ack["error"]["code"] == "not_found"
    await close(ada)


async def test_the_directory_lists_teams_and_agents_with_their_presence(
        routed: TestServer) -> None:
    ada = await online(routed, "ada")
    bo = await online(routed, "bo", presence="away")
    try:
        directory = await ada.ok("directory", {})
        assert directory["teams"] == [
            {"id": "support", "name": "Support", "open": True},
            {"id": "billing", "name": "Billing", "open": True},
            {"id": "vip", "name": "VIP desk", "open": True}]
        agents = {a["name"]: a for a in directory["agents"]}
        assert [a["name"] for a in directory["agents"]] == ["Ada", "Bo", "Cy", "Di"]
        assert agents["Ada"]["presence"] == "online" and agents["Ada"]["teams"] == ["support"]
        assert agents["Bo"]["presence"] == "away"
        assert agents["Bo"]["teams"] == ["support", "billing"]
        assert agents["Cy"]["presence"] == "offline" and agents["Cy"]["role"] == "agent"
        assert set(agents["Di"]) == {"id", "name", "role", "teams", "presence"}  # no email
        bad = await ada.call("directory", {"team": "support"})
        assert bad["error"]["code"] == "invalid_payload"
    finally:
        await ada.close()
        await bo.close()
