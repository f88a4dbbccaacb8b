"""The CRM panel over real Socket.IO connections, after a real bot handoff: who the visitor
is, their past conversations and how they ended, the page and browser, what the bot tried,
and the CRM's part; who may see it; a chat that goes on while the CRM is down; outcomes
written back when a conversation is resolved."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestServer

from chatkit import AgentRole, ChatKit
from chatkit.crm import CRM_OUTCOME, HttpCRMAdapter
from chatkit.settings import Settings
from tests.bot.conftest import ANSWERED, ENTRIES, FLOW, UNKNOWN
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer
from tests.crm.crm_server import FakeCRMState, crm_app

PASSWORD = "a good password"
PAGE = "https://shop.example.com/cart?step=2"
ROUTING = """
default_team: support
teams:
  - {id: support, name: Support, strategy: manual}
  - {id: billing, name: Billing, strategy: manual}
agents:
  ada@example.com: {teams: [support]}
  cy@example.com: {teams: [billing]}
"""
_ids = itertools.count(1)


@pytest.fixture
def bot_files(tmp_path: Path) -> dict[str, Path]:
    paths = {"kb_path": tmp_path / "kb.yaml", "bot_path": tmp_path / "bot.yaml",
             "routing_path": tmp_path / "routing.yaml"}
    paths["kb_path"].write_text(yaml.safe_dump({"entries": [
        e.model_dump(mode="json", exclude_defaults=True) for e in ENTRIES]},
        allow_unicode=True), encoding="utf-8")
    paths["bot_path"].write_text(yaml.safe_dump(FLOW, allow_unicode=True), encoding="utf-8")
    paths["routing_path"].write_text(ROUTING, encoding="utf-8")
    return paths


Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def start(start_server: StartServer, make_settings: Callable[..., Settings],
                bot_files: dict[str, Path]) -> AsyncIterator[Start]:
    """chatkit with the bot on and Ada (support) online; Cy is in billing."""
    opened: list[AgentClient] = []

    async def go(**kit_options: Any) -> TestServer:
        kit = ChatKit(make_settings(bot_enabled=True, routing_sweep_interval=0.05,
                                    **bot_files), **kit_options)
        server = await start_server(kit)
        for name in ("ada", "cy"):
            await kit.agents.create(email=f"{name}@example.com", name=name.title(),
                                    password=PASSWORD, role=AgentRole.AGENT)
        ada = await agent(server, "ada")
        await ada.ok("presence", {"status": "online"})
        opened.append(ada)
        return server

    yield go
    for client in opened:
        await client.close()


async def agent(server: TestServer, name: str) -> AgentClient:
    client = AgentClient(server)
    await client.login(f"{name}@example.com", PASSWORD)
    return client


async def say(visitor: Visitor, body: str) -> dict[str, Any]:
    return await visitor.say(body, f"v-{next(_ids)}")


async def until_status(visitor: Visitor, status: str) -> dict[str, Any]:
    while (conversation := await visitor.next("conversation"))["status"] != status:
        pass
    return conversation


async def eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    for _ in range(100):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("it never happened")


async def test_the_panel_after_a_bot_handoff(start: Start) -> None:
    server = await start()
    kit: ChatKit = server.kit  # type: ignore[attr-defined]
    visitor = Visitor(server)
    await visitor.connect()
    await visitor.ok("resume", {"page": PAGE})
    await visitor.ok("identify", {"id": "user-42", "name": "Grace", "email": "g@example.com"})
    await visitor.ok("attributes", {"attributes": {"plan": "Pro", "seats": 12}})
    # A first conversation, handed over and left in the queue (abandoned).
    first = await say(visitor, "I want a human")
    await until_status(visitor, "queued")
    await visitor.ok("leave", {"conversation_id": first["conversation_id"]})
    await until_status(visitor, "resolved")
    # The second: an answer, a miss, then a person.
    sent = await say(visitor, ANSWERED)
    conversation_id = sent["conversation_id"]
    await say(visitor, UNKNOWN)
    await say(visitor, "let me talk to an agent please")
    await until_status(visitor, "queued")

    # Computed at handoff and kept: there before anyone asks.
    kept = await eventually(lambda: kit.store.get_conversation_context(conversation_id))
    ada = await agent(server, "ada")
    try:
        panel = await ada.ok("context", {"conversation_id": conversation_id})
        assert panel == kept[0]
        assert panel["contact"]["name"] == "Grace"
        assert panel["contact"]["external_id"] == "user-42"
        assert panel["contact"]["verified"] is False
        assert panel["contact"]["attributes"] == {"plan": "Pro", "seats": 12}
        assert panel["page"]["url"] == PAGE
        assert panel["page"]["user_agent"]  # the client's User-Agent header
        tried = panel["bot"]
        assert [q["text"] for q in tried["questions"]] == [
            ANSWERED, UNKNOWN, "let me talk to an agent please"]
        answer = tried["answers"][0]
        assert (answer["kind"], answer["entry_id"]) == ("answer", "shipping")
        assert 0 < answer["confidence"] <= 1
        assert "fallback" in [a["kind"] for a in tried["answers"]]
        assert tried["handoff"]["reason"] == "visitor_asked"
        (past,) = panel["history"]
        assert (past["id"], past["status"], past["reason"]) == (
            first["conversation_id"], "resolved", "abandoned")
        # The built-in CRM: chatkit's own contact and its attributes.
        assert panel["crm"]["status"] == "ok"
        assert panel["crm"]["context"]["plan"] == "Pro"
        assert panel["crm"]["context"]["fields"]["seats"] == 12

        # Bad input changes nothing; an agent of another team is refused.
        bad = await ada.call("context", {"conversation_id": conversation_id, "x": 1})
        assert bad["error"]["code"] == "invalid_payload"
        cy = await agent(server, "cy")
        refused = await cy.call("context", {"conversation_id": conversation_id})
        assert refused["error"]["code"] == "forbidden"
        missing = await cy.call("context", {"conversation_id": "nope"})
        assert missing["error"]["code"] == "not_found"
        await cy.close()

        # Resolving writes the outcome back (the built-in CRM logs it).
        await ada.ok("join", {"conversation_id": conversation_id})
        await ada.ok("resolve", {"conversation_id": conversation_id})

        async def outcome() -> list[Any]:
            events = await kit.store.list_events(conversation_id=conversation_id)
            return [e for e in events if e.kind == CRM_OUTCOME]

        (written,) = await eventually(outcome)
        assert written.data["status"] == "resolved"
        assert written.data["agent"]["name"] == "Ada"
        assert written.data["team"] == "support"
        assert written.data["contact"]["external_id"] == "user-42"
    finally:
        await ada.close()
        await visitor.close()


async def test_a_bad_page_is_refused(start: Start) -> None:
    server = await start()
    visitor = Visitor(server)
    await visitor.connect()
    try:
        for page in ("javascript:alert(1)", "https://x.example/\n", "https://" + "a" * 2000):
            refused = await visitor.call("resume", {"page": page})
            assert refused["error"]["code"] == "invalid_payload"
    finally:
        await visitor.close()


async def test_a_single_page_app_navigation_moves_the_page(start: Start) -> None:
    server = await start()
    kit: ChatKit = server.kit  # type: ignore[attr-defined]
    visitor = Visitor(server)
    await visitor.connect()
    try:
        # Before resume there is no contact: nothing is recorded (the resume carries it).
        assert await visitor.ok("page", {"page": "https://shop.example/early"}) == {}
        resumed = await visitor.ok("resume", {"page": PAGE})
        contact_id = resumed["contact_id"]
        assert (await kit.store.get_visitor_page(contact_id)).url == PAGE  # type: ignore[union-attr]
        moved = "https://shop.example/checkout?step=2"
        assert await visitor.ok("page", {"page": moved}) == {}
        assert (await kit.store.get_visitor_page(contact_id)).url == moved  # type: ignore[union-attr]
        for page in ("javascript:alert(1)", "https://x.example/\n", None, 42):
            refused = await visitor.call("page", {"page": page})
            assert refused["error"]["code"] == "invalid_payload"
        assert (await kit.store.get_visitor_page(contact_id)).url == moved  # type: ignore[union-attr]
    finally:
        await visitor.close()


@pytest.fixture
async def crm(aiohttp_server: Callable[..., Awaitable[TestServer]]
              ) -> tuple[FakeCRMState, TestServer]:
    state = FakeCRMState()
    return state, await aiohttp_server(crm_app(state))


async def test_the_chat_goes_on_while_the_crm_is_down(
        start: Start, crm: tuple[FakeCRMState, TestServer]) -> None:
    state, crm_server = crm
    state.mode, state.delay = "slow", 5
    adapter = HttpCRMAdapter(str(crm_server.make_url("/crm")), timeout=0.3,
                             failure_threshold=1, reset_after=0)
    server = await start(crm=adapter)
    visitor = Visitor(server)
    await visitor.connect()
    await visitor.ok("resume", {"page": PAGE})
    await visitor.ok("identify", {"id": "user-42"})
    ada = await agent(server, "ada")
    try:
        sent = await say(visitor, "agent please")
        conversation_id = sent["conversation_id"]
        await until_status(visitor, "queued")
        # Messages and the handoff go on; the agent joins and answers.
        await say(visitor, "still there?")
        await ada.ok("join", {"conversation_id": conversation_id})
        await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                                 "body": "Hello!"})
        panel = await ada.ok("context", {"conversation_id": conversation_id})
        assert panel["crm"]["status"] == "unavailable"
        assert "within 0.3 s" in panel["crm"]["reason"]
        assert panel["contact"]["external_id"] == "user-42"  # the rest is there

        # The CRM is back: a refresh asks it again.
        state.mode = "ok"
        panel = await ada.ok("context", {"conversation_id": conversation_id, "refresh": True})
        assert panel["crm"]["status"] == "ok"
        assert panel["crm"]["contact"]["id"] == "crm-42"
        assert panel["crm"]["context"]["plan"] == "Enterprise"
        # ... and the panel kept is the new one.
        assert await ada.ok("context", {"conversation_id": conversation_id}) == panel

        await ada.ok("resolve", {"conversation_id": conversation_id})
        (outcome,) = await eventually(lambda: asyncio.sleep(0, state.outcomes))
        assert outcome["conversation_id"] == conversation_id
        assert outcome["agent"]["name"] == "Ada"
        assert outcome["contact"]["external_id"] == "user-42"
        assert outcome["status"] == "resolved"
    finally:
        await ada.close()
        await visitor.close()


async def test_a_failing_write_back_never_delays_the_resolve(
        start: Start, crm: tuple[FakeCRMState, TestServer]) -> None:
    state, crm_server = crm
    state.mode = "fail"
    server = await start(crm=HttpCRMAdapter(str(crm_server.make_url("/crm")), timeout=1))
    visitor = Visitor(server)
    await visitor.connect()
    await visitor.ok("resume", {})
    ada = await agent(server, "ada")
    try:
        sent = await say(visitor, "agent please")
        await until_status(visitor, "queued")
        await ada.ok("join", {"conversation_id": sent["conversation_id"]})
        state.mode, state.delay = "slow", 5
        resolved = await asyncio.wait_for(
            ada.ok("resolve", {"conversation_id": sent["conversation_id"]}), 0.5)
        assert resolved["status"] == "resolved"
        assert state.outcomes == []
    finally:
        await ada.close()
        await visitor.close()
