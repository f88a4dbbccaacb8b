"""What agents see, over real Socket.IO connections: an agent only their teams'
conversations and their own; supervisors every one. And sockets follow their agent's teams
when an admin changes the routing configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.attachments import samples
from tests.attachments.http import download, upload
from tests.clients import AgentClient, Visitor
from tests.conftest import StartServer

ROUTING = """
default_team: support
teams:
  - {id: support, name: Support}
  - {id: billing, name: Billing, strategy: manual}
agents:
  ada@example.com: {teams: [support]}
  cy@example.com: {teams: [billing]}
  di@example.com: {teams: [billing]}
"""
PASSWORD = "a good password"
EVERY = {"status": ["bot", "queued", "assigned"]}


@pytest.fixture
async def server(start_server: StartServer, tmp_path: Path) -> AsyncIterator[TestServer]:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, routing_sweep_interval=0.05,
                                bot_enabled=True)
    kit = server.kit  # type: ignore[attr-defined]
    for name, role in [("ada", AgentRole.AGENT), ("cy", AgentRole.AGENT),
                       ("di", AgentRole.AGENT), ("sue", AgentRole.SUPERVISOR),
                       ("root", AgentRole.ADMIN)]:
        await kit.agents.create(email=f"{name}@example.com", name=name.title(),
                                password=PASSWORD, role=role)
    # Billing is staffed (Di is online; its chats wait to be picked), so a handoff to it is
    # queued rather than offered the offline form.
    di, _ = await connected(server, "di")
    await di.ok("presence", {"status": "online"})
    yield server
    await di.close()


async def connected(server: TestServer, name: str) -> tuple[AgentClient, str]:
    """An agent's console, connected but not online (so nothing is assigned to them)."""
    client = AgentClient(server)
    token = await client.login(f"{name}@example.com", PASSWORD)
    return client, token


async def billing_chat_with_a_file(server: TestServer) -> tuple[Visitor, str, str]:
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    uploaded = await upload(server, token, samples.png(), "invoice.png")
    assert uploaded.status == 201, uploaded.body
    attachment_id: str = uploaded.json()["id"]
    sent = await visitor.ok("message", {"client_id": "f-1", "attachment_ids": [attachment_id]})
    await visitor.ok("message", {"client_id": "h-1", "reply_to": {"seq": 1,
                                                                 "choice": "billing"}})
    # The bot hands it over in a turn of its own.
    while (await visitor.next("conversation"))["status"] != "queued":
        pass
    return visitor, sent["conversation_id"], attachment_id


async def listed(client: AgentClient) -> set[str]:
    return {c["id"] for c in (await client.ok("conversations", EVERY))["conversations"]}


async def test_an_agent_sees_only_their_teams_conversations(server: TestServer) -> None:
    ada, ada_token = await connected(server, "ada")
    cy, cy_token = await connected(server, "cy")
    sue, sue_token = await connected(server, "sue")
    visitor, conversation_id, attachment_id = await billing_chat_with_a_file(server)
    kit = server.kit  # type: ignore[attr-defined]
    assert (await kit.store.get_conversation(conversation_id)).queue_team == "billing"

    # Ada (support) cannot list, join, read the history or the files of a billing chat.
    assert conversation_id not in await listed(ada)
    for event, payload in [("join", {"conversation_id": conversation_id}),
                           ("history", {"conversation_id": conversation_id})]:
        ack = await ada.call(event, payload)
        assert ack["error"]["code"] == "forbidden", ack
        assert "another team" in ack["error"]["message"]
    refused = await download(server, attachment_id, ada_token)
    assert (refused.status, refused.error) == (403, "forbidden")
    assert (await kit.store.get_conversation(conversation_id)).agent_id is None

    # A supervisor sees it all; Cy (billing) too, and joins it.
    assert conversation_id in await listed(sue)
    page = await sue.ok("history", {"conversation_id": conversation_id})
    assert page["messages"][1]["meta"]["attachments"][0]["id"] == attachment_id
    assert (await download(server, attachment_id, sue_token)).status == 200
    assert conversation_id in await listed(cy)
    joined = await cy.ok("join", {"conversation_id": conversation_id})
    assert joined["conversation"]["agent_name"] == "Cy"
    assert (await download(server, attachment_id, cy_token)).status == 200

    # Cy hands it to support: now Ada's team's, and no longer Cy's to see.
    await cy.ok("transfer", {"conversation_id": conversation_id, "to_team": "support"})
    assert conversation_id in await listed(ada)
    assert (await ada.ok("history", {"conversation_id": conversation_id}))["messages"]
    assert (await download(server, attachment_id, ada_token)).status == 200
    assert conversation_id not in await listed(cy)
    ack = await cy.call("history", {"conversation_id": conversation_id})
    assert ack["error"]["code"] == "forbidden"
    # Nor does Cy's socket hear it any more.
    cy.pending("message")
    await visitor.say("still there?", "v-2")
    await asyncio.sleep(0.3)
    assert [m for m in cy.pending("message") if m["conversation_id"] == conversation_id] == []
    # Ada takes it; what is assigned to her she sees whatever its team.
    await ada.ok("join", {"conversation_id": conversation_id})
    for client in (ada, cy, sue, visitor):
        await client.close()


async def test_sockets_follow_their_agents_teams_when_the_routing_changes(
        server: TestServer) -> None:
    kit = server.kit  # type: ignore[attr-defined]
    ada, _ = await connected(server, "ada")
    first, first_id, _ = await billing_chat_with_a_file(server)
    assert conversation_events(ada, first_id) == []
    await asyncio.sleep(0.2)
    assert [q for q in ada.pending("queue") if q["team"] == "billing"] == []

    root = await kit.store.get_agent_by_email("root@example.com")
    stored = await kit.routing.current_config()
    document = {**stored.document, "agents": {
        **stored.document["agents"], "ada@example.com": {"teams": ["support", "billing"]}}}
    await kit.routing.replace_config(root, document, expected_version=stored.version)

    # Ada's socket is in billing's room now: she hears its queue and its conversations.
    second, second_id, _ = await billing_chat_with_a_file(server)
    while await ada.next("queue") != {"team": "billing", "length": 2}:
        pass
    while (await ada.next("conversation"))["id"] != second_id:
        pass
    assert {first_id, second_id} <= await listed(ada)

    # Out of billing again: the room is left, the conversations are no longer hers to see.
    stored = await kit.routing.current_config()
    await kit.routing.replace_config(
        root, {**stored.document, "agents": {"di@example.com": {"teams": ["billing"]}}},
        expected_version=stored.version)
    assert {first_id, second_id} & await listed(ada) == set()
    ada.pending("queue")
    third, _, _ = await billing_chat_with_a_file(server)
    await asyncio.sleep(0.3)
    assert [q for q in ada.pending("queue") if q["team"] == "billing"] == []
    ack = await ada.call("join", {"conversation_id": second_id})
    assert ack["error"]["code"] == "forbidden"
    for client in (ada, first, second, third):
        await client.close()


def conversation_events(client: AgentClient, conversation_id: str) -> list[object]:
    return [c for c in client.pending("conversation") if c["id"] == conversation_id]
