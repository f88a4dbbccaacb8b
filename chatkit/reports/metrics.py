"""The reports: metrics and volume over the conversation facts (storage/facts.py), as JSON and
CSV, and the export of conversations with their transcripts, streamed page by page."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator, Iterable, Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatkit.models import now_ms
from chatkit.storage import Store
from chatkit.storage.facts import Facts
from chatkit.storage.reports import DURATIONS, PERCENTILES, Group, Metrics, Selection, Volume

DAY_MS = 24 * 3600 * 1000
#: The longest range one report covers.
MAX_RANGE_DAYS = 400
#: Conversations per page of the export: one query for the facts, one for the messages.
EXPORT_PAGE = 500


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


BUCKET_MS = {Granularity.HOUR: 3600 * 1000, Granularity.DAY: DAY_MS,
             Granularity.WEEK: 7 * DAY_MS}
# Weeks start on Monday: the epoch was a Thursday.
_WEEK_OFFSET_MS = 3 * DAY_MS


def _instant(value: date | datetime) -> int:
    """A date is its midnight UTC; a datetime without a zone is UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class ReportQuery(BaseModel):
    """A report's query string: `from` (inclusive) and `to` (exclusive), ISO 8601 dates or
    times (UTC unless they say otherwise; default: the 7 days up to now), `team`, `agent`
    (an agent id), `channel` (widget or outbound), `group` (metrics: none, team, agent,
    channel), `granularity` (volume: hour, day, week), `fcr_days` (the first-contact
    resolution window)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    start: date | datetime | None = Field(None, alias="from")
    end: date | datetime | None = Field(None, alias="to")
    team: str | None = Field(None, min_length=1, max_length=100)
    agent: str | None = Field(None, min_length=1, max_length=32)
    channel: str | None = Field(None, pattern="^(widget|outbound)$")
    group: Group = Group.NONE
    granularity: Granularity = Granularity.DAY
    fcr_days: int | None = Field(None, ge=1, le=90)
    format: str = Field("json", pattern="^(json|csv)$")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates_first(cls, value: Any) -> Any:
        # "2026-11-01" is a date (midnight UTC), not a datetime at midnight local time.
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
        return value

    @model_validator(mode="after")
    def _a_range(self) -> ReportQuery:
        start, end = self.range_ms()
        if end <= start:
            raise ValueError("`to` must be after `from`")
        if end - start > MAX_RANGE_DAYS * DAY_MS:
            raise ValueError(f"a report covers at most {MAX_RANGE_DAYS} days")
        return self

    def range_ms(self) -> tuple[int, int]:
        end = now_ms() if self.end is None else _instant(self.end)
        start = end - 7 * DAY_MS if self.start is None else _instant(self.start)
        return start, end

    def selection(self) -> Selection:
        start, end = self.range_ms()
        return Selection(start, end, team=self.team, agent_id=self.agent,
                         channel=self.channel)


class Reports:
    """The reports over a store: what the HTTP API and the CLI serve."""

    def __init__(self, store: Store, *, fcr_days: int = 7) -> None:
        self.store = store
        self.fcr_days = fcr_days

    async def metrics(self, query: ReportQuery) -> list[dict[str, Any]]:
        days = query.fcr_days or self.fcr_days
        found = await self.store.report_metrics(query.selection(), group=query.group,
                                                fcr_window_ms=days * DAY_MS)
        return [metrics_wire(m) for m in found]

    async def volume(self, query: ReportQuery) -> list[dict[str, Any]]:
        bucket = BUCKET_MS[query.granularity]
        offset = -_WEEK_OFFSET_MS if query.granularity is Granularity.WEEK else 0
        found = await self.store.report_volume(query.selection(), bucket_ms=bucket,
                                               offset_ms=offset)
        return [volume_wire(v) for v in found]

    async def count_conversations(self, query: ReportQuery) -> int:
        return await self.store.count_facts(query.selection())

    async def export_conversations(self, query: ReportQuery, *,
                                   page: int = EXPORT_PAGE) -> AsyncGenerator[bytes, None]:
        """The CSV of the selection's conversations with their transcripts, a page at a
        time: memory holds one page, whatever the export's size."""
        selection = query.selection()
        yield csv_bytes([EXPORT_COLUMNS])
        after: tuple[int, str] | None = None
        while True:
            facts = await self.store.facts_page(selection, after=after, limit=page)
            if not facts:
                return
            transcripts = await self.store.transcripts([f.conversation_id for f in facts])
            yield csv_bytes(_export_row(f, transcripts.get(f.conversation_id, []))
                            for f in facts)
            if len(facts) < page:
                return
            after = (facts[-1].created_at, facts[-1].conversation_id)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def metrics_wire(m: Metrics) -> dict[str, Any]:
    """One group's metrics, with the rates the managers read."""
    wire: dict[str, Any] = {
        "key": m.key, "conversations": m.conversations, "inbound": m.inbound,
        "handed_off": m.handed_off, "resolved": m.resolved, "bot_resolved": m.bot_resolved,
        "abandoned": m.abandoned, "fcr_eligible": m.fcr_eligible,
        "fcr_resolved": m.fcr_resolved,
        "handoff_rate": _rate(m.handed_off, m.inbound),
        "containment_rate": _rate(m.bot_resolved, m.inbound_resolved),
        "abandonment_rate": _rate(m.abandoned, m.handed_off),
        "fcr_rate": _rate(m.fcr_resolved, m.fcr_eligible),
        "csat": {"ratings": m.csat_ratings, "satisfied": m.csat_satisfied,
                 "score": _rate(m.csat_satisfied, m.csat_ratings),
                 "average": m.csat_total / m.csat_ratings if m.csat_ratings else None},
    }
    for name in DURATIONS:
        wire[name] = {"mean": m.means.get(name),
                      **{f"p{p}": m.percentiles.get(name, {}).get(p) for p in PERCENTILES}}
    return wire


def volume_wire(v: Volume) -> dict[str, Any]:
    return {"start": v.start, "conversations": v.conversations, "handed_off": v.handed_off,
            "bot_resolved": v.bot_resolved, "abandoned": v.abandoned}


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested report row as CSV columns: {"wait_ms": {"p50": 1}} -> {"wait_ms_p50": 1}."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}_"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def report_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    flat = [flatten(row) for row in rows]
    columns = list(flat[0]) if flat else ["key"]
    return csv_bytes([columns, *([row.get(c) for c in columns] for row in flat)])


# Cells a spreadsheet would run as a formula: visitors' text must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue().encode()


EXPORT_COLUMNS = ["conversation_id", "contact_id", "channel", "topic", "team", "agent_id",
                  "created_at", "handoff_at", "assigned_at", "first_response_at",
                  "resolved_at", "handed_off", "abandoned", *DURATIONS, "csat", "transcript"]


def _iso(at: int | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at / 1000, UTC).isoformat(timespec="seconds")


def _export_row(f: Facts, messages: Sequence[Any]) -> list[Any]:
    transcript = "\n".join(
        f"[{_iso(m.created_at)}] {m.sender}{f' ({m.author_name})' if m.author_name else ''}: "
        f"{m.body}" for m in messages)
    return [f.conversation_id, f.contact_id, f.channel, f.topic, f.team, f.agent_id,
            _iso(f.created_at), _iso(f.handoff_at), _iso(f.assigned_at),
            _iso(f.first_response_at), _iso(f.resolved_at), int(f.handed_off),
            int(f.abandoned), *(getattr(f, name) for name in DURATIONS), f.csat, transcript]
