"""Each agent's load kept on their row (migration 0017): it follows every change of a
conversation's agent or status, whichever code path makes it, it is counted for data from
before the migration, and `check_loads` finds (and repairs) a load that disagrees with a
count. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from chatkit.models import (
    Agent,
    AgentRole,
    ConversationStatus,
    Handoff,
    HandoffReason,
    NewMessage,
    Presence,
    SenderKind,
    Strategy,
)
from chatkit.storage import SqlStore

S = ConversationStatus


async def _agent(store: SqlStore, name: str) -> Agent:
    agent = await store.create_agent(email=f"{name}@example.com", name=name,
                                     role=AgentRole.AGENT, password_hash="x")
    await store.set_presence(agent.id, Presence.ONLINE, now=1)
    return agent


async def _queued(store: SqlStore, team: str = "support") -> str:
    contact = await store.create_contact()
    started = await store.create_conversation(contact.id)
    moved = await store.transition(started.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                                   actor_kind="bot", actor_id=None,
                                   handoff=Handoff(HandoffReason.NO_BOT), queue_team=team)
    assert moved is not None
    return moved.id


async def _loads(store: SqlStore, *agents: Agent) -> list[int]:
    assert await store.check_loads() == {}  # the kept load is the count
    loads = await store.agent_loads([a.id for a in agents])
    return [loads[a.id] for a in agents]


async def test_the_load_follows_every_change_of_an_assignment(store: SqlStore) -> None:
    ada, bob = await _agent(store, "ada"), await _agent(store, "bob")
    chats = [await _queued(store) for _ in range(4)]
    assert await _loads(store, ada, bob) == [0, 0]

    # Routing gives two out (one transaction, both to Ada: round robin, room 2).
    given = await store.assign_many("support", {ada.id: 2}, Strategy.ROUND_ROBIN, now=10,
                                    accept_deadline=None, limit=5)
    assert [c.id for c in given] == chats[:2]
    assert await _loads(store, ada, bob) == [2, 0]
    # At capacity: nothing more, and the load says so without a count.
    assert await store.assign_next("support", {ada.id: 2}, Strategy.ROUND_ROBIN, now=11,
                                   accept_deadline=None) is None

    # A pick (claim from the queue), a transfer to another agent (claim from Ada).
    assert await store.claim(chats[2], bob.id, capacity=3, allowed_from={S.QUEUED}, now=12,
                             accept_deadline=None, actor_kind="agent", actor_id=bob.id)
    assert await store.claim(chats[0], bob.id, capacity=3, allowed_from={S.ASSIGNED},
                             expected_agents={ada.id}, now=13, accept_deadline=None,
                             actor_kind="agent", actor_id=ada.id)
    assert await _loads(store, ada, bob) == [1, 2]
    # Refused at capacity: the load is read under the lock.
    assert await store.claim(chats[3], bob.id, capacity=2, allowed_from={S.QUEUED}, now=14,
                             accept_deadline=None, actor_kind="agent", actor_id=bob.id) is None

    # Back to a queue (a transfer to a team), resolved (sql.py's transition).
    assert await store.requeue(chats[1], team="billing", now=15, expected_agents={ada.id},
                               actor_kind="agent", actor_id=ada.id)
    assert await store.transition(chats[2], S.RESOLVED, allowed_from={S.ASSIGNED},
                                  agent_id=bob.id, actor_kind="agent", actor_id=bob.id)
    assert await _loads(store, ada, bob) == [0, 1]

    # An outbound conversation starts assigned (an insert).
    contact = await store.create_contact()
    started = await store.start_outbound(
        contact.id, ada.id, capacity=3, queue_team="support", now=16,
        message=NewMessage("", SenderKind.AGENT, "hello", author_id=ada.id))
    assert started is not None
    assert await _loads(store, ada, bob) == [1, 1]

    # The agent gone past the grace period: their chats go back to the queue.
    await store.agent_connected(bob.id, "c1", expires_at=10**15)
    await store.agent_disconnected("c1", now=20, grace_ms=5)
    swept = await store.sweep(now=30, grace_ms=5)
    assert [c.id for c in swept.requeued] == [chats[0]]
    assert await _loads(store, ada, bob) == [1, 0]

    # Round robin's order comes from the same place: the agent last given a chat.
    presence = await store.get_presence([ada.id])
    assert presence[ada.id].last_assigned_at == 16


async def test_check_loads_finds_and_repairs_a_load_that_drifted(store: SqlStore) -> None:
    ada, bob = await _agent(store, "ada"), await _agent(store, "bob")
    chat = await _queued(store)
    assert await store.claim(chat, ada.id, capacity=3, allowed_from={S.QUEUED}, now=1,
                             accept_deadline=None, actor_kind="agent", actor_id=ada.id)
    async with store._write() as conn:  # what a hand-made change could do
        await conn.execute(text("UPDATE agents SET load = 7 WHERE id = :id"), {"id": ada.id})
        await conn.execute(text("UPDATE agents SET load = -1 WHERE id = :id"), {"id": bob.id})
    assert await store.check_loads() == {ada.id: (7, 1), bob.id: (-1, 0)}
    assert await store.check_loads(repair=True) == {ada.id: (7, 1), bob.id: (-1, 0)}
    assert await store.check_loads() == {}
    assert await store.agent_loads([ada.id, bob.id]) == {ada.id: 1, bob.id: 0}


async def test_the_migration_counts_the_load_of_what_is_assigned(store_url: str) -> None:
    from alembic import command

    from chatkit.storage.migrate import alembic_config

    old = SqlStore(store_url)
    old._connect_engines()
    async with old._write() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0015"))
        await conn.execute(text(
            "INSERT INTO agents (id, email, name, role, password_hash, created_at) VALUES "
            "('a1', 'a1@example.com', 'A1', 'agent', 'x', 1), "
            "('a2', 'a2@example.com', 'A2', 'agent', 'x', 1)"))
        for n, (status, agent) in enumerate([("assigned", "a1"), ("assigned", "a1"),
                                             ("resolved", "a1"), ("queued", None),
                                             ("assigned", "a2")]):
            await conn.execute(text("INSERT INTO contacts (id, created_at) VALUES (:c, 1)"),
                               {"c": f"c{n}"})
            await conn.execute(text(
                "INSERT INTO conversations (id, contact_id, status, agent_id, last_seq, "
                "created_at) VALUES (:id, :c, :s, :a, 0, 1)"),
                {"id": f"v{n}", "c": f"c{n}", "s": status, "a": agent})
    await old.close()

    store = SqlStore(store_url)
    await store.open()
    try:
        assert await store.agent_loads(["a1", "a2"]) == {"a1": 2, "a2": 1}
        assert await store.check_loads() == {}
    finally:
        await store.close()
