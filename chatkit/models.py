"""Domain types. Plain data, no I/O: every layer can use them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


def now_ms() -> int:
    """The current time as milliseconds since the Unix epoch (how chatkit stores every time)."""
    return time.time_ns() // 1_000_000


class ConversationStatus(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


OPEN_STATUSES = frozenset({ConversationStatus.BOT, ConversationStatus.QUEUED,
                           ConversationStatus.ASSIGNED})


class SenderKind(StrEnum):
    VISITOR = "visitor"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class HandoffReason(StrEnum):
    """Why a conversation went from the bot to the agents' queue (kept with the conversation
    for routing, and in the event log for reports)."""

    VISITOR_ASKED = "visitor_asked"      # "Talk to a person", or words like "agent", "human"
    MENU = "menu"                        # a team chosen in the bot's menu
    LOW_CONFIDENCE = "low_confidence"    # the bot could not answer, turns in a row
    NOT_HELPFUL = "not_helpful"          # the visitor said an answer did not help, repeatedly
    PHRASE = "phrase"                    # a phrase configured to go to a person at once
    NO_BOT = "no_bot"                    # the bot is off: every conversation goes to the queue
    OFFLINE = "offline"                  # no team was available: the visitor left a message


@dataclass(slots=True, frozen=True)
class Handoff:
    """A handover to the agents: why, and to which team (None: whoever is free)."""

    reason: HandoffReason
    team: str | None = None


@dataclass(slots=True, frozen=True)
class Availability:
    """Whether a person can take a chat for a team now (chatkit/routing/service.py).

    `team`: the team whose queue the chat would wait in now (the team asked for, or the first
    open team along its overflow chain); `open`: that team is within its business hours;
    `available`: it is open and an agent who can take its chats is online. `opens_at` (ms)
    and `time_zone`: when the team asked for next opens, and in which zone its hours are
    kept, when it is closed (None when it is open now, or never opens). `at`: when this
    was judged (ms)."""

    team: str
    at: int
    open: bool
    available: bool
    opens_at: int | None = None
    time_zone: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {"available": self.available, "open": self.open, "opens_at": self.opens_at,
                "time_zone": self.time_zone}


class AgentRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Presence(StrEnum):
    """Whether an agent takes chats: only `online` agents are assigned any."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Strategy(StrEnum):
    """How a team's queue is given out (chatkit/routing)."""

    ROUND_ROBIN = "round_robin"  # the eligible agent assigned least recently
    LEAST_BUSY = "least_busy"    # fewest open chats, then least recently assigned
    MANUAL = "manual"            # nobody is assigned: agents pick from the queue


@dataclass(slots=True, frozen=True)
class AgentPresence:
    """An agent's routing state in the store, which every server process shares."""

    agent_id: str
    presence: Presence
    changed_at: int
    # Set when the agent's last connection dropped: then they go offline (ms).
    offline_deadline: int | None = None
    last_assigned_at: int = 0


@dataclass(slots=True, frozen=True)
class Contact:
    id: str
    name: str | None
    email: str | None
    created_at: int
    # The host site's id for its user (ChatKit('identify')); `verified` when the host site
    # signed it (chatkit/identity.py). An unverified one is only what the page claimed.
    external_id: str | None = None
    verified: bool = False
    # The host site's custom attributes (ChatKit('setAttributes')): flat, JSON scalars.
    attributes: dict[str, str | int | float | bool | None] = field(default_factory=dict)
    # The visitor's self-service profile (chatkit/profile.py): a phone number, and the
    # preferences they chose (language, transcript_by_email, replies_by_email), only those set.
    phone: str | None = None
    preferences: dict[str, str | bool | None] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ContactChange:
    """One entry of a contact's history: `field` ("email", "preferences.language",
    "attributes.plan", ...) went from `old` to `new`, changed by `actor_kind` (visitor, host,
    agent) with `actor_id` (the contact, the host site's user id, the agent) through `via`
    (profile, identify, attributes, offline_form, agent)."""

    id: int
    contact_id: str
    field: str
    old: Any
    new: Any
    actor_kind: str
    actor_id: str | None
    via: str
    created_at: int

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "contact_id": self.contact_id, "field": self.field,
                "old": self.old, "new": self.new, "actor_kind": self.actor_kind,
                "actor_id": self.actor_id, "via": self.via, "created_at": self.created_at}


@dataclass(slots=True, frozen=True)
class Agent:
    id: str
    email: str
    name: str
    role: AgentRole
    password_hash: str
    created_at: int

    def to_wire(self) -> dict[str, Any]:
        # The password hash never leaves the server.
        return {"id": self.id, "email": self.email, "name": self.name, "role": str(self.role)}


@dataclass(slots=True, frozen=True)
class Conversation:
    id: str
    contact_id: str
    status: ConversationStatus
    agent_id: str | None
    agent_name: str | None
    last_seq: int
    created_at: int
    queued_at: int | None
    assigned_at: int | None
    resolved_at: int | None
    visitor_read_seq: int = 0
    agent_read_seq: int = 0
    # Set when the conversation is handed over (see Handoff).
    team: str | None = None
    handoff_reason: HandoffReason | None = None
    # Routing (chatkit/routing): the team whose queue has it (the team asked for when that
    # team exists, else the default team; changed by transfer), its priority (higher first),
    # and, while assigned but not yet accepted, when the offer runs out (ms).
    queue_team: str | None = None
    priority: int = 0
    accept_deadline: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "contact_id": self.contact_id, "status": str(self.status),
            "agent_id": self.agent_id, "agent_name": self.agent_name, "last_seq": self.last_seq,
            "created_at": self.created_at, "queued_at": self.queued_at,
            "assigned_at": self.assigned_at, "resolved_at": self.resolved_at,
            "visitor_read_seq": self.visitor_read_seq, "agent_read_seq": self.agent_read_seq,
            "team": self.team,
            "handoff_reason": None if self.handoff_reason is None else str(self.handoff_reason),
            "queue_team": self.queue_team, "priority": self.priority,
            "accept_deadline": self.accept_deadline,
        }


@dataclass(slots=True, frozen=True)
class NewMessage:
    """A message on its way into the store: no id or seq yet."""

    conversation_id: str
    sender: SenderKind
    body: str
    client_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    meta: dict[str, Any] | None = None
    # Seen by agents only (a transfer's note): never sent to the visitor.
    internal: bool = False


@dataclass(slots=True, frozen=True)
class Message:
    conversation_id: str
    seq: int
    client_id: str | None
    sender: SenderKind
    author_id: str | None
    author_name: str | None
    body: str
    created_at: int
    # Structured data beside the text: quick replies and article cards of a bot message, the
    # choice a visitor's reply picked (docs/protocol.md). None for plain messages.
    meta: dict[str, Any] | None = None
    # Seen by agents only (a transfer's note): never sent to the visitor.
    internal: bool = False

    @property
    def id(self) -> str:
        """The server's id for the message. (conversation, seq) names it already, so the
        store keys messages by that pair and needs no second, random key."""
        return f"{self.conversation_id}-{self.seq}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id, "conversation_id": self.conversation_id, "seq": self.seq,
            "client_id": self.client_id, "sender": str(self.sender), "author_id": self.author_id,
            "author_name": self.author_name, "body": self.body, "created_at": self.created_at,
            "meta": self.meta, "internal": self.internal,
        }


@dataclass(slots=True, frozen=True)
class Attachment:
    """A file a visitor or an agent uploaded (an image or a PDF), without its bytes.

    It is pending, seen only by its uploader, until a message of theirs carries it; then it
    belongs to that message (`conversation_id`, `message_seq`) and to whoever may read the
    conversation."""

    id: str
    uploader_kind: SenderKind  # visitor (uploader_id: the contact) or agent
    uploader_id: str
    content_type: str
    size: int
    name: str  # for display only, sanitised
    sha256: str  # hex
    created_at: int
    conversation_id: str | None = None
    message_seq: int | None = None

    @property
    def is_pending(self) -> bool:
        return self.conversation_id is None

    def to_meta(self) -> dict[str, Any]:
        """What a message's meta says of it (docs/protocol.md); the wire adds a `url`."""
        return {"id": self.id, "name": self.name, "content_type": self.content_type,
                "size": self.size}


@dataclass(slots=True, frozen=True)
class AppendResult:
    """What the store did with one NewMessage: stored it, or found it already stored."""

    message: Message
    duplicate: bool


@dataclass(slots=True, frozen=True)
class Event:
    """One entry of the event log, the source of reports."""

    id: int
    conversation_id: str | None
    kind: str
    actor_kind: str | None
    actor_id: str | None
    data: dict[str, Any]
    created_at: int


#: The event kind of a help-centre "was this helpful?" vote. Its data is
#: {"entry_id": str, "locale": str, "helpful": bool}; its actor is the voting browser.
ARTICLE_VOTE = "kb.vote"


@dataclass(slots=True, frozen=True)
class ArticleVotes:
    """The "was this helpful?" votes on one help-centre article in one locale."""

    helpful: int
    not_helpful: int
    #: What the voter asked about said last (None: none was asked about, or it has not
    #: voted on this article).
    voter_said: bool | None = None


#: The event kind of a visitor's satisfaction rating (CSAT) of a conversation an agent
#: resolved. Its data is {"rating": 1..5, "agent_id": str, "team": str | None,
#: "has_comment": bool, "replaced": int | None (the rating it replaced)}; its actor is the
#: contact. The csat_ratings table keeps the current rating of each conversation.
CSAT_RATED = "csat.rated"

#: The ratings a visitor can give: 1 (very unhappy) to 5 (very happy). 4 and 5 count as
#: satisfied in CSAT (the share of satisfied ratings), as Intercom and Zendesk count it.
CSAT_SCALE = range(1, 6)
CSAT_SATISFIED = 4

#: How long after a conversation is resolved its visitor may rate it (or change their
#: rating): a week, so reports of a closed period stop moving soon after it.
CSAT_WINDOW_MS = 7 * 24 * 3600 * 1000


@dataclass(slots=True, frozen=True)
class Unread:
    """A conversation's visitor messages that no agent has read: how many, and when the
    oldest of them was sent (the visitor has waited for an answer since)."""

    count: int
    since: int

    def to_wire(self) -> dict[str, Any]:
        return {"count": self.count, "since": self.since}


@dataclass(slots=True, frozen=True)
class CsatRating:
    """A visitor's satisfaction rating of a conversation an agent resolved, stored against the
    conversation, its agent and its team (the queue team that had it)."""

    conversation_id: str
    contact_id: str
    agent_id: str
    team: str | None
    rating: int
    comment: str | None
    #: When the current rating was given (ms); a second rating replaces the first.
    rated_at: int
    #: When the conversation was resolved (ms): reports put a rating in its date range.
    resolved_at: int

    def to_wire(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "agent_id": self.agent_id,
                "team": self.team, "rating": self.rating, "comment": self.comment,
                "rated_at": self.rated_at, "resolved_at": self.resolved_at}


@dataclass(slots=True, frozen=True)
class CsatSummary:
    """Ratings counted over a selection (an agent, a team, a date range)."""

    ratings: int
    satisfied: int  # rated CSAT_SATISFIED or more
    total: int  # the sum of the ratings

    @property
    def csat(self) -> float | None:
        """The share of satisfied ratings, 0..1; None when nobody rated."""
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def average(self) -> float | None:
        return self.total / self.ratings if self.ratings else None


class ResolutionReason(StrEnum):
    """Why an agent resolved a conversation (docs/protocol.md `resolve`), kept in the
    `conversation.resolved` event's data under `reason`, where abandonment in the queue
    records `abandoned`."""

    SOLVED = "solved"              # the visitor's question was answered
    NO_RESPONSE = "no_response"    # the visitor stopped answering
    DUPLICATE = "duplicate"        # the same question goes on in another conversation
    SPAM = "spam"                  # not a real customer
    OTHER = "other"


#: The `meta.kind` of a private note (an internal message only agents see): an agent's note,
#: or a supervisor's whisper to the conversation's agent (`meta.whisper` true).
NOTE_KIND = "note"


@dataclass(slots=True, frozen=True)
class CannedResponse:
    """A saved reply an agent inserts with `/shortcut` (the agent's script). Shared ones
    (owner_id None) are managed by admins; personal ones by the agent who owns them. The body
    is a template with `{{contact.name}}`-style variables (chatkit/desk/canned.py)."""

    id: str
    owner_id: str | None
    shortcut: str
    title: str
    body: str
    created_at: int
    updated_at: int

    @property
    def shared(self) -> bool:
        return self.owner_id is None

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "shortcut": self.shortcut, "title": self.title,
                "body": self.body, "shared": self.shared, "owner_id": self.owner_id,
                "created_at": self.created_at, "updated_at": self.updated_at}
