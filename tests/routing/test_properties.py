"""Property tests of the assignment invariants: random sequences of queueing, presence,
connections, accepting, picking, transfers, resolving and time passing, on the real SQLite
store. After every step: no chat with two agents (a chat changes hands only by transfer), no
agent above capacity, every assignment to an eligible online agent and to the first in line."""

from __future__ import annotations

import asyncio
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit.errors import ChatKitError
from chatkit.models import ConversationStatus, Handoff, HandoffReason, Presence
from chatkit.storage import SqlStore
from tests.routing.harness import TEAMS, Clock, World, make_world, open_chats
from tests.storage.conftest import _drop_postgres_database, _postgres_database

S = ConversationStatus
OPS = ["queue", "online", "away", "connect", "disconnect", "accept", "pick", "transfer_agent",
       "transfer_team", "resolve", "tick", "sweep"]
Step = tuple[str, int, int]
steps = st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 3), st.integers(0, 7)),
                 min_size=1, max_size=30)


async def apply(world: World, step: Step, connections: dict[int, list[str]],
                counter: list[int]) -> None:
    op, who, arg = step
    agent = world.agents[who]
    routing, conversations = world.routing, world.conversations
    everything = await world.store.list_conversations(statuses={S.QUEUED, S.ASSIGNED},
                                                      limit=1000)
    try:
        if op == "queue":
            contact = await world.store.create_contact()
            started = await world.store.create_conversation(contact.id)
            await conversations._queue(started, Handoff(HandoffReason.MENU, TEAMS[arg % 4]),
                                       actor_kind="bot", actor_id=None)
        elif op in ("online", "away"):
            await routing.set_presence(agent, Presence(op))
        elif op == "connect":
            counter[0] += 1
            connections.setdefault(who, []).append(f"c{counter[0]}")
            await routing.connected(agent, f"c{counter[0]}")
        elif op == "disconnect" and connections.get(who):
            routing.disconnected(connections[who].pop())
            await routing.close()
        elif op == "accept":
            for chat in open_chats(everything, agent, accepted=False)[:1]:
                await conversations.join(agent, chat.id, since_seq=0, limit=1)
        elif op == "pick":
            await routing.pick(agent, None)
        elif op == "transfer_agent":
            for chat in open_chats(everything, agent)[:1]:
                await routing.transfer(agent, chat.id,
                                       to_agent_id=world.agents[arg % 4].id, note="over to you")
        elif op == "transfer_team":
            for chat in open_chats(everything, agent)[:1]:
                await routing.transfer(agent, chat.id, to_team=str(TEAMS[arg % 3]))
        elif op == "resolve":
            for chat in open_chats(everything, agent)[:1]:
                await conversations.resolve(agent, chat.id)
        elif op == "tick":
            assert isinstance(world.clock, Clock)
            world.clock.now += arg * 1000  # accept timeout 5 s, grace 3 s
            await routing.sweep()
        elif op == "sweep":
            await routing.sweep()
    except ChatKitError:
        pass  # refused (at capacity, not theirs, ...): refusals change nothing


async def run(script: list[Step], url: str | None = None) -> int:
    """Run the script (on a new SQLite file, or the database `url` names), checking after
    each step; returns how many assignments were made."""
    with tempfile.TemporaryDirectory() as directory:
        store = SqlStore(url or f"sqlite:///{directory}/p.db")
        await store.open()
        try:
            world = await make_world(store)
            world.routing.priority_hook = _priority
            connections: dict[int, list[str]] = {}
            counter = [0]
            for n, step in enumerate(script):
                await apply(world, step, connections, counter)
                problems = await world.check()
                assert not problems, (n, step, problems)
            return world.notifier.assigned_count
        finally:
            await store.close()


async def _priority(conversation: object) -> int:
    # Some chats go first, deterministically.
    return int(getattr(conversation, "contact_id", "0")[:2], 16) % 3


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(script=steps)
def test_assignment_invariants_hold_whatever_happens(script: list[Step]) -> None:
    asyncio.run(run(script))


def test_a_busy_day_keeps_the_invariants() -> None:
    """One long fixed script, so the interesting states are surely reached."""
    assert asyncio.run(run(_busy_day())) > 10


@pytest.mark.postgres
async def test_a_busy_day_keeps_the_invariants_on_postgresql() -> None:
    """The same on PostgreSQL, whose locking (storage/sql_routing.py) differs."""
    if not os.environ.get("CHATKIT_TEST_POSTGRES"):
        pytest.skip("needs CHATKIT_TEST_POSTGRES")
    url, name = await _postgres_database()
    try:
        assert await run(_busy_day(), url) > 10
    finally:
        await _drop_postgres_database(name)


def _busy_day() -> list[Step]:
    script: list[Step] = []
    for n in range(4):
        script += [("connect", n, 0), ("online", n, 0)]
    for n in range(24):
        script += [("queue", n % 4, n), ("accept", n % 4, 0), ("pick", 3, 0),
                   ("transfer_agent", (n + 1) % 4, n), ("tick", 0, n % 7),
                   ("transfer_team", n % 4, n), ("resolve", (n + 2) % 4, 0)]
        if n % 6 == 5:
            script += [("disconnect", n % 4, 0), ("tick", 0, 4), ("connect", n % 4, 0),
                       ("online", n % 4, 0)]
    return script


def test_chats_waiting_for_a_team_that_is_gone_move_to_the_default_team() -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as directory:
            store = SqlStore(f"sqlite:///{directory}/p.db")
            await store.open()
            try:
                world = await make_world(store)
                contact = await store.create_contact()
                started = await store.create_conversation(contact.id)
                # Queued for "sales" (routing.yaml had it then, or before routing existed).
                await store.transition(started.id, S.QUEUED, allowed_from={S.BOT},
                                       agent_id=None, actor_kind="bot", actor_id=None,
                                       queue_team="sales")
                await world.routing.connected(world.agents[0], "c")
                await world.routing.set_presence(world.agents[0], Presence.ONLINE)
                await world.routing.sweep()
                moved = await store.get_conversation(started.id)
                assert moved is not None and moved.queue_team == "support"
                assert moved.agent_id == world.agents[0].id
            finally:
                await store.close()

    asyncio.run(scenario())
