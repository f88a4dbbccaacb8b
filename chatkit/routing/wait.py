"""The visitor's wait: live queue position and estimated wait, and the tracking of waiting
visitors' connections that abandonment needs.

Built for big queues (10,000 waiting, thousands of assignments a second): a change to a queue
only marks its team dirty (`mark`, no I/O). Each process runs one publisher (`run`) that,
every `interval` seconds at most, writes its marks to the store in one statement, reads every
team's mark from the store in one query (so it sees what other processes changed), and for
each dirty team reads the whole queue's order in one query and tells only the visitors
connected to *this* process whose position or estimate changed. Each process publishing to
its own sockets (`local` emits) is what lets it scale out: no emit crosses Redis, and the
work of a big queue is split between the processes that hold its visitors' connections.

The estimate (docs/architecture.md, "The visitor's wait"): with C chats the team's online
agents can hold at once (capacity, with the overflow team's), F of them free now, and H the
mean handle time of the team's recent conversations, the visitor at position P waits about
max(0, P - F) * H / C: each of the C places frees once per H on average, so places free at a
rate of C / H, and the visitor needs P - F of them. Unknown (None) when nobody online can
take the chat or the team has no handled conversation yet.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from chatkit.loops import stop_if_cancelled
from chatkit.models import Conversation, ConversationStatus, Presence
from chatkit.routing.config import Routing
from chatkit.routing.disconnections import Disconnections
from chatkit.storage import Store

log = logging.getLogger(__name__)

#: How long a tracked visitor connection counts as live without being renewed, and how often
#: each process renews its own (as agents' connections, routing/service.py).
VISITOR_TTL_MS = 30_000
RENEW_EVERY_MS = 10_000
#: Handle times: how many recent conversations, and how long the mean is reused.
HANDLE_SAMPLE = 50
HANDLE_TTL_MS = 30_000
#: Agents online and their load: how long a team's staffing is reused between recomputes.
STAFFING_TTL_MS = 1_000
#: How often a process looks for visitors gone past the grace period (a minutes-long grace
#: needs no finer grain; the routing sweep itself may run much more often).
ABANDON_SWEEP_MS = 1_000


@dataclass(slots=True, frozen=True)
class Wait:
    """Where a queued conversation stands: `position` 1 is next; `estimated_wait` in
    seconds, rounded up to whole minutes (so it changes only when the minutes shown do), or
    None when unknown."""

    conversation_id: str
    team: str
    position: int
    estimated_wait: int | None

    def to_wire(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "team": self.team,
                "position": self.position, "estimated_wait": self.estimated_wait}


@dataclass(slots=True, frozen=True)
class Staffing:
    """A team's online agents (with its overflow team's): chats they hold at most at once,
    and how many more they could take now."""

    capacity: int
    free: int


def estimate(position: int, staffing: Staffing, handle_ms: float | None) -> int | None:
    """Seconds a visitor at `position` should expect to wait, in whole minutes (see the
    module docstring); None when nobody can take the chat or no handle time is known."""
    if staffing.capacity <= 0 or handle_ms is None:
        return None
    needed = max(0, position - staffing.free)
    minutes = math.ceil(needed * handle_ms / staffing.capacity / 60_000)
    return minutes * 60


class WaitNotifier(Protocol):
    async def queue_position(self, contact_id: str, wait: Wait, *, local: bool) -> None:
        """Tell the contact's widget connections where their conversation stands; with
        `local`, only those connected to this process."""


class Watchers(Protocol):
    """The visitors connected to this process (the realtime layer's visitor namespace)."""

    def connections_of(self, contact_id: str) -> Collection[str]:
        """The ids of the contact's widget connections here (empty when none)."""


class QueueWaits:
    """Positions and estimates for waiting visitors, published coalesced (module docstring),
    and the liveness of their connections. One per process; `run` is its loop."""

    def __init__(self, store: Store, notifier: WaitNotifier, routing: Callable[[], Routing], *,
                 clock: Callable[[], int], interval: float = 0.25,
                 abandon_grace: float = 120.0) -> None:
        self.store = store
        self.notifier = notifier
        self.routing = routing
        self.clock = clock
        self.interval = interval
        self.grace_ms = round(abandon_grace * 1000)
        #: Set by the realtime layer; None: nobody is connected here (tests of the service).
        self.watchers: Watchers | None = None
        #: How many times a team's positions were recomputed (tests, benchmarks).
        self.recomputes = 0
        self._dirty: set[str] = set()       # recompute at the next tick
        self._unflushed: set[str] = set()   # tell the store (other processes) at the next tick
        self._marks: dict[str, int] = {}    # the store's marks as last read
        self._sent: dict[str, dict[str, Wait]] = {}  # team -> conversation -> last told here
        self._handle: dict[str, tuple[int, float | None]] = {}  # team -> (read at, mean)
        self._staffing: dict[str, tuple[int, Staffing]] = {}
        self._tracked: dict[str, str] = {}  # connection id -> contact id (in the store)
        self._renewed_at = 0
        self._swept_at: int | None = None
        #: Milliseconds between two looks for abandoned chats (tests set 0).
        self.abandon_sweep_ms = ABANDON_SWEEP_MS
        self._disconnections = Disconnections("a visitor's")

    # changes

    def mark(self, team: str) -> None:
        """The team's queue changed (anything: queued, assigned, left, priority, staffing).
        No I/O: the next tick recomputes it, here and, through the store, everywhere."""
        self._dirty.add(team)
        self._unflushed.add(team)

    # the publisher

    async def run(self) -> None:
        """Publish every `interval` seconds until cancelled; a failed round is logged and the
        next one tries again (its marks are kept)."""
        while True:
            try:
                await self.publish()
            except Exception:
                log.exception("publishing queue positions failed; trying again")
            stop_if_cancelled()
            await asyncio.sleep(self.interval)

    async def publish(self) -> None:
        """One tick: share this process's marks, see everyone's, recompute the dirty teams."""
        if self._unflushed:
            teams = set(self._unflushed)
            await self.store.mark_queues(teams)
            self._unflushed -= teams
        marks = await self.store.queue_marks()
        dirty = self._dirty | {team for team, version in marks.items()
                               if self._marks.get(team) != version}
        self._dirty = set()
        self._marks = marks
        order = sorted(dirty)
        for n, team in enumerate(order):
            try:
                await self._publish(team)
            except Exception:
                self._dirty.update(order[n:])  # this one and the rest: next tick
                raise
        await self._renew()

    async def _publish(self, team: str) -> None:
        self.recomputes += 1
        order = await self.store.queue_order(team)
        watchers = self.watchers
        previous = self._sent.get(team, {})
        current: dict[str, Wait] = {}
        new_connections: dict[str, str] = {}
        if watchers is not None and order:
            staffing = await self.staffing(team)
            handle = await self.handle_time(team)
            for position, (conversation_id, contact_id) in enumerate(order, 1):
                connections = watchers.connections_of(contact_id)
                if not connections:
                    continue  # nobody here to tell; another process (or nobody) has them
                wait = Wait(conversation_id, team, position,
                            estimate(position, staffing, handle))
                current[conversation_id] = wait
                if previous.get(conversation_id) != wait:
                    await self.notifier.queue_position(contact_id, wait, local=True)
                for connection_id in connections:
                    if connection_id not in self._tracked:
                        new_connections[connection_id] = contact_id
        if current:
            self._sent[team] = current
        else:
            self._sent.pop(team, None)
        # A visitor whose conversation became queued by another process (a bot's handoff, a
        # requeue) is tracked here from now on, for abandonment.
        await self._track(new_connections)

    # estimates

    async def handle_time(self, team: str) -> float | None:
        """Mean handle time of the team's recent conversations (ms), read at most every
        HANDLE_TTL_MS."""
        now = self.clock()
        cached = self._handle.get(team)
        if cached is not None and now - cached[0] < HANDLE_TTL_MS:
            return cached[1]
        mean = await self.store.handle_time(team, sample=HANDLE_SAMPLE)
        self._handle[team] = (now, mean)
        return mean

    async def staffing(self, team: str) -> Staffing:
        """The team's online agents' capacity and free places (read at most every
        STAFFING_TTL_MS)."""
        now = self.clock()
        cached = self._staffing.get(team)
        if cached is not None and now - cached[0] < STAFFING_TTL_MS:
            return cached[1]
        routing = self.routing()
        config = routing.teams.get(team)
        agents = await self.store.list_agents()
        capacities: dict[str, int] = {}
        for source in (team, None if config is None else config.overflow):
            if source is not None and source in routing.teams:
                capacities.update(routing.candidates(agents, source))
        presence = await self.store.get_presence(list(capacities))
        online = [a for a, p in presence.items() if p.presence is Presence.ONLINE]
        loads = await self.store.agent_loads(online)
        found = Staffing(capacity=sum(capacities[a] for a in online),
                         free=sum(max(0, capacities[a] - loads.get(a, 0)) for a in online))
        self._staffing[team] = (now, found)
        return found

    async def wait_of(self, conversation: Conversation) -> Wait | None:
        """Where the conversation stands now (one query, and the cached estimate inputs);
        None when it is not queued."""
        if conversation.status is not ConversationStatus.QUEUED:
            return None
        found = await self.store.queue_position(conversation.id)
        if found is None:
            return None
        team, position = found
        wait = Wait(conversation.id, team, position,
                    estimate(position, await self.staffing(team), await self.handle_time(team)))
        self._sent.setdefault(team, {})[conversation.id] = wait
        return wait

    # waiting visitors' connections

    async def watch(self, connection_id: str, contact_id: str,
                    conversation: Conversation | None) -> Wait | None:
        """A widget connection learnt its contact's open conversation (resume, handoff):
        while it is queued, the connection is tracked (for abandonment; a reload comes back
        here within the grace period) and gets where it stands. None when not queued."""
        if conversation is None or conversation.status is not ConversationStatus.QUEUED:
            return None
        await self._track({connection_id: contact_id})
        return await self.wait_of(conversation)

    def disconnected(self, connection_id: str) -> None:
        """A widget connection closed. Only tracked ones cost a store write, recorded in a
        task of its own (routing/disconnections.py)."""
        if self._tracked.pop(connection_id, None) is None:
            return
        self._disconnections.record(self.store.visitor_disconnected(
            connection_id, now=self.clock(), grace_ms=self.grace_ms))

    async def close(self) -> None:
        await self._disconnections.close()

    async def _track(self, connections: dict[str, str]) -> None:
        if not connections:
            return
        await self.store.track_visitors(connections, expires_at=self.clock() + VISITOR_TTL_MS)
        self._tracked.update(connections)

    async def _renew(self) -> None:
        now = self.clock()
        if now - self._renewed_at < RENEW_EVERY_MS:
            return
        self._renewed_at = now
        await self.store.renew_visitors(list(self._tracked), expires_at=now + VISITOR_TTL_MS)

    async def sweep(self) -> list[Conversation]:
        """Abandon the queued conversations whose visitors are gone past the grace period
        (any process may run it; the store claims each once), at most every
        `abandon_sweep_ms`."""
        now = self.clock()
        if self._swept_at is not None and now - self._swept_at < self.abandon_sweep_ms:
            return []
        self._swept_at = now
        return await self.store.sweep_visitors(now=now, grace_ms=self.grace_ms)
