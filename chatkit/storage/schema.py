"""The tables, in SQLAlchemy Core. Migrations (migrations/versions/) create exactly these; a test
compares the two so they cannot drift apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

kv = Table(
    "chatkit_kv", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

contacts = Table(
    "contacts", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200)),
    Column("email", String(320)),
    Column("created_at", BigInteger, nullable=False),
    # Identity (0009): the host site's user id, whether the host site signed it, and its
    # custom attributes. A verified external id names one contact, whoever claims it
    # unverified (those never merge with it).
    Column("external_id", String(200)),
    Column("verified", Boolean, nullable=False, server_default="0"),
    Column("attributes", JSON(none_as_null=True)),
    # The visitor's self-service profile (0014): a phone number and their preferences
    # (chatkit/profile.py: language, transcript and replies by email).
    Column("phone", String(32)),
    Column("preferences", JSON(none_as_null=True)),
    Index("uq_contacts_verified_external_id", "external_id", unique=True,
          sqlite_where=text("verified"), postgresql_where=text("verified")),
)

# A contact's history (0014): one row per field changed, by whom (the visitor, the host site
# through identify or attributes, an agent), its value before and after, and when. Read a
# contact at a time, newest first; a table of its own (docs/architecture.md says why).
contact_changes = Table(
    "contact_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("contact_id", String(32), nullable=False),
    Column("field", String(80), nullable=False),
    # JSON text (orjson): a JSON column has numeric affinity on SQLite, which would turn
    # the text "3" into the number 3 behind the JSON decoder's back.
    Column("old_value", Text),
    Column("new_value", Text),
    Column("actor_kind", String(10), nullable=False),
    Column("actor_id", String(200)),
    Column("via", String(20), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_contact_changes_contact", "contact_id", "id"),
)

agents = Table(
    "agents", metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Routing (0004): presence (models.Presence), kept here so every process agrees; when the
    # agent was last given a chat (round robin); when they go offline, once their last
    # connection dropped (the disconnect grace period).
    Column("presence", String(10), nullable=False, server_default="offline"),
    Column("presence_at", BigInteger, nullable=False, server_default="0"),
    Column("last_assigned_at", BigInteger, nullable=False, server_default="0"),
    Column("offline_deadline", BigInteger),
)

# One row per live Socket.IO connection of an agent, in any process. Each process renews
# its rows' expiry; rows of a process that died expire, so its agents are seen to be gone.
agent_connections = Table(
    "agent_connections", metadata,
    Column("id", String(64), primary_key=True),
    Column("agent_id", String(32), ForeignKey("agents.id"), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_agent_connections_agent", "agent_id"),
)

conversations = Table(
    "conversations", metadata,
    Column("id", String(32), primary_key=True),
    Column("contact_id", String(32), ForeignKey("contacts.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("agent_id", String(32), ForeignKey("agents.id")),
    Column("last_seq", Integer, nullable=False),
    # How far each side has read (a seq), for read receipts.
    Column("visitor_read_seq", Integer, nullable=False, server_default="0"),
    Column("agent_read_seq", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("queued_at", BigInteger),
    Column("assigned_at", BigInteger),
    Column("resolved_at", BigInteger),
    # Set at handoff, for routing: the team asked for and why (models.HandoffReason).
    Column("team", String(100)),
    Column("handoff_reason", String(50)),
    # The bot's memory of the conversation (bot/bot.py BotState), here and not in a process,
    # so any server process can take the next turn.
    Column("bot_state", JSON(none_as_null=True)),
    # Routing (0004): the team whose queue has it, its priority (higher first) and its place
    # (lower first: the time it was queued, or less to put it at the front); while assigned
    # and not yet accepted, when the offer runs out.
    Column("queue_team", String(100)),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("queue_rank", BigInteger),
    Column("accept_deadline", BigInteger),
    # The visitor's wait (0005): when a queued conversation whose visitor's every widget
    # connection has gone counts as abandoned (the abandon grace period), unless one comes back.
    Column("abandon_deadline", BigInteger),
    Index("ix_conversations_agent", "agent_id", "status"),
    Index("ix_conversations_accept_deadline", "accept_deadline"),
    Index("ix_conversations_contact", "contact_id", "created_at"),
    # At most one open conversation per contact, whichever process starts it.
    Index("uq_conversations_open_per_contact", "contact_id", unique=True,
          sqlite_where=text("status != 'resolved'"),
          postgresql_where=text("status != 'resolved'")),
    Index("ix_conversations_status", "status", "created_at"),
    Index("ix_conversations_abandon_deadline", "abandon_deadline"),
    # A team's recent handle times (the wait estimate): its newest resolved conversations.
    Index("ix_conversations_team_resolved", "queue_team", "resolved_at"),
)

# One row per live widget connection of a visitor whose conversation waits in a queue (only
# those: idle visitors cost nothing here), in any process. Renewed and expired like
# agent_connections; when a contact has none left, its queued conversation gets an
# abandon_deadline.
visitor_connections = Table(
    "visitor_connections", metadata,
    Column("id", String(64), primary_key=True),
    Column("contact_id", String(32), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_visitor_connections_contact", "contact_id"),
    Index("ix_visitor_connections_expires", "expires_at"),
)

# A counter per team, bumped (at most a few times a second per process) when its queue
# changed: every process's wait publisher polls it to know whose positions to recompute.
queue_marks = Table(
    "queue_marks", metadata,
    Column("team", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# A team's queue in its order (0007): the head is the first entry, whatever the queue's length.
Index("ix_conversations_queue_order", conversations.c.status, conversations.c.queue_team,
      conversations.c.priority.desc(), conversations.c.queue_rank, conversations.c.id)

messages = Table(
    "messages", metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("client_id", String(64)),
    Column("sender", String(10), nullable=False),
    Column("author_id", String(32)),
    Column("author_name", String(200)),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Quick replies, article cards, the choice a reply picked (docs/protocol.md); mostly NULL.
    Column("meta", JSON(none_as_null=True)),
    # Seen by agents only (a transfer's note, 0004): never sent to the visitor.
    Column("internal", Boolean, nullable=False, server_default="0"),
    # A sender's client id is stored once, whichever conversation it was sent to.
    UniqueConstraint("author_id", "client_id", name="uq_messages_author_client"),
)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("conversation_id", String(32)),
    Column("kind", String(50), nullable=False),
    Column("actor_kind", String(10)),
    Column("actor_id", String(32)),
    Column("data", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_conversation", "conversation_id", "id"),
    Index("ix_events_created", "created_at"),
    # One kind of event over time (0010): an article's votes, a report's resolutions.
    Index("ix_events_kind_created", "kind", "created_at"),
)

attachments = Table(
    "attachments", metadata,
    Column("id", String(32), primary_key=True),
    # Both NULL while pending (uploaded, in no message yet); set together by the message that
    # carries the file, in the transaction that stores it.
    Column("conversation_id", String(32)),
    Column("message_seq", Integer),
    Column("uploader_kind", String(10), nullable=False),
    Column("uploader_id", String(32), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The bytes, in the database: every process sees them with no shared disk. Last, so that
    # reading the other columns never walks SQLite's overflow pages.
    Column("data", LargeBinary, nullable=False),
    ForeignKeyConstraint(["conversation_id", "message_seq"],
                         ["messages.conversation_id", "messages.seq"],
                         name="fk_attachments_message"),
    Index("ix_attachments_message", "conversation_id", "message_seq"),
    Index("ix_attachments_uploader", "uploader_id", "created_at"),
)

# A visitor's satisfaction rating (CSAT, 0008) of a conversation an agent resolved: one row per
# conversation (a second rating replaces the first), with its agent and team copied in so that
# reports per agent, team and date range read this table alone. Each rating is also in the
# event log (csat.rated).
csat_ratings = Table(
    "csat_ratings", metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id"), primary_key=True),
    Column("contact_id", String(32), nullable=False),
    Column("agent_id", String(32), nullable=False),
    Column("team", String(100)),
    Column("rating", Integer, nullable=False),
    Column("comment", Text),
    Column("rated_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=False),
    Index("ix_csat_ratings_agent", "agent_id", "resolved_at"),
    Index("ix_csat_ratings_team", "team", "resolved_at"),
    Index("ix_csat_ratings_resolved", "resolved_at"),
)

# Where each contact's widget was last opened (0011): the host page's URL and the browser's
# user agent, recorded when a widget tab resumes, so the CRM panel shows them whichever
# process the visitor's socket is on. One row per contact: only the latest is kept.
contact_pages = Table(
    "contact_pages", metadata,
    Column("contact_id", String(32), ForeignKey("contacts.id"), primary_key=True),
    Column("url", String(2000)),
    Column("user_agent", String(500)),
    Column("seen_at", BigInteger, nullable=False),
)

# The CRM panel of a conversation (0011), computed at handoff and kept, so agents get it at
# once, from any process, after restarts; its CRM part is refreshed on demand.
conversation_contexts = Table(
    "conversation_contexts", metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id"), primary_key=True),
    Column("data", JSON(none_as_null=True), nullable=False),
    Column("computed_at", BigInteger, nullable=False),
)

# The routing configuration (teams, agents) as admins last saved it, one row per version
# (0006): every process reads the newest and rebuilds its routing when the version moves. The
# version is the primary key, so of two saves from the same version one fails (no lost
# update). routing.yaml seeds it (routing/store.py says when).
routing_configs = Table(
    "routing_configs", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),
    # "file" (seeded from routing.yaml), "admin" (saved in the console or API), "default".
    Column("source", String(10), nullable=False),
    # The digest of the routing.yaml document that last seeded the store, carried forward by
    # admin saves: the file wins again only when it changes.
    Column("file_digest", String(64)),
    Column("changed_by", String(32)),
    Column("changed_at", BigInteger, nullable=False),
)

# Console sign-ins (0012): one row per server-side session. Only a SHA-256 of the cookie's
# random token is kept, so whoever reads the table cannot sign in with what is in it. A
# session ends at `expires_at` (its absolute lifetime) or after the idle timeout since
# `last_seen_at`, whichever comes first; deleting the agent deletes their sessions.
agent_sessions = Table(
    "agent_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", String(32), ForeignKey("agents.id", ondelete="CASCADE"),
           nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_agent_sessions_agent", "agent_id"),
    Index("ix_agent_sessions_expires", "expires_at"),
)

# Failed sign-ins per email (0012), known or not, so that every process counts the same
# failures and a lockout holds on all of them. `window_start` is the first failure of the
# current count; `locked_until` is set when the count reaches the limit.
login_failures = Table(
    "login_failures", metadata,
    Column("email", String(320), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("locked_until", BigInteger),
)

# The agent's desk (0013). A conversation's tags (short slugs, a few per conversation), each
# change also in the event log (conversation.tagged / conversation.untagged).
conversation_tags = Table(
    "conversation_tags", metadata,
    Column("conversation_id", String(32), ForeignKey("conversations.id"), primary_key=True),
    Column("tag", String(32), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(32)),
    # Listing by tag.
    Index("ix_conversation_tags_tag", "tag", "conversation_id"),
)

# Canned responses (0013): shared ones have no owner (admins manage them), personal ones
# belong to an agent. A shortcut is unique per owner: once among the shared, once per agent.
canned_responses = Table(
    "canned_responses", metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(32), ForeignKey("agents.id")),
    Column("shortcut", String(32), nullable=False),
    Column("title", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("uq_canned_responses_shared_shortcut", "shortcut", unique=True,
          sqlite_where=text("owner_id IS NULL"), postgresql_where=text("owner_id IS NULL")),
    Index("uq_canned_responses_owner_shortcut", "owner_id", "shortcut", unique=True,
          sqlite_where=text("owner_id IS NOT NULL"),
          postgresql_where=text("owner_id IS NOT NULL")),
)

# Reports (0015): one row per conversation, the projection of its events (storage/facts.py)
# kept in the transaction that logs them, so a report over a million conversations reads one
# narrow row each instead of folding the event log per request. `chatkit reports rebuild`
# recomputes it from the log. Times in ms; durations NULL where they do not apply.
conversation_facts = Table(
    "conversation_facts", metadata,
    Column("conversation_id", String(32), primary_key=True),
    Column("contact_id", String(32), nullable=False),
    # "widget" (the visitor began it) or "outbound" (an agent did).
    Column("channel", String(20), nullable=False),
    # What it was about (first-contact resolution): the team asked for at handoff, else
    # "bot" once resolved without one (docs/architecture.md).
    Column("topic", String(100)),
    # The queue it was last in, and the agent it was last given to.
    Column("team", String(100)),
    Column("agent_id", String(32)),
    Column("created_at", BigInteger, nullable=False),
    Column("handoff_at", BigInteger),
    Column("assigned_at", BigInteger),
    Column("first_response_at", BigInteger),
    Column("resolved_at", BigInteger),
    Column("handed_off", Boolean, nullable=False, server_default="0"),
    Column("abandoned", Boolean, nullable=False, server_default="0"),
    # Handoff to first assignment, and to the first agent reply: wall-clock and within the
    # team's business hours.
    Column("wait_ms", BigInteger),
    Column("wait_open_ms", BigInteger),
    Column("first_response_ms", BigInteger),
    Column("first_response_open_ms", BigInteger),
    # First assignment to resolution; creation to resolution.
    Column("handle_ms", BigInteger),
    Column("resolution_ms", BigInteger),
    Column("csat", Integer),
    # When the contact began their next conversation on the same topic (NULL: none yet).
    Column("next_same_topic_at", BigInteger),
    Index("ix_facts_created", "created_at"),
    Index("ix_facts_team_created", "team", "created_at"),
    Index("ix_facts_agent_created", "agent_id", "created_at"),
    Index("ix_facts_resolved", "resolved_at"),
    Index("ix_facts_contact_topic", "contact_id", "topic", "created_at"),
)

# A report's percentiles walk these in value order to the wanted rank, reading the filter
# columns from the index itself: no sort of the selection (docs/architecture.md).
for _duration in ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
                  "handle_ms", "resolution_ms"):
    Index(f"ix_facts_{_duration}", conversation_facts.c[_duration],
          conversation_facts.c.created_at, conversation_facts.c.team,
          conversation_facts.c.agent_id)

# ... and, for the percentiles of an agent, the same walk within the agent (0016), the
# team in the index too (one team's breakdown by agent).
for _duration in ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
                  "handle_ms", "resolution_ms"):
    Index(f"ix_facts_agent_{_duration}", conversation_facts.c.agent_id,
          conversation_facts.c[_duration], conversation_facts.c.created_at,
          conversation_facts.c.team)

# The reports' roll-ups of the facts (0016; storage/rollups.py), kept in the same
# transaction as the facts. Key: scope ("t": team and channel, "a": agent and channel,
# "ta": all three), span ("m": a calendar month, "y": a year, UTC) and its start (ms), team
# and agent ("" for none), channel.
_ROLLUP_KEY = ("scope", "span", "start", "team", "agent", "channel")


def _rollup_key() -> list[Column[Any]]:
    return [Column("scope", String(2), nullable=False),
            Column("span", String(1), nullable=False),
            Column("start", BigInteger, nullable=False),
            Column("team", String(100), nullable=False),
            Column("agent", String(32), nullable=False),
            Column("channel", String(20), nullable=False)]


report_rollups = Table(
    "report_rollups", metadata,
    *_rollup_key(),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in (
        "conversations", "inbound", "handed_off", "resolved", "inbound_resolved",
        "bot_resolved", "abandoned", "fcr_eligible", "csat_ratings", "csat_satisfied",
        "csat_total")),
    # each duration's count and sum (its mean)
    *(Column(f"{name}_{part}", BigInteger, nullable=False, server_default="0")
      for name in ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
                   "handle_ms", "resolution_ms") for part in ("n", "sum")),
    PrimaryKeyConstraint(*_ROLLUP_KEY, name="pk_report_rollups"),
)

# How many conversations of a roll-up key fall in each bucket of a measure: a duration's
# bucket is its lower bound in whole seconds (rollups.bucket_s), fcr_gap_days's the days.
report_histograms = Table(
    "report_histograms", metadata,
    *_rollup_key(),
    Column("measure", String(30), nullable=False),
    Column("bucket", BigInteger, nullable=False),
    Column("n", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint(*_ROLLUP_KEY, "measure", "bucket", name="pk_report_histograms"),
)

# QA (0015): a supervisor's review of a conversation against the scorecard in use: one per
# conversation and reviewer (saving again replaces it), with its agent copied in so that an
# agent's own reviews are one index range.
qa_reviews = Table(
    "qa_reviews", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id"), nullable=False),
    Column("reviewer_id", String(32), ForeignKey("agents.id"), nullable=False),
    Column("agent_id", String(32)),
    Column("team", String(100)),
    # [{"criterion": id, "score": n, "comment": text | null}, ...] and the scorecard's weights
    # and scales at the time, so a later change of the scorecard does not rewrite history.
    Column("scores", JSON(none_as_null=True), nullable=False),
    Column("total", Integer, nullable=False),  # weighted, in hundredths of a percent
    Column("comment", Text),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("conversation_id", "reviewer_id", name="uq_qa_reviews_reviewer"),
    Index("ix_qa_reviews_agent", "agent_id", "created_at"),
    Index("ix_qa_reviews_created", "created_at"),
)

# Routing load (0017): each agent's open assigned conversations, kept on their row so that
# choosing who may take a chat reads one row per candidate instead of counting their chats.
# Database triggers on conversations keep it (every insert, delete and change of status or
# agent, whatever code makes it); storage/sql_routing.py explains the locking that goes with it.
agents.append_column(Column("load", Integer, nullable=False, server_default="0"))
