"""The routing service, the ACD: queues per team, assignment, presence, transfer, timers.

Plain async Python over the Store (where every decision is made atomically, see
storage/sql_routing.py) and a notifier. Nothing that matters is kept here: presence, offers
and their deadlines, agents' connections and queues are all in the store, so any number of
processes route the same chats, and a restarted process carries on where it stopped.

Assignment runs when a chat is queued, when an agent comes online, when an agent frees a
place (resolve), and on every sweep (`run`, each `sweep_interval` seconds in every process),
which also claims the expired timers: offers not accepted in time, agents gone past the
disconnect grace period, and the visitors gone from the queue past the abandon grace period;
it first looks whether an admin saved a new routing configuration (routing/stored.py): then
this process routes by it from that sweep on. Chats already assigned keep their agent; chats
waiting for a team that is gone move to the default team. The visitor's wait (positions,
estimates, abandonment) is in routing/wait.py: every change to a queue here marks its team
there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from chatkit.bot import BotState
from chatkit.conversations.service import Notifier
from chatkit.errors import Conflict, Forbidden, InvalidPayload, NotFound
from chatkit.loops import stop_if_cancelled
from chatkit.models import (
    OPEN_STATUSES,
    Agent,
    AgentPresence,
    AgentRole,
    Availability,
    Conversation,
    ConversationStatus,
    NewMessage,
    Presence,
    SenderKind,
    now_ms,
)
from chatkit.routing.config import Routing, RoutingConfig, TeamConfig
from chatkit.routing.disconnections import Disconnections
from chatkit.routing.stored import config_document, seed, validate_document
from chatkit.routing.wait import QueueWaits, Wait, WaitNotifier
from chatkit.storage import Store
from chatkit.storage.routing import StoredRouting

log = logging.getLogger(__name__)

S = ConversationStatus

#: The visitor's side of a transfer (the note is for the agents only), by language: the
#: conversation's locale picks one (chatkit/bot/texts.py holds the bot's own texts).
TRANSFER_TEXT = {
    "en": "You're being transferred to another agent. Please hold on.",
    "es": "Te estamos pasando con otro agente. Espera un momento, por favor.",
}

#: How many chats one assignment transaction gives out at most: a queue drains in batches
#: (an agent coming online, a sweep after a restart) without holding the store's write lock
#: (SQLite) or many agents' row locks (PostgreSQL) for long.
ASSIGN_BATCH = 100

#: How long the agent directory read for assignment may be reused (seconds). Listing every
#: agent on each assignment cost more than the assignment; a new agent is read at once when
#: they come online or free a place in this process (freed), and within this long otherwise.
AGENTS_TTL = 5.0


def transfer_text(locale: str | None) -> str:
    """The transfer text in `locale` ("es-MX" -> Spanish), else English."""
    language = (locale or "en").replace("_", "-").split("-")[0].lower()
    return TRANSFER_TEXT.get(language, TRANSFER_TEXT["en"])

#: A hook that gives a queued conversation its priority (higher is served first), e.g. from
#: the contact's CRM attributes (VIP). The default is 0 for everyone.
PriorityHook = Callable[[Conversation], Awaitable[int]]

#: Called in this process after it switched to a new routing configuration.
RoutingListener = Callable[[Routing], Awaitable[None]]


class RoutingNotifier(Notifier, WaitNotifier, Protocol):
    async def assigned(self, conversation: Conversation) -> None:
        """The conversation was given to its agent (offered until accept_deadline)."""

    async def queue_changed(self, team: str, length: int) -> None: ...

    async def presence_changed(self, presence: AgentPresence) -> None: ...


class RoutingService:
    def __init__(self, store: Store, notifier: RoutingNotifier, routing: Routing, *,
                 accept_timeout: float, disconnect_grace: float, sweep_interval: float = 1.0,
                 connection_ttl: float = 30.0,
                 priority: PriorityHook | None = None, default_capacity: int = 3,
                 abandon_grace: float = 120.0, wait_interval: float = 0.25,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.notifier = notifier
        self.routing = routing
        #: The store's version `routing` was built from (0: not from the store).
        self.version = 0
        #: An agent's capacity when the configuration gives none (the agent_capacity setting).
        self.default_capacity = default_capacity
        #: Told of each new configuration this process switches to (e.g. to move agents'
        #: sockets between team rooms).
        self.listeners: list[RoutingListener] = []
        self.accept_timeout_ms = round(accept_timeout * 1000)
        self.grace_ms = round(disconnect_grace * 1000)
        self.sweep_interval = sweep_interval
        # A connection counts as live this long without being renewed (a process that dies
        # stops renewing); each process renews its own three times per period.
        self.connection_ttl_ms = round(connection_ttl * 1000)
        self.priority_hook = priority
        self.clock = clock
        #: This process's live agent connections (renewed in the store by `run`).
        self.connections: set[str] = set()
        self._renewed_at = 0
        self._disconnections = Disconnections("an agent's")
        #: Waiting visitors' positions and estimates, and their connections (abandonment).
        self.waits = QueueWaits(store, notifier, lambda: self.routing, clock=clock,
                                interval=wait_interval, abandon_grace=abandon_grace)

        # The agent directory and each team's candidates, for assignment (see AGENTS_TTL):
        # derived from the store and routing.yaml, never the truth (the store checks presence
        # and capacity under its locks), so a copy per process is safe.
        self._agents: dict[str, Agent] = {}
        self._agents_read_at = -AGENTS_TTL
        self._candidates: dict[str, dict[str, int]] = {}
        self._candidates_of: Routing | None = None
        #: Teams being given out by an assign() in this process -> whether to go round again.
        self._assigning: dict[str, bool] = {}

    # the configuration, kept in the store (routing/stored.py)

    async def load(self, config: RoutingConfig | None) -> None:
        """At start-up: seed the store from routing.yaml's contents (None: no file) when the
        rules in routing/stored.py say so, then route by the store's newest version."""
        await seed(self.store, config, now=self.clock())
        await self.refresh()

    async def refresh(self) -> bool:
        """Switch to the store's newest configuration if it is not the one in use (one cheap
        query when nothing changed). Returns whether it switched."""
        if await self.store.routing_config_version() == self.version:
            return False
        stored = await self.store.routing_config()
        if stored is None or stored.version == self.version:
            return False
        self._use(stored)
        for listener in self.listeners:
            try:
                await listener(self.routing)
            except Exception:  # one listener's failure must not stop routing by the new one
                log.exception("a listener of the routing configuration failed")
        return True

    def _use(self, stored: StoredRouting) -> None:
        # Validated before it was saved; validated again, as anything read back is.
        config = RoutingConfig.model_validate(stored.document)
        self.routing = Routing(config, default_capacity=self.default_capacity)
        self.version = stored.version
        log.info("routing configuration version %d in use (%s)", stored.version,
                 stored.source)

    async def current_config(self) -> StoredRouting:
        """The configuration in the store (seeded at start-up, so there is one)."""
        stored = await self.store.routing_config()
        if stored is None:
            raise NotFound("no routing configuration is stored yet")
        return stored

    async def replace_config(self, actor: Agent, document: Any, *,
                             expected_version: int) -> StoredRouting:
        """An admin's new configuration: validated (InvalidRoutingConfig naming each field),
        saved as the next version only if `expected_version` is still the newest (Conflict
        otherwise: someone saved meanwhile), logged, and used here at once; the other
        processes switch to it at their next sweep."""
        if actor.role is not AgentRole.ADMIN:
            raise Forbidden("only admins change the routing configuration")
        config = validate_document(document)
        current = await self.store.routing_config()
        if current is not None and current.version != expected_version:
            raise Conflict(f"the routing configuration changed meanwhile (now version "
                           f"{current.version}); load it again and redo your change")
        saved = await self.store.save_routing_config(
            config_document(config), expected_version=expected_version, source="admin",
            file_digest=None if current is None else current.file_digest,
            changed_by=actor.id, now=self.clock())
        if saved is None:
            raise Conflict("the routing configuration changed meanwhile; load it again and "
                           "redo your change")
        await self.refresh()
        return saved

    # configuration questions

    def queue_team(self, asked: str | None) -> str:
        """The queue a chat for team `asked` joins now: out of the team's hours, the first
        open team along its overflow chain, else its own (Routing.route)."""
        return self.routing.route(asked, self.clock())

    async def availability(self, asked: str | None) -> Availability:
        """Whether a person can take a chat for team `asked` now: the team it would be queued
        in (queue_team) is open, and an agent online may be given its chats (its own or its
        overflow team's, as `assign` gives them out). Presence comes from the store, so every
        process answers alike."""
        now = self.clock()
        home = self.routing.team_for(asked)
        team_id = self.routing.route(home, now)
        team = self.routing.teams[team_id]
        is_open = team.is_open(now)
        available = False
        if is_open:
            reach = [team_id] + ([team.overflow] if team.overflow else [])
            agents = await self.store.list_agents()
            ids = {a.id for a in agents for t in reach if self.routing.can_take(a, t)}
            if ids:
                presence = await self.store.get_presence(ids)
                available = any(p.presence is Presence.ONLINE for p in presence.values())
        hours = self.routing.teams[home].hours
        opens_at = None if is_open or hours is None else hours.next_open(now)
        return Availability(team_id, now, is_open, available, opens_at,
                            None if opens_at is None or hours is None else hours.time_zone)

    async def priority(self, conversation: Conversation) -> int:
        return 0 if self.priority_hook is None else await self.priority_hook(conversation)

    def teams_of(self, agent: Agent) -> list[str]:
        return self.routing.teams_of(agent)

    def capacity_of(self, agent: Agent) -> int:
        return self.routing.capacity_of(agent)

    def home_team(self, agent: Agent) -> str:
        """The agent's first team: where a chat they started waits if they leave it."""
        teams = self.routing.teams_of(agent)
        return teams[0] if teams else self.routing.team_for(None)

    def can_see(self, agent: Agent, conversation: Conversation) -> bool:
        return self.routing.sees(agent, conversation)

    def visible_teams(self, agent: Agent) -> tuple[list[str], bool] | None:
        """What the agent may list (Routing.sees): None for every conversation, else their
        teams and whether conversations in no queue count (they are the default team's)."""
        if agent.role is not AgentRole.AGENT:
            return None
        teams = self.routing.teams_of(agent)
        return teams, self.routing.default_team in teams

    # assignment

    async def queued(self, conversation: Conversation) -> None:
        """A conversation joined a queue: give it out if someone can take it."""
        if conversation.queue_team is not None:
            self.waits.mark(conversation.queue_team)
            await self.assign(conversation.queue_team)

    async def assign(self, team_id: str, *, tell_unchanged: bool = True) -> list[Conversation]:
        """Give out the team's queue to its online agents with room, then to its overflow
        team's; tell the agents, and the queue's length (even when nothing was given out,
        unless `tell_unchanged` is False: a caller that did not change the queue itself).
        Returns what this call assigned: nothing when the team's queue was already being
        given out in this process, because then that run goes round once more instead (so
        places freed at once fill in batches, not one transaction each)."""
        team = self.routing.teams.get(team_id)
        if team is None:
            return []
        if team_id in self._assigning:
            self._assigning[team_id] = True
            return []
        given: list[Conversation] = []
        self._assigning[team_id] = True
        try:
            # Let the triggers already on their way (the other `freed` of a burst of events,
            # started in the same turn of the loop) join this run before its first
            # statement, rather than each costing one more round after it.
            await asyncio.sleep(0)
            while self._assigning[team_id]:
                self._assigning[team_id] = False
                given += await self._assign_round(team)
        finally:
            del self._assigning[team_id]
        # Run by every sweep for every waiting team: only a real change counts as one.
        if given or tell_unchanged:
            await self._queue_changed(team_id, moved=bool(given))
        return given

    async def _assign_round(self, team: TeamConfig) -> list[Conversation]:
        given: list[Conversation] = []
        for source in (team, self.routing.teams.get(team.overflow or "")):
            if source is None:
                continue
            candidates = await self._team_candidates(source.id)
            while True:
                batch = await self.store.assign_many(
                    team.id, candidates, source.strategy, now=self.clock(),
                    accept_deadline=self._deadline(), limit=ASSIGN_BATCH)
                for assigned in batch:
                    given.append(assigned)
                    await self.notifier.conversation_changed(assigned)
                    await self.notifier.assigned(assigned)
                if len(batch) < ASSIGN_BATCH:  # the queue or the agents' room ran out
                    break
        return given

    async def freed(self, agent: Agent) -> None:
        """The agent has room again (resolved a chat, came online)."""
        if agent.id not in self._agents:
            self._agents_read_at = -AGENTS_TTL  # new to this process: read the directory
        for team_id in self._takes_from(agent):
            # A place freed changes no queue: its length is told only if chats were given.
            await self.assign(team_id, tell_unchanged=False)

    async def set_presence(self, agent: Agent, presence: Presence) -> AgentPresence:
        changed = await self.store.set_presence(agent.id, presence, now=self.clock())
        if changed is None:
            raise NotFound("the agent no longer exists")
        await self.notifier.presence_changed(changed)
        self._staffing_changed(agent)
        if presence is Presence.ONLINE:
            await self.freed(agent)
        return changed

    async def take(self, agent: Agent, conversation: Conversation) -> Conversation:
        """An agent joins a conversation: accept it if it is theirs, else take it over (any
        open one with no agent; within their capacity). Raises Conflict otherwise."""
        if conversation.status is S.ASSIGNED and conversation.agent_id == agent.id:
            accepted = await self.store.accept(conversation.id, agent.id)
            if accepted is not None:
                return accepted
        else:
            claimed = await self.store.claim(
                conversation.id, agent.id, capacity=self.routing.capacity_of(agent),
                allowed_from=OPEN_STATUSES, expected_agents={None}, now=self.clock(),
                accept_deadline=None, actor_kind="agent", actor_id=agent.id)
            if claimed is not None:
                await self.notifier.conversation_changed(claimed)
                if conversation.queue_team is not None:
                    await self._queue_changed(conversation.queue_team)
                return claimed
        raise await self._why_not(agent, conversation.id)

    async def pick(self, agent: Agent, conversation_id: str | None) -> Conversation:
        """The agent picks a chat from one of their teams' queues (the next in line when
        `conversation_id` is None): the way to take chats of a manual team."""
        teams = self._takes_from(agent)
        if conversation_id is None:
            for team_id in teams:
                head = await self.store.queue(team_id, limit=1)
                if head:
                    conversation_id = head[0].id
                    break
            else:
                raise NotFound("no conversation is waiting in your teams' queues")
        claimed = await self.store.claim(
            conversation_id, agent.id, capacity=self.routing.capacity_of(agent),
            allowed_from={S.QUEUED}, queue_teams=teams, now=self.clock(),
            accept_deadline=None, actor_kind="agent", actor_id=agent.id, data={"pick": True})
        if claimed is None:
            found = await self.store.get_conversation(conversation_id)
            if found is None:
                raise NotFound("no such conversation")
            if found.status is S.QUEUED and found.queue_team not in teams:
                raise Forbidden("the conversation waits in another team's queue")
            raise await self._why_not(agent, conversation_id)
        await self.notifier.conversation_changed(claimed)
        if claimed.queue_team is not None:
            await self._queue_changed(claimed.queue_team)
        return claimed

    # transfer

    async def transfer(self, actor: Agent, conversation_id: str, *,
                       to_agent_id: str | None = None, to_team: str | None = None,
                       note: str | None = None) -> Conversation:
        """Give an open conversation to another agent (who must be online with room; they
        get it as an offer to accept) or to a team's queue (at its front). The assigned agent
        may transfer their own; supervisors and admins any. The agents see a note, the
        visitor only that they are being transferred."""
        if (to_agent_id is None) == (to_team is None):
            raise InvalidPayload("give either to_agent_id or to_team")
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        supervising = actor.role is not AgentRole.AGENT
        if conversation.status not in (S.QUEUED, S.ASSIGNED):
            raise Conflict("only a queued or assigned conversation can be transferred")
        if not supervising and conversation.agent_id != actor.id:
            raise Conflict("the conversation is not assigned to you")
        now, was = self.clock(), conversation.agent_id
        if conversation.status is S.QUEUED and conversation.queue_team is not None:
            self.waits.mark(conversation.queue_team)  # it leaves that queue
        data: dict[str, object] = {"transfer": True, "by": actor.id}
        if to_agent_id is not None:
            target = await self.store.get_agent(to_agent_id)
            if target is None:
                raise NotFound("no such agent")
            if target.id == was:
                raise Conflict("the conversation is already assigned to them")
            moved = await self.store.claim(
                conversation_id, target.id, capacity=self.routing.capacity_of(target),
                allowed_from={S.QUEUED, S.ASSIGNED}, expected_agents={was},
                require_online=True, now=now, accept_deadline=self._deadline(),
                actor_kind="agent", actor_id=actor.id, data=data)
            if moved is None:
                raise Conflict(f"{target.name} cannot take it now (not online, or at capacity)"
                               " or the conversation changed")
            where = target.name
        else:
            assert to_team is not None
            if to_team not in self.routing.teams:
                raise NotFound(f"no team {to_team!r}")
            moved = await self.store.requeue(conversation_id, team=to_team, now=now,
                                             expected_agents={was}, actor_kind="agent",
                                             actor_id=actor.id, data=data)
            if moved is None:
                raise Conflict("the conversation changed; look again")
            where = self.routing.teams[to_team].title
            self.waits.mark(to_team)
        text = f"{actor.name} transferred the conversation to {where}."
        meta = {"kind": "transfer", "by": actor.id, "from_agent_id": was,
                "to_agent_id": to_agent_id, "to_team": to_team, "note": note}
        stored = await self.store.append_messages([
            NewMessage(conversation_id, SenderKind.SYSTEM,
                       transfer_text(await self._locale(conversation_id)),
                       meta={"kind": "transfer"}),
            NewMessage(conversation_id, SenderKind.SYSTEM,
                       text if note is None else f"{text} Note: {note}", author_id=actor.id,
                       author_name=actor.name, meta=meta, internal=True),
        ])
        for result in stored:
            if result is not None:
                await self.notifier.message_stored(moved, result.message, None)
        await self.notifier.conversation_changed(moved, previous_agent_id=was)
        if to_team is not None:
            await self.assign(to_team)
        else:
            await self.notifier.assigned(moved)
        if was is not None:
            previous = await self.store.get_agent(was)
            if previous is not None:
                await self.freed(previous)
        return moved

    # connections and timers

    async def connected(self, agent: Agent, connection_id: str) -> None:
        self.connections.add(connection_id)
        await self.store.agent_connected(agent.id, connection_id,
                                         expires_at=self.clock() + self.connection_ttl_ms)

    def disconnected(self, connection_id: str) -> None:
        """A connection closed: recorded in a task of its own (routing/disconnections.py)."""
        self.connections.discard(connection_id)
        self._disconnections.record(self.store.agent_disconnected(
            connection_id, now=self.clock(), grace_ms=self.grace_ms))

    async def close(self) -> None:
        """Finish recording disconnections (before the store closes)."""
        await self._disconnections.close()
        await self.waits.close()

    # the visitor's wait

    async def leave(self, contact_id: str, conversation_id: str) -> Conversation:
        """The visitor ends their chat while it waits in a queue ("End chat"): it is
        resolved as abandoned (the event log says so). NotFound when it is not the
        contact's; Conflict when it no longer waits (an agent has it, or it is resolved)."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None or conversation.contact_id != contact_id:
            raise NotFound("no such conversation")
        if conversation.status is not S.QUEUED:
            raise Conflict(f"the conversation is {conversation.status}, not waiting in a "
                           "queue: only a waiting conversation can be left")
        left = await self.store.abandon(conversation_id, now=self.clock(), how="ended",
                                        actor_kind="visitor", actor_id=contact_id)
        if left is None:
            raise Conflict("the conversation changed meanwhile (an agent may have it)")
        await self._left_queue(left)
        return left

    async def watch(self, connection_id: str, contact_id: str,
                    conversation: Conversation | None) -> Wait | None:
        """A widget connection learnt its open conversation (see QueueWaits.watch)."""
        return await self.waits.watch(connection_id, contact_id, conversation)

    def visitor_disconnected(self, connection_id: str) -> None:
        self.waits.disconnected(connection_id)

    async def _left_queue(self, conversation: Conversation) -> None:
        await self.notifier.conversation_changed(conversation)
        if conversation.queue_team is not None:
            await self._queue_changed(conversation.queue_team)

    async def sweep(self) -> None:
        """One round of the timers, then give out whatever waits (see the module docstring)."""
        await self.refresh()
        now = self.clock()
        if now - self._renewed_at >= self.connection_ttl_ms // 3:
            await self.store.renew_connections(list(self.connections),
                                               expires_at=now + self.connection_ttl_ms)
            self._renewed_at = now
        swept = await self.store.sweep(now=now, grace_ms=self.grace_ms)
        for presence in swept.presence:
            await self.notifier.presence_changed(presence)
            agent = await self.store.get_agent(presence.agent_id)
            if agent is not None:
                self._staffing_changed(agent)
        for conversation in swept.requeued:
            log.info("conversation %s back in the %s queue (its agent did not accept, or left)",
                     conversation.id, conversation.queue_team)
            await self.notifier.conversation_changed(conversation)
            if conversation.queue_team is not None:
                self.waits.mark(conversation.queue_team)
        for conversation in await self.waits.sweep():
            log.info("conversation %s abandoned: its visitor left the %s queue",
                     conversation.id, conversation.queue_team)
            await self._left_queue(conversation)
        for team_id in await self.store.queued_teams():
            if team_id not in self.routing.teams:
                # Waiting for a team routing.yaml no longer has (it changed, or they waited
                # from before routing): to the team they would be sent to now.
                await self._move_queue(team_id, self.routing.team_for(team_id), "no_such_team")
            elif (open_team := self.routing.route(team_id, now)) != team_id:
                # Closed, and a team along its overflow chain has opened since they came
                # (follow the sun): there, as a chat arriving now would go.
                await self._move_queue(team_id, open_team, "team_closed")
            else:
                await self.assign(team_id)

    async def _move_queue(self, team_id: str, to: str, reason: str) -> None:
        """The chats waiting in `team_id`'s queue go to the front of `to`'s, in their order
        (they have waited longer than those there), then `to`'s queue is given out."""
        for waiting in reversed(await self.store.queue(team_id, limit=100)):
            moved = await self.store.requeue(waiting.id, team=to, now=self.clock(),
                                             expected_agents={None}, from_team=team_id,
                                             actor_kind="system", actor_id=None,
                                             data={"reason": reason})
            if moved is not None:
                await self.notifier.conversation_changed(moved)
                self.waits.mark(team_id)
                self.waits.mark(to)
        await self.assign(to)

    async def run(self) -> None:
        """Sweep every `sweep_interval` seconds until cancelled; a failed round is logged and
        the next one tries again."""
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("the routing sweep failed; trying again")
            stop_if_cancelled()
            await asyncio.sleep(self.sweep_interval)

    # helpers

    async def _locale(self, conversation_id: str) -> str | None:
        """The locale the conversation is held in (kept in its bot state; None without a
        bot)."""
        found = await self.store.get_bot_state(conversation_id)
        return None if found is None else BotState.load(found[1]).locale

    async def _team_candidates(self, team_id: str) -> dict[str, int]:
        """agent id -> capacity, of the agents who may take the team's chats (cached: see
        AGENTS_TTL; a reloaded routing.yaml is used at once)."""
        if (time.monotonic() - self._agents_read_at >= AGENTS_TTL
                or self._candidates_of is not self.routing):
            self._agents = {agent.id: agent for agent in await self.store.list_agents()}
            self._agents_read_at = time.monotonic()
            self._candidates, self._candidates_of = {}, self.routing
        found = self._candidates.get(team_id)
        if found is None:
            found = self._candidates[team_id] = self.routing.candidates(
                list(self._agents.values()), team_id)
        return found

    def _deadline(self) -> int:
        return self.clock() + self.accept_timeout_ms

    def _takes_from(self, agent: Agent) -> list[str]:
        """The teams whose chats the agent may be given (with the team's skills)."""
        return [t for t in self.routing.teams if self.routing.can_take(agent, t)]

    def _staffing_changed(self, agent: Agent) -> None:
        """The agent's presence changed: the estimates of the queues they serve did too."""
        serves = set(self._takes_from(agent))
        for team in self.routing.teams.values():
            if team.id in serves or team.overflow in serves:
                self.waits.mark(team.id)

    async def _queue_changed(self, team_id: str, *, moved: bool = True) -> None:
        if moved:
            self.waits.mark(team_id)
        # A count, not the queue's rows: this runs after every assignment.
        await self.notifier.queue_changed(team_id, await self.store.queue_length(team_id))

    async def _why_not(self, agent: Agent, conversation_id: str) -> Conflict | NotFound:
        current = await self.store.get_conversation(conversation_id)
        if current is None:
            return NotFound("no such conversation")
        if current.status is S.RESOLVED:
            return Conflict("the conversation is resolved")
        if current.agent_id is not None and current.agent_id != agent.id:
            return Conflict("the conversation is assigned to "
                            f"{current.agent_name or 'another agent'}")
        return Conflict(f"you are at your capacity ({self.routing.capacity_of(agent)} chats)")

