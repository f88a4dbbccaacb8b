"""Identity verification over real Socket.IO connections: the host site signs its user's id."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from chatkit.identity import identity_hash
from tests.clients import AgentClient, Visitor
from tests.conftest import AGENT_EMAIL, AGENT_PASSWORD, StartServer

IDENTITY_SECRET = "host-site-shared-secret"


def sign(user_id: str, secret: str = IDENTITY_SECRET) -> str:
    # What the host site's server does, written out independently of chatkit's helper.
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


async def start(start_server: StartServer, **overrides: object) -> TestServer:
    server = await start_server(**{"identity_secret": IDENTITY_SECRET, **overrides})
    await server.kit.agents.create(email=AGENT_EMAIL, name="Ada",  # type: ignore[attr-defined]
                                   password=AGENT_PASSWORD, role=AgentRole.AGENT)
    return server


def test_the_helper_computes_what_the_host_site_does() -> None:
    assert identity_hash(IDENTITY_SECRET, "user-42") == sign("user-42")


async def test_a_good_signature_verifies(start_server: StartServer) -> None:
    server = await start(start_server)
    visitor = Visitor(server)
    await visitor.start()
    got = await visitor.ok("identify", {"id": "user-42", "name": "Grace",
                                        "email": "grace@example.com", "hash": sign("user-42")})
    assert got["verified"] is True and got["token"] and got["contact_id"]
    contact = await server.kit.store.get_contact(got["contact_id"])  # type: ignore[attr-defined]
    assert contact.verified and contact.external_id == "user-42" and contact.name == "Grace"
    await visitor.close()


@pytest.mark.parametrize("overrides,signature", [
    ({}, sign("user-43")),                                  # someone else's signature
    ({}, sign("user-42", "another secret entirely")),       # another site's secret
    ({"identity_secret": None}, sign("user-42")),           # no secret: nothing verifies
    ({}, None),                                             # no signature at all
])
async def test_anything_else_is_kept_unverified(start_server: StartServer,
                                                overrides: dict[str, Any],
                                                signature: str | None) -> None:
    server = await start(start_server, **overrides)
    visitor = Visitor(server)
    resumed = await visitor.start()
    payload = {"id": "user-42", "name": "Mallory"}
    if signature is not None:
        payload["hash"] = signature
    got = await visitor.ok("identify", payload)
    # Stored on the visitor's own contact, marked unverified, merged with nobody.
    assert got["verified"] is False and got["contact_id"] == resumed["contact_id"]
    contact = await server.kit.store.get_contact(got["contact_id"])  # type: ignore[attr-defined]
    assert not contact.verified and contact.external_id == "user-42"
    await visitor.close()


async def test_an_unverified_claim_is_never_merged_with_the_verified_contact(
        start_server: StartServer) -> None:
    server = await start(start_server)
    owner, pretender = Visitor(server), Visitor(server)
    await owner.start()
    verified = await owner.ok("identify", {"id": "user-42", "hash": sign("user-42")})
    await owner.say("my card number is private", "o-1")
    await pretender.start()
    claimed = await pretender.ok("identify", {"id": "user-42"})
    assert claimed["contact_id"] != verified["contact_id"] and not claimed["verified"]
    resumed = await pretender.ok("resume", {})
    assert resumed["conversation"] is None and resumed["messages"] == []
    # And a claim made with the verified contact's own token cannot change it.
    refused = await owner.call("identify", {"id": "user-666", "name": "Eve"})
    assert not refused["ok"] and refused["error"]["code"] == "forbidden"
    await owner.close()
    await pretender.close()


async def test_a_verified_contact_keeps_its_history_across_devices(
        start_server: StartServer) -> None:
    server = await start(start_server)
    laptop, phone = Visitor(server), Visitor(server)
    laptop_start = await laptop.start()
    await laptop.ok("identify", {"id": "user-42", "hash": sign("user-42")})
    sent = await laptop.say("Order 1234 has not arrived", "l-1")
    # Another device: its own anonymous token, then the same signed identity.
    phone_start = await phone.start()
    assert phone_start["token"] != laptop_start["token"]
    got = await phone.ok("identify", {"id": "user-42", "hash": sign("user-42")})
    assert got["changed"] is True
    resumed = await phone.ok("resume", {})
    assert resumed["conversation"]["id"] == sent["conversation_id"]
    assert [m["body"] for m in resumed["messages"]] == ["Order 1234 has not arrived"]
    # Both devices are now one contact: the phone's message reaches the laptop live.
    from_phone = await phone.say("Any news?", "p-1")
    assert from_phone["conversation_id"] == sent["conversation_id"]
    assert await laptop.next("message") == from_phone
    # The token the phone got names the verified contact: a reconnect needs no identify.
    await phone.close()
    again = Visitor(server)
    back = await again.start(got["token"])
    assert [m["body"] for m in back["messages"]] == ["Order 1234 has not arrived", "Any news?"]
    await laptop.close()
    await again.close()


async def test_the_conversation_open_on_a_device_follows_the_login(
        start_server: StartServer) -> None:
    server = await start(start_server)
    visitor, agent = Visitor(server), AgentClient(server)
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    before = await visitor.start()
    sent = await visitor.say("I have a question before logging in", "v-1")
    assert (await agent.next("conversation"))["contact_id"] == before["contact_id"]
    # Another device of the same user verified first: its contact exists already.
    other = Visitor(server)
    await other.start()
    verified = await other.ok("identify", {"id": "user-7", "hash": sign("user-7")})
    got = await visitor.ok("identify", {"id": "user-7", "hash": sign("user-7")})
    assert got["contact_id"] == verified["contact_id"] != before["contact_id"]
    resumed = await visitor.ok("resume", {})
    assert resumed["contact_id"] == got["contact_id"]
    assert resumed["conversation"]["id"] == sent["conversation_id"]
    # The agents learn whose it is now; so does the user's other device.
    moved = await agent.next("conversation")
    assert (moved["id"], moved["contact_id"]) == (sent["conversation_id"], got["contact_id"])
    assert (await other.next("conversation"))["id"] == sent["conversation_id"]
    for client in (visitor, other, agent):
        await client.close()


async def test_require_verified_identity(start_server: StartServer) -> None:
    server = await start(start_server, require_verified_identity=True)
    anonymous, claimed, verified = Visitor(server), Visitor(server), Visitor(server)
    contacts = [(await visitor.start())["contact_id"] for visitor in (anonymous, claimed,
                                                                     verified)]
    refused = await anonymous.call("message", {"client_id": "a-1", "body": "hi"})
    assert not refused["ok"] and refused["error"]["code"] == "identity_required"
    refused = await anonymous.call("leave_message", {"client_id": "a-2", "body": "hi",
                                                     "email": "a@example.com"})
    assert not refused["ok"] and refused["error"]["code"] == "identity_required"
    await claimed.ok("identify", {"id": "user-1", "hash": sign("user-2")})
    refused = await claimed.call("message", {"client_id": "c-1", "body": "hi"})
    assert not refused["ok"] and refused["error"]["code"] == "identity_required"
    await verified.ok("identify", {"id": "user-1", "hash": sign("user-1")})
    sent = await verified.say("hello, verified", "v-1")
    assert sent["body"] == "hello, verified"
    # Nothing was stored for the refused ones.
    store = server.kit.store  # type: ignore[attr-defined]
    for contact_id in contacts[:2]:
        assert await store.open_conversation_for(contact_id) is None
    for visitor in (anonymous, claimed, verified):
        await visitor.close()


async def test_a_verified_token_may_send_after_a_reconnect(start_server: StartServer) -> None:
    server = await start(start_server, require_verified_identity=True)
    visitor = Visitor(server)
    await visitor.start()
    token = (await visitor.ok("identify", {"id": "user-1", "hash": sign("user-1")}))["token"]
    await visitor.close()
    again = Visitor(server)
    await again.start(token)
    assert (await again.say("back again", "v-1"))["body"] == "back again"
    await again.close()


async def test_attributes_reach_the_agent(start_server: StartServer) -> None:
    server = await start(start_server)
    visitor, agent = Visitor(server), AgentClient(server)
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    await visitor.start()
    await visitor.ok("identify", {"id": "user-42", "name": "Grace", "email": "g@example.com",
                                  "hash": sign("user-42")})
    got = await visitor.ok("attributes", {"attributes": {"plan": "pro", "seats": 3,
                                                         "trial": False, "mrr": 49.5}})
    assert got["attributes"] == {"plan": "pro", "seats": 3, "trial": False, "mrr": 49.5}
    sent = await visitor.say("Help", "v-1")
    listed = await agent.ok("conversations")
    contact = listed["contacts"][sent["contact_id"] if "contact_id" in sent
                                 else listed["conversations"][0]["contact_id"]]
    assert contact == {"name": "Grace", "email": "g@example.com", "external_id": "user-42",
                       "verified": True,
                       "attributes": {"plan": "pro", "seats": 3, "trial": False, "mrr": 49.5},
                       "phone": None, "preferences": {"language": None,
                                                      "transcript_by_email": False,
                                                      "replies_by_email": False}}
    kinds = [e.kind for e in await server.kit.store.list_events()]  # type: ignore[attr-defined]
    assert "contact.verified" in kinds and "contact.attributes" in kinds
    await visitor.close()
    await agent.close()


@pytest.mark.parametrize("event,payload", [
    ("identify", {}),
    ("identify", {"id": ""}),
    ("identify", {"id": 42}),
    ("identify", {"id": "u", "hash": "not-hex"}),
    ("identify", {"id": "u", "email": "not an email"}),
    ("identify", {"id": "u", "extra": 1}),
    ("identify", {"id": "x" * 201}),
    ("attributes", {"attributes": {}}),
    ("attributes", {"attributes": {"nested": {"a": 1}}}),
    ("attributes", {"attributes": {"list": [1, 2]}}),
    ("attributes", {"attributes": {"bad key": 1}}),
    ("attributes", {"attributes": {"long": "x" * 1001}}),
    ("attributes", {"attributes": {f"k{n}": n for n in range(51)}}),
    ("attributes", {"attributes": {"huge": 2**60}}),
    ("attributes", ["plan", "pro"]),
])
async def test_bad_identities_and_attributes_are_refused(
        start_server: StartServer, event: str, payload: Any) -> None:
    server = await start(start_server)
    visitor = Visitor(server)
    resumed = await visitor.start()
    refused = await visitor.call(event, payload)
    assert not refused["ok"] and refused["error"]["code"] == "invalid_payload", refused
    contact = await server.kit.store.get_contact(resumed["contact_id"])  # type: ignore[attr-defined]
    assert contact.external_id is None and contact.attributes == {}
    await visitor.close()
