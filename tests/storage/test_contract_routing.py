"""The storage contract, routing part: presence, queues, atomic assignment and the sweep."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from chatkit.models import (
    AgentRole,
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffReason,
    Presence,
    Strategy,
)
from chatkit.storage import SqlStore

S = ConversationStatus
T0 = 1_000_000
RR, LB = Strategy.ROUND_ROBIN, Strategy.LEAST_BUSY


async def agent(store: SqlStore, name: str, *, online: bool = True,
                connected: bool = True) -> str:
    created = await store.create_agent(email=f"{name}@example.com", name=name,
                                       role=AgentRole.AGENT, password_hash="h")
    if connected:
        await store.agent_connected(created.id, f"conn-{name}", expires_at=T0 + 10**9)
    if online:
        await store.set_presence(created.id, Presence.ONLINE, now=T0)
    return created.id


async def queued(store: SqlStore, team: str = "support", *, priority: int | None = None,
                 reason: HandoffReason = HandoffReason.NO_BOT) -> Conversation:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    moved = await store.transition(conversation.id, S.QUEUED, allowed_from={S.BOT},
                                   agent_id=None, actor_kind="system", actor_id=None,
                                   handoff=Handoff(reason), queue_team=team,
                                   priority=priority)
    assert moved is not None
    return moved


async def test_requeue_from_a_team_moves_a_chat_once(store: SqlStore) -> None:
    """Two sweepers moving a closed team's queue: the chat moves once (from_team)."""
    waiting = await queued(store, "tokyo")
    ahead = await queued(store, "madrid")
    moved = await store.requeue(waiting.id, team="madrid", now=T0, expected_agents={None},
                                from_team="tokyo", actor_kind="system", actor_id=None,
                                data={"reason": "team_closed"})
    assert moved is not None and moved.queue_team == "madrid"
    assert [c.id for c in await store.queue("madrid")] == [waiting.id, ahead.id]  # the front
    assert await store.requeue(waiting.id, team="madrid", now=T0, expected_agents={None},
                               from_team="tokyo", actor_kind="system", actor_id=None) is None
    kinds = [e.kind for e in await store.list_events(conversation_id=waiting.id)]
    assert kinds.count("conversation.queued") == 2  # the handoff's and the one move


async def test_queue_is_ordered_by_priority_then_time(store: SqlStore) -> None:
    first = await queued(store)
    await asyncio.sleep(0.002)
    second = await queued(store)
    vip = await queued(store, priority=5)
    other_team = await queued(store, "billing")
    assert [c.id for c in await store.queue("support")] == [vip.id, first.id, second.id]
    assert [c.id for c in await store.queue("billing")] == [other_team.id]
    assert await store.queued_teams() == ["billing", "support"]
    assert [await store.queue_length(team) for team in ("support", "billing", "x")] == [3, 1, 0]
    assert vip.priority == 5 and first.priority == 0 and first.queue_team == "support"


async def test_presence_is_kept_in_the_store(store: SqlStore) -> None:
    ada = await agent(store, "ada", online=False)
    assert (await store.get_presence([ada]))[ada].presence is Presence.OFFLINE
    changed = await store.set_presence(ada, Presence.AWAY, now=T0 + 5)
    assert changed is not None and changed.presence is Presence.AWAY
    assert changed.changed_at == T0 + 5
    assert await store.set_presence("missing", Presence.ONLINE, now=T0) is None
    assert await store.get_presence(["missing"]) == {}


async def test_only_online_agents_below_capacity_are_assigned(store: SqlStore) -> None:
    ada = await agent(store, "ada")
    bo = await agent(store, "bo", online=False)
    chats = [await queued(store) for _ in range(3)]
    assigned = [await store.assign_next("support", {ada: 2, bo: 2}, RR, now=T0 + n,
                                        accept_deadline=T0 + 100) for n in range(3)]
    assert [c.agent_id if c else None for c in assigned] == [ada, ada, None]
    assert assigned[0] is not None and assigned[0].id == chats[0].id
    assert assigned[0].status is S.ASSIGNED and assigned[0].accept_deadline == T0 + 100
    assert await store.agent_loads([ada, bo]) == {ada: 2, bo: 0}
    # Not a candidate (not in the team): not assigned, even online and free.
    carl = await agent(store, "carl")
    assert await store.assign_next("support", {ada: 2}, RR, now=T0,
                                   accept_deadline=None) is None
    assert (await store.assign_next("support", {carl: 1}, RR, now=T0,
                                    accept_deadline=None) or chats[0]).agent_id == carl


async def test_round_robin_takes_the_least_recently_assigned(store: SqlStore) -> None:
    ids = [await agent(store, name) for name in ("ada", "bo", "carl")]
    candidates = dict.fromkeys(ids, 5)
    for _ in range(6):
        await queued(store)
    got = [await store.assign_next("support", candidates, RR, now=T0 + n, accept_deadline=None)
           for n in range(6)]
    order = [str(c.agent_id) for c in got if c]
    assert order[:3] == order[3:] and sorted(order[:3]) == sorted(ids)


async def test_least_busy_takes_the_one_with_fewest_chats(store: SqlStore) -> None:
    ada, bo = await agent(store, "ada"), await agent(store, "bo")
    for _ in range(3):
        await queued(store)
    # Ada already has two chats (given by hand), Bo none.
    for n in range(2):
        chat = await queued(store, "other")
        assert await store.claim(chat.id, ada, capacity=5, allowed_from={S.QUEUED}, now=T0 + n,
                                 accept_deadline=None, actor_kind="agent", actor_id=ada)
    got = [await store.assign_next("support", {ada: 5, bo: 5}, LB, now=T0 + 10 + n,
                                   accept_deadline=None) for n in range(3)]
    assert [c.agent_id for c in got if c] == [bo, bo, ada]  # 0:2, 1:2, 2:2 -> tie, Ada older
    assert await store.assign_next("support", {ada: 5}, Strategy.MANUAL, now=T0,
                                   accept_deadline=None) is None


async def test_claim_respects_capacity_team_and_state(store: SqlStore) -> None:
    ada = await agent(store, "ada", online=False)
    first, second, billing = await queued(store), await queued(store), await queued(store,
                                                                                    "billing")
    kwargs: dict[str, Any] = {"capacity": 1, "allowed_from": {S.QUEUED}, "now": T0,
                              "accept_deadline": None, "actor_kind": "agent", "actor_id": ada}
    assert await store.claim(billing.id, ada, queue_teams=["support"], **kwargs) is None
    assert await store.claim(first.id, ada, require_online=True, **kwargs) is None
    picked = await store.claim(first.id, ada, queue_teams=["support"], **kwargs)
    assert picked is not None and picked.agent_id == ada and picked.status is S.ASSIGNED
    assert await store.claim(second.id, ada, **kwargs) is None  # at capacity
    assert await store.claim(first.id, ada, **{**kwargs, "capacity": 5}) is None  # not queued
    events = [e.kind for e in await store.list_events(conversation_id=first.id)]
    assert events[-1] == "conversation.assigned"


async def test_accept_ends_the_offer(store: SqlStore) -> None:
    ada, bo = await agent(store, "ada"), await agent(store, "bo")
    chat = await queued(store)
    offered = await store.assign_next("support", {ada: 1}, RR, now=T0, accept_deadline=T0 + 60)
    assert offered is not None and offered.accept_deadline == T0 + 60
    assert await store.accept(chat.id, bo) is None
    accepted = await store.accept(chat.id, ada)
    assert accepted is not None and accepted.accept_deadline is None
    swept = await store.sweep(now=T0 + 1000, grace_ms=10**6)
    assert swept.requeued == []


async def test_an_offer_not_accepted_in_time_goes_back_to_the_front(store: SqlStore) -> None:
    ada, bo = await agent(store, "ada"), await agent(store, "bo")
    chat = await queued(store)
    later = await queued(store)
    assert await store.assign_next("support", {ada: 1}, RR, now=T0, accept_deadline=T0 + 60)
    assert (await store.sweep(now=T0 + 59, grace_ms=10**6)).requeued == []
    swept = await store.sweep(now=T0 + 60, grace_ms=10**6)
    assert [c.id for c in swept.requeued] == [chat.id]
    assert swept.requeued[0].status is S.QUEUED and swept.requeued[0].agent_id is None
    assert [(p.agent_id, p.presence) for p in swept.presence] == [(ada, Presence.AWAY)]
    assert [c.id for c in await store.queue("support")] == [chat.id, later.id]
    # The next agent gets it; Ada, away, gets nothing.
    got = await store.assign_next("support", {ada: 1, bo: 1}, RR, now=T0 + 61,
                                  accept_deadline=None)
    assert got is not None and (got.id, got.agent_id) == (chat.id, bo)
    assert (await store.sweep(now=T0 + 60, grace_ms=10**6)).requeued == []


async def test_an_agent_gone_past_the_grace_period_goes_offline(store: SqlStore) -> None:
    ada = await agent(store, "ada")
    await store.agent_connected(ada, "second-tab", expires_at=T0 + 10**9)
    waiting = await queued(store)
    chats = [await queued(store) for _ in range(2)]
    # Hand-picked, so they come after `waiting` in the queue and go ahead of it again.
    for n, chat in enumerate(chats):
        assert await store.claim(chat.id, ada, capacity=5, allowed_from={S.QUEUED},
                                 now=T0 + n, accept_deadline=None, actor_kind="agent",
                                 actor_id=ada)
    await store.agent_disconnected("conn-ada", now=T0 + 100, grace_ms=30)
    # Another tab is still open: nothing happens.
    assert (await store.get_presence([ada]))[ada].offline_deadline is None
    await store.agent_disconnected("second-tab", now=T0 + 100, grace_ms=30)
    assert (await store.get_presence([ada]))[ada].offline_deadline == T0 + 130
    assert (await store.sweep(now=T0 + 129, grace_ms=30)).requeued == []
    swept = await store.sweep(now=T0 + 130, grace_ms=30)
    assert sorted(c.id for c in swept.requeued) == sorted(c.id for c in chats)
    assert [(p.agent_id, p.presence) for p in swept.presence] == [(ada, Presence.OFFLINE)]
    assert [c.id for c in await store.queue("support")] == [*(c.id for c in chats), waiting.id]


async def test_coming_back_within_the_grace_period_keeps_the_chats(store: SqlStore) -> None:
    ada = await agent(store, "ada")
    await queued(store)
    assert await store.assign_next("support", {ada: 1}, RR, now=T0, accept_deadline=None)
    await store.agent_disconnected("conn-ada", now=T0 + 100, grace_ms=30)
    await store.agent_connected(ada, "conn-again", expires_at=T0 + 10**9)
    swept = await store.sweep(now=T0 + 1000, grace_ms=30)
    assert swept.requeued == [] and swept.presence == []
    assert await store.agent_loads([ada]) == {ada: 1}


async def test_a_dead_process_connections_expire(store: SqlStore) -> None:
    ada = await agent(store, "ada", connected=False)
    await store.agent_connected(ada, "c1", expires_at=T0 + 10)
    await store.renew_connections(["c1"], expires_at=T0 + 20)
    assert (await store.sweep(now=T0 + 15, grace_ms=5)).presence == []
    await store.sweep(now=T0 + 20, grace_ms=5)  # expired: the grace period starts
    assert (await store.get_presence([ada]))[ada].offline_deadline == T0 + 25
    swept = await store.sweep(now=T0 + 25, grace_ms=5)
    assert [p.presence for p in swept.presence] == [Presence.OFFLINE]


async def test_requeue_puts_a_transfer_at_the_front_of_the_new_team(store: SqlStore) -> None:
    ada = await agent(store, "ada")
    waiting = await queued(store, "billing")
    chat = await queued(store)
    assert await store.assign_next("support", {ada: 1}, RR, now=T0, accept_deadline=None)
    assert await store.requeue(chat.id, team="billing", now=T0 + 5, expected_agents={"x"},
                               actor_kind="agent", actor_id=ada) is None
    moved = await store.requeue(chat.id, team="billing", now=T0 + 5, expected_agents={ada},
                                actor_kind="agent", actor_id=ada)
    assert moved is not None and (moved.status, moved.queue_team) == (S.QUEUED, "billing")
    assert [c.id for c in await store.queue("billing")] == [chat.id, waiting.id]


async def test_racing_processes_never_overfill_an_agent(store: SqlStore,
                                                        store_url: str) -> None:
    """Eight stores (eight processes) give out 30 chats to 4 agents of capacity 3 at once."""
    ids = [await agent(store, f"agent{n}") for n in range(4)]
    chats = [await queued(store) for _ in range(30)]
    stores = [SqlStore(store_url) for _ in range(8)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        async def drain(s: SqlStore, strategy: Strategy) -> list[Conversation]:
            got = []
            while (c := await s.assign_next("support", dict.fromkeys(ids, 3), strategy,
                                            now=T0, accept_deadline=None)) is not None:
                got.append(c)
            return got

        results = await asyncio.gather(*(drain(s, RR if n % 2 else LB)
                                         for n, s in enumerate(stores)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    given = [c for found in results for c in found]
    assert len(given) == 12 and len({c.id for c in given}) == 12
    assert Counter(c.agent_id for c in given) == dict.fromkeys(ids, 3)
    # The first twelve in line, nobody skipped.
    assert {c.id for c in given} == {c.id for c in chats[:12]}
    assert await store.agent_loads(ids) == dict.fromkeys(ids, 3)


async def test_assign_many_gives_out_the_queue_as_assign_next_would(store: SqlStore) -> None:
    ids = [await agent(store, name) for name in ("ada", "bo", "carl")]
    offline = await agent(store, "dan", online=False)
    chats = [await queued(store) for _ in range(7)]
    vip = await queued(store, priority=2)
    candidates = {**dict.fromkeys(ids, 2), offline: 2}
    assert await store.assign_many("support", candidates, RR, now=T0, accept_deadline=None,
                                   limit=0) == []
    first = await store.assign_many("support", candidates, RR, now=T0 + 1,
                                    accept_deadline=T0 + 60, limit=2)
    assert [c.id for c in first] == [vip.id, chats[0].id]
    rest = await store.assign_many("support", candidates, RR, now=T0 + 2,
                                   accept_deadline=T0 + 60, limit=50)
    # Round robin goes round: the two not given one yet, then everyone again, least
    # recently assigned first; six places in all (three agents of two), so one chat waits.
    order = [c.agent_id for c in first + rest]
    assert len(order) == 6 and Counter(order) == dict.fromkeys(ids, 2)
    assert order[2] != order[0] and order[2] != order[1] and order[3:] == order[:3]
    assert [c.id for c in rest] == [c.id for c in chats[1:5]]
    assert all(c.status is S.ASSIGNED and c.accept_deadline == T0 + 60 for c in rest)
    assert [c.id for c in await store.queue("support")] == [chats[5].id, chats[6].id]
    assert await store.assign_many("support", candidates, RR, now=T0 + 3,
                                   accept_deadline=None, limit=50) == []
    assert await store.agent_loads([*ids, offline]) == {**dict.fromkeys(ids, 2), offline: 0}
    for chat in first + rest:
        assigned = [e for e in await store.list_events(conversation_id=chat.id)
                    if e.kind == "conversation.assigned"]
        assert len(assigned) == 1 and assigned[0].data["agent_id"] == chat.agent_id


async def test_assign_many_least_busy_fills_the_emptiest_first(store: SqlStore) -> None:
    ada, bo = await agent(store, "ada"), await agent(store, "bo")
    for n in range(2):
        chat = await queued(store, "other")
        assert await store.claim(chat.id, ada, capacity=5, allowed_from={S.QUEUED}, now=T0 + n,
                                 accept_deadline=None, actor_kind="agent", actor_id=ada)
    for _ in range(4):
        await queued(store)
    got = await store.assign_many("support", {ada: 3, bo: 5}, LB, now=T0 + 10,
                                  accept_deadline=None, limit=10)
    # 2:0 -> bo, 2:1 -> bo, 2:2 -> tie, Ada assigned longer ago, 3:2 -> Ada is full: bo.
    assert [c.agent_id for c in got] == [bo, bo, ada, bo]
    assert await store.assign_many("support", {ada: 5}, Strategy.MANUAL, now=T0,
                                   accept_deadline=None, limit=10) == []


async def test_racing_batches_never_overfill_an_agent(store: SqlStore, store_url: str) -> None:
    """Six stores (six processes) give out 40 chats in batches to 5 agents of capacity 4."""
    ids = [await agent(store, f"agent{n}") for n in range(5)]
    chats = [await queued(store) for _ in range(40)]
    stores = [SqlStore(store_url) for _ in range(6)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        async def drain(s: SqlStore, strategy: Strategy, limit: int) -> list[Conversation]:
            got: list[Conversation] = []
            while batch := await s.assign_many("support", dict.fromkeys(ids, 4), strategy,
                                               now=T0, accept_deadline=None, limit=limit):
                got += batch
            return got

        results = await asyncio.gather(*(drain(s, RR if n % 2 else LB, 1 + n % 3 * 3)
                                         for n, s in enumerate(stores)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    given = [c for found in results for c in found]
    assert len(given) == 20 and len({c.id for c in given}) == 20
    assert Counter(c.agent_id for c in given) == dict.fromkeys(ids, 4)
    assert {c.id for c in given} == {c.id for c in chats[:20]}
    assert await store.agent_loads(ids) == dict.fromkeys(ids, 4)


async def test_assignment_keeps_the_facts_and_rollups(store: SqlStore, store_url: str) -> None:
    """The assignment writes its facts and roll-ups itself (in one statement on PostgreSQL,
    in the driver's thread on SQLite): racing batches from several stores leave what a
    rebuild from the log makes."""
    from chatkit.storage.facts import wall_clock

    ids = [await agent(store, f"agent{n}") for n in range(4)]
    chats = [await queued(store, "support" if n % 3 else "billing") for n in range(30)]
    stores = [SqlStore(store_url) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        async def drain(s: SqlStore, team: str, limit: int) -> None:
            while await s.assign_many(team, dict.fromkeys(ids, 3), LB if limit > 1 else RR,
                                      now=T0 + 5_000, accept_deadline=None, limit=limit):
                pass

        await asyncio.gather(*(drain(s, team, n + 1) for n, s in enumerate(stores)
                               for team in ("support", "billing")))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    # On PostgreSQL a racing call skips the agents and heads another holds (SKIP LOCKED)
    # and may find nothing left for it, so a drain can stop with room left; in production
    # the next sweep gives out the rest, as this round does.
    for team in ("support", "billing"):
        await drain(store, team, 3)
    facts = {f.conversation_id: f for f in await store.all_facts()}
    assigned = [f for f in facts.values() if f.agent_id is not None]
    assert len(assigned) == 12 and {f.agent_id for f in assigned} == set(ids)
    for f in assigned:
        assert f.assigned_at == T0 + 5_000 and f.handoff_at is not None
        assert f.wait_ms == T0 + 5_000 - f.handoff_at
    assert {c.id for c in chats} == set(facts)
    kept = await store.all_rollups()
    assert kept[0] and kept[1]
    assert await store.rebuild_rollups() == 30
    assert await store.all_rollups() == kept
    assert await store.rebuild_facts(wall_clock) == 30
    assert {f.conversation_id: f for f in await store.all_facts()} == facts
    assert await store.all_rollups() == kept
