"""Every bad payload gets an error ack with a code and a message; nothing is stored or sent."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.clients import PREFIX, AgentClient, Visitor
from tests.realtime.test_delivery import stored_bodies

BAD_VISITOR_MESSAGES: list[Any] = [
    {},
    {"body": "no client id"},
    {"client_id": "c-1"},
    {"client_id": "", "body": "empty client id"},
    {"client_id": "c" * 65, "body": "client id too long"},
    {"client_id": "c-1", "body": ""},
    {"client_id": "c-1", "body": "   \n\t "},
    {"client_id": "c-1", "body": "x" * 4001},
    {"client_id": 7, "body": "client id not a string"},
    {"client_id": "c-1", "body": ["not", "a", "string"]},
    {"client_id": "c-1", "body": "hi", "sender": "agent"},
    {"client_id": "c-1", "body": "nul \x00 inside"},
    {"client_id": "c-\x00", "body": "nul in the client id"},
    "just a string",
    ["a", "list"],
    42,
]


@pytest.mark.parametrize("payload", BAD_VISITOR_MESSAGES)
async def test_bad_visitor_message_is_rejected_and_nothing_stored(
        server: TestServer, agent: AgentClient, payload: Any) -> None:
    visitor = Visitor(server)
    await visitor.start()
    good = await visitor.say("the one good message", "good")
    await agent.ok("join", {"conversation_id": good["conversation_id"]})
    agent.pending("message")

    ack = await visitor.call("message", payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert ack["error"]["message"]

    await asyncio.sleep(0.1)
    assert agent.pending("message") == []
    assert await stored_bodies(server.kit.settings.database_url,  # type: ignore[attr-defined]
                               good["conversation_id"]) == [(1, "the one good message")]
    await visitor.close()


async def test_error_names_the_field(server: TestServer, visitor: Visitor) -> None:
    await visitor.start()
    ack = await visitor.call("message", {"client_id": "c-1", "body": "   "})
    assert ack["error"]["message"] == "body: must not be only whitespace"
    ack = await visitor.call("resume", {"since_seq": "5"})
    assert ack["error"]["code"] == "invalid_payload" and "since_seq" in ack["error"]["message"]
    ack = await visitor.call("resume", {"since_seq": -1})
    assert "since_seq" in ack["error"]["message"]
    ack = await visitor.call("history", {"conversation_id": "x", "limit": 500})
    assert "limit" in ack["error"]["message"]


async def test_unknown_events_get_an_error(server: TestServer, visitor: Visitor,
                                          agent: AgentClient) -> None:
    await visitor.start()
    ack = await visitor.call("join", {"conversation_id": "x"})  # an agent's event
    assert ack["error"]["code"] == "unknown_event"
    ack = await agent.call("handoff", {})
    assert ack["error"]["code"] == "unknown_event"


async def test_first_message_without_a_conversation_is_validated_first(
        server: TestServer, visitor: Visitor) -> None:
    """A rejected first message must not even start a conversation."""
    await visitor.start()
    ack = await visitor.call("message", {"client_id": "c-1", "body": ""})
    assert ack["ok"] is False
    resumed = await visitor.ok("resume")
    assert resumed["conversation"] is None


@pytest.mark.parametrize(("event", "payload", "code"), [
    ("join", {"conversation_id": "no-such-conversation"}, "not_found"),
    ("join", {}, "invalid_payload"),
    ("message", {"conversation_id": "never-joined", "client_id": "a", "body": "hi"},
     "conflict"),
    ("resolve", {"conversation_id": "no-such-conversation"}, "not_found"),
    ("conversations", {"status": ["resolved"]}, "invalid_payload"),
    ("conversations", {"status": []}, "invalid_payload"),
    ("conversations", {"limit": 0}, "invalid_payload"),
    ("history", {"conversation_id": "no-such-conversation"}, "not_found"),
])
async def test_bad_agent_events(agent: AgentClient, event: str, payload: Any,
                                code: str) -> None:
    ack = await agent.call(event, payload)
    assert ack["ok"] is False and ack["error"]["code"] == code


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"not json", 400, "invalid_payload"),
    (b"[1, 2]", 400, "invalid_payload"),
    (b'{"email": "ada@example.com"}', 400, "invalid_payload"),
    (b'{"email": "ada@example.com", "password": "wrong password"}', 401,
     "invalid_credentials"),
    (b'{"email": "nobody@example.com", "password": "correct horse"}', 401,
     "invalid_credentials"),
])
async def test_login_rejects_bad_requests(server: TestServer, body: bytes, status: int,
                                          code: str) -> None:
    url = f"http://{server.host}:{server.port}{PREFIX}/api/agents/login"
    async with aiohttp.ClientSession() as http, http.post(
            url, data=body, headers={"Content-Type": "application/json"}) as response:
        assert response.status == status
        assert (await response.json())["error"]["code"] == code


async def test_agent_namespace_needs_a_token(server: TestServer) -> None:
    for auth in ({}, {"token": "nonsense"}, {"token": 5}):
        client = AgentClient(server)
        with pytest.raises(Exception, match="failed to connect"):
            await client.connect(auth)
        assert client.connect_error["code"] == "invalid_token"


async def test_an_oversized_frame_closes_the_connection_and_stores_nothing(
        server: TestServer, visitor: Visitor) -> None:
    from chatkit.realtime.server import MAX_FRAME

    await visitor.start()
    first = await visitor.say("before", "c-1")
    await visitor.sio.emit("message", {"client_id": "c-2", "body": "x" * MAX_FRAME},
                           namespace="/visitor")
    for _ in range(50):
        if not visitor.sio.connected:
            break
        await asyncio.sleep(0.1)
    assert not visitor.sio.connected
    assert await stored_bodies(server.kit.settings.database_url,  # type: ignore[attr-defined]
                               first["conversation_id"]) == [(1, "before")]


async def test_an_undecodable_frame_harms_no_one_else(
        server: TestServer, caplog: pytest.LogCaptureFixture) -> None:
    bystander = Visitor(server)
    await bystander.start()
    attacker = Visitor(server)
    await attacker.start()
    # python-socketio's client writes JSON with the stdlib, which escapes a lone surrogate;
    # the server's JSON decoder refuses it.
    ack = await attacker.call("message", {"client_id": "c-1", "body": "\ud800"})
    assert ack == {"ok": False, "error": {"code": "invalid_payload",
                                          "message": "the event is not valid JSON"}}
    sent = await bystander.say("still working", "b-1")
    assert sent["seq"] == 1
    assert (await attacker.ok("resume"))["conversation"] is None  # nothing was stored
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    await attacker.close()
    await bystander.close()
