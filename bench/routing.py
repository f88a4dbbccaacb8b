"""Routing benchmark: assignment with 1,000 agents and 10,000 queued chats (issue 5's targets).

    .venv/bin/python bench/routing.py                  # SQLite (+ PostgreSQL: see --database)
    .venv/bin/python bench/routing.py --quick          # smoke run: 60 agents, 400 chats (seconds)
    .venv/bin/python bench/routing.py --database postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/routing.py --json           # the figures as one JSON object on stdout

The world (seeded): four teams, as a routing.yaml would say them: `support` (round robin),
`billing` (skill billing, least busy, overflow to support), `sales` (round robin) and `tech`
(skill tech, least busy, overflow to support); 1,000 agents, each in one or two of them, with
capacities 2-5 (3,500 places in all); 10,000 chats queued over the teams, one in ten with a
priority of 1-3. The rows are written in bulk, with the columns a handoff sets and the
reports' facts its events leave (every assignment updates those, as in production), so that
setup takes seconds; everything timed goes through the real store and RoutingService.

Phases, each timed per call (wall clock and the process's CPU time, which on SQLite includes
the driver's thread and which other processes on a busy machine do not inflate):

1. baseline: the cheapest write transaction the store can make on this engine, one
   `UPDATE agents SET presence_at = presence_at WHERE id = :id` in the store's own write
   transaction (BEGIN IMMEDIATE ... COMMIT with its fsync on SQLite). Every assignment is at
   least one of these, so the ratio says what assignment costs beyond the engine's floor;
   measured again at the end, to see the machine drift.
2. online: half the agents come online one after the other (`RoutingService.set_presence`:
   each gets chats up to their capacity).
3. burst: the other half are set online at once (in bulk) and `RoutingService.assign` runs once
   per team, as the sweep does after a restart: how fast a queue drains in one go.
4. decisions: everyone is now full; one chat is resolved (untimed), then one
   `store.assign_next` on that agent's team with the team's 1,000-or-so candidates gives out
   exactly one chat: the decision latency, in the steady state where one place frees at a time.
5. drain: the same at the service level, `RoutingService.freed(agent)` after each resolve,
   until the queue is empty or `--seconds` run out: latency per assignment and throughput.
6. frees at once: `--at-once` agents each free a place (untimed), then all their `freed`
   calls run together, as their sockets' events would; timed per round, `--at-once-rounds`.
7. queue position updates: the queue refilled to --chats, the production publisher
   (QueueWaits.run) with every waiting visitor connected here, ~20 changes that move a whole
   team's queue; from each change's commit to the last of its visitors told (see
   `position_updates`).

At the end the invariants are checked in the database: no chat assigned twice (one
conversation.assigned event each, one agent each), nobody above capacity (also checked at
every announcement), every chat given to an agent of its team or of the overflow team, and the
counts add up. Loops are bounded (a fixed number of calls, the drain also by `--seconds`);
PostgreSQL runs in a fresh database that is dropped at the end. Exit 1 only when a run fails
or an invariant is broken, not when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url

from chatkit.kb.evaluate import percentile
from chatkit.models import (
    Agent,
    AgentPresence,
    AgentRole,
    Conversation,
    ConversationStatus,
    Message,
    Presence,
    SenderKind,
)
from chatkit.routing.config import Routing, RoutingConfig
from chatkit.routing.service import RoutingService
from chatkit.routing.wait import QueueWaits, Wait
from chatkit.storage import SqlStore
from chatkit.storage import facts as projection
from chatkit.storage import schema as t

S = ConversationStatus
TARGET_DECISION_P99_MS = 5.0
TARGET_PER_SECOND = 2000.0
TARGET_POSITION_S = 1.0

TEAMS = [
    {"id": "support", "strategy": "round_robin"},
    {"id": "billing", "skills": ["billing"], "strategy": "least_busy", "overflow": "support"},
    {"id": "sales", "strategy": "round_robin"},
    {"id": "tech", "skills": ["tech"], "strategy": "least_busy", "overflow": "support"},
]
# Share of the queue per team (the agents are spread about the same way).
QUEUE_SHARE = {"support": 0.5, "billing": 0.2, "sales": 0.1, "tech": 0.2}


def _agent_routing(i: int) -> dict[str, Any]:
    """Agent i's entry in routing.yaml: half support only, a fifth billing (and support), a
    tenth sales, a fifth tech (and support); capacities 2-5."""
    kind = i % 10
    if kind < 5:
        entry: dict[str, Any] = {"teams": ["support"]}
    elif kind < 7:
        entry = {"teams": ["billing", "support"], "skills": ["billing"]}
    elif kind < 8:
        entry = {"teams": ["sales"]}
    else:
        entry = {"teams": ["tech", "support"], "skills": ["tech"]}
    return {**entry, "capacity": 2 + (i * 7) % 4}


@dataclass
class Timings:
    """Per-call wall and process-CPU times, in seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    async def time(self, call: Callable[[], Awaitable[Any]]) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = await call()
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return result

    def summary(self) -> dict[str, float]:
        if not self.wall:
            return {"calls": 0}
        return {"calls": len(self.wall),
                "p50_ms": percentile(self.wall, 50) * 1000,
                "p99_ms": percentile(self.wall, 99) * 1000,
                "cpu_p50_ms": percentile(self.cpu, 50) * 1000,
                "cpu_p99_ms": percentile(self.cpu, 99) * 1000,
                "wall_s": sum(self.wall), "cpu_s": sum(self.cpu)}


@dataclass
class CountingNotifier:
    """The routing service's notifier: counts the assignments and checks, as each one is
    announced, that the agent is not above capacity (the bench keeps every agent's load: +1
    here, -1 when it resolves a chat)."""

    capacity: dict[str, int]
    load: dict[str, int] = field(default_factory=dict)
    assigned_count: int = 0
    queue_changes: int = 0
    problems: list[str] = field(default_factory=list)
    #: perf_counter() at the last conversation_changed: right after a change's commit (an
    #: assignment, a visitor leaving the queue).
    changed_at: float = 0.0
    last: Conversation | None = None

    async def message_stored(self, conversation: Conversation, message: Message,
                             origin: str | None) -> None:
        pass

    async def conversation_changed(self, conversation: Conversation, *,
                                   previous_agent_id: str | None = None) -> None:
        self.changed_at = time.perf_counter()
        self.last = conversation

    async def typing(self, conversation: Conversation, sender: SenderKind,
                     author_name: str | None, typing: bool, origin: str | None) -> None:
        pass

    async def read(self, conversation: Conversation, reader: SenderKind) -> None:
        pass

    async def queue_changed(self, team: str, length: int) -> None:
        self.queue_changes += 1

    async def queue_position(self, contact_id: str, wait: Wait, *, local: bool) -> None:
        pass  # no visitor is connected until the position phase (VisitorSockets)

    async def presence_changed(self, presence: AgentPresence) -> None:
        pass

    async def assigned(self, conversation: Conversation) -> None:
        self.assigned_count += 1
        agent_id = conversation.agent_id
        if agent_id is None:
            self.problems.append(f"announced with no agent: {conversation.id}")
            return
        self.load[agent_id] = self.load.get(agent_id, 0) + 1
        if self.load[agent_id] > self.capacity[agent_id]:
            self.problems.append(f"agent {agent_id} above capacity: {self.load[agent_id]}")


@dataclass
class World:
    store: SqlStore
    routing: Routing
    service: RoutingService
    notifier: CountingNotifier
    agents: list[Agent]
    chats: int
    rng: random.Random
    clock: list[int]  # the service's and the store's "now", moved by the bench

    def now(self) -> int:
        self.clock[0] += 1
        return self.clock[0]


# setup


async def build_world(url: str, *, agents: int, chats: int, seed: int) -> World:
    rng = random.Random(seed)
    config = RoutingConfig.model_validate({
        "default_team": "support", "teams": TEAMS,
        "agents": {f"agent{i}@bench.example": _agent_routing(i) for i in range(agents)}})
    routing = Routing(config)
    store = SqlStore(url)
    await store.open()
    t0 = 1_700_000_000_000
    agent_rows = [{"id": f"a{i:05d}{uuid.uuid4().hex[:10]}", "email": f"agent{i}@bench.example",
                   "name": f"Agent {i}", "role": str(AgentRole.AGENT), "password_hash": "x",
                   "created_at": t0 + i, "presence": str(Presence.OFFLINE)}
                  for i in range(agents)]
    async with store._write() as conn:
        await conn.execute(insert(t.agents), agent_rows)
    await queue_chats(store, rng, chats, t0)
    await analyze(store)
    listed = await store.list_agents()
    notifier = CountingNotifier({a.id: routing.capacity_of(a) for a in listed})
    clock = [t0 + chats + 1000]

    def now() -> int:
        return clock[0]

    service = RoutingService(store, notifier, routing, accept_timeout=60, disconnect_grace=30,
                             clock=now)
    return World(store, routing, service, notifier, listed, chats, rng, clock)


async def queue_chats(store: SqlStore, rng: random.Random, chats: int, t0: int,
                      team: str | None = None) -> None:
    """`chats` new contacts, each with a chat queued behind the rest (places from `t0` on),
    in `team`'s queue or spread over the teams as QUEUE_SHARE says, one in ten with a
    priority of 1-3."""
    teams = list(QUEUE_SHARE)
    weights = [QUEUE_SHARE[team] for team in teams]
    contact_rows, chat_rows, fact_rows = [], [], []
    for i in range(chats):
        contact_id, chat_id = uuid.uuid4().hex, uuid.uuid4().hex
        queue = team or rng.choices(teams, weights)[0]
        contact_rows.append({"id": contact_id, "created_at": t0})
        chat_rows.append({
            "id": chat_id, "contact_id": contact_id, "status": str(S.QUEUED), "last_seq": 0,
            "created_at": t0 + i, "queued_at": t0 + i, "team": queue,
            "handoff_reason": "no_bot", "queue_team": queue,
            "priority": rng.randint(1, 3) if rng.random() < 0.1 else 0, "queue_rank": t0 + i})
        # Its facts (the reports' projection) as its created and queued events leave them:
        # every assignment updates them, as in production.
        facts = None
        for kind, data in (("conversation.created", {}),
                           ("conversation.queued", {"team": queue, "queue_team": queue})):
            facts = projection.apply(facts, kind, data, t0 + i, conversation_id=chat_id,
                                     contact_id=contact_id, open_hours=projection.wall_clock)
        assert facts is not None
        fact_rows.append(dataclasses.asdict(facts))
    async with store._write() as conn:
        for start in range(0, chats, 2000):
            await conn.execute(insert(t.contacts), contact_rows[start:start + 2000])
            await conn.execute(insert(t.conversations), chat_rows[start:start + 2000])
            await conn.execute(insert(t.conversation_facts), fact_rows[start:start + 2000])


async def analyze(store: SqlStore) -> None:
    """PostgreSQL: fresh planner statistics, as autovacuum would gather them after this many
    changes (untimed). Without them, statistics from when every chat was queued make the
    planner count agents' loads through ix_conversations_status: seconds per ranking."""
    if not store.is_sqlite:
        async with store._write() as conn:
            await conn.execute(text("ANALYZE"))


# phases


async def baseline(world: World, calls: int) -> dict[str, float]:
    """The cheapest write transaction on this engine (see the module docstring)."""
    a = t.agents.c
    timings = Timings()
    ids = [agent.id for agent in world.agents]
    for i in range(calls):
        agent_id = ids[i % len(ids)]

        async def one(agent_id: str = agent_id) -> None:
            async with world.store._write() as conn:
                await conn.execute(update(t.agents).where(a.id == agent_id)
                                   .values(presence_at=a.presence_at))

        await timings.time(one)
    return timings.summary()


async def online_one_by_one(world: World, agents: list[Agent]) -> dict[str, float]:
    timings = Timings()
    before = world.notifier.assigned_count
    for agent in agents:
        world.now()
        await timings.time(lambda agent=agent: world.service.set_presence(agent, Presence.ONLINE))
    return {**timings.summary(), "assigned": world.notifier.assigned_count - before}


async def burst(world: World, agents: list[Agent]) -> dict[str, float]:
    a = t.agents.c
    async with world.store._write() as conn:
        await conn.execute(update(t.agents).where(a.id.in_([x.id for x in agents]))
                           .values(presence=str(Presence.ONLINE), presence_at=world.now()))
    timings = Timings()
    before = world.notifier.assigned_count
    for team in world.routing.teams:
        world.now()
        await timings.time(lambda team=team: world.service.assign(team))
    return {**timings.summary(), "assigned": world.notifier.assigned_count - before}


async def _resolve_one(world: World) -> Agent | None:
    """Resolve a random assigned chat (untimed), as its agent would: returns the agent."""
    c = t.conversations.c
    async with world.store._read() as conn:
        rows = (await conn.execute(select(c.id, c.agent_id).where(c.status == str(S.ASSIGNED))
                                   .order_by(c.assigned_at).limit(50))).all()
    if not rows:
        return None
    row = world.rng.choice(rows)
    done = await world.store.transition(row.id, S.RESOLVED, allowed_from={S.ASSIGNED},
                                        agent_id=row.agent_id, actor_kind="agent",
                                        actor_id=row.agent_id)
    if done is None:
        raise RuntimeError(f"could not resolve {row.id}")
    world.notifier.load[row.agent_id] -= 1
    return next(agent for agent in world.agents if agent.id == row.agent_id)


async def decisions(world: World, calls: int) -> dict[str, float]:
    """One place frees, one store.assign_next gives out one chat (the decision)."""
    timings = Timings()
    assigned = 0
    for _ in range(calls):
        agent = await _resolve_one(world)
        if agent is None:
            break
        team_id = next(team for team in world.routing.teams
                       if world.routing.can_take(agent, team))
        team = world.routing.teams[team_id]
        candidates = world.routing.candidates(world.agents, team_id)
        now = world.now()
        given = await timings.time(lambda team_id=team_id, candidates=candidates,
                                   strategy=team.strategy, now=now: world.store.assign_next(
            team_id, candidates, strategy, now=now, accept_deadline=now + 60_000))
        if given is None:
            # Its team's queue is empty (the quick run's small queues): the place stays free.
            continue
        assigned += 1
        await world.notifier.assigned(given)
    return {**timings.summary(), "assigned": assigned,
            "candidates": float(max(len(world.routing.candidates(world.agents, team))
                                    for team in world.routing.teams))}


async def drain(world: World, max_calls: int, seconds: float) -> dict[str, float]:
    """One place frees (untimed), RoutingService.freed gives it out; until the queue is
    empty, `max_calls`, or `seconds` of wall time in all."""
    timings = Timings()
    before = world.notifier.assigned_count
    started = time.monotonic()
    empty_in_a_row = 0
    for _ in range(max_calls):
        if time.monotonic() - started > seconds:
            break
        agent = await _resolve_one(world)
        if agent is None:
            break
        world.now()
        count = world.notifier.assigned_count
        await timings.time(lambda agent=agent: world.service.freed(agent))
        empty_in_a_row = 0 if world.notifier.assigned_count > count else empty_in_a_row + 1
        if empty_in_a_row >= 50 and not await _queued(world):
            break
    return {**timings.summary(), "assigned": world.notifier.assigned_count - before,
            "stopped_by_time": float(time.monotonic() - started > seconds)}


async def frees_at_once(world: World, places: int, rounds: int) -> dict[str, float]:
    """`places` agents free a place each (untimed), then all their `freed` calls run at once,
    as their sockets' events would: the queue refills them in batches. Timed as a whole."""
    timings = Timings()
    before = world.notifier.assigned_count
    for _ in range(rounds):
        freed = [agent for agent in [await _resolve_one(world) for _ in range(places)]
                 if agent is not None]
        if not freed or not await _queued(world):
            break
        world.now()
        await timings.time(lambda freed=freed: asyncio.gather(
            *(world.service.freed(agent) for agent in freed)))
    return {**timings.summary(), "assigned": world.notifier.assigned_count - before}


async def _queued(world: World) -> int:
    c = t.conversations.c
    async with world.store._read() as conn:
        return int(await conn.scalar(select(func.count()).where(c.status == str(S.QUEUED)))
                   or 0)


class VisitorSockets:
    """The visitors' side of the queue position publisher (QueueWaits' Watchers and its
    notifier): every waiting contact is connected to this process with one connection, and
    each position update is kept with the time it arrived. `expect` names the positions a
    change should lead to; `settled` is set once every one of them has arrived."""

    def __init__(self) -> None:
        self.by_contact: dict[str, tuple[str, ...]] = {}
        self.latest: dict[str, tuple[Wait, float]] = {}  # contact -> (last update, when)
        self.updates = 0
        self.settled = asyncio.Event()
        self._expected: dict[str, tuple[str, int]] = {}  # contact -> (conversation, position)

    def connect(self, contact_ids: list[str]) -> None:
        # As the visitor namespace keeps them (a contact's connection ids), built once.
        self.by_contact = {contact_id: (f"v-{contact_id}",) for contact_id in contact_ids}

    def connections_of(self, contact_id: str) -> tuple[str, ...]:
        return self.by_contact.get(contact_id, ())

    async def queue_position(self, contact_id: str, wait: Wait, *, local: bool) -> None:
        now = time.perf_counter()
        self.updates += 1
        self.latest[contact_id] = (wait, now)
        if self._expected.get(contact_id) == (wait.conversation_id, wait.position):
            del self._expected[contact_id]
            if not self._expected:
                self.settled.set()

    def told(self, contact_id: str, expected: tuple[str, int]) -> bool:
        latest = self.latest.get(contact_id)
        return latest is not None and (latest[0].conversation_id, latest[0].position) == expected

    def expect(self, expected: dict[str, tuple[str, int]]) -> None:
        self._expected = {contact_id: want for contact_id, want in expected.items()
                          if not self.told(contact_id, want)}
        if self._expected:
            self.settled.clear()
        else:
            self.settled.set()


class TimedWaits(QueueWaits):
    """The production publisher, each tick that recomputed something timed (wall and this
    process's CPU, which on SQLite includes the driver's thread)."""

    ticks: list[tuple[float, float, int]]  # (wall s, CPU s, recomputes) per tick

    async def publish(self) -> None:
        wall, cpu, before = time.perf_counter(), time.process_time(), self.recomputes
        try:
            await super().publish()
        finally:
            if self.recomputes > before:
                self.ticks.append((time.perf_counter() - wall, time.process_time() - cpu,
                                   self.recomputes - before))


async def refill(world: World, chats: int) -> None:
    """Queue new chats until `chats` wait, each team's queue its QUEUE_SHARE of them (as at
    the start), with every agent's places taken (untimed): top up, let each team's queue be
    given out, top up again (bounded)."""
    for _ in range(3):
        lengths = {team: await world.store.queue_length(team) for team in QUEUE_SHARE}
        for team, share in QUEUE_SHARE.items():
            missing = round(chats * share) - lengths[team]
            if missing > 0:
                await queue_chats(world.store, world.rng, missing, world.clock[0], team)
                world.clock[0] += missing
                world.chats += missing
        given = 0
        for team in world.routing.teams:
            world.now()
            given += len(await world.service.assign(team))
        if not given:
            break
    await analyze(world.store)


async def position_updates(world: World, changes: int, chats: int) -> dict[str, Any]:
    """Queue position updates to all waiting visitors within 1 s of a change.

    The queue is refilled to `chats` (untimed, every place taken); the service gets the
    production publisher (QueueWaits, its `run` loop every 0.25 s) with every waiting
    contact connected here (VisitorSockets). Then `changes` changes, each after the previous
    settled, alternately: a random chat is resolved and `freed(agent)` gives the head of one
    of the agent's teams' queues out, and the head of a team's queue (teams in turn) leaves
    it (`RoutingService.leave`). Either moves everyone behind it up one place. Timed: from the
    change's commit (the notifier's conversation_changed, which follows it) to the LAST of
    that team's waiting visitors receiving its new position. After each change every waiting
    visitor's last position is checked against `store.queue_order` (a wrong one is a broken
    invariant). The service's clock follows the wall clock in this phase, so the publisher's
    estimate inputs expire as in production."""
    store, service = world.store, world.service
    await refill(world, chats)
    known = {team: await store.queue_order(team) for team in world.routing.teams}
    waiting = sum(len(order) for order in known.values())
    sockets = VisitorSockets()
    sockets.connect([line.contact_id for order in known.values() for line in order])
    waits = TimedWaits(store, sockets, lambda: service.routing, clock=service.clock)
    waits.ticks = []
    waits.watchers = sockets
    for team in world.routing.teams:
        waits.mark(team)  # as after a restart: every queue is recomputed once
    service.waits = waits
    notifier = world.notifier

    def expected_of(orders: dict[str, list[Any]]) -> dict[str, tuple[str, int]]:
        return {line.contact_id: (line.conversation_id, n) for order in orders.values()
                for n, line in enumerate(order, 1)}

    problems: list[str] = []
    per_change: list[dict[str, Any]] = []
    started = time.perf_counter()
    sockets.expect(expected_of(known))
    publisher = asyncio.create_task(waits.run())
    try:
        # The first tick tells all of them and tracks their connections (a cold start).
        try:
            await asyncio.wait_for(sockets.settled.wait(), 120)
            cold: float | None = time.perf_counter() - started
        except TimeoutError:
            cold = None
            problems.append("the first publish did not reach every waiting visitor in 120 s")
        await asyncio.sleep(2 * waits.interval)  # the tick ends (and is timed)
        cold_ticks = list(waits.ticks)
        del waits.ticks[:]
        recomputes_before = waits.recomputes
        last_wall = time.perf_counter()
        rotation = list(world.routing.teams)
        for i in range(changes):
            # The service's clock moves with the wall clock here (estimates expire).
            world.clock[0] += max(1, round((time.perf_counter() - last_wall) * 1000))
            last_wall = time.perf_counter()
            before_changed, recomputes = notifier.changed_at, waits.recomputes
            ticks = len(waits.ticks)
            if i % 2 == 0:
                kind = "freed"
                agent = await _resolve_one(world)
                if agent is None:
                    break
                notifier.changed_at = before_changed
                count = notifier.assigned_count
                await service.freed(agent)
                if notifier.assigned_count != count + 1:
                    problems.append(f"change {i}: freed gave out {notifier.assigned_count - count}"
                                    " chats, not one")
                    break
                gone = notifier.last
            else:
                kind = "leave"
                turn = rotation[(i // 2) % len(rotation)]
                if not known[turn]:
                    continue
                head = known[turn][0]
                gone = await service.leave(head.contact_id, head.conversation_id)
            committed = notifier.changed_at
            if gone is None or gone.queue_team is None or committed == before_changed:
                problems.append(f"change {i} ({kind}): no queued chat left its queue")
                break
            team = gone.queue_team
            old = known[team]
            new_order = [line for line in old if line.conversation_id != gone.id]
            if len(new_order) != len(old) - 1:
                problems.append(f"change {i}: {gone.id} was not in {team}'s queue")
                break
            expected = {line.contact_id: (line.conversation_id, n)
                        for n, line in enumerate(new_order, 1)}
            moved = [line.contact_id for n, line in enumerate(old, 1)
                     if line.conversation_id != gone.id
                     and expected[line.contact_id][1] != n]
            sockets.expect(expected)
            try:
                await asyncio.wait_for(sockets.settled.wait(), 10)
                last: float | None = (max((sockets.latest[c][1] for c in moved),
                                          default=committed) - committed)
            except TimeoutError:
                last = None
                problems.append(f"change {i} ({kind}, {team}): not every waiting visitor got "
                                "their new position within 10 s")
            # Settled: nothing should be left to publish; then check every waiting visitor.
            # The pause's random part puts the next change anywhere in the publisher's
            # interval, as changes come in production (not always just after a tick).
            await asyncio.sleep(2 * waits.interval + world.rng.uniform(0, waits.interval))
            known = {t_: await store.queue_order(t_) for t_ in world.routing.teams}
            wrong = [contact for contact, want in expected_of(known).items()
                     if not sockets.told(contact, want)]
            if wrong:
                problems.append(f"change {i} ({kind}, {team}): {len(wrong)} waiting visitors "
                                "hold a wrong position")
            # The publisher's ticks from the change until now (the settling pause included,
            # so a late recompute would count): its cost for this change.
            cpu = sum(tick[1] for tick in waits.ticks[ticks:])
            per_change.append({"kind": kind, "team": team, "waiting": len(new_order),
                               "moved": len(moved), "last_s": last,
                               "recomputes": waits.recomputes - recomputes,
                               "publisher_cpu_ms": cpu * 1000,
                               "cpu_us_per_visitor": cpu * 1e6 / max(1, len(new_order))})
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
        await waits.close()
    notifier.problems += problems
    lasts = [c["last_s"] for c in per_change if c["last_s"] is not None]
    timed = [(cpu / n, wall / n) for wall, cpu, n in waits.ticks]
    result: dict[str, Any] = {
        "waiting": waiting,
        "changes": len(per_change), "settled": len(lasts),
        "cold_s": cold, "cold_recomputes": sum(n for _, _, n in cold_ticks),
        "cold_cpu_s": sum(cpu for _, cpu, _ in cold_ticks),
        "recomputes": waits.recomputes - recomputes_before, "ticks": len(waits.ticks),
        "updates": sockets.updates, "problems": problems, "per_change": per_change}
    if lasts:
        result.update(p50_s=percentile(lasts, 50), p99_s=percentile(lasts, 99),
                      max_s=max(lasts))
    if per_change:
        result["cpu_us_per_visitor_p50"] = percentile(
            [c["cpu_us_per_visitor"] for c in per_change], 50)
    if timed:
        result.update(
            cpu_per_recompute_p50_ms=percentile([c for c, _ in timed], 50) * 1000,
            cpu_per_recompute_max_ms=max(c for c, _ in timed) * 1000,
            wall_per_recompute_p50_ms=percentile([w for _, w in timed], 50) * 1000,
            cpu_s=sum(cpu for _, cpu, _ in waits.ticks))
    result["met"] = (bool(lasts) and len(lasts) == len(per_change) and not problems
                     and max(lasts) < TARGET_POSITION_S)
    return result


# invariants


async def check(world: World) -> list[str]:
    c, e = t.conversations.c, t.events.c
    problems = list(world.notifier.problems)
    async with world.store._read() as conn:
        twice = (await conn.execute(
            select(e.conversation_id, func.count().label("n"))
            .where(e.kind == "conversation.assigned").group_by(e.conversation_id)
            .having(func.count() > 1))).all()
        problems += [f"{row.conversation_id} assigned {row.n} times" for row in twice]
        loads = dict((await conn.execute(
            select(c.agent_id, func.count()).where(c.status == str(S.ASSIGNED))
            .group_by(c.agent_id))).all())
        statuses = dict((await conn.execute(
            select(c.status, func.count()).group_by(c.status))).all())
        given = (await conn.execute(
            select(c.id, c.agent_id, c.queue_team)
            # (A visitor who left the queue resolved theirs with no agent.)
            .where(c.status.in_([str(S.ASSIGNED), str(S.RESOLVED)]),
                   c.agent_id.is_not(None)))).all()
        events = int(await conn.scalar(select(func.count()).select_from(t.events)
                                       .where(e.kind == "conversation.assigned")) or 0)
    by_id = {agent.id: agent for agent in world.agents}
    for agent_id, load in loads.items():
        if load > world.notifier.capacity[agent_id]:
            problems.append(f"agent {agent_id} holds {load} chats, above its capacity")
    for row in given:
        agent = by_id[row.agent_id]
        team = world.routing.teams[row.queue_team]
        if not (world.routing.can_take(agent, team.id) or (
                team.overflow is not None and world.routing.can_take(agent, team.overflow))):
            problems.append(f"{row.id} ({row.queue_team}) went to {agent.email}")
    if sum(statuses.values()) != world.chats:
        problems.append(f"conversations: {statuses}, expected {world.chats} in all")
    if events != len(given) or events != world.notifier.assigned_count:
        problems.append(f"{events} assigned events, {len(given)} chats given, "
                        f"{world.notifier.assigned_count} announced")
    return problems


# running and reporting


async def run_engine(url: str, args: argparse.Namespace) -> dict[str, Any]:
    world = await build_world(url, agents=args.agents, chats=args.chats, seed=args.seed)
    try:
        result: dict[str, Any] = {"engine": "sqlite" if world.store.is_sqlite else "postgresql",
                                  "agents": args.agents, "chats": args.chats}
        result["baseline"] = await baseline(world, args.baseline)
        half = world.agents[: len(world.agents) // 2]
        result["online"] = await online_one_by_one(world, half)
        await analyze(world.store)
        result["burst"] = await burst(world, world.agents[len(half):])
        await analyze(world.store)
        result["decisions"] = await decisions(world, args.decisions)
        result["drain"] = await drain(world, args.drain, args.seconds)
        result["at_once"] = await frees_at_once(world, args.at_once, args.at_once_rounds)
        result["baseline_end"] = await baseline(world, args.baseline)
        result["position_updates"] = await position_updates(world, args.position_changes,
                                                            args.chats)
        result["queued_left"] = await _queued(world)
        result["problems"] = await check(world)
    finally:
        await world.store.close()
    return result


async def fresh_postgres(base_url: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    """A new database on the server `base_url` names, and how to drop it."""
    import asyncpg

    base = make_url(base_url)
    admin_url = base.set(drivername="postgresql").render_as_string(False)
    name = f"chatkit_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return base.set(database=name).render_as_string(False), drop


def _ms(value: float) -> str:
    return f"{value:.2f}"


def report(result: dict[str, Any]) -> list[str]:
    base, base_end = result["baseline"], result["baseline_end"]
    floor = (base["p50_ms"] + base_end["p50_ms"]) / 2
    floor_cpu = (base["cpu_p50_ms"] + base_end["cpu_p50_ms"]) / 2
    lines = [f"## {result['engine']}: {result['agents']} agents, {result['chats']} queued chats",
             "",
             f"baseline (one bare write transaction): p50 {_ms(base['p50_ms'])} ms "
             f"(CPU {_ms(base['cpu_p50_ms'])}), p99 {_ms(base['p99_ms'])} ms; at the end p50 "
             f"{_ms(base_end['p50_ms'])} ms (CPU {_ms(base_end['cpu_p50_ms'])})",
             "",
             "| phase | calls | assigned | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms | "
             "assigned/s (wall) | assigned/s (CPU) | p50 / baseline |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, label in (("online", "agents come online (set_presence)"),
                        ("burst", "burst: assign(team) after a mass online"),
                        ("decisions", "decision: store.assign_next"),
                        ("drain", "drain: freed(agent), one place at a time"),
                        ("at_once", "frees at once: N freed() together, per round")):
        row = result[name]
        if not row.get("calls"):
            lines.append(f"| {label} | 0 | | | | | | | | |")
            continue
        per_wall = row["assigned"] / row["wall_s"] if row["wall_s"] else 0.0
        per_cpu = row["assigned"] / row["cpu_s"] if row["cpu_s"] else 0.0
        lines.append(
            f"| {label} | {row['calls']} | {row['assigned']} | {_ms(row['p50_ms'])} | "
            f"{_ms(row['p99_ms'])} | {_ms(row['cpu_p50_ms'])} | {_ms(row['cpu_p99_ms'])} | "
            f"{per_wall:,.0f} | {per_cpu:,.0f} | {row['p50_ms'] / floor:.1f}x "
            f"(CPU {row['cpu_p50_ms'] / floor_cpu:.1f}x) |")
    position = result["position_updates"]
    if position is not None:
        lines += ["", *position_report(position, floor, floor_cpu)]
    lines.append("")
    for target in targets(result):
        verdict = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[target["met"]]
        lines.append(f"target {target['name']}: {target['value']} -> {verdict}")
    lines.append(f"queue left: {result['queued_left']}; invariants: "
                 + ("OK" if not result["problems"] else f"{len(result['problems'])} BROKEN"))
    lines += [f"  {problem}" for problem in result["problems"][:20]]
    return lines


def position_report(position: dict[str, Any], floor_ms: float, floor_cpu_ms: float
                    ) -> list[str]:
    def s_(key: str) -> str:
        value = position.get(key)
        return "-" if value is None else f"{value * 1000:,.0f} ms"

    lines = [f"queue position updates, {position['waiting']:,} waiting visitors connected here, "
             f"{position['changes']} changes ({position['settled']} settled): change's commit "
             f"-> the last of its team's visitors told, p50 {s_('p50_s')}, p99 {s_('p99_s')}, "
             f"max {s_('max_s')}"]
    if position.get("p50_s") is not None:
        lines.append(f"  p50 / baseline: {position['p50_s'] * 1000 / floor_ms:,.0f}x")
    if position.get("cpu_per_recompute_p50_ms") is not None:
        lines.append(
            f"  publisher per recompute (one team's whole queue): CPU p50 "
            f"{_ms(position['cpu_per_recompute_p50_ms'])} ms, max "
            f"{_ms(position['cpu_per_recompute_max_ms'])} ms ("
            f"{position['cpu_per_recompute_p50_ms'] / floor_cpu_ms:,.0f}x the baseline's CPU), "
            f"wall p50 {_ms(position['wall_per_recompute_p50_ms'])} ms; CPU per waiting "
            f"visitor of the team p50 {position['cpu_us_per_visitor_p50']:.1f} µs; "
            f"{position['recomputes']} recomputes in {position['ticks']} ticks for "
            f"{position['changes']} changes")
    lines.append(f"  cold start (every queue, every visitor told and tracked): {s_('cold_s')}, "
                 f"CPU {position['cold_cpu_s'] * 1000:,.0f} ms, "
                 f"{position['cold_recomputes']} recomputes; {position['updates']:,} updates "
                 "in all")
    by_team: dict[str, list[float]] = {}
    for change in position["per_change"]:
        if change["last_s"] is not None:
            by_team.setdefault(change["team"], []).append(change["last_s"])
    def cpu_of(team: str) -> float:
        return percentile([c["publisher_cpu_ms"] for c in position["per_change"]
                           if c["team"] == team], 50)

    lines.append("  per team, slowest change and publisher CPU p50: " + ", ".join(
        f"{team} ({max(c['waiting'] for c in position['per_change'] if c['team'] == team):,}"
        f" waiting) {max(values) * 1000:,.0f} ms, CPU {cpu_of(team):,.0f} ms"
        for team, values in sorted(by_team.items())))
    lines += [f"  {problem}" for problem in position["problems"][:10]]
    return lines


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    decision, drain_ = result["decisions"], result["drain"]
    service_p99 = drain_.get("p99_ms")
    rate = drain_["assigned"] / drain_["wall_s"] if drain_.get("wall_s") else 0.0
    burst_ = result["burst"]
    burst_rate = burst_["assigned"] / burst_["wall_s"] if burst_.get("wall_s") else 0.0
    at_once = result["at_once"]
    at_once_rate = at_once["assigned"] / at_once["wall_s"] if at_once.get("wall_s") else 0.0
    found = [
        {"name": f"decision p99 < {TARGET_DECISION_P99_MS:g} ms (store.assign_next)",
         "value": f"{_ms(decision.get('p99_ms', float('nan')))} ms",
         "met": decision.get("p99_ms", float("inf")) < TARGET_DECISION_P99_MS},
        {"name": f"decision p99 < {TARGET_DECISION_P99_MS:g} ms (RoutingService.freed)",
         "value": f"{_ms(service_p99 if service_p99 is not None else float('nan'))} ms",
         "met": service_p99 is not None and service_p99 < TARGET_DECISION_P99_MS},
        {"name": f">= {TARGET_PER_SECOND:,.0f} assignments/s, one place at a time",
         "value": f"{rate:,.0f}/s", "met": rate >= TARGET_PER_SECOND},
        {"name": f">= {TARGET_PER_SECOND:,.0f} assignments/s, burst",
         "value": f"{burst_rate:,.0f}/s", "met": burst_rate >= TARGET_PER_SECOND},
        {"name": f">= {TARGET_PER_SECOND:,.0f} assignments/s, frees at once",
         "value": f"{at_once_rate:,.0f}/s", "met": at_once_rate >= TARGET_PER_SECOND},
    ]
    position = result["position_updates"]
    found.append({"name": f"queue positions to all waiting visitors < {TARGET_POSITION_S:g} s",
                  "value": "not measured" if position is None
                  else f"max {position.get('max_s', float('nan')) * 1000:,.0f} ms over "
                  f"{position['changes']} changes, {position['waiting']:,} waiting",
                  "met": None if position is None else position.get("met")})
    return found


async def main_async(args: argparse.Namespace) -> int:
    urls: list[tuple[str, Callable[[], Awaitable[None]] | None]] = []
    with tempfile.TemporaryDirectory(prefix="chatkit-bench-routing-") as tmp:
        if not args.no_sqlite:
            urls.append((f"sqlite:///{Path(tmp) / 'routing.db'}", None))
        postgres = args.database or os.environ.get("CHATKIT_TEST_POSTGRES")
        results = []
        if postgres:
            url, drop = await fresh_postgres(postgres)
            urls.append((url, drop))
        for url, drop in urls:
            try:
                results.append(await run_engine(url, args))
            finally:
                if drop is not None:
                    await drop()
    load = os.getloadavg()
    out = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "python": platform.python_version(), "cpus": os.cpu_count(),
           "loadavg": [round(x, 2) for x in load], "args": vars(args),
           "results": [{**r, "targets": targets(r)} for r in results]}
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        print(f"# bench/routing.py, {out['when']}, Python {out['python']}, "
              f"{out['cpus']} cpus, load average {load[0]:.2f}")
        for result in results:
            print()
            print("\n".join(report(result)))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (a busy machine "
              "inflates wall times; compare the CPU columns and the ratios)")
    return 1 if any(r["problems"] for r in results) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 60 agents, 400 chats, few calls")
    parser.add_argument("--database", help="a PostgreSQL server URL (a fresh database is made "
                        "on it); default: CHATKIT_TEST_POSTGRES if set")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=500,
                        help="store.assign_next calls timed")
    parser.add_argument("--drain", type=int, default=10_000,
                        help="at most this many freed() calls")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="the drain stops after this much wall time")
    parser.add_argument("--at-once", type=int, default=200,
                        help="places freed together per round (frees-at-once phase)")
    parser.add_argument("--at-once-rounds", type=int, default=5)
    parser.add_argument("--baseline", type=int, default=300, help="baseline transactions")
    parser.add_argument("--position-changes", type=int, default=20,
                        help="queue changes timed in the position updates phase")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.chats, args.decisions = 60, 400, 30
        args.drain, args.seconds, args.baseline = 60, 10.0, 30
        args.at_once, args.at_once_rounds = 10, 2
        args.position_changes = 6
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
