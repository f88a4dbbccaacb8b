"""Triggers for one team that arrive together (places freed at once, chats queued at once)
share one assignment run, and a trigger that arrives while a run is in flight is never
lost: the run goes round again (RoutingService.assign). Real store, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chatkit.models import ConversationStatus, Presence
from chatkit.storage import SqlStore
from tests.routing.harness import make_world
from tests.storage.test_contract_routing import queued

S = ConversationStatus


def _count_runs(store: SqlStore, monkeypatch: pytest.MonkeyPatch,
                during: Any = None) -> list[tuple[str, int]]:
    """Record each assign_many (team, chats given); `during(call number)` runs after the
    store gave its answer and before the service sees it (a trigger in flight)."""
    calls: list[tuple[str, int]] = []
    real = store.assign_many

    async def counted(team: str, *args: Any, **kwargs: Any) -> Any:
        given = await real(team, *args, **kwargs)
        calls.append((team, len(given)))
        if during is not None:
            await during(len(calls))
        return given

    monkeypatch.setattr(store, "assign_many", counted)
    return calls


async def test_places_freed_together_are_given_out_in_one_run(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    world = await make_world(store)
    a0, a1 = world.agents[0], world.agents[1]  # support (capacity 1); support+billing (2)
    chats = [(await queued(store)).id for _ in range(5)]
    for agent in (a0, a1):
        await store.set_presence(agent.id, Presence.ONLINE, now=world.clock())
    calls = _count_runs(store, monkeypatch)
    await asyncio.gather(world.routing.freed(a0), world.routing.freed(a1))
    assert await store.agent_loads([a0.id, a1.id]) == {a0.id: 1, a1.id: 2}
    assert [c.id for c in await store.queue("support")] == chats[3:]
    # Support's run: its own agents (all three places at once), then its overflow team's
    # (nobody free); no second round for the trigger that came in the same turn. Billing's
    # run: nothing queued there.
    assert [call for call in calls if call[0] == "support"] == [("support", 3), ("support", 0)]
    assert await world.check() == []


async def test_a_trigger_during_a_run_makes_it_go_round_again(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    world = await make_world(store)
    a0, a1 = world.agents[0], world.agents[1]
    chats = [(await queued(store)).id for _ in range(3)]
    await store.set_presence(a0.id, Presence.ONLINE, now=world.clock())

    async def a1_frees_a_place(call: int) -> None:
        if call == 1:
            # After the run's first statement saw nobody but a0: a1 comes online and their
            # trigger finds the run in flight.
            await store.set_presence(a1.id, Presence.ONLINE, now=world.clock())
            await world.routing.freed(a1)

    calls = _count_runs(store, monkeypatch, a1_frees_a_place)
    await world.routing.freed(a0)
    assert calls[0] == ("support", 1)
    assert ("support", 2) in calls[1:]  # the round the trigger asked for
    assert await store.agent_loads([a0.id, a1.id]) == {a0.id: 1, a1.id: 2}
    assert await store.queue("support") == []
    assert {c.id for c in await store.list_conversations(
        statuses={S.ASSIGNED}, limit=10)} == set(chats)
    assert await world.check() == []
