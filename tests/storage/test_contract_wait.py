"""The storage contract, the visitor's wait: queue order and positions, handle times, queue
marks, waiting visitors' connections and abandonment."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from chatkit.models import ConversationStatus, HandoffReason
from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from tests.storage.test_contract_routing import T0, agent, queued

S = ConversationStatus
GRACE = 5_000


async def test_queue_order_and_positions_follow_priority_then_place(store: SqlStore) -> None:
    first = await queued(store)
    await asyncio.sleep(0.002)
    second = await queued(store)
    vip = await queued(store, priority=5)
    billing = await queued(store, "billing")
    order = await store.queue_order("support")
    assert [line.conversation_id for line in order] == [vip.id, first.id, second.id]
    assert [line.contact_id for line in order] == [vip.contact_id, first.contact_id,
                                                   second.contact_id]
    assert await store.queue_position(vip.id) == ("support", 1)
    assert await store.queue_position(first.id) == ("support", 2)
    assert await store.queue_position(second.id) == ("support", 3)
    assert await store.queue_position(billing.id) == ("billing", 1)
    # Not queued: no position.
    a = await agent(store, "ada")
    taken = await store.claim(vip.id, a, capacity=1, allowed_from={S.QUEUED}, now=T0,
                              accept_deadline=None, actor_kind="agent", actor_id=a)
    assert taken is not None
    assert await store.queue_position(vip.id) is None
    assert await store.queue_position(first.id) == ("support", 1)
    assert await store.queue_position("nope") is None
    assert await store.queue_order("nobody") == []


async def test_a_requeued_conversation_goes_to_the_front(store: SqlStore) -> None:
    first = await queued(store)
    second = await queued(store)
    moved = await store.requeue(second.id, team="support", now=T0 + 5, actor_kind="system",
                                actor_id=None)
    assert moved is not None
    assert await store.queue_position(second.id) == ("support", 1)
    assert await store.queue_position(first.id) == ("support", 2)


async def test_handle_time_is_the_mean_of_recent_handled_conversations(
        store: SqlStore) -> None:
    assert await store.handle_time("support", sample=10) is None
    a = await agent(store, "ada")
    durations = []
    for n in range(3):
        conversation = await queued(store)
        assigned = await store.claim(conversation.id, a, capacity=10,
                                     allowed_from={S.QUEUED}, now=T0, accept_deadline=None,
                                     actor_kind="agent", actor_id=a)
        assert assigned is not None and assigned.assigned_at == T0
        await asyncio.sleep(0.002 * (n + 1))
        resolved = await store.transition(conversation.id, S.RESOLVED,
                                          allowed_from={S.ASSIGNED}, agent_id=a,
                                          actor_kind="agent", actor_id=a)
        assert resolved is not None and resolved.resolved_at is not None
        durations.append(resolved.resolved_at - T0)
    # An abandoned conversation (no agent) is no handle time; another team's neither.
    gone = await queued(store)
    assert await store.abandon(gone.id, now=T0 + 10**9, how="ended", actor_kind="visitor",
                               actor_id=gone.contact_id) is not None
    assert await store.handle_time("billing", sample=10) is None
    mean = await store.handle_time("support", sample=10)
    assert mean is not None and abs(mean - sum(durations) / 3) < 1e-6
    # Only the most recent `sample`.
    latest = await store.handle_time("support", sample=1)
    assert latest is not None and abs(latest - durations[-1]) < 1e-6


async def test_queue_marks_count_changes(store: SqlStore) -> None:
    assert await store.queue_marks() == {}
    await store.mark_queues({"support"})
    await store.mark_queues({"support", "billing"})
    await store.mark_queues([])
    marks = await store.queue_marks()
    assert set(marks) == {"support", "billing"} and marks["support"] != marks["billing"]
    before = marks["support"]
    await asyncio.gather(*(store.mark_queues({"support"}) for _ in range(5)))
    assert (await store.queue_marks())["support"] == before + 5


async def test_leaving_the_queue_is_abandonment(store: SqlStore) -> None:
    conversation = await queued(store)
    left = await store.abandon(conversation.id, now=T0 + 7_000, how="ended",
                               actor_kind="visitor", actor_id=conversation.contact_id)
    assert left is not None
    assert left.status is S.RESOLVED and left.agent_id is None and left.resolved_at == T0 + 7_000
    assert await store.abandon(conversation.id, now=T0, how="ended", actor_kind="visitor",
                               actor_id=None) is None
    assert await store.open_conversation_for(conversation.contact_id) is None
    events = [e for e in await store.list_events(conversation_id=conversation.id)
              if e.kind == "conversation.resolved"]
    assert len(events) == 1
    assert events[0].actor_kind == "visitor" and events[0].actor_id == conversation.contact_id
    data = events[0].data
    assert data["from"] == "queued" and data["reason"] == "abandoned" and data["how"] == "ended"
    assert data["queue_team"] == "support"
    assert conversation.queued_at is not None
    assert data["waited_ms"] == T0 + 7_000 - conversation.queued_at


async def test_only_a_queued_conversation_is_abandoned(store: SqlStore) -> None:
    conversation = await queued(store)
    a = await agent(store, "ada")
    assert await store.claim(conversation.id, a, capacity=1, allowed_from={S.QUEUED}, now=T0,
                             accept_deadline=None, actor_kind="agent", actor_id=a)
    assert await store.abandon(conversation.id, now=T0, how="ended", actor_kind="visitor",
                               actor_id=None) is None
    found = await store.get_conversation(conversation.id)
    assert found is not None and found.status is S.ASSIGNED


async def test_a_visitor_gone_past_the_grace_period_abandons(store: SqlStore) -> None:
    conversation = await queued(store)
    contact = conversation.contact_id
    await store.track_visitors({"tab-1": contact}, expires_at=T0 + 30_000)
    await store.visitor_disconnected("tab-1", now=T0, grace_ms=GRACE)
    assert await store.sweep_visitors(now=T0 + GRACE - 1, grace_ms=GRACE) == []
    abandoned = await store.sweep_visitors(now=T0 + GRACE, grace_ms=GRACE)
    assert [c.id for c in abandoned] == [conversation.id]
    assert abandoned[0].status is S.RESOLVED
    event = next(e for e in await store.list_events(conversation_id=conversation.id)
             if e.kind == "conversation.resolved")
    assert event.data["how"] == "gone" and event.actor_kind == "system"
    # Once only, whoever sweeps again.
    assert await store.sweep_visitors(now=T0 + 2 * GRACE, grace_ms=GRACE) == []


async def test_an_offline_message_is_never_abandoned(store: SqlStore) -> None:
    # The visitor left an email for the next shift: closing the page is expected.
    conversation = await queued(store, reason=HandoffReason.OFFLINE)
    await store.track_visitors({"tab-1": conversation.contact_id}, expires_at=T0 + 30_000)
    await store.visitor_disconnected("tab-1", now=T0, grace_ms=GRACE)
    assert await store.sweep_visitors(now=T0 + 10 * GRACE, grace_ms=GRACE) == []
    found = await store.get_conversation(conversation.id)
    assert found is not None and found.status is S.QUEUED


async def test_a_reload_within_the_grace_period_does_not_abandon(store: SqlStore) -> None:
    conversation = await queued(store)
    contact = conversation.contact_id
    await store.track_visitors({"tab-1": contact}, expires_at=T0 + 30_000)
    await store.visitor_disconnected("tab-1", now=T0, grace_ms=GRACE)
    await store.track_visitors({"tab-1b": contact}, expires_at=T0 + 30_000)
    assert await store.sweep_visitors(now=T0 + GRACE + 1, grace_ms=GRACE) == []
    found = await store.get_conversation(conversation.id)
    assert found is not None and found.status is S.QUEUED


async def test_one_of_two_connections_left_keeps_the_visitor_waiting(store: SqlStore) -> None:
    conversation = await queued(store)
    contact = conversation.contact_id
    # Two tabs, tracked by two processes.
    await store.track_visitors({"p1-tab": contact}, expires_at=T0 + 30_000)
    await store.track_visitors({"p2-tab": contact}, expires_at=T0 + 30_000)
    await store.visitor_disconnected("p1-tab", now=T0, grace_ms=GRACE)
    assert await store.sweep_visitors(now=T0 + GRACE + 1, grace_ms=GRACE) == []
    # The second closes too: now the grace period starts.
    await store.visitor_disconnected("p2-tab", now=T0 + 10_000, grace_ms=GRACE)
    assert await store.sweep_visitors(now=T0 + 10_000 + GRACE - 1, grace_ms=GRACE) == []
    assert len(await store.sweep_visitors(now=T0 + 10_000 + GRACE, grace_ms=GRACE)) == 1


async def test_a_dead_process_connections_expire_then_the_grace_period_runs(
        store: SqlStore) -> None:
    conversation = await queued(store)
    contact = conversation.contact_id
    await store.track_visitors({"p1-tab": contact}, expires_at=T0 + 30_000)
    await store.renew_visitors(["p1-tab"], expires_at=T0 + 40_000)
    # Renewed: not expired at 30 s.
    assert await store.sweep_visitors(now=T0 + 35_000, grace_ms=GRACE) == []
    # Nobody renews any more (the process died): expired at 40 s, abandoned 5 s later.
    assert await store.sweep_visitors(now=T0 + 40_000, grace_ms=GRACE) == []
    assert await store.sweep_visitors(now=T0 + 44_999, grace_ms=GRACE) == []
    assert len(await store.sweep_visitors(now=T0 + 45_000, grace_ms=GRACE)) == 1


async def test_a_queued_conversation_never_watched_is_not_abandoned(store: SqlStore) -> None:
    """A chat queued with no widget waiting on it (an offline message, say) stays queued."""
    conversation = await queued(store)
    assert await store.sweep_visitors(now=T0 + 10**9, grace_ms=GRACE) == []
    found = await store.get_conversation(conversation.id)
    assert found is not None and found.status is S.QUEUED


async def test_leaving_the_queue_another_way_ends_the_grace_period(store: SqlStore) -> None:
    """An agent took the chat while the visitor was away: it is theirs, not abandoned, even
    when it comes back to the queue later."""
    conversation = await queued(store)
    contact = conversation.contact_id
    await store.track_visitors({"tab": contact}, expires_at=T0 + 30_000)
    await store.visitor_disconnected("tab", now=T0, grace_ms=GRACE)
    a = await agent(store, "ada")
    assert await store.claim(conversation.id, a, capacity=1, allowed_from={S.QUEUED}, now=T0,
                             accept_deadline=None, actor_kind="agent", actor_id=a)
    assert await store.sweep_visitors(now=T0 + GRACE, grace_ms=GRACE) == []
    taken = await store.get_conversation(conversation.id)
    assert taken is not None and taken.status is S.ASSIGNED
    async with store._read() as conn:
        deadline = await conn.scalar(select(t.conversations.c.abandon_deadline)
                                     .where(t.conversations.c.id == conversation.id))
    assert deadline is None
    assert await store.requeue(conversation.id, team="support", now=T0 + GRACE + 1,
                               actor_kind="system", actor_id=None) is not None
    assert await store.sweep_visitors(now=T0 + 3 * GRACE, grace_ms=GRACE) == []
