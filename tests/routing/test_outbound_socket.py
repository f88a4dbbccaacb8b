"""Outbound end to end: an agent finds a known contact and starts a conversation with them
over Socket.IO; the visitor sees it on their next visit (HTTP at page load, then resume)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import PREFIX, AgentClient, Visitor

ROUTING = """
teams:
  - {id: support}
  - {id: sales}
agents:
  ada@example.com: {teams: [sales, support], capacity: 1}
"""
PASSWORD = "a good password"

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def chat(start_server: Start, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, bot_enabled=True)
    for name in ("ada", "bo"):
        await server.kit.agents.create(  # type: ignore[attr-defined]
            email=f"{name}@example.com", name=name.title(), password=PASSWORD,
            role=AgentRole.AGENT)
    return server


async def login(server: TestServer, name: str) -> AgentClient:
    client = AgentClient(server)
    await client.login(f"{name}@example.com", PASSWORD)
    return client


async def known_visitor(server: TestServer, email: str) -> tuple[str, str]:
    """A visitor who came before (their widget holds a token), whose email the business
    knows: (contact id, token)."""
    visitor = Visitor(server)
    resumed = await visitor.start()
    await visitor.close()
    contact_id, token = resumed["contact_id"], resumed["token"]
    store = server.kit.store  # type: ignore[attr-defined]
    from sqlalchemy import update

    from chatkit.storage import schema as t
    async with store._write() as conn:  # the CRM's part, not built yet: set the email
        await conn.execute(update(t.contacts).where(t.contacts.c.id == contact_id)
                           .values(email=email, name="Grace Hopper"))
    return contact_id, token


async def visitor_status(server: TestServer, token: str | None,
                         query: str = "") -> tuple[int, dict[str, Any]]:
    url = f"http://{server.host}:{server.port}{PREFIX}/api/widget/visitor{query}"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_an_agent_starts_a_conversation_the_visitor_sees_next_visit(
        chat: TestServer) -> None:
    contact_id, token = await known_visitor(chat, "grace@example.com")
    ada = await login(chat, "ada")
    found = await ada.ok("contacts", {"query": "GRACE@"})
    assert [(c["id"], c["email"], c["name"], c["open_conversation"])
            for c in found["contacts"]] == [(contact_id, "grace@example.com", "Grace Hopper",
                                             None)]
    started = await ada.ok("start", {"contact_id": contact_id, "client_id": "o-1",
                                     "body": "Hi Grace, your order shipped."})
    conversation = started["conversation"]
    assert (conversation["status"], conversation["agent_name"], conversation["contact_id"],
            conversation["accept_deadline"], conversation["queue_team"]) == (
        "assigned", "Ada", contact_id, None, "sales")
    assert [(m["seq"], m["sender"], m["body"]) for m in started["messages"]] == [
        (1, "agent", "Hi Grace, your order shipped.")]
    # A resend (the ack was lost) gets the same conversation, not a conflict.
    again = await ada.ok("start", {"contact_id": contact_id, "client_id": "o-1",
                                   "body": "Hi Grace, your order shipped."})
    assert again["conversation"]["id"] == conversation["id"]

    # Next visit: one HTTP request tells the widget there is something for the badge.
    status, seen = await visitor_status(chat, token)
    assert status == 200
    assert seen == {"conversation": {"id": conversation["id"], "status": "assigned",
                                     "agent_name": "Ada", "last_seq": 1,
                                     "visitor_read_seq": 0}, "unread": 1}
    visitor = Visitor(chat)
    resumed = await visitor.start(token)
    assert resumed["conversation"]["id"] == conversation["id"]
    assert [m["body"] for m in resumed["messages"]] == ["Hi Grace, your order shipped."]
    # The visitor answers; the agent's socket joined the conversation when it started it.
    await visitor.say("Thank you!", "v-1")
    heard = await ada.next("message")
    assert (heard["body"], heard["seq"]) == ("Thank you!", 2)
    await visitor.ok("read", {"seq": 2})
    assert (await visitor_status(chat, token))[1]["unread"] == 0
    # It is in the event log as outbound.
    events = await chat.kit.store.list_events(  # type: ignore[attr-defined]
        conversation_id=conversation["id"])
    assert ("conversation.created", "agent", True) in [
        (e.kind, e.actor_kind, e.data.get("outbound")) for e in events]
    await visitor.close()
    await ada.close()


async def test_an_open_conversation_is_a_conflict_naming_it(chat: TestServer) -> None:
    visitor = Visitor(chat)
    resumed = await visitor.start()
    sent = await visitor.say("hello", "v-1")  # a conversation with the bot
    ada = await login(chat, "ada")
    found = await ada.ok("contacts", {"query": resumed["contact_id"]})
    assert found["contacts"][0]["open_conversation"]["id"] == sent["conversation_id"]
    refused = await ada.call("start", {"contact_id": resumed["contact_id"],
                                       "client_id": "o-1", "body": "Hi"})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "conflict"
    assert refused["error"]["conversation_id"] == sent["conversation_id"]
    # The agent can open that one instead (join takes it over from the bot).
    joined = await ada.ok("join", {"conversation_id": sent["conversation_id"]})
    assert joined["conversation"]["agent_name"] == "Ada"
    await visitor.close()
    await ada.close()


async def test_capacity_is_respected(chat: TestServer) -> None:
    first, _ = await known_visitor(chat, "one@example.com")
    second, _ = await known_visitor(chat, "two@example.com")
    ada = await login(chat, "ada")  # capacity 1
    await ada.ok("start", {"contact_id": first, "client_id": "o-1", "body": "Hi"})
    refused = await ada.call("start", {"contact_id": second, "client_id": "o-2",
                                       "body": "Hi"})
    assert refused["error"]["code"] == "conflict"
    assert "capacity" in refused["error"]["message"]
    store = chat.kit.store  # type: ignore[attr-defined]
    assert await store.open_conversation_for(second) is None
    # Another agent (default capacity 3) can.
    bo = await login(chat, "bo")
    started = await bo.ok("start", {"contact_id": second, "client_id": "o-2", "body": "Hi"})
    assert started["conversation"]["agent_name"] == "Bo"
    assert started["conversation"]["queue_team"] == "support"  # bo's (the default) team
    await ada.close()
    await bo.close()


async def test_unknown_contacts_and_bad_payloads_change_nothing(chat: TestServer) -> None:
    ada = await login(chat, "ada")
    missing = await ada.call("start", {"contact_id": "nobody", "client_id": "o-1",
                                       "body": "Hi"})
    assert missing["error"]["code"] == "not_found"
    for bad in ({"contact_id": "x", "client_id": "o-1"},                      # no body
                {"contact_id": "x", "client_id": "o-1", "body": "   "},       # blank
                {"contact_id": "", "client_id": "o-1", "body": "Hi"},
                {"contact_id": "x" * 33, "client_id": "o-1", "body": "Hi"},
                {"contact_id": "x", "client_id": "o-1", "body": "Hi", "extra": 1},
                {"contact_id": 5, "client_id": "o-1", "body": "Hi"}):
        refused = await ada.call("start", bad)
        assert refused["error"]["code"] == "invalid_payload", bad
    for bad_query in ({}, {"query": ""}, {"query": "  "}, {"query": "a", "limit": 0},
                      {"query": "a", "limit": 51}, {"query": "x" * 321}):
        refused = await ada.call("contacts", bad_query)
        assert refused["error"]["code"] == "invalid_payload", bad_query
    assert await chat.kit.store.list_conversations(  # type: ignore[attr-defined]
        statuses={"bot", "queued", "assigned"}, limit=10) == []
    await ada.close()


async def test_the_visitor_status_route_needs_a_valid_token(chat: TestServer) -> None:
    assert (await visitor_status(chat, None))[0] == 401
    assert (await visitor_status(chat, "forged.token"))[0] == 401
    _, token = await known_visitor(chat, "x@example.com")
    assert await visitor_status(chat, token) == (200, {"conversation": None, "unread": 0})
    assert (await visitor_status(chat, token, "?x=1"))[0] == 400
    # An agent's token is not a visitor's.
    agent = AgentClient(chat)
    agent_token = await agent.login("ada@example.com", PASSWORD)
    assert (await visitor_status(chat, agent_token))[0] == 401
    await agent.close()


async def test_outbound_over_rest_for_programs(chat: TestServer) -> None:
    """GET /api/contacts and POST /api/conversations do what `contacts` and `start` do, with
    an agent's bearer token; their errors are JSON with the REST statuses."""
    contact_id, token = await known_visitor(chat, "grace@example.com")
    base = f"http://{chat.host}:{chat.port}{PREFIX}/api"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/agents/login", json={
                "email": "ada@example.com", "password": PASSWORD}) as response:
            bearer = {"Authorization": f"Bearer {(await response.json())['token']}"}

        async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
            async with http.request(method, f"{base}{path}", **kwargs) as response:
                return response.status, await response.json()

        assert (await call("GET", "/contacts?query=grace", headers=bearer))[1] == {
            "contacts": (await call("GET", "/contacts?query=GRACE@example", headers=bearer)
                         )[1]["contacts"]}
        status, found = await call("GET", "/contacts?query=grace&limit=5", headers=bearer)
        assert status == 200
        assert [(c["id"], c["email"]) for c in found["contacts"]] == [
            (contact_id, "grace@example.com")]
        for query, problem in [("", "query"), ("?query=%20", "query"),
                               ("?query=a&limit=0", "limit"), ("?query=a&query=b", "query"),
                               ("?query=a&extra=1", "extra")]:
            status, refused = await call("GET", f"/contacts{query}", headers=bearer)
            assert (status, refused["error"]["code"]) == (422, "invalid_query"), query
            assert problem in refused["error"]["message"]
        assert (await call("GET", "/contacts?query=grace"))[0] == 401

        start = {"contact_id": contact_id, "client_id": "crm-1", "body": "Your order shipped."}
        status, started = await call("POST", "/conversations", json=start, headers=bearer)
        assert status == 201
        conversation = started["conversation"]
        assert (conversation["status"], conversation["agent_name"],
                conversation["contact_id"]) == ("assigned", "Ada", contact_id)
        assert (started["message"]["seq"], started["message"]["body"]) == (
            1, "Your order shipped.")
        # A resend answers what the first one started; another start is a conflict naming it.
        status, again = await call("POST", "/conversations", json=start, headers=bearer)
        assert (status, again["conversation"]["id"]) == (201, conversation["id"])
        status, refused = await call("POST", "/conversations", headers=bearer,
                                     json={**start, "client_id": "crm-2"})
        assert (status, refused["error"]["code"]) == (409, "conflict")
        assert refused["error"]["conversation_id"] == conversation["id"]
        for payload, expected in [({**start, "client_id": "crm-3", "contact_id": "nobody"},
                                   (404, "not_found")),
                                  # Its client id is the first start's, for another contact.
                                  ({**start, "contact_id": "nobody"}, (409, "conflict")),
                                  ({**start, "body": " "}, (400, "invalid_payload")),
                                  ({"contact_id": contact_id}, (400, "invalid_payload"))]:
            status, refused = await call("POST", "/conversations", json=payload,
                                         headers=bearer)
            assert (status, refused["error"]["code"]) == expected, payload
        assert (await call("POST", "/conversations", json=start))[0] == 401

    # The visitor sees it on their next visit, as with the socket.
    visitor = Visitor(chat)
    resumed = await visitor.start(token)
    assert resumed["conversation"]["id"] == conversation["id"]
    assert [m["body"] for m in resumed["messages"]] == ["Your order shipped."]
    await visitor.close()
