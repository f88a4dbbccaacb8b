"""Out of hours, or nobody online: follow-the-sun routing with a clock the test controls, and
whether a person can chat now (routing/service.py `queue_team`, `availability`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatkit.conversations import ConversationService
from chatkit.models import AgentRole, ConversationStatus, Handoff, HandoffReason, Presence
from chatkit.routing.config import Routing, RoutingConfig
from chatkit.routing.service import RoutingService
from chatkit.storage import SqlStore
from tests.routing.harness import CheckingNotifier

S = ConversationStatus
WEEKDAYS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}

# Madrid and New York follow the sun for each other (a cycle); Tokyo overflows to Madrid.
CONFIG = RoutingConfig.model_validate({
    "default_team": "madrid",
    "teams": [
        {"id": "madrid", "overflow": "new-york",
         "hours": {"time_zone": "Europe/Madrid", "weekly": WEEKDAYS}},
        {"id": "new-york", "overflow": "madrid",
         "hours": {"time_zone": "America/New_York", "weekly": WEEKDAYS}},
        {"id": "tokyo", "overflow": "madrid",
         "hours": {"time_zone": "Asia/Tokyo", "weekly": WEEKDAYS}},
        {"id": "anytime"},  # no hours: always open
    ],
    "agents": {
        "mad@example.com": {"teams": ["madrid"]},
        "ny@example.com": {"teams": ["new-york"]},
        "boss@example.com": {"teams": ["madrid", "new-york", "tokyo"]},
    },
})


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# Wednesday 14 January 2026 (winter: Madrid UTC+1, New York UTC-5, Tokyo UTC+9).
MADRID_MORNING = utc("2026-01-14T10:00")   # Madrid 11:00 open, NY 05:00, Tokyo 19:00
MADRID_EVENING = utc("2026-01-14T20:00")   # Madrid 21:00, NY 15:00 open, Tokyo 05:00
NIGHT_IN_BOTH = utc("2026-01-15T04:00")    # Madrid 05:00, NY 23:00, Tokyo 13:00 open
MADRID_OPENS = utc("2026-01-15T08:00")     # Thursday 09:00 in Madrid


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class Setup:
    store: SqlStore
    clock: Clock
    routing: RoutingService
    conversations: ConversationService
    agents: dict[str, str]  # name -> id


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    store = SqlStore(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    routing = Routing(CONFIG)
    notifier = CheckingNotifier(store, routing)
    clock = Clock(MADRID_MORNING)
    service = RoutingService(store, notifier, routing, accept_timeout=30, disconnect_grace=30,
                             clock=clock)
    conversations = ConversationService(store, notifier, bot=None)
    conversations.router = service
    agents = {}
    for name in ("mad", "ny", "boss"):
        agent = await store.create_agent(
            email=f"{name}@example.com", name=name.title(), password_hash="h",
            role=AgentRole.SUPERVISOR if name == "boss" else AgentRole.AGENT)
        notifier.agents[agent.id] = agent
        agents[name] = agent.id
    yield Setup(store, clock, service, conversations, agents)
    await store.close()


async def online(setup: Setup, name: str) -> None:
    agent = await setup.store.get_agent(setup.agents[name])
    assert agent is not None
    await setup.routing.set_presence(agent, Presence.ONLINE)


def test_an_open_team_keeps_its_chats() -> None:
    routing = Routing(CONFIG)
    assert routing.route("madrid", MADRID_MORNING) == "madrid"
    assert routing.route(None, MADRID_MORNING) == "madrid"  # the default team
    assert routing.route("anytime", NIGHT_IN_BOTH) == "anytime"  # no hours: always open


def test_a_closed_team_s_chats_go_to_the_open_team_in_another_time_zone() -> None:
    routing = Routing(CONFIG)
    assert routing.route("madrid", MADRID_EVENING) == "new-york"
    assert routing.route("new-york", MADRID_MORNING) == "madrid"
    # Along the chain: Tokyo (closed) -> Madrid (closed) -> New York (open).
    assert routing.route("tokyo", MADRID_EVENING) == "new-york"
    assert routing.route("tokyo", NIGHT_IN_BOTH) == "tokyo"


def test_all_closed_keeps_the_chat_in_its_own_team_and_a_cycle_ends() -> None:
    routing = Routing(CONFIG)
    # Madrid -> New York -> Madrid: both closed; the chain is walked once, not forever.
    assert routing.overflow_chain("madrid") == ["madrid", "new-york"]
    assert routing.route("madrid", NIGHT_IN_BOTH) == "madrid"
    assert routing.route("new-york", NIGHT_IN_BOTH) == "new-york"
    assert routing.overflow_chain("tokyo") == ["tokyo", "madrid", "new-york"]


async def test_a_chat_handed_to_a_closed_team_is_queued_and_assigned_in_the_open_one(
        setup: Setup) -> None:
    setup.clock.now = MADRID_EVENING
    await online(setup, "mad")  # after hours in Madrid, but online: no matter, see below
    await online(setup, "ny")
    contact = await setup.store.create_contact()
    # No bot: the chat goes straight to the default team, Madrid, which is closed.
    _, conversation = await setup.conversations.visitor_message(
        contact.id, client_id="c1", body="hello?", conversation=None, origin=None)
    current = await setup.store.get_conversation(conversation.id)
    assert current is not None
    assert (current.status, current.queue_team, current.agent_id) == (
        S.ASSIGNED, "new-york", setup.agents["ny"])


async def test_with_every_team_closed_the_chat_waits_in_its_own_team_for_the_next_shift(
        setup: Setup) -> None:
    setup.clock.now = NIGHT_IN_BOTH
    contact = await setup.store.create_contact()
    _, conversation = await setup.conversations.visitor_message(
        contact.id, client_id="c1", body="anyone?", conversation=None, origin=None)
    assert (conversation.status, conversation.queue_team) == (S.QUEUED, "madrid")
    await setup.routing.sweep()
    assert [c.id for c in await setup.store.queue("madrid")] == [conversation.id]
    # Morning in Madrid: the first agent online takes it.
    setup.clock.now = MADRID_OPENS + 30 * 60_000
    await online(setup, "mad")
    current = await setup.store.get_conversation(conversation.id)
    assert current is not None
    assert (current.status, current.agent_id) == (S.ASSIGNED, setup.agents["mad"])


async def test_availability_needs_an_open_team_and_someone_online(setup: Setup) -> None:
    setup.clock.now = NIGHT_IN_BOTH
    closed = await setup.routing.availability("madrid")
    assert (closed.team, closed.open, closed.available) == ("madrid", False, False)
    assert (closed.opens_at, closed.time_zone) == (MADRID_OPENS, "Europe/Madrid")
    assert closed.at == NIGHT_IN_BOTH
    # Open, nobody online: away, with no opening time to give (it is open already).
    setup.clock.now = MADRID_MORNING
    empty = await setup.routing.availability(None)
    assert (empty.team, empty.open, empty.available, empty.opens_at) == (
        "madrid", True, False, None)
    await online(setup, "ny")  # New York is Madrid's overflow: its agents take its chats
    assert (await setup.routing.availability("madrid")).available
    # An agent of another team does not make Tokyo available (closed -> Madrid, open).
    tokyo = await setup.routing.availability("tokyo")
    assert (tokyo.team, tokyo.open, tokyo.available) == ("madrid", True, True)
    # Away again: not available.
    agent = await setup.store.get_agent(setup.agents["ny"])
    assert agent is not None
    await setup.routing.set_presence(agent, Presence.AWAY)
    assert not (await setup.routing.availability("madrid")).available


async def test_the_visitor_sees_a_transfer_in_the_conversation_s_language(
        setup: Setup) -> None:
    boss = await setup.store.get_agent(setup.agents["boss"])
    assert boss is not None
    texts = []
    for locale in ("es-MX", "en", None):
        contact = await setup.store.create_contact()
        conversation = await setup.store.create_conversation(
            contact.id, bot_state=None if locale is None else {"locale": locale})
        queued = await setup.store.transition(
            conversation.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
            actor_kind="system", actor_id=None,
            handoff=Handoff(HandoffReason.VISITOR_ASKED), queue_team="madrid")
        assert queued is not None
        await setup.routing.transfer(boss, conversation.id, to_team="tokyo", note="nota")
        seen, _ = await setup.store.get_messages(conversation.id, include_internal=False)
        (text,) = [m.body for m in seen]
        texts.append(text)
    assert texts == ["Te estamos pasando con otro agente. Espera un momento, por favor.",
                     "You're being transferred to another agent. Please hold on.",
                     "You're being transferred to another agent. Please hold on."]


async def test_a_chat_waiting_in_a_closed_team_moves_when_a_team_along_its_chain_opens(
        setup: Setup) -> None:
    # Saturday: every team is closed, so a chat for Tokyo waits in Tokyo's queue.
    setup.clock.now = utc("2026-01-17T12:00")
    contact = await setup.store.create_contact()
    conversation = await setup.store.create_conversation(contact.id)
    queued = await setup.store.transition(
        conversation.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None, actor_kind="system",
        actor_id=None, handoff=Handoff(HandoffReason.VISITOR_ASKED),
        queue_team=setup.routing.queue_team("tokyo"))
    assert queued is not None and queued.queue_team == "tokyo"
    await setup.routing.sweep()
    assert [c.id for c in await setup.store.queue("tokyo")] == [conversation.id]
    # Monday 14:00 UTC: Tokyo (23:00) is closed, Madrid (15:00) and New York (09:00) open.
    # Tokyo overflows to Madrid, whose overflow New York's agent is online: Tokyo's own
    # overflow agents (Madrid's) are not, so without the move the chat would wait all night.
    setup.clock.now = utc("2026-01-19T14:00")
    await online(setup, "ny")
    assert [c.id for c in await setup.store.queue("tokyo")] == [conversation.id]
    await setup.routing.sweep()
    current = await setup.store.get_conversation(conversation.id)
    assert current is not None
    assert (current.status, current.queue_team, current.agent_id) == (
        S.ASSIGNED, "madrid", setup.agents["ny"])
    events = await setup.store.list_events(conversation_id=conversation.id)
    (moved,) = [e for e in events if e.kind == "conversation.queued"
                and e.data.get("reason") == "team_closed"]
    assert moved.data["queue_team"] == "madrid"
    # A move names the team it leaves: a second sweeper finds the chat gone from it.
    assert await setup.store.requeue(conversation.id, team="madrid", now=setup.clock.now,
                                     from_team="tokyo", actor_kind="system",
                                     actor_id=None) is None
