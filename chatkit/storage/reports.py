"""The storage port's reporting part: metrics over the conversation facts (storage/facts.py),
the export's pages, and QA reviews.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_reports.py.
Times are milliseconds since the epoch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from chatkit.models import Message
from chatkit.storage.facts import Facts, OpenHours

#: The percentiles every duration is reported at.
PERCENTILES = (50, 90)

#: The durations in a conversation's facts that reports summarize.
DURATIONS = ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
             "handle_ms", "resolution_ms")


class Group(StrEnum):
    """What a metrics report is broken down by."""

    NONE = "none"
    TEAM = "team"
    AGENT = "agent"
    CHANNEL = "channel"


@dataclass(slots=True, frozen=True)
class Selection:
    """The conversations a report covers: begun in [start, end) (ms), of the team (the queue
    they were last in), of the agent (the last they were given to) and of the channel
    ("widget" or "outbound") when given."""

    start: int
    end: int
    team: str | None = None
    agent_id: str | None = None
    channel: str | None = None


@dataclass(slots=True)
class Metrics:
    """The counts and durations of one group of a selection. Rates are left to the reader
    (reports/metrics.py), so that groups can be summed."""

    key: str | None
    conversations: int = 0
    inbound: int = 0  # begun by visitors (not outbound)
    handed_off: int = 0
    resolved: int = 0
    inbound_resolved: int = 0
    bot_resolved: int = 0  # resolved without a person: contained
    abandoned: int = 0
    fcr_eligible: int = 0  # resolved, not abandoned
    fcr_resolved: int = 0  # ... and no new conversation on the topic within the window
    csat_ratings: int = 0
    csat_satisfied: int = 0
    csat_total: int = 0
    #: Mean of each of DURATIONS (ms), None when none applies.
    means: dict[str, float | None] = field(default_factory=dict)
    #: Each of DURATIONS at each of PERCENTILES (nearest rank), None when none applies.
    percentiles: dict[str, dict[int, int | None]] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Volume:
    """Conversations begun in one time bucket."""

    start: int
    conversations: int
    handed_off: int
    bot_resolved: int
    abandoned: int


@dataclass(slots=True, frozen=True)
class QaScore:
    criterion: str
    score: int
    comment: str | None = None


@dataclass(slots=True, frozen=True)
class QaReview:
    """A supervisor's review of a conversation: a score per scorecard criterion, their
    weighted total (0..10000, hundredths of a percent) and a comment."""

    id: str
    conversation_id: str
    reviewer_id: str
    agent_id: str | None
    team: str | None
    scores: list[dict[str, Any]]
    total: int
    comment: str | None
    created_at: int
    updated_at: int

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "conversation_id": self.conversation_id,
                "reviewer_id": self.reviewer_id, "agent_id": self.agent_id,
                "team": self.team, "scores": self.scores, "total": self.total / 100,
                "comment": self.comment, "created_at": self.created_at,
                "updated_at": self.updated_at}


class ReportsStore(Protocol):
    #: The business hours the facts count waits in (set by the app from its routing
    #: configuration; every team always open until then).
    open_hours: OpenHours

    async def report_metrics(self, selection: Selection, *, group: Group,
                             fcr_window_ms: int) -> list[Metrics]:
        """The metrics of the selection, one per group (by key); none when it is empty."""

    async def report_volume(self, selection: Selection, *, bucket_ms: int,
                            offset_ms: int = 0) -> list[Volume]:
        """Conversations begun per bucket of `bucket_ms`, buckets starting at multiples of
        it shifted by `offset_ms` (a time zone's offset), oldest first; empty buckets left
        out."""

    async def count_facts(self, selection: Selection) -> int: ...

    async def facts_page(self, selection: Selection, *, after: tuple[int, str] | None,
                         limit: int) -> list[Facts]:
        """The selection's facts in (created_at, conversation_id) order, the `limit` after
        `after` (a keyset: each page is one short query, whatever the export's size)."""

    async def transcripts(self, conversation_ids: Collection[str]) -> dict[str, list[Message]]:
        """The messages the visitor saw (no internal notes) of these conversations, by
        conversation, in order."""

    async def rebuild_facts(self, open_hours: OpenHours) -> int:
        """Recompute the facts of every conversation from the event log; returns how many."""

    async def all_facts(self) -> list[Facts]:
        """Every conversation's facts, by id (small stores: tests, diagnostics)."""

    async def all_rollups(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The roll-ups' non-zero rows and histogram entries in key order (small stores:
        tests compare their upkeep with `rebuild_rollups`)."""

    async def rebuild_rollups(self) -> int:
        """Recompute the roll-ups from the facts; returns the fact rows read."""

    async def queue_stats(self) -> dict[str, tuple[int, int]]:
        """Each team with conversations waiting: how many, and since when the one waiting
        longest was queued (ms). One indexed query (scraped by Prometheus)."""

    # QA

    async def save_review(self, conversation_id: str, *, reviewer_id: str,
                          scores: Sequence[dict[str, Any]], total: int, comment: str | None,
                          now: int) -> QaReview:
        """Store the reviewer's review of the conversation (replacing theirs of it), with the
        conversation's agent and team. chatkit.errors.NotFound when there is no such
        conversation, chatkit.errors.Conflict when it is not resolved or had no agent."""

    async def get_review(self, review_id: str) -> QaReview | None: ...

    async def list_reviews(self, *, agent_id: str | None = None,
                           conversation_id: str | None = None, start: int | None = None,
                           end: int | None = None, limit: int = 100) -> list[QaReview]:
        """Newest first; of the agent and the conversation when given, created in
        [start, end)."""

    async def resolved_by_agents(self, start: int, end: int) -> list[str]:
        """The ids of the conversations an agent resolved (not abandoned ones) in
        [start, end), in id order (the QA sample draws from them)."""
