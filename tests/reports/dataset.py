"""A generated, seeded data set of conversations, stored through the store's own API (with
its clock driven by the generator), and the reports' metrics computed from the plan in plain
Python: what the SQL reports must agree with."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from chatkit.models import (
    AgentRole,
    ConversationStatus,
    Handoff,
    HandoffReason,
    NewMessage,
    SenderKind,
)
from chatkit.storage import SqlStore

S = ConversationStatus
HOUR = 3600 * 1000
DAY = 24 * HOUR
START = 1_790_000_000_000  # a fixed instant (2026-09-21 UTC)
TEAMS = ("billing", "sales")
#: The time between two conversations' creation (ms, from, to): spread over days and hours.
spacing = (10 * 60_000, 90 * 60_000)


def billing_open(team: str | None, start: int, end: int) -> int:
    """The test's business hours: billing is open in the first half of every hour, the
    other teams always."""
    if team != "billing":
        return end - start
    total, at = 0, start
    while at < end:
        hour_start = at - at % HOUR
        open_end = hour_start + HOUR // 2
        if at < open_end:
            total += min(end, open_end) - at
        at = hour_start + HOUR
    return total


@dataclass
class Planned:
    id: str
    contact: str
    kind: str  # bot, handled, abandoned, outbound, open
    created: int
    channel: str = "widget"
    team: str | None = None
    topic: str | None = None
    agent: str | None = None
    handoff: int | None = None
    assigned: int | None = None
    reply: int | None = None
    resolved: int | None = None
    csat: int | None = None


@dataclass
class Dataset:
    conversations: list[Planned] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now


async def generate(store: SqlStore, monkeypatch: pytest.MonkeyPatch, *, seed: int = 7,
                   count: int = 120,
                   open_hours: Callable[[str | None, int, int], int] | None = None) -> Dataset:
    rng = random.Random(seed)
    clock = Clock()
    monkeypatch.setattr("chatkit.storage.sql.now_ms", clock)
    store.open_hours = billing_open if open_hours is None else open_hours
    data = Dataset()
    for n in range(3):
        agent = await store.create_agent(email=f"a{n}@example.com", name=f"Agent {n}",
                                         role=AgentRole.AGENT, password_hash="h")
        data.agents.append(agent.id)
    contacts = [(await store.create_contact()).id for _ in range(25)]
    for index in range(count):
        clock.now += rng.randrange(*spacing)
        contact = rng.choice(contacts)
        kind = "open" if index >= count - 3 else rng.choices(
            ["bot", "handled", "abandoned", "outbound"], [25, 55, 10, 10])[0]
        if kind == "open":
            contact = contacts[index - count]  # a contact of its own: it stays open
        team = rng.choice(TEAMS)
        agent = rng.choice(data.agents)
        if kind == "outbound":
            created = await store.start_outbound(
                contact, agent, capacity=100, queue_team=team, now=clock.now,
                message=NewMessage("", SenderKind.AGENT, "Hello from us", author_id=agent))
            assert created is not None
            plan = Planned(created[0].id, contact, kind, clock.now, channel="outbound",
                           team=team, topic="outbound", agent=agent, assigned=clock.now,
                           reply=clock.now)
            clock.now += rng.randrange(60_000, 20 * 60_000)
            await _resolve(store, plan, clock.now, agent)
            data.conversations.append(plan)
            continue
        conversation = await store.create_conversation(contact)
        plan = Planned(conversation.id, contact, kind, clock.now)
        data.conversations.append(plan)
        clock.now += rng.randrange(5_000, 120_000)
        if kind == "bot":
            plan.topic = "bot"
            await _resolve(store, plan, clock.now, None)
            continue
        queued = await store.transition(
            plan.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None, actor_kind="visitor",
            actor_id=contact, handoff=Handoff(HandoffReason.MENU, team), queue_team=team)
        assert queued is not None
        plan.team = plan.topic = team
        plan.handoff = clock.now
        clock.now += rng.randrange(1_000, 40 * 60_000)
        if kind == "abandoned":
            assert await store.abandon(plan.id, now=clock.now, how="left", actor_kind="system",
                                       actor_id=None) is not None
            plan.resolved = clock.now
            continue
        if kind == "open":
            continue
        assert await store.transition(plan.id, S.ASSIGNED, allowed_from={S.QUEUED},
                                      agent_id=agent, actor_kind="agent",
                                      actor_id=agent) is not None
        plan.agent, plan.assigned = agent, clock.now
        clock.now += rng.randrange(1_000, 10 * 60_000)
        await store.append_messages([NewMessage(plan.id, SenderKind.AGENT, "a note",
                                                author_id=agent, internal=True)])
        clock.now += rng.randrange(1_000, 60_000)
        await store.append_messages([NewMessage(plan.id, SenderKind.AGENT, "=1+1 hi",
                                                author_id=agent, author_name="Ada")])
        plan.reply = clock.now
        clock.now += rng.randrange(1_000, 30_000)
        await store.append_messages([NewMessage(plan.id, SenderKind.VISITOR, "thanks",
                                                author_id=contact)])
        clock.now += rng.randrange(60_000, 30 * 60_000)
        await _resolve(store, plan, clock.now, agent)
        if rng.random() < 0.6:
            clock.now += 5_000
            plan.csat = rng.randint(1, 5)
            assert await store.rate_conversation(plan.id, contact_id=contact, rating=plan.csat,
                                                 comment=None, now=clock.now,
                                                 window_ms=DAY) is not None
    return data


async def _resolve(store: SqlStore, plan: Planned, at: int, agent: str | None) -> None:
    allowed = {S.BOT, S.ASSIGNED}
    done = await store.transition(plan.id, S.RESOLVED, allowed_from=allowed, agent_id=agent,
                                  actor_kind="agent" if agent else "visitor",
                                  actor_id=agent or plan.contact)
    assert done is not None and done.resolved_at == at
    plan.resolved = at


# the metrics, in plain Python over the plan

def nearest_rank(values: list[int], p: int) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


def expected_metrics(data: Dataset, start: int, end: int, *, key: Callable[[Planned], object],
                     fcr_window: int,
                     open_ms: Callable[[str | None, int, int], int] = billing_open,
                     team: str | None = None, agent: str | None = None,
                     channel: str | None = None) -> dict[object, dict[str, object]]:
    chosen = [c for c in data.conversations if start <= c.created < end
              and (team is None or c.team == team) and (agent is None or c.agent == agent)
              and (channel is None or c.channel == channel)]
    groups: dict[object, list[Planned]] = {}
    for c in chosen:
        groups.setdefault(key(c), []).append(c)
    found = {}
    for g, cs in groups.items():
        def durations(c: Planned) -> dict[str, int | None]:
            wait = None if c.handoff is None or c.assigned is None else c.assigned - c.handoff
            first = None if c.handoff is None or c.reply is None else c.reply - c.handoff
            assert c.handoff is None or c.assigned is None or c.team is not None
            return {
                "wait_ms": wait,
                "wait_open_ms": None if wait is None else open_ms(c.team, c.handoff or 0,
                                                                  c.assigned or 0),
                "first_response_ms": first,
                "first_response_open_ms": None if first is None else open_ms(
                    c.team, c.handoff or 0, c.reply or 0),
                "handle_ms": None if c.resolved is None or c.assigned is None
                else c.resolved - c.assigned,
                "resolution_ms": None if c.resolved is None else c.resolved - c.created,
            }
        eligible = [c for c in cs if c.resolved is not None and c.kind != "abandoned"]
        fcr = 0
        for c in eligible:
            later = [o.created for o in data.conversations if o.contact == c.contact
                     and o.topic == c.topic and o.created > c.created]
            assert c.resolved is not None
            if not later or min(later) > c.resolved + fcr_window:
                fcr += 1
        rated = [c.csat for c in cs if c.csat is not None]
        row: dict[str, object] = {
            "conversations": len(cs),
            "inbound": sum(c.channel == "widget" for c in cs),
            "handed_off": sum(c.handoff is not None for c in cs),
            "resolved": sum(c.resolved is not None for c in cs),
            "bot_resolved": sum(c.kind == "bot" for c in cs),
            "abandoned": sum(c.kind == "abandoned" for c in cs),
            "fcr_eligible": len(eligible), "fcr_resolved": fcr,
            "csat_ratings": len(rated), "csat_satisfied": sum(r >= 4 for r in rated),
            "csat_total": sum(rated),
        }
        for name in ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
                     "handle_ms", "resolution_ms"):
            values = [v for v in (durations(c)[name] for c in cs) if v is not None]
            row[name] = (sum(values) / len(values) if values else None,
                         nearest_rank(values, 50), nearest_rank(values, 90))
        found[g] = row
    return found
