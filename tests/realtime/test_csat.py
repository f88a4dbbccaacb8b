"""CSAT over real Socket.IO: the visitor rates a conversation an agent resolved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from chatkit.models import CSAT_RATED
from chatkit.storage import SqlStore
from tests.clients import AgentClient, Visitor

PASSWORD = "a good password"
Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def routed(start_server: Start, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text("teams: [{id: support, strategy: manual}]\n"
                    "agents: {ada@example.com: {teams: [support]}}\n", encoding="utf-8")
    server = await start_server(routing_path=path)
    await server.kit.agents.create(  # type: ignore[attr-defined]
        email="ada@example.com", name="Ada", password=PASSWORD, role=AgentRole.AGENT)
    return server


def store_of(server: TestServer) -> SqlStore:
    store: SqlStore = server.kit.conversations.store  # type: ignore[attr-defined]
    return store


async def reload(server: TestServer, token: str) -> dict[str, Any]:
    """What a reload of the widget learns."""
    tab = Visitor(server)
    try:
        return await tab.start(token)
    finally:
        await tab.close()


def refused(ack: dict[str, Any], code: str) -> None:
    assert not ack["ok"] and ack["error"]["code"] == code, ack


async def test_resolved_by_an_agent_the_visitor_rates_it(routed: TestServer) -> None:
    ada, visitor, stranger = AgentClient(routed), Visitor(routed), Visitor(routed)
    try:
        await ada.login("ada@example.com", PASSWORD)
        await ada.ok("presence", {"status": "online"})
        token = (await visitor.start())["token"]
        conversation_id = (await visitor.say("My invoice is wrong", "v-1"))["conversation_id"]
        # Not resolved yet: nothing to rate.
        refused(await visitor.call("rate", {"conversation_id": conversation_id, "rating": 4}),
                "conflict")
        await ada.ok("join", {"conversation_id": conversation_id})
        await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                                 "body": "Fixed it."})
        await ada.ok("resolve", {"conversation_id": conversation_id})

        # A reload asks again: the resumed session names the conversation awaiting a rating.
        await visitor.close()
        visitor = Visitor(routed)
        resumed = await visitor.start(token)
        assert resumed["conversation"] is None
        assert resumed["csat"] == {"conversation_id": conversation_id, "agent_name": "Ada"}

        # Bad input changes nothing.
        for bad in ({"conversation_id": conversation_id, "rating": 6},
                    {"conversation_id": conversation_id, "rating": 0},
                    {"conversation_id": conversation_id, "rating": "4"},
                    {"conversation_id": conversation_id, "rating": 4.0},
                    {"conversation_id": conversation_id, "rating": 4, "comment": "x" * 1001},
                    {"conversation_id": conversation_id, "rating": 4, "comment": "a\x00b"},
                    {"conversation_id": conversation_id, "rating": 4, "extra": 1}):
            refused(await visitor.call("rate", bad), "invalid_payload")
        # Someone else's conversation is not theirs to rate.
        await stranger.start()
        refused(await stranger.call("rate", {"conversation_id": conversation_id, "rating": 1}),
                "not_found")
        store = store_of(routed)
        assert await store.get_csat(conversation_id) is None

        rated = await visitor.ok("rate", {"conversation_id": conversation_id, "rating": 4,
                                          "comment": "  Quick, thanks  "})
        assert (rated["rating"], rated["comment"]) == (4, "Quick, thanks")
        told = await ada.next("csat")
        assert (told["conversation_id"], told["rating"], told["comment"], told["team"]) == (
            conversation_id, 4, "Quick, thanks", "support")
        assert told["agent_id"] == (await store.get_agent_by_email("ada@example.com")).id  # type: ignore[union-attr]
        assert (await visitor.next("csat"))["rating"] == 4  # the visitor's other tabs

        stored = await store.get_csat(conversation_id)
        assert stored is not None and (stored.rating, stored.team) == (4, "support")
        [event] = [e for e in await store.list_events(conversation_id=conversation_id)
                   if e.kind == CSAT_RATED]
        assert (event.data["rating"], event.data["team"], event.actor_id) == (
            4, "support", resumed["contact_id"])

        # Answered: not asked again; the console sees it with the transcript.
        assert (await reload(routed, token))["csat"] is None
        history = await ada.ok("history", {"conversation_id": conversation_id})
        assert history["csat"]["rating"] == 4 and history["csat"]["comment"] == "Quick, thanks"

        # A second rating replaces the first.
        await visitor.ok("rate", {"conversation_id": conversation_id, "rating": 2})
        assert (await ada.next("csat"))["rating"] == 2
        stored = await store.get_csat(conversation_id)
        assert stored is not None and (stored.rating, stored.comment) == (2, None)
        assert (await store.csat_summary(team="support")).ratings == 1
    finally:
        for client in (ada, visitor, stranger):
            await client.close()


async def test_abandoned_in_the_queue_is_not_rated(routed: TestServer) -> None:
    visitor = Visitor(routed)
    try:
        token = (await visitor.start())["token"]
        conversation_id = (await visitor.say("hello?", "v-1"))["conversation_id"]
        await visitor.ok("leave", {"conversation_id": conversation_id})
        refused(await visitor.call("rate", {"conversation_id": conversation_id, "rating": 1}),
                "conflict")
        assert (await reload(routed, token))["csat"] is None
        assert await store_of(routed).get_csat(conversation_id) is None
    finally:
        await visitor.close()


async def test_a_conversation_with_the_bot_is_not_rated(start_server: Start) -> None:
    server = await start_server(bot_enabled=True)
    visitor = Visitor(server)
    try:
        await visitor.start()
        sent = await visitor.say("hello", "v-1")
        refused(await visitor.call("rate", {"conversation_id": sent["conversation_id"],
                                            "rating": 5}), "conflict")
        assert not [e for e in await store_of(server).list_events() if e.kind == CSAT_RATED]
    finally:
        await visitor.close()
