"""Tags, canned responses (REST and the agent event, with variables) and resolve reasons."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from chatkit.desk.canned import expand, variables
from chatkit.models import Agent, AgentRole, Contact, Conversation, ConversationStatus
from tests.clients import PREFIX
from tests.desk.conftest import chat_with, close, login, token_of


async def test_tags_are_validated_shown_logged_and_listed(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    sue = await login(desk, "sue")
    tagged = await ada.ok("tags", {"conversation_id": conversation_id,
                                   "add": ["refund", "vip-2"]})
    assert tagged == {"conversation_id": conversation_id, "tags": ["refund", "vip-2"]}
    heard = await sue.next("tags")  # supervisors hear of every conversation
    assert heard == {"conversation_id": conversation_id, "tags": ["refund", "vip-2"]}
    for bad in ({"conversation_id": conversation_id, "add": ["Has Space"]},
                {"conversation_id": conversation_id, "add": ["<b>"]},
                {"conversation_id": conversation_id, "add": ["x" * 33]},
                {"conversation_id": conversation_id},
                {"conversation_id": conversation_id, "add": ["a"], "remove": ["a"]},
                {"conversation_id": conversation_id, "add": "refund"}):
        assert (await ada.call("tags", bad))["error"]["code"] == "invalid_payload", bad
    # At most ten: eleven is refused and changes nothing.
    ack = await ada.call("tags", {"conversation_id": conversation_id,
                                  "add": [f"t{i}" for i in range(9)]})
    assert ack["error"]["code"] == "invalid_payload" and "10" in ack["error"]["message"]
    untagged = await ada.ok("tags", {"conversation_id": conversation_id, "remove": ["vip-2"]})
    assert untagged["tags"] == ["refund"]
    # Shown in the list and the conversation; listed by tag.
    listed = await ada.ok("conversations", {"tag": "refund"})
    assert [c["id"] for c in listed["conversations"]] == [conversation_id]
    assert listed["tags"] == {conversation_id: ["refund"]}
    assert (await ada.ok("conversations", {"tag": "vip-2"}))["conversations"] == []
    joined = await ada.ok("join", {"conversation_id": conversation_id})
    assert joined["tags"] == ["refund"]
    events = await desk.kit.store.list_events(conversation_id=conversation_id)  # type: ignore[attr-defined]
    assert [(e.kind, e.data) for e in events if "tagged" in e.kind] == [
        ("conversation.tagged", {"tag": "refund"}), ("conversation.tagged", {"tag": "vip-2"}),
        ("conversation.untagged", {"tag": "vip-2"})]
    cy = await login(desk, "cy")  # another team's agent may not tag it
    ack = await cy.call("tags", {"conversation_id": conversation_id, "add": ["x"]})
    assert ack["error"]["code"] == "forbidden"
    await close(ada, sue, cy, visitor)


async def test_resolve_takes_a_reason_from_the_set(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    for bad in ("fixed", "", 3, None):
        ack = await ada.call("resolve", {"conversation_id": conversation_id, "reason": bad})
        if bad is None:  # null is "no reason", but the conversation stays ours for now
            continue
        assert ack["error"]["code"] == "invalid_payload"
    conversation = await desk.kit.store.get_conversation(conversation_id)  # type: ignore[attr-defined]
    assert conversation.status == "resolved"  # the null one resolved it
    events = await desk.kit.store.list_events(conversation_id=conversation_id)  # type: ignore[attr-defined]
    assert [e.data["reason"] for e in events if e.kind == "conversation.resolved"] == [None]
    second, second_id = await chat_with(desk, ada)
    resolved = await ada.ok("resolve", {"conversation_id": second_id, "reason": "no_response"})
    assert resolved["status"] == "resolved"
    events = await desk.kit.store.list_events(conversation_id=second_id)  # type: ignore[attr-defined]
    assert [e.data["reason"] for e in events if e.kind == "conversation.resolved"] == [
        "no_response"]
    await close(ada, visitor, second)


async def _api(server: TestServer, method: str, path: str, token: str | None,
               body: Any = None) -> tuple[int, Any]:
    url = f"http://{server.host}:{server.port}{PREFIX}/api/canned{path}"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.request(
            method, url, json=body, headers=headers) as response:
        return response.status, (None if response.status == 204 else await response.json())


async def test_canned_responses_rest_api(desk: TestServer) -> None:
    ada, bo, root = [await token_of(desk, n) for n in ("ada", "bo", "root")]
    assert (await _api(desk, "GET", "", None))[0] == 401
    # Shared: admins only.
    status, body = await _api(desk, "POST", "", ada, {"shortcut": "hello", "title": "Hi",
                                                      "body": "Hello!", "shared": True})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, shared = await _api(desk, "POST", "", root, {
        "shortcut": "hello", "title": "Greeting", "body": "Hi {{contact.first_name}}!",
        "shared": True})
    assert status == 201 and shared["shared"] is True and shared["owner_id"] is None
    status, body = await _api(desk, "POST", "", root, {"shortcut": "hello", "title": "Again",
                                                       "body": "x", "shared": True})
    assert (status, body["error"]["code"]) == (409, "conflict")
    # Personal: the same shortcut as a shared one is fine, once per agent.
    status, mine = await _api(desk, "POST", "", ada, {"shortcut": "hello", "title": "Mine",
                                                      "body": "Hey {{contact.name}}"})
    assert status == 201 and mine["shared"] is False
    assert (await _api(desk, "POST", "", ada, {"shortcut": "hello", "title": "Twice",
                                               "body": "x"}))[0] == 409
    assert (await _api(desk, "POST", "", bo, {"shortcut": "hello", "title": "Bo's",
                                              "body": "Yo"}))[0] == 201
    for bad in ({"shortcut": "Bad Shortcut", "title": "t", "body": "b"},
                {"shortcut": "ok", "title": "", "body": "b"},
                {"shortcut": "ok", "title": "t" * 101, "body": "b"},
                {"shortcut": "ok", "title": "t", "body": "b" * 4001},
                {"shortcut": "ok", "title": "t", "body": "   "},
                {"shortcut": "ok", "title": "t", "body": "b", "owner_id": "x"},
                {"shortcut": "ok", "title": "t"}):
        status, body = await _api(desk, "POST", "", ada, bad)
        assert (status, body["error"]["code"]) == (400, "invalid_payload"), bad
    # Each agent lists the shared ones and their own.
    status, listed = await _api(desk, "GET", "", ada)
    assert [(c["shortcut"], c["title"]) for c in listed["canned"]] == [("hello", "Greeting"),
                                                                       ("hello", "Mine")]
    # Bo may not touch Ada's (not found) nor the shared one (forbidden).
    assert (await _api(desk, "PATCH", f"/{mine['id']}", bo, {"title": "x"}))[0] == 404
    assert (await _api(desk, "DELETE", f"/{shared['id']}", bo))[0] == 403
    assert (await _api(desk, "PATCH", f"/{mine['id']}", ada, {}))[0] == 400
    status, changed = await _api(desk, "PATCH", f"/{mine['id']}", ada,
                                 {"shortcut": "hey", "title": "Mine too"})
    assert status == 200 and (changed["shortcut"], changed["title"]) == ("hey", "Mine too")
    status, changed = await _api(desk, "PATCH", f"/{shared['id']}", root, {"body": "Hello!"})
    assert status == 200 and changed["body"] == "Hello!"
    assert (await _api(desk, "DELETE", f"/{mine['id']}", ada))[0] == 204
    assert (await _api(desk, "DELETE", f"/{mine['id']}", ada))[0] == 404


async def test_the_canned_event_expands_variables_as_text(desk: TestServer) -> None:
    root = await token_of(desk, "root")
    await _api(desk, "POST", "", root, {
        "shortcut": "hello", "title": "Greeting", "shared": True,
        "body": "Hi {{contact.first_name}}, I'm {{agent.first_name}} ({{ agent.name }}). "
                "Mail: {{contact.email}}. Ref {{conversation.id}}. {{contact.shoe_size}}"})
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    found = (await ada.ok("canned", {"conversation_id": conversation_id}))["canned"]
    assert found[0]["body"] == (
        f"Hi there, I'm Ada (Ada Person). Mail: your email address. Ref {conversation_id}. "
        "{{contact.shoe_size}}")
    # A visitor who calls themselves with markup and a variable: text, filled in once.
    await visitor.ok("identify", {"id": "u-1", "email": "grace@example.com",
                                  "name": "<img src=x onerror=alert(1)> {{agent.name}}"})
    found = (await ada.ok("canned", {"conversation_id": conversation_id}))["canned"]
    assert found[0]["body"].startswith("Hi <img, I'm Ada")
    assert "Mail: grace@example.com." in found[0]["body"]
    cy = await login(desk, "cy")
    assert (await cy.call("canned", {"conversation_id": conversation_id}))["error"]["code"] == \
        "forbidden"
    await close(ada, cy, visitor)


def test_expansion_is_one_pass_over_known_names() -> None:
    contact = Contact("c", "<b>Grace</b> Hopper {{agent.name}}", None, 0)
    agent = Agent("a", "ada@example.com", "Ada", AgentRole.AGENT, "", 0)
    conversation = Conversation("v", "c", ConversationStatus.ASSIGNED, "a", "Ada", 1, 0, None,
                                None, None)
    values = variables(contact=contact, agent=agent, conversation=conversation)
    assert expand("{{contact.name}}|{{contact.first_name}}|{{x.y}}|{{ contact.email }}|{{a}}",
                  values) == ("<b>Grace</b> Hopper {{agent.name}}|<b>Grace</b>|{{x.y}}|"
                              "your email address|{{a}}")
    blank = variables(contact=None, agent=agent, conversation=conversation)
    assert expand("Hi {{contact.name}}, {{agent.first_name}} here", blank) == "Hi there, Ada here"
