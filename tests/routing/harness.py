"""A routing world without Socket.IO: the real services over a real store, a notifier that
checks every assignment as it is announced, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from chatkit.conversations import ConversationService
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
from chatkit.routing.wait import Wait
from chatkit.storage import SqlStore
from chatkit.storage import schema as t

CONFIG = RoutingConfig.model_validate({
    "default_team": "support",
    "teams": [
        {"id": "support", "strategy": "round_robin", "overflow": "billing"},
        {"id": "billing", "skills": ["billing"], "strategy": "least_busy"},
        {"id": "vip", "strategy": "manual"},
    ],
    "agents": {
        "a0@example.com": {"teams": ["support"], "capacity": 1},
        "a1@example.com": {"teams": ["support", "billing"], "skills": ["billing"],
                           "capacity": 2},
        "a2@example.com": {"teams": ["billing"], "capacity": 3},  # lacks the skill
        "a3@example.com": {"teams": ["vip", "billing"], "skills": ["billing"],
                           "capacity": 2},
    },
})
TEAMS = ["support", "billing", "vip", None]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@dataclass
class CheckingNotifier:
    """Checks, at the moment each assignment is announced, that it went to an eligible,
    online agent below capacity, and to the first in line."""

    store: SqlStore
    routing: Routing
    agents: dict[str, Agent] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    assigned_count: int = 0
    #: Off when several processes run at once: then presence and the queue may change
    #: between the assignment and its announcement, and only capacity is checked here.
    sequential: bool = True
    #: Every position told to a visitor: (contact id, wait), in order.
    waits: list[tuple[str, Wait]] = field(default_factory=list)
    changed: list[Conversation] = field(default_factory=list)

    async def message_stored(self, conversation: Conversation, message: Message,
                             origin: str | None) -> None:
        pass

    async def conversation_changed(self, conversation: Conversation, *,
                                   previous_agent_id: str | None = None) -> None:
        self.changed.append(conversation)

    async def queue_position(self, contact_id: str, wait: Wait, *, local: bool) -> None:
        self.waits.append((contact_id, wait))

    async def typing(self, conversation: Conversation, sender: SenderKind,
                     author_name: str | None, typing: bool, origin: str | None) -> None:
        pass

    async def read(self, conversation: Conversation, reader: SenderKind) -> None:
        pass

    async def queue_changed(self, team: str, length: int) -> None:
        pass

    async def presence_changed(self, presence: AgentPresence) -> None:
        pass

    async def assigned(self, conversation: Conversation) -> None:
        self.assigned_count += 1
        agent_id = conversation.agent_id
        if agent_id is None or conversation.status is not ConversationStatus.ASSIGNED:
            self.problems.append(f"announced unassigned {conversation}")
            return
        agent = self.agents[agent_id]
        load = (await self.store.agent_loads([agent_id]))[agent_id]
        if load > self.routing.capacity_of(agent):
            self.problems.append(f"{agent.email} above capacity: {load}")
        if not self.sequential:
            return
        presence = (await self.store.get_presence([agent_id]))[agent_id].presence
        if presence is not Presence.ONLINE:
            self.problems.append(f"{agent.email} was given a chat while {presence}")
        team = conversation.queue_team or ""
        transfer = await _was_transfer(self.store, conversation.id)
        if not transfer:
            overflow = self.routing.teams[team].overflow if team in self.routing.teams else None
            if not (self.routing.can_take(agent, team)
                    or (overflow is not None and self.routing.can_take(agent, overflow))):
                self.problems.append(f"{agent.email} may not take {team} chats")
            # Nobody in its queue was ahead of it.
            ahead = await _ahead(self.store, conversation.id, team)
            if ahead:
                self.problems.append(f"{conversation.id} assigned before {ahead}")


async def _was_transfer(store: SqlStore, conversation_id: str) -> bool:
    events = await store.list_events(conversation_id=conversation_id)
    last = [e for e in events if e.kind == "conversation.assigned"][-1]
    return bool(last.data.get("transfer"))


async def _ahead(store: SqlStore, conversation_id: str, team: str) -> list[str]:
    c = t.conversations.c
    async with store._read() as conn:
        mine = (await conn.execute(select(c.priority, c.queue_rank)
                                   .where(c.id == conversation_id))).one()
        rows = (await conn.execute(select(c.id).where(
            c.status == "queued", c.queue_team == team,
            (c.priority > mine.priority)
            | ((c.priority == mine.priority) & (c.queue_rank < mine.queue_rank))))).all()
    return [row.id for row in rows]


@dataclass
class World:
    store: SqlStore
    clock: Callable[[], int]
    notifier: CheckingNotifier
    routing: RoutingService
    conversations: ConversationService
    agents: list[Agent]

    async def check(self) -> list[str]:
        """The invariants that hold at any moment, read from the store."""
        problems = list(self.notifier.problems)
        # The load kept on each agent's row is their count of assigned chats.
        problems += [f"agent {agent_id} has load {kept}, holds {counted}"
                     for agent_id, (kept, counted) in (await self.store.check_loads()).items()]
        loads = await self.store.agent_loads([a.id for a in self.agents])
        for agent in self.agents:
            if loads[agent.id] > self.routing.routing.capacity_of(agent):
                problems.append(f"{agent.email} holds {loads[agent.id]}")
        for conversation in await self.store.list_conversations(
                statuses={ConversationStatus.ASSIGNED, ConversationStatus.QUEUED}, limit=1000):
            assigned = conversation.status is ConversationStatus.ASSIGNED
            if assigned != (conversation.agent_id is not None):
                problems.append(f"{conversation.id}: {conversation.status} with agent "
                                f"{conversation.agent_id}")
        # A chat changes hands only through a transfer: never taken from its agent.
        for event in await self.store.list_events(limit=100_000):
            if (event.kind == "conversation.assigned" and event.data.get("from") == "assigned"
                    and not event.data.get("transfer")):
                problems.append(f"{event.conversation_id} taken from its agent: {event.data}")
        return problems


async def make_world(store: SqlStore, *, accept_timeout: float = 5.0,
                     disconnect_grace: float = 3.0, clock: Callable[[], int] | None = None,
                     sweep_interval: float = 1.0) -> World:
    clock = clock or Clock()
    routing = Routing(CONFIG)
    notifier = CheckingNotifier(store, routing, sequential=isinstance(clock, Clock))
    service = RoutingService(store, notifier, routing, accept_timeout=accept_timeout,
                             disconnect_grace=disconnect_grace, clock=clock,
                             sweep_interval=sweep_interval)
    conversations = ConversationService(store, notifier, bot=None)
    conversations.router = service
    agents = []
    for n in range(4):
        email = f"a{n}@example.com"
        agent = await store.get_agent_by_email(email)
        if agent is None:
            agent = await store.create_agent(email=email, name=f"A{n}", role=AgentRole.AGENT,
                                             password_hash="h")
        agents.append(agent)
        notifier.agents[agent.id] = agent
    return World(store, clock, notifier, service, conversations, agents)


def open_chats(conversations: list[Conversation], agent: Agent, *,
               accepted: bool | None = None) -> list[Conversation]:
    return [c for c in conversations if c.agent_id == agent.id
            and c.status is ConversationStatus.ASSIGNED
            and (accepted is None or (c.accept_deadline is None) == accepted)]
