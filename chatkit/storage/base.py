"""The storage port: what the services need from a store, in the domain's own terms.

Every implementation passes the same contract suite (tests/storage/test_contract.py)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from chatkit.models import (
    Agent,
    AgentRole,
    AppendResult,
    ArticleVotes,
    Attachment,
    Contact,
    ContactChange,
    Conversation,
    ConversationStatus,
    CsatRating,
    CsatSummary,
    Event,
    Handoff,
    Message,
    NewMessage,
    SenderKind,
    Unread,
)
from chatkit.storage.crm import CrmStore
from chatkit.storage.desk import DeskStore
from chatkit.storage.profile import ProfileStore
from chatkit.storage.reports import ReportsStore
from chatkit.storage.routing import RoutingStore
from chatkit.storage.sessions import SessionStore


class Store(RoutingStore, CrmStore, SessionStore, DeskStore, ProfileStore, ReportsStore,
            Protocol):
    """Durable state. Methods are atomic: each commits before it returns, or changes nothing."""

    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """One round trip to the database (readiness checks); raises when it is not there."""

    async def get_or_create_secret(self, name: str, factory: Callable[[], str]) -> str:
        """The value stored under `name`; the first caller (in any process) stores factory()."""

    # contacts
    async def create_contact(self, *, name: str | None = None,
                             email: str | None = None) -> Contact: ...

    async def get_contact(self, contact_id: str) -> Contact | None: ...

    async def find_contacts(self, query: str, *, limit: int = 20) -> list[Contact]:
        """Contacts an agent may mean by `query`: the one with that id, those whose email
        starts with it, those whose name contains it (case-insensitive), in that order, then
        newest first; at most `limit`."""

    async def get_contacts(self, contact_ids: Collection[str]) -> dict[str, Contact]:
        """The contacts found among `contact_ids`, by id (one query for a list's worth)."""

    async def set_contact_email(self, contact_id: str, email: str) -> Contact | None:
        """Record the email the contact gave (the offline form), logged in the contact's
        history; None: no such contact."""

    async def identify_contact(self, contact_id: str, *, external_id: str, name: str | None,
                               email: str | None) -> tuple[Contact, list[ContactChange]]:
        """Record an identity the host page claimed without a valid signature: external_id
        (and name and email when given) on this contact, which stays unverified, and a
        `contact.identified` event; each field changed goes in the contact's history (by the
        host, via identify). Returns the contact and those history entries.
        chatkit.errors.NotFound when there is no such contact, chatkit.errors.Forbidden when
        it is verified (an unsigned claim never changes it)."""

    async def verify_contact(self, contact_id: str, *, external_id: str, name: str | None,
                             email: str | None) -> tuple[Contact, list[ContactChange]]:
        """A signed identity: the verified contact with this external_id (created on first
        use; one per external id, whichever process asks), with name and email updated when
        given, and a `contact.verified` event; each field changed goes in the verified
        contact's history (by the host, via identify). When `contact_id` (the device's contact) is
        another, unverified contact, its conversations move to the verified contact, except
        an open one when the verified contact has an open one already (a contact has at most
        one). A verified `contact_id` of another external id keeps its conversations. Returns
        the verified contact and its new history entries."""

    async def set_contact_attributes(
            self, contact_id: str, attributes: dict[str, str | int | float | bool | None], *,
            max_keys: int) -> tuple[Contact, list[ContactChange]]:
        """Merge `attributes` into the contact's (a None value removes the key) and log a
        `contact.attributes` event; each attribute changed goes in the contact's history (by
        the host, via attributes). Returns the contact and those history entries.
        chatkit.errors.NotFound when there is no such contact;
        chatkit.errors.InvalidPayload, changing nothing, when the merge has over max_keys."""

    # agents
    async def create_agent(self, *, email: str, name: str, role: AgentRole,
                           password_hash: str) -> Agent:
        """Raises chatkit.errors.Conflict when the email is taken."""

    async def get_agent(self, agent_id: str) -> Agent | None: ...

    async def get_agent_by_email(self, email: str) -> Agent | None: ...

    async def list_agents(self) -> list[Agent]: ...

    # conversations
    async def create_conversation(self, contact_id: str, *,
                                  bot_state: dict[str, Any] | None = None,
                                  opening: Sequence[NewMessage] = ()) -> Conversation:
        """A new conversation in status `bot`, with the bot's state and its `opening`
        messages (the greeting) stored in the same transaction as seq 1, 2, ... (their
        conversation_id is ignored). Raises chatkit.errors.Conflict when the contact already
        has an open one (a contact has at most one)."""

    async def start_outbound(self, contact_id: str, agent_id: str, *, capacity: int,
                             queue_team: str | None, message: NewMessage,
                             now: int) -> tuple[Conversation, Message, bool] | None:
        """An agent starts a conversation with a contact: a new conversation, assigned to the
        agent (already accepted; `queue_team` is the queue it would go back to) with
        `message` (theirs) as seq 1, all in one transaction, only if the agent is below
        `capacity` (checked under the agent's lock, as claim does). Logs
        conversation.created and conversation.assigned, both with data.outbound = true.
        Returns the conversation, the message and whether it was a resend (the agent's
        `client_id` already started one: that conversation and message, nothing changed);
        None when the agent is at capacity (or does not exist). Raises
        chatkit.errors.NotFound when there is no such contact, chatkit.errors.Conflict (with
        details.conversation_id) when the contact has an open conversation already, and
        Conflict when the agent's `client_id` is a message of theirs other than the first of
        a conversation they started with this contact."""

    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def open_conversation_for(self, contact_id: str) -> Conversation | None:
        """The contact's newest conversation that is not resolved."""

    async def list_conversations(self, *, statuses: Collection[ConversationStatus],
                                 limit: int, queue_teams: Collection[str] | None = None,
                                 unqueued: bool = False,
                                 agent_id: str | None = None,
                                 tag: str | None = None) -> list[Conversation]:
        """Oldest first. With `queue_teams`, only what an agent of these teams may see: those
        whose queue team is one of them (queued, or assigned from that queue), those in no
        queue (when `unqueued`), and those assigned to `agent_id` (when given). With `tag`,
        only those tagged with it."""

    async def unread(self, conversation_ids: Collection[str]) -> dict[str, Unread]:
        """What visitors wrote that agents have not read yet (after `agent_read_seq`), per
        conversation with any: how many messages, and when the oldest was sent (how long the
        visitor has been waiting for an answer)."""

    async def transition(
        self,
        conversation_id: str,
        to: ConversationStatus,
        *,
        allowed_from: Collection[ConversationStatus],
        agent_id: str | None,
        expected_agents: Collection[str | None] | None = None,
        actor_kind: str,
        actor_id: str | None,
        data: dict[str, Any] | None = None,
        handoff: Handoff | None = None,
        queue_team: str | None = None,
        priority: int | None = None,
    ) -> Conversation | None:
        """Move the conversation to `to`, setting its agent to `agent_id` and stamping the time,
        only if its status is in `allowed_from` and (when given) its agent in `expected_agents`.
        With `handoff`, also set its team and handoff reason (and log both). Going to `queued`
        puts it at the back of the queue of `queue_team` (when given), with `priority` (when
        given). Any transition ends a pending offer (accept_deadline).
        Atomic: of two racing callers at most one succeeds. Records the event. Returns the new
        state, or None when the condition did not hold (or there is no such conversation)."""

    async def mark_read(self, conversation_id: str, reader: SenderKind,
                        seq: int) -> tuple[Conversation, bool] | None:
        """Record that the visitor (or the agents) have read up to `seq`: the mark only moves
        forward and never past the last message. Returns the conversation and whether the
        mark moved; None when there is no such conversation."""

    async def get_bot_state(
            self, conversation_id: str) -> tuple[Conversation, dict[str, Any] | None] | None:
        """The conversation and the bot's state of it; None when there is no such
        conversation."""

    async def save_bot_turn(self, conversation_id: str, *, expected_seq: int,
                            state: dict[str, Any],
                            messages: Sequence[NewMessage]) -> list[Message] | None:
        """Store the bot's replies and its new state, in one transaction, only if the
        conversation is still with the bot (status `bot`) and nothing was said since the bot
        looked (its last_seq is still `expected_seq`). The replies get seq expected_seq + 1,
        ... (their conversation_id is ignored). Returns them, or None when the condition did
        not hold."""

    # messages
    async def append_messages(self, batch: Sequence[NewMessage]) -> list[AppendResult | None]:
        """Store a batch in one transaction (group commit). Each message gets the next seq of its
        conversation. A message whose (author_id, client_id) is already stored is not stored
        again: its result is the stored one with duplicate=True. A message for a conversation
        that does not exist or is resolved gets None."""

    async def get_messages(self, conversation_id: str, *, after_seq: int = 0,
                           before_seq: int | None = None, limit: int = 50,
                           include_internal: bool = True) -> tuple[list[Message], bool]:
        """Messages in ascending seq. With before_seq: the newest `limit` before it; otherwise the
        oldest `limit` after after_seq. The flag says whether more lie in that direction.
        Without `include_internal`, messages for agents only are left out (the visitor's
        view)."""

    # attachments
    async def create_attachment(self, *, uploader_kind: SenderKind, uploader_id: str,
                                name: str, content_type: str, sha256: str,
                                data: bytes) -> Attachment:
        """Store an uploaded file, pending: in no message yet. Its size is len(data); the
        caller has checked the type and computed `sha256` (hex) while reading the upload."""

    async def get_attachments(self, attachment_ids: Collection[str]) -> list[Attachment]:
        """Those of these attachments that exist, without their bytes, in no given order."""

    async def attachment_data(self, attachment_id: str) -> bytes | None:
        """The attachment's bytes; None when there is no such attachment."""

    async def count_pending_attachments(self, uploader_kind: SenderKind,
                                        uploader_id: str) -> int:
        """How many of this uploader's attachments no message carries yet."""

    async def delete_pending_attachments(self, *, created_before: int) -> int:
        """Delete the attachments no message carries that were uploaded before this time
        (abandoned uploads); returns how many."""

    async def append_with_attachments(self, message: NewMessage,
                                      attachment_ids: Sequence[str]) -> AppendResult | None:
        """Store one message (as append_messages would, resends included) and give it the
        attachments, in one transaction. Each must be pending and uploaded by the message's
        author (uploader kind = sender, uploader id = author_id); otherwise nothing is stored
        and it raises chatkit.errors.NotFound (no such attachment of the author's) or
        chatkit.errors.Conflict (already in a message). A resend (author_id, client_id already
        stored) returns the stored message with duplicate=True and checks nothing."""

    # event log
    async def list_events(self, *, conversation_id: str | None = None,
                          limit: int = 1000) -> list[Event]:
        """Oldest first."""

    async def record_event(self, kind: str, *, conversation_id: str | None = None,
                           actor_kind: str | None = None, actor_id: str | None = None,
                           data: dict[str, Any] | None = None) -> None:
        """Append an event to the log. Raises ValueError when `kind` is empty or longer than
        50 characters, `actor_kind` longer than 10, or `actor_id` longer than 32."""

    # customer satisfaction (CSAT)
    async def rate_conversation(self, conversation_id: str, *, contact_id: str, rating: int,
                                comment: str | None, now: int,
                                window_ms: int) -> tuple[CsatRating, int | None] | None:
        """Store the contact's rating of the conversation, in one transaction with a
        csat.rated event, only if the conversation is the contact's, resolved, had an agent
        when it was resolved, and was resolved less than `window_ms` before `now`. A second
        rating replaces the first. Returns the rating and the one it replaced (None: the
        first); None when the condition did not hold (or there is no such conversation)."""

    async def get_csat(self, conversation_id: str) -> CsatRating | None: ...

    async def csat_pending(self, contact_id: str, *, since: int) -> Conversation | None:
        """The contact's newest conversation when it still awaits a rating: resolved with an
        agent at or after `since`, not rated, and no newer conversation begun."""

    async def csat_summary(self, *, agent_id: str | None = None, team: str | None = None,
                           resolved_from: int | None = None,
                           resolved_to: int | None = None) -> CsatSummary:
        """The ratings of conversations resolved in [resolved_from, resolved_to) (ms), of
        `agent_id` and of `team` when given, counted."""

    # help centre
    async def article_votes(self, entry_id: str, locale: str, *,
                            voter_id: str | None = None) -> ArticleVotes:
        """The ARTICLE_VOTE events for this entry in this locale, counted; with `voter_id` (an
        event's actor_id), also what that voter said last."""
