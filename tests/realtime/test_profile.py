"""The visitor's self-service profile and the contact history, over real Socket.IO
connections: a verified visitor reads and corrects their details; every change, whoever made
it, is in the contact's history; the agents who may see the contact hear of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer
from tests.realtime.test_identity import IDENTITY_SECRET, sign

ROUTING = """
default_team: support
teams:
  - {id: support, name: Support}
  - {id: billing, name: Billing}
agents:
  ada@example.com: {teams: [support]}
  cy@example.com: {teams: [billing]}
"""
PASSWORD = "a good password"
DEFAULTS = {"language": None, "transcript_by_email": False, "replies_by_email": False}


@pytest.fixture
async def server(start_server: StartServer, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, identity_secret=IDENTITY_SECRET)
    for name, role in [("ada", AgentRole.AGENT), ("cy", AgentRole.AGENT),
                       ("sue", AgentRole.SUPERVISOR)]:
        await server.kit.agents.create(  # type: ignore[attr-defined]
            email=f"{name}@example.com", name=name.title(), password=PASSWORD, role=role)
    return server


async def console(server: TestServer, name: str) -> AgentClient:
    client = AgentClient(server)
    await client.login(f"{name}@example.com", PASSWORD)
    return client


@pytest.fixture
async def verified(server: TestServer) -> AsyncIterator[Visitor]:
    visitor = Visitor(server)
    await visitor.start()
    await visitor.ok("identify", {"id": "user-42", "name": "Grace",
                                  "email": "grace@example.com", "hash": sign("user-42")})
    yield visitor
    await visitor.close()


def store(server: TestServer) -> Any:
    return server.kit.store  # type: ignore[attr-defined]


async def contact_id_of(visitor: Visitor) -> str:
    return str((await visitor.ok("resume", {}))["contact_id"])


async def test_a_verified_visitor_reads_and_corrects_their_details(
        server: TestServer, verified: Visitor) -> None:
    assert await verified.ok("profile") == {"name": "Grace", "email": "grace@example.com",
                                            "phone": None, "preferences": DEFAULTS}
    saved = await verified.ok("update_profile", {
        "email": "grace@example.org", "phone": "+34 600 123 456",
        "preferences": {"language": "es", "transcript_by_email": True}})
    assert saved == {"name": "Grace", "email": "grace@example.org", "phone": "+34 600 123 456",
                     "preferences": {**DEFAULTS, "language": "es",
                                     "transcript_by_email": True}}
    assert await verified.ok("profile") == saved
    contact = await store(server).get_contact(await contact_id_of(verified))
    assert (contact.email, contact.phone) == ("grace@example.org", "+34 600 123 456")
    # null removes: the phone goes, the language goes back to the page's.
    again = await verified.ok("update_profile", {"phone": None,
                                                 "preferences": {"language": None}})
    assert again["phone"] is None and again["preferences"]["language"] is None
    assert again["preferences"]["transcript_by_email"] is True


@pytest.mark.parametrize("payload,field", [
    ({"email": "grace at example"}, "email"),
    ({"email": "grace@localhost"}, "email"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"phone": "call me"}, "phone"),
    ({"phone": "+1 23"}, "phone"),
    ({"phone": "1" * 16}, "phone"),
    ({"preferences": {"language": "not a language!"}}, "preferences.language"),
    ({"preferences": {"transcript_by_email": "yes"}}, "preferences.transcript_by_email"),
    ({"preferences": {"colour": "blue"}}, "preferences.colour"),
    ({"verified": False}, "verified"),
    ({}, "payload"),
])
async def test_bad_details_are_refused_and_change_nothing(
        server: TestServer, verified: Visitor, payload: dict[str, Any], field: str) -> None:
    contact_id = await contact_id_of(verified)
    before = await store(server).get_contact(contact_id)
    history = await store(server).contact_history(contact_id)
    # A valid field beside the bad one is not applied either: all or nothing.
    refused = await verified.call("update_profile",
                                  {"email": "new@example.com", **payload} if payload else {})
    assert not refused["ok"] and refused["error"]["code"] == "invalid_payload", refused
    assert field in refused["error"]["fields"], refused
    assert await store(server).get_contact(contact_id) == before
    assert await store(server).contact_history(contact_id) == history


async def test_an_unverified_visitor_may_not_see_or_change_details(server: TestServer) -> None:
    anonymous, claimed = Visitor(server), Visitor(server)
    await anonymous.start()
    await claimed.start()
    # An unsigned claim (the page said so, the site's server did not sign it).
    await claimed.ok("identify", {"id": "user-42", "name": "Mallory"})
    for visitor in (anonymous, claimed):
        contact_id = await contact_id_of(visitor)
        before = await store(server).get_contact(contact_id)
        for event, payload in [("profile", {}), ("update_profile", {"name": "Eve"})]:
            refused = await visitor.call(event, payload)
            assert not refused["ok"], refused
            error = refused["error"]
            assert error["code"] == "forbidden" and error["reason"] == "unverified"
            assert "verified" in error["message"]
        assert await store(server).get_contact(contact_id) == before
        await visitor.close()


async def test_the_history_has_every_change_and_who_made_it(
        server: TestServer, verified: Visitor) -> None:
    await verified.ok("attributes", {"attributes": {"plan": "pro"}})
    sent = await verified.say("My email is wrong", "v-1")
    await verified.ok("update_profile", {"email": "grace@example.org"})
    ada = await console(server, "ada")
    contact_id = await contact_id_of(verified)
    agent_id = (await ada.ok("join", {"conversation_id": sent["conversation_id"]}))[
        "conversation"]["agent_id"]
    fixed = await ada.ok("update_contact", {"contact_id": contact_id, "phone": "555 0100"})
    assert fixed["id"] == contact_id and fixed["phone"] == "555 0100"
    got = await ada.ok("contact_history", {"contact_id": contact_id})
    assert not got["has_more"]
    changes = [(c["field"], c["old"], c["new"], c["actor_kind"], c["actor_id"], c["via"])
               for c in got["changes"]]
    assert changes == [
        ("phone", None, "555 0100", "agent", agent_id, "agent"),
        ("email", "grace@example.com", "grace@example.org", "visitor", contact_id, "profile"),
        ("attributes.plan", None, "pro", "host", "user-42", "attributes"),
        # identify: the device's anonymous contact became the verified one
        ("verified", False, True, "host", "user-42", "identify"),
        ("name", None, "Grace", "host", "user-42", "identify"),
        ("external_id", None, "user-42", "host", "user-42", "identify"),
        ("email", None, "grace@example.com", "host", "user-42", "identify")]
    assert all(isinstance(c["created_at"], int) and c["contact_id"] == contact_id
               for c in got["changes"])
    # Paged, newest first.
    first = await ada.ok("contact_history", {"contact_id": contact_id, "limit": 2})
    assert first["has_more"] and first["changes"] == got["changes"][:2]
    rest = await ada.ok("contact_history", {"contact_id": contact_id,
                                            "before_id": first["changes"][-1]["id"]})
    assert rest["changes"] == got["changes"][2:]
    await ada.close()


async def test_agents_who_may_see_the_contact_are_told_and_may_read_its_history(
        server: TestServer, verified: Visitor) -> None:
    ada, cy, sue = [await console(server, name) for name in ("ada", "cy", "sue")]
    sent = await verified.say("Hello", "v-1")  # queued for support (no bot): Ada's team
    contact_id = await contact_id_of(verified)
    await verified.ok("update_profile", {"name": "Grace Hopper",
                                         "preferences": {"replies_by_email": True}})
    for agent in (ada, sue):
        told = await agent.next("contact")
        assert told["contact"]["id"] == contact_id
        assert told["contact"]["name"] == "Grace Hopper"
        assert told["contact"]["preferences"]["replies_by_email"] is True
        assert [c["field"] for c in told["changes"]] == ["name",
                                                         "preferences.replies_by_email"]
    # Cy (billing) may not see the conversation: not told, and no history for them.
    assert cy.pending("contact") == []
    refused = await cy.call("contact_history", {"contact_id": contact_id})
    assert not refused["ok"] and refused["error"]["code"] == "forbidden"
    refused = await cy.call("update_contact", {"contact_id": contact_id, "name": "Eve"})
    assert not refused["ok"] and refused["error"]["code"] == "forbidden"
    assert (await store(server).get_contact(contact_id)).name == "Grace Hopper"
    # The supervisor always may; and agents' lists carry the new details.
    assert (await sue.ok("contact_history", {"contact_id": contact_id}))["changes"]
    listed = await ada.ok("conversations")
    assert listed["contacts"][contact_id]["name"] == "Grace Hopper"
    # An agent's own change reaches the others, not their own console.
    await ada.ok("join", {"conversation_id": sent["conversation_id"]})
    await ada.ok("update_contact", {"contact_id": contact_id, "phone": "555 0100"})
    assert (await sue.next("contact"))["changes"][0]["actor_kind"] == "agent"
    assert ada.pending("contact") == []
    # A change that changes nothing tells nobody.
    await verified.ok("update_profile", {"name": "Grace Hopper"})
    await verified.ok("profile")
    assert sue.pending("contact") == []
    missing = await sue.call("contact_history", {"contact_id": "nobody"})
    assert not missing["ok"] and missing["error"]["code"] == "not_found"
    for agent in (ada, cy, sue):
        await agent.close()


async def test_the_preferred_language_is_the_conversations(start_server: StartServer) -> None:
    server = await start_server(identity_secret=IDENTITY_SECRET, bot_enabled=True)
    spanish_page, english_page = Visitor(server), Visitor(server)
    await spanish_page.connect({})
    await spanish_page.ok("resume", {"locale": "es"})
    greeting_es = (await spanish_page.say("Hola", "s-1"))
    await english_page.connect({})
    await english_page.ok("resume", {"locale": "en"})
    await english_page.ok("identify", {"id": "user-7", "hash": sign("user-7")})
    await english_page.ok("update_profile", {"preferences": {"language": "es"}})
    await english_page.say("Hola", "e-1")
    first = lambda resumed: resumed["messages"][0]  # noqa: E731 - the bot's greeting
    es = first(await spanish_page.ok("resume", {}))
    preferred = first(await english_page.ok("resume", {}))
    assert preferred["sender"] == "bot" and preferred["body"] == es["body"]
    assert greeting_es["conversation_id"] != preferred["conversation_id"]
    for visitor in (spanish_page, english_page):
        await visitor.close()


async def test_the_host_sites_identify_and_attributes_reach_agents_in_a_chat(
        server: TestServer) -> None:
    ada, sue = [await console(server, name) for name in ("ada", "sue")]
    visitor = Visitor(server)
    await visitor.start()
    # No conversation yet: a page view's identify and attributes are logged, nobody is told.
    await visitor.ok("identify", {"id": "user-9", "name": "Lin"})
    await visitor.ok("attributes", {"attributes": {"plan": "free"}})
    contact_id = await contact_id_of(visitor)
    assert len((await store(server).contact_history(contact_id))[0]) == 3
    await visitor.say("Hello", "v-1")  # queued for support: Ada's team
    await sue.ok("conversations")
    assert sue.pending("contact") == [] and ada.pending("contact") == []
    # In a chat, the next page's changes reach who may see it, with the host as the actor.
    await visitor.ok("attributes", {"attributes": {"plan": "pro"}})
    for agent in (ada, sue):
        told = await agent.next("contact")
        assert told["contact"]["id"] == contact_id
        assert told["contact"]["attributes"] == {"plan": "pro"}
        assert [(c["field"], c["old"], c["new"], c["actor_kind"], c["via"])
                for c in told["changes"]] == [("attributes.plan", "free", "pro", "host",
                                               "attributes")]
    await visitor.ok("identify", {"id": "user-9", "name": "Lin Wu"})
    assert [c["field"] for c in (await sue.next("contact"))["changes"]] == ["name"]
    # The same again changes nothing and tells nobody.
    await visitor.ok("identify", {"id": "user-9", "name": "Lin Wu"})
    await visitor.ok("attributes", {"attributes": {"plan": "pro"}})
    await sue.ok("conversations")
    assert sue.pending("contact") == []
    for client in (ada, sue, visitor):
        await client.close()
