"""The storage contract for outbound: finding contacts, an agent starting a conversation."""

from __future__ import annotations

import asyncio

import pytest

from chatkit.errors import Conflict, NotFound
from chatkit.models import AgentRole, ConversationStatus, NewMessage, SenderKind, now_ms
from chatkit.storage import SqlStore

S = ConversationStatus


def agent_says(agent_id: str, body: str, client_id: str) -> NewMessage:
    return NewMessage("", SenderKind.AGENT, body, client_id, agent_id, "Ada")


async def test_contacts_are_found_by_id_email_start_and_name_part(store: SqlStore) -> None:
    ada = await store.create_contact(name="Ada Lovelace", email="Ada@Example.com")
    bob = await store.create_contact(name="Bob", email="bob@example.com")
    await store.create_contact()  # anonymous: found by id only
    assert [c.id for c in await store.find_contacts(ada.id)] == [ada.id]
    assert [c.id for c in await store.find_contacts("ada@ex")] == [ada.id]
    assert [c.id for c in await store.find_contacts("LOVE")] == [ada.id]
    # Newest first among equals; the limit holds.
    assert [c.id for c in await store.find_contacts("example.com")] == []
    found = await store.find_contacts("o", limit=5)
    assert {c.id for c in found} == {ada.id, bob.id}
    assert len(await store.find_contacts("o", limit=1)) == 1
    # LIKE's wildcards are plain characters.
    assert await store.find_contacts("%") == []
    assert await store.find_contacts("_") == []


async def test_an_email_match_ranks_before_a_name_match(store: SqlStore) -> None:
    by_email = await store.create_contact(name="Zed", email="ann@example.com")
    by_name = await store.create_contact(name="Joanna", email="jo@example.com")
    assert [c.id for c in await store.find_contacts("ann")] == [by_email.id, by_name.id]


async def test_an_agent_starts_an_assigned_conversation_with_a_first_message(
        store: SqlStore) -> None:
    contact = await store.create_contact(email="ada@example.com")
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    now = now_ms()
    started = await store.start_outbound(contact.id, agent.id, capacity=2, queue_team="support",
                                         message=agent_says(agent.id, "Hi there", "c-1"),
                                         now=now)
    assert started is not None
    conversation, message, resent = started
    assert not resent
    assert (conversation.status, conversation.agent_id, conversation.agent_name) == (
        S.ASSIGNED, agent.id, "Ada")
    assert (conversation.contact_id, conversation.last_seq, conversation.queue_team) == (
        contact.id, 1, "support")
    assert conversation.assigned_at == now and conversation.accept_deadline is None
    assert (message.seq, message.sender, message.body) == (1, SenderKind.AGENT, "Hi there")
    assert await store.open_conversation_for(contact.id) == conversation
    events = await store.list_events(conversation_id=conversation.id)
    assert [(e.kind, e.actor_id, e.data.get("outbound")) for e in events] == [
        ("conversation.created", agent.id, True), ("conversation.assigned", agent.id, True)]
    assert (await store.agent_loads([agent.id]))[agent.id] == 1
    # The same client id again (a lost ack): what it started, nothing new.
    again = await store.start_outbound(contact.id, agent.id, capacity=2, queue_team="support",
                                       message=agent_says(agent.id, "Hi there", "c-1"),
                                       now=now_ms())
    assert again == (conversation, message, True)
    # That client id for another contact is no resend: refused, nothing started.
    other = await store.create_contact()
    with pytest.raises(Conflict, match="another message's"):
        await store.start_outbound(other.id, agent.id, capacity=2, queue_team="support",
                                   message=agent_says(agent.id, "Hi there", "c-1"),
                                   now=now_ms())
    assert await store.open_conversation_for(other.id) is None


async def test_outbound_refuses_a_contact_with_an_open_conversation(store: SqlStore) -> None:
    contact = await store.create_contact()
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    existing = await store.create_conversation(contact.id)
    with pytest.raises(Conflict) as refused:
        await store.start_outbound(contact.id, agent.id, capacity=3, queue_team=None,
                                   message=agent_says(agent.id, "Hi", "c-1"), now=now_ms())
    assert refused.value.details == {"conversation_id": existing.id}
    # Nothing changed: no message, no events of a second conversation, no load.
    assert (await store.agent_loads([agent.id]))[agent.id] == 0
    assert await store.open_conversation_for(contact.id) == existing
    # Resolved, the contact can be reached again.
    await store.transition(existing.id, S.RESOLVED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="system", actor_id=None)
    assert await store.start_outbound(contact.id, agent.id, capacity=3, queue_team=None,
                                      message=agent_says(agent.id, "Hi", "c-2"),
                                      now=now_ms()) is not None


async def test_outbound_respects_capacity_and_unknown_contacts(store: SqlStore) -> None:
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    first, second = await store.create_contact(), await store.create_contact()
    assert await store.start_outbound(first.id, agent.id, capacity=1, queue_team=None,
                                      message=agent_says(agent.id, "Hi", "c-1"),
                                      now=now_ms()) is not None
    assert await store.start_outbound(second.id, agent.id, capacity=1, queue_team=None,
                                      message=agent_says(agent.id, "Hi", "c-2"),
                                      now=now_ms()) is None
    assert await store.open_conversation_for(second.id) is None
    with pytest.raises(NotFound):
        await store.start_outbound("nobody", agent.id, capacity=5, queue_team=None,
                                   message=agent_says(agent.id, "Hi", "c-3"), now=now_ms())


async def test_racing_outbound_starts_never_pass_capacity(store: SqlStore,
                                                         store_url: str) -> None:
    """Six stores (as separate processes) start conversations for one agent of capacity 2
    with six contacts at once: exactly two succeed."""
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    contacts = [await store.create_contact() for _ in range(6)]
    stores = [SqlStore(store_url) for _ in contacts]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        results = await asyncio.gather(*(
            s.start_outbound(c.id, agent.id, capacity=2, queue_team=None,
                             message=agent_says(agent.id, "Hi", f"c-{n}"), now=now_ms())
            for n, (s, c) in enumerate(zip(stores, contacts, strict=True))))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert sum(r is not None for r in results) == 2
    assert (await store.agent_loads([agent.id]))[agent.id] == 2


async def test_racing_outbound_to_one_contact_opens_one_conversation(store: SqlStore,
                                                                     store_url: str) -> None:
    agents = [await store.create_agent(email=f"a{n}@example.com", name=f"A{n}",
                                       role=AgentRole.AGENT, password_hash="h")
              for n in range(4)]
    contact = await store.create_contact()
    stores = [SqlStore(store_url) for _ in agents]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        results = await asyncio.gather(*(
            s.start_outbound(contact.id, a.id, capacity=3, queue_team=None,
                             message=agent_says(a.id, "Hi", "c-1"), now=now_ms())
            for s, a in zip(stores, agents, strict=True)), return_exceptions=True)
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, tuple))
