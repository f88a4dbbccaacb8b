"""The visitor's wait, in the services: positions after each kind of change, the estimate,
coalescing (a burst of changes is one recompute), several processes on one store, and
abandonment (explicit, after the grace period, a reload, two connections)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from chatkit.errors import Conflict, NotFound
from chatkit.models import AgentRole, Conversation, ConversationStatus, Presence
from chatkit.routing.wait import Staffing, Wait, estimate
from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from tests.routing.harness import Clock, World, make_world

S = ConversationStatus
GRACE_S = 5.0


class Watchers:
    """The realtime layer's part: which contacts have a widget connected here."""

    def __init__(self) -> None:
        self.by_contact: dict[str, set[str]] = {}

    def connect(self, contact_id: str, connection_id: str) -> None:
        self.by_contact.setdefault(contact_id, set()).add(connection_id)

    def connections_of(self, contact_id: str) -> Collection[str]:
        return self.by_contact.get(contact_id, set())


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path}/wait.db")
    await store.open()
    yield store
    await store.close()


async def world_of(store: SqlStore, clock: Clock | None = None) -> tuple[World, Watchers]:
    world = await make_world(store, clock=clock or Clock())
    world.routing.waits.grace_ms = round(GRACE_S * 1000)
    world.routing.waits.abandon_sweep_ms = 0  # the tests' clock moves by milliseconds
    watchers = Watchers()
    world.routing.waits.watchers = watchers
    return world, watchers


async def waiting(world: World, watchers: Watchers, n: int = 1) -> list[Conversation]:
    """n visitors whose chats go straight to the support queue (no bot), each watching."""
    found = []
    for i in range(n):
        contact = await world.store.create_contact()
        _, conversation = await world.conversations.visitor_message(
            contact.id, client_id=f"m{i}", body="hello", conversation=None, origin=None)
        watchers.connect(contact.id, f"tab-{contact.id}")
        found.append(conversation)
    return found


def told(world: World) -> dict[str, Wait]:
    """The latest position told to each conversation; and clears the record."""
    latest = {wait.conversation_id: wait for _, wait in world.notifier.waits}
    world.notifier.waits.clear()
    return latest


def test_the_estimate_is_places_needed_over_the_rate_they_free() -> None:
    four_minutes = 240_000
    # 4 places, 1 free: position 3 needs 2 more, which free at 4 per 4 min: 2 min.
    assert estimate(3, Staffing(capacity=4, free=1), four_minutes) == 120
    assert estimate(1, Staffing(capacity=4, free=1), four_minutes) == 0
    # Rounded up to whole minutes: 1 place, 90 s handle time, position 1, none free.
    assert estimate(1, Staffing(capacity=1, free=0), 90_000) == 120
    assert estimate(10, Staffing(capacity=2, free=0), four_minutes) == 20 * 60
    # Nobody online, or nothing handled yet: unknown.
    assert estimate(1, Staffing(capacity=0, free=0), four_minutes) is None
    assert estimate(1, Staffing(capacity=3, free=0), None) is None


async def test_positions_follow_queueing_priority_and_assignment(store: SqlStore) -> None:
    world, watchers = await world_of(store)
    waits = world.routing.waits
    first, second, third = await waiting(world, watchers, 3)
    await waits.publish()
    assert {c: w.position for c, w in told(world).items()} == {
        first.id: 1, second.id: 2, third.id: 3}
    # Nothing changed: nothing recomputed, nobody told again.
    before = waits.recomputes
    await waits.publish()
    assert waits.recomputes == before and told(world) == {}

    # A VIP goes ahead of everyone: everyone moves back one.
    async def vip_first(conversation: Conversation) -> int:
        return 5 if conversation.contact_id == vip_contact else 0

    vip_contact = (await world.store.create_contact()).id
    world.routing.priority_hook = vip_first
    _, vip = await world.conversations.visitor_message(
        vip_contact, client_id="v", body="hi", conversation=None, origin=None)
    watchers.connect(vip_contact, "tab-vip")
    await waits.publish()
    assert {c: w.position for c, w in told(world).items()} == {
        vip.id: 1, first.id: 2, second.id: 3, third.id: 4}

    # An agent comes online and takes the head (capacity 1): the rest move up.
    ada = world.agents[0]
    await world.routing.set_presence(ada, Presence.ONLINE)
    await waits.publish()
    assert {c: w.position for c, w in told(world).items()} == {
        first.id: 1, second.id: 2, third.id: 3}
    # The one in the middle is transferred to the VIP desk: the last moves up; it heads
    # the VIP queue (whose only agent is offline: no estimate).
    supervisor = replace(ada, role=AgentRole.SUPERVISOR)
    await world.routing.transfer(supervisor, second.id, to_team="vip")
    await waits.publish()
    now = told(world)
    assert now[third.id].position == 2 and now[second.id] == Wait(second.id, "vip", 1, None)
    assert first.id not in now  # unchanged: not told again


async def test_a_burst_of_changes_is_one_recompute(store: SqlStore) -> None:
    world, watchers = await world_of(store)
    waits = world.routing.waits
    await waits.publish()
    before = waits.recomputes
    conversations = await waiting(world, watchers, 25)
    await waits.publish()
    assert waits.recomputes == before + 1
    # Each visitor told once, with their final position.
    assert len(world.notifier.waits) == 25
    assert [w.position for _, w in world.notifier.waits] == list(range(1, 26))
    assert [w.conversation_id for _, w in world.notifier.waits] == [c.id for c in conversations]


async def test_only_visitors_connected_here_are_told(store: SqlStore) -> None:
    world, watchers = await world_of(store)
    here, = await waiting(world, watchers, 1)
    elsewhere, = await waiting(world, watchers, 1)
    watchers.by_contact.pop(elsewhere.contact_id)
    await world.routing.waits.publish()
    assert list(told(world)) == [here.id]


async def test_another_process_change_reaches_this_process_visitors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    one, two = SqlStore(url), SqlStore(url)
    await one.open()
    await two.open()
    try:
        world_one, watchers_one = await world_of(one)
        world_two, watchers_two = await world_of(two)
        await world_two.routing.waits.publish()
        # Queued through process one; the visitor's widget is connected to process two.
        first, second = await waiting(world_one, watchers_one, 2)
        watchers_two.connect(second.contact_id, "tab-on-two")
        watchers_one.by_contact.clear()
        await world_one.routing.waits.publish()  # shares its marks
        assert told(world_one) == {}
        await world_two.routing.waits.publish()
        assert told(world_two) == {second.id: Wait(second.id, "support", 2, None)}
        # Process two tracks that connection now (for abandonment).
        async with one._read() as conn:
            rows = (await conn.execute(t.visitor_connections.select())).all()
        assert [(r.id, r.contact_id) for r in rows] == [("tab-on-two", second.contact_id)]
        # One leaves on process one: process two's visitor moves up.
        await world_one.routing.leave(first.contact_id, first.id)
        await world_one.routing.waits.publish()
        await world_two.routing.waits.publish()
        assert told(world_two) == {second.id: Wait(second.id, "support", 1, None)}
    finally:
        await one.close()
        await two.close()


async def test_the_estimate_comes_from_handle_times_and_agents_online(
        store: SqlStore) -> None:
    world, watchers = await world_of(store)
    waits = world.routing.waits
    clock = world.clock
    assert isinstance(clock, Clock)
    ada = world.agents[0]  # support, capacity 1
    # History: two chats Ada handled, 3 and 5 minutes long: the mean is 4 minutes.
    handled = await waiting(world, watchers, 2)
    await world.routing.set_presence(ada, Presence.ONLINE)
    for conversation, minutes in zip(handled, (3, 5), strict=True):
        taken = await world.store.get_conversation(conversation.id)
        if taken is None or taken.status is not S.ASSIGNED:
            await world.routing.freed(ada)
        resolved = await world.conversations.resolve(ada, conversation.id)
        async with world.store._write() as conn:
            await conn.execute(update(t.conversations)
                               .where(t.conversations.c.id == resolved.id)
                               .values(assigned_at=clock.now,
                                       resolved_at=clock.now + minutes * 60_000))
    # Ada is busy with a third chat; two more wait behind it.
    busy, first, second = await waiting(world, watchers, 3)
    await waits.publish()
    now = told(world)
    assert busy.id not in now
    # One place (Ada's), none free, 4 min each: position 1 about 4 min, position 2 about 8.
    assert now[first.id] == Wait(first.id, "support", 1, 240)
    assert now[second.id] == Wait(second.id, "support", 2, 480)
    # Ada goes away: nobody can take them: unknown.
    clock.now += 2_000  # past the staffing cache
    await world.routing.set_presence(ada, Presence.AWAY)
    await waits.publish()
    now = told(world)
    assert now[first.id].estimated_wait is None and now[second.id].estimated_wait is None


async def test_a_visitor_gets_where_they_stand_when_they_ask(store: SqlStore) -> None:
    world, watchers = await world_of(store)
    first, second = await waiting(world, watchers, 2)
    wait = await world.routing.watch("tab-new", second.contact_id, second)
    assert wait == Wait(second.id, "support", 2, None)
    assert await world.routing.watch("tab-x", first.contact_id, None) is None


async def test_ending_the_chat_while_queued_is_abandonment(store: SqlStore) -> None:
    world, watchers = await world_of(store)
    first, second = await waiting(world, watchers, 2)
    with pytest.raises(NotFound):
        await world.routing.leave(second.contact_id, first.id)  # not theirs
    left = await world.routing.leave(first.contact_id, first.id)
    assert left.status is S.RESOLVED and left.agent_id is None
    assert world.notifier.changed[-1].id == first.id
    events = [e for e in await world.store.list_events(conversation_id=first.id)
              if e.kind == "conversation.resolved"]
    assert events[0].data["reason"] == "abandoned" and events[0].data["how"] == "ended"
    with pytest.raises(Conflict):
        await world.routing.leave(first.contact_id, first.id)  # resolved already
    await world.routing.waits.publish()
    assert told(world) == {second.id: Wait(second.id, "support", 1, None)}
    # An assigned chat cannot be "left" this way.
    await world.routing.set_presence(world.agents[0], Presence.ONLINE)
    with pytest.raises(Conflict):
        await world.routing.leave(second.contact_id, second.id)


async def _gone(world: World, connection_id: str) -> None:
    world.routing.visitor_disconnected(connection_id)
    await world.routing.waits.close()  # the disconnection's store write is done


async def test_a_visitor_gone_past_the_grace_period_abandons(store: SqlStore) -> None:
    clock = Clock()
    world, watchers = await world_of(store, clock)
    conversation, = await waiting(world, watchers, 1)
    await world.routing.watch("tab", conversation.contact_id, conversation)
    await _gone(world, "tab")
    clock.now += round(GRACE_S * 1000) - 1
    await world.routing.sweep()
    assert (await _status(world, conversation)) is S.QUEUED
    clock.now += 1
    await world.routing.sweep()
    assert (await _status(world, conversation)) is S.RESOLVED
    assert world.notifier.changed[-1].id == conversation.id
    events = [e for e in await world.store.list_events(conversation_id=conversation.id)
              if e.kind == "conversation.resolved"]
    assert events[0].data["how"] == "gone" and events[0].data["reason"] == "abandoned"


async def test_a_reload_within_the_grace_period_is_not_abandonment(store: SqlStore) -> None:
    clock = Clock()
    world, watchers = await world_of(store, clock)
    conversation, = await waiting(world, watchers, 1)
    await world.routing.watch("tab", conversation.contact_id, conversation)
    await _gone(world, "tab")
    clock.now += 1_500  # the page loads again, and resumes
    await world.routing.watch("tab-reloaded", conversation.contact_id, conversation)
    clock.now += 60_000
    await world.routing.sweep()
    assert (await _status(world, conversation)) is S.QUEUED


async def test_one_tab_closed_of_two_is_not_abandonment(store: SqlStore) -> None:
    clock = Clock()
    world, watchers = await world_of(store, clock)
    conversation, = await waiting(world, watchers, 1)
    await world.routing.watch("tab-1", conversation.contact_id, conversation)
    await world.routing.watch("tab-2", conversation.contact_id, conversation)
    await _gone(world, "tab-1")
    clock.now += 60_000
    await world.routing.sweep()
    assert (await _status(world, conversation)) is S.QUEUED
    await _gone(world, "tab-2")
    clock.now += round(GRACE_S * 1000)
    await world.routing.sweep()
    assert (await _status(world, conversation)) is S.RESOLVED


async def test_an_idle_visitor_costs_no_store_write(store: SqlStore) -> None:
    world, _ = await world_of(store)
    contact = await world.store.create_contact()
    assert await world.routing.watch("tab", contact.id, None) is None
    world.routing.visitor_disconnected("tab")
    assert len(world.routing.waits._disconnections) == 0
    async with world.store._read() as conn:
        assert (await conn.execute(t.visitor_connections.select())).all() == []


async def _status(world: World, conversation: Conversation) -> S:
    found = await world.store.get_conversation(conversation.id)
    assert found is not None
    return found.status


async def test_a_failed_recompute_is_tried_again(store: SqlStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    world, watchers = await world_of(store)
    conversation, = await waiting(world, watchers, 1)
    real = store.queue_order

    async def broken(team: str) -> list[object]:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(store, "queue_order", broken)
    with pytest.raises(ConnectionError):
        await world.routing.waits.publish()
    assert told(world) == {}
    monkeypatch.setattr(store, "queue_order", real)
    await world.routing.waits.publish()
    assert told(world) == {conversation.id: Wait(conversation.id, "support", 1, None)}


async def test_abandonment_is_looked_for_once_a_second_whatever_the_sweep_rate(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    world, _ = await world_of(store, clock)
    waits = world.routing.waits
    waits.abandon_sweep_ms = 1_000
    looks: list[int] = []
    real = store.sweep_visitors

    async def counted(*, now: int, grace_ms: int) -> list[Conversation]:
        looks.append(now)
        return await real(now=now, grace_ms=grace_ms)

    monkeypatch.setattr(store, "sweep_visitors", counted)
    for _ in range(10):
        await world.routing.sweep()
        clock.now += 100
    assert len(looks) == 1
    await world.routing.sweep()
    assert len(looks) == 2
