"""The storage port's routing part: presence, the queues and atomic assignment.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_routing.py.
Times are milliseconds since the epoch and are passed in, so the callers (and tests) own the
clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from chatkit.models import AgentPresence, Conversation, ConversationStatus, Presence, Strategy

#: How many versions of the routing configuration the store keeps (the newest): older ones
#: are deleted by the save that makes them older. The event log keeps who saved each.
ROUTING_VERSIONS_KEPT = 20


@dataclass(slots=True, frozen=True)
class Swept:
    """What one sweep did: conversations it put back at the front of their queue (an offer
    not accepted in time, an agent gone), and agents whose presence it changed."""

    requeued: list[Conversation] = field(default_factory=list)
    presence: list[AgentPresence] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class StoredRouting:
    """One version of the routing configuration kept in the store: `document` is a
    RoutingConfig as JSON (validated before it was saved), `source` says where it came from
    ("file", "admin", "default"), `file_digest` which routing.yaml last seeded the store."""

    version: int
    document: dict[str, Any]
    source: str
    file_digest: str | None
    changed_by: str | None
    changed_at: int


class InLine(NamedTuple):
    """One conversation waiting in a queue, and whose it is."""

    conversation_id: str
    contact_id: str


class RoutingStore(Protocol):
    async def set_presence(self, agent_id: str, presence: Presence, *,
                           now: int) -> AgentPresence | None:
        """Set the agent's presence; None when there is no such agent. Going offline this way
        does not re-queue their chats (sweep does, after the grace period)."""

    async def get_presence(self, agent_ids: Collection[str]) -> dict[str, AgentPresence]:
        """The presence of those of these agents that exist."""

    async def agent_connected(self, agent_id: str, connection_id: str, *,
                              expires_at: int) -> None:
        """A connection of the agent opened (in any process): it is live until `expires_at`
        unless renewed, and the agent is no longer on their way offline."""

    async def agent_disconnected(self, connection_id: str, *, now: int, grace_ms: int) -> None:
        """A connection closed. When it was the agent's last live one, the agent goes offline
        at now + grace_ms (see sweep) unless a connection opens before."""

    async def renew_connections(self, connection_ids: Collection[str], *,
                                expires_at: int) -> None:
        """This process's connections are still live."""

    async def agent_loads(self, agent_ids: Collection[str]) -> dict[str, int]:
        """agent id -> how many conversations are assigned to them (open, status assigned)."""

    async def check_loads(self, *, repair: bool = False) -> dict[str, tuple[int, int]]:
        """The agents whose kept load differs from a count of their assigned conversations:
        agent id -> (kept, counted); empty when every one agrees (the store keeps the load
        in the same transaction as every change of a conversation's agent or status, so it
        should). With `repair`, the kept loads are set to the counts, atomically."""

    async def queue(self, team: str, *, limit: int = 100) -> list[Conversation]:
        """The team's queue in order: priority (higher first), then place (queue_rank)."""

    async def queue_length(self, team: str) -> int:
        """How many conversations wait in the team's queue."""

    async def queued_teams(self) -> list[str]:
        """The teams with a conversation waiting."""

    async def assign_next(self, team: str, candidates: Mapping[str, int], strategy: Strategy,
                          *, now: int, accept_deadline: int | None) -> Conversation | None:
        """Give the head of the team's queue to one of `candidates` (agent id -> capacity)
        that is online and below capacity: with round_robin the one assigned least recently,
        with least_busy the one with fewest assigned chats (then least recently). Atomic: no
        chat goes to two agents, no agent above capacity, whatever runs at the same time.
        Returns the assigned conversation, or None when the queue is empty or no candidate
        can take it."""

    async def assign_many(self, team: str, candidates: Mapping[str, int], strategy: Strategy,
                          *, now: int, accept_deadline: int | None,
                          limit: int) -> list[Conversation]:
        """Up to `limit` assign_next calls in one transaction: the first `limit` chats of the
        queue, in order, each to whom assign_next would have chosen at that point (so a
        round-robin batch goes round the free agents). Same atomicity. Returns them in queue
        order; fewer (or none) when the queue or the candidates' room runs out."""

    async def claim(self, conversation_id: str, agent_id: str, *, capacity: int,
                    allowed_from: Collection[ConversationStatus],
                    expected_agents: Collection[str | None] | None = None,
                    queue_teams: Collection[str] | None = None,
                    require_online: bool = False, now: int,
                    accept_deadline: int | None, actor_kind: str, actor_id: str | None,
                    data: dict[str, object] | None = None) -> Conversation | None:
        """Assign this conversation to the agent (a pick, a join, a transfer to them), only
        if its status is in `allowed_from`, its agent in `expected_agents` (when given), its
        queue in `queue_teams` (when given), the agent below `capacity` (and online, when
        required). Atomic, as assign_next. Logs conversation.assigned. None when a condition
        did not hold."""

    async def accept(self, conversation_id: str, agent_id: str) -> Conversation | None:
        """The assigned agent accepted the chat: its offer no longer runs out. None when it is
        not assigned to them."""

    async def requeue(self, conversation_id: str, *, team: str, now: int,
                      expected_agents: Collection[str | None] | None = None,
                      from_team: str | None = None, actor_kind: str, actor_id: str | None,
                      data: dict[str, object] | None = None) -> Conversation | None:
        """Put an open (queued or assigned) conversation at the front of `team`'s queue, with
        no agent (a transfer to a team). None when it is not open, its agent is not in
        `expected_agents`, or (with `from_team`) it is no longer in that team's queue."""

    async def sweep(self, *, now: int, grace_ms: int) -> Swept:
        """The timers, claimed atomically so that any number of processes may sweep at once:
        an assigned chat whose accept deadline passed goes back to the front of its queue
        and its agent becomes away; an agent with no live connection gets an offline deadline
        (now + grace_ms) if they had none; an agent whose offline deadline passed goes offline
        and their assigned chats go back to the front of their queues."""

    # the routing configuration (teams, agents), editable by admins

    async def routing_config(self) -> StoredRouting | None:
        """The newest version of the routing configuration; None when none was saved."""

    async def routing_config_version(self) -> int:
        """The newest version's number (0: none saved), cheap enough to ask every second."""

    async def save_routing_config(self, document: dict[str, Any], *, expected_version: int,
                                  source: str, file_digest: str | None,
                                  changed_by: str | None, now: int) -> StoredRouting | None:
        """Save `document` as version expected_version + 1, only if the newest version is
        still `expected_version` (0: none yet), and log routing.changed in the same
        transaction. Of two saves from the same version exactly one succeeds, in any number
        of processes; the other gets None and changes nothing. Only the newest
        ROUTING_VERSIONS_KEPT versions are kept."""

    # the visitor's wait (routing/wait.py)

    async def queue_order(self, team: str) -> list[InLine]:
        """The whole of the team's queue in order (as `queue`), ids only: one query."""

    async def queue_position(self, conversation_id: str) -> tuple[str, int] | None:
        """(team, position) of a queued conversation: 1 + how many wait ahead of it in its
        team's queue. None when it is not queued."""

    async def handle_time(self, team: str, *, sample: int) -> float | None:
        """The mean time (ms) from assignment to resolution of the team's `sample` most
        recently resolved conversations that an agent handled; None when there are none."""

    async def mark_queues(self, teams: Collection[str]) -> None:
        """These teams' queues changed: bump their marks (queue_marks)."""

    async def queue_marks(self) -> dict[str, int]:
        """team -> its mark, which changes whenever mark_queues names the team."""

    async def track_visitors(self, connections: Mapping[str, str], *,
                             expires_at: int) -> None:
        """These widget connections (connection id -> contact id, in any process) of visitors
        whose conversation waits are live until `expires_at` unless renewed; their contacts'
        queued conversations are no longer on their way to abandonment."""

    async def renew_visitors(self, connection_ids: Collection[str], *,
                             expires_at: int) -> None:
        """This process's tracked visitor connections are still live."""

    async def visitor_disconnected(self, connection_id: str, *, now: int,
                                   grace_ms: int) -> None:
        """A tracked visitor connection closed. When it was the contact's last live one, their
        queued conversation is abandoned at now + grace_ms (see sweep_visitors) unless a
        connection is tracked again before."""

    async def abandon(self, conversation_id: str, *, now: int, how: str, actor_kind: str,
                      actor_id: str | None) -> Conversation | None:
        """The visitor left while queued: the conversation is resolved, with no agent, and
        `conversation.resolved` is logged with `reason: abandoned`, `how` and the time it
        waited (`waited_ms`). None when it is not queued (any more)."""

    async def sweep_visitors(self, *, now: int, grace_ms: int) -> list[Conversation]:
        """The visitors' timers, safe to run in any number of processes at once: tracked
        connections past their expiry (a dead process's) are dropped, and a contact left with
        none gets an abandon deadline (now + grace_ms) on its queued conversation; queued
        conversations past their deadline whose contact has no live connection are abandoned
        (`how: gone`). Returns those abandoned."""
