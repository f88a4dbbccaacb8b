"""The reports' monthly roll-ups of the conversation facts (docs/architecture.md, "Reports").

Two tables, kept in the transaction that changes a fact row, by adding the row's new
contribution and subtracting its old one (`adjust`), always as `INSERT ... ON CONFLICT DO
UPDATE SET n = n + excluded.n` increments, never read-modify-write, so that concurrent
transactions on PostgreSQL add up:

- `report_rollups`: per calendar month (UTC) of creation and key, the counts behind the
  rates and the sum and count of each duration (the means);
- `report_histograms`: per month, key, measure and bucket, how many conversations. The
  measures are the durations, bucketed by `bucket_s`, and `fcr_gap_days`: for a
  conversation that counts for first-contact resolution and whose contact began another on
  the same topic, the days from its resolution to that (ceil, 0 when before; up to
  FCR_MAX_DAYS), so that any window of whole days is a sum.

Each fact counts under three keys (`SCOPES`): by team and channel, by agent and channel,
and by all three, so that a report reads only the rows its group and filters need.
A NULL team or agent is stored as "" (key columns cannot be NULL).

`rebuild_sync` recomputes both tables from the facts; the contract suite checks that the
maintained tables equal a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, func, insert, literal, literal_column, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.models import CSAT_SATISFIED
from chatkit.storage import schema as t

if TYPE_CHECKING:
    from chatkit.storage.facts import Facts

DAY_MS = 24 * 3600 * 1000
#: The longest first-contact-resolution window the roll-ups answer (the setting's maximum).
FCR_MAX_DAYS = 90
#: Significant bits a duration's bucket keeps, per scope: by team, 16 buckets per doubling
#: (exact to the second below 32 s); with agents (many more keys), 4 per doubling.
BUCKET_BITS = {"t": 5, "a": 3, "ta": 3}

DURATIONS = ("wait_ms", "wait_open_ms", "first_response_ms", "first_response_open_ms",
             "handle_ms", "resolution_ms")
FCR_GAP = "fcr_gap_days"
MEASURES = (*DURATIONS, FCR_GAP)

#: The counts in a roll-up row, after its key.
COUNTS = ("conversations", "inbound", "handed_off", "resolved", "inbound_resolved",
          "bot_resolved", "abandoned", "fcr_eligible", "csat_ratings", "csat_satisfied",
          "csat_total", *(f"{name}_{part}" for name in DURATIONS for part in ("n", "sum")))

#: team-and-channel, agent-and-channel, and all three.
SCOPES = ("t", "a", "ta")
#: A calendar month and a calendar year (UTC).
MONTH, YEAR = "m", "y"
KEY = ("scope", "span", "start", "team", "agent", "channel")
HISTOGRAM_KEY = (*KEY, "measure", "bucket")


def bucket_s(ms: int, bits: int) -> int:
    """A duration's histogram bucket, as its lower bound in whole seconds: the whole
    seconds with all but their `bits` most significant bits cleared (so exact below
    2**bits s, and 2**(bits-1) buckets per doubling above). Negative durations (clock
    skew) count as 0."""
    s = ms // 1000 if ms > 0 else 0
    shift = s.bit_length() - bits
    return s if shift <= 0 else (s >> shift) << shift


def bucket_bounds_ms(bucket: int, bits: int) -> tuple[int | None, int]:
    """The [low, high) ms range of the durations in a bucket (low None: unbounded, for the
    bucket holding negative values)."""
    shift = bucket.bit_length() - bits
    width = 1 << shift if shift > 0 else 1
    high = (bucket + width) * 1000
    return (None if bucket == 0 else bucket * 1000), high


def fcr_gap_days(resolved_at: int, next_at: int) -> int | None:
    """The histogram bucket of a first-contact-resolution gap: ceil(days), 0 when the next
    conversation began before the resolution; None beyond FCR_MAX_DAYS (it never counts)."""
    gap = next_at - resolved_at
    days = 0 if gap <= 0 else -(-gap // DAY_MS)
    return days if days <= FCR_MAX_DAYS else None


_months: dict[int, int] = {}


def month_of(at: int) -> int:
    """The start (ms) of the UTC calendar month of `at`."""
    day = at // DAY_MS
    found = _months.get(day)
    if found is None:
        moment = datetime.fromtimestamp(day * DAY_MS / 1000, UTC)
        found = int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() * 1000)
        if len(_months) < 100_000:
            _months[day] = found
    return found


def next_month(month: int) -> int:
    return month_of(month + 32 * DAY_MS)


def year_of(at: int) -> int:
    """The start (ms) of the UTC calendar year of `at`."""
    moment = datetime.fromtimestamp(month_of(at) / 1000, UTC)
    return int(datetime(moment.year, 1, 1, tzinfo=UTC).timestamp() * 1000)


def next_year(year: int) -> int:
    return year_of(year + 370 * DAY_MS)


# a fact's contribution

Key = tuple[str, str, int, str, str, str]
HistogramKey = tuple[str, str, int, str, str, str, str, int]


def contribution(f: Facts) -> tuple[list[int], list[tuple[str, int | None]]]:
    """What one fact row adds: its COUNTS, and its (measure, value) histogram entries (the
    duration in ms, bucketed per scope; the FCR gap already in days)."""
    inbound = f.channel != "outbound"
    resolved = f.resolved_at is not None
    eligible = resolved and not f.abandoned
    counts = [1, int(inbound), int(f.handed_off), int(resolved), int(resolved and inbound),
              int(resolved and inbound and not f.handed_off), int(f.abandoned), int(eligible),
              int(f.csat is not None),
              int(f.csat is not None and f.csat >= CSAT_SATISFIED), f.csat or 0]
    entries: list[tuple[str, int | None]] = []
    for name in DURATIONS:
        value = getattr(f, name)
        if value is None:
            counts += (0, 0)
        else:
            counts += (1, value)
            entries.append((name, value))
    if eligible and f.next_same_topic_at is not None:
        assert f.resolved_at is not None
        entries.append((FCR_GAP, fcr_gap_days(f.resolved_at, f.next_same_topic_at)))
    return counts, entries


def keys(f: Facts) -> list[Key]:
    team, agent = f.team or "", f.agent_id or ""
    return [(scope, span, start, team if "t" in scope else "", agent if "a" in scope else "",
             f.channel) for span, start in ((MONTH, month_of(f.created_at)),
                                            (YEAR, year_of(f.created_at)))
            for scope in SCOPES]


class Tally:
    """Roll-up rows being summed (a rebuild) or a change's deltas (adjust)."""

    def __init__(self) -> None:
        self.rows: dict[Key, list[int]] = {}
        self.histograms: dict[HistogramKey, int] = {}

    def add(self, f: Facts, sign: int = 1) -> None:
        counts, entries = contribution(f)
        for key in keys(f):
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0] * len(COUNTS)
            for i, count in enumerate(counts):
                row[i] += sign * count
            bits = BUCKET_BITS[key[0]]
            for measure, value in entries:
                if value is None:
                    continue
                bucket = value if measure == FCR_GAP else bucket_s(value, bits)
                hkey = (*key, measure, bucket)
                self.histograms[hkey] = self.histograms.get(hkey, 0) + sign

    def row_values(self) -> list[dict[str, Any]]:
        return [{**dict(zip(KEY, key, strict=True)), **dict(zip(COUNTS, row, strict=True))}
                for key, row in sorted(self.rows.items()) if any(row)]

    def histogram_values(self) -> list[dict[str, Any]]:
        return [{**dict(zip(HISTOGRAM_KEY, key, strict=True)), "n": n}
                for key, n in sorted(self.histograms.items()) if n]


# upkeep, in the transaction that changes the facts

_upserts: dict[tuple[str, str], Any] = {}


def _upsert(dialect: str, table: Any, key: Sequence[str], columns: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c, built once per dialect and
    table (building it costs more than running it)."""
    found = _upserts.get((dialect, table.name))
    if found is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = make(table)
        found = _upserts[dialect, table.name] = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: table.c[name] + statement.excluded[name] for name in columns})
    return found


#: Where a store transaction gathers its roll-up changes (SqlStore._write: `begin`, then
#: `flush` just before the commit).
PENDING_KEY = "chatkit_rollups_pending"


def begin(info: dict[Any, Any]) -> None:
    """Gather the roll-up changes of the transaction whose connection has this `info`."""
    info[PENDING_KEY] = Tally()


def discard(info: dict[Any, Any]) -> None:
    """Drop what a transaction gathered (from its connection's `info`, which outlives it)."""
    info.pop(PENDING_KEY, None)


def adjust_sync(conn: Connection,
                changes: Iterable[tuple[Facts | None, Facts | None]]) -> None:
    """Move the roll-ups from each (old, new) fact row to the other (None: no row): at the
    end of the transaction when it gathers them (`begin`), else now."""
    pending = conn.info.get(PENDING_KEY)
    tally = pending if isinstance(pending, Tally) else Tally()
    for old, new in changes:
        if old is not None:
            tally.add(old, -1)
        if new is not None:
            tally.add(new)
    if pending is None:
        _apply(conn, tally)


async def flush(conn: AsyncConnection) -> None:
    """Write the transaction's gathered changes: last, so that a transaction takes the
    roll-ups' (shared, hot) row locks after every other lock it takes, in key order, and
    holds them only until its commit. No transaction then waits for another lock while
    holding a roll-up row: no deadlock through them on PostgreSQL."""
    pending = conn.info.pop(PENDING_KEY, None)
    if isinstance(pending, Tally) and (pending.rows or pending.histograms):
        await conn.run_sync(_apply, pending)


def flush_sync(conn: Connection) -> None:
    """Write the changes gathered so far on `conn` now, and go on gathering from nothing
    (the same Tally, emptied: the store's `flush` at the commit then writes only what came
    after). For a transaction whose statements run on another connection object than the
    store's (SQLite's assignment in the driver's thread, sql_routing.py): only there, where
    nothing else takes row locks, is writing them before the end harmless."""
    pending = conn.info.get(PENDING_KEY)
    if isinstance(pending, Tally):
        _apply(conn, pending)
        pending.rows.clear()
        pending.histograms.clear()


def take_pending(conn: Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The roll-up and histogram rows the transaction gathered so far, for the caller to
    write at once (and only when nothing after it in the transaction takes locks: see
    `flush`); it goes on gathering from nothing."""
    pending = conn.info.get(PENDING_KEY)
    if not isinstance(pending, Tally):
        return [], []
    found = pending.row_values(), pending.histogram_values()
    pending.rows.clear()
    pending.histograms.clear()
    return found


def _apply(conn: Connection, tally: Tally) -> None:
    rows, histograms = tally.row_values(), tally.histogram_values()
    # Sorted keys: concurrent transactions lock shared rows in the same order.
    dialect = conn.dialect.name
    if rows:
        conn.execute(_upsert(dialect, t.report_rollups, KEY, COUNTS), rows)
    if histograms:
        conn.execute(_upsert(dialect, t.report_histograms, HISTOGRAM_KEY, ("n",)),
                     histograms)


# the rebuild, from the facts

def bucket_sql(column: Any, bits: int) -> Any:
    """`bucket_s` in SQL (the same integers on both engines): a ladder over the doublings."""
    seconds = column // 1000
    whens: list[tuple[Any, Any]] = [(column < 1000 << bits, case((column > 0, seconds),
                                                                  else_=0))]
    for shift in range(1, 40):
        # PostgreSQL shifts a bigint by an integer: the count as a literal, not a bigint.
        count: Any = literal_column(str(shift))
        whens.append((column < 1000 << (bits + shift), seconds.op(">>")(count).op("<<")(count)))
    return case(*whens, else_=seconds)


def _starts(conn: Connection, column: Any, span: str) -> Any:
    """The span's start of `column` (ms) in SQL: a ladder over the spans the facts cover."""
    f = t.conversation_facts.c
    low, high = conn.execute(select(func.min(f.created_at), func.max(f.created_at))).one()
    if low is None:
        return literal(0)
    first, following = (month_of, next_month) if span == MONTH else (year_of, next_year)
    starts = [first(low)]
    while starts[-1] <= high:
        starts.append(following(starts[-1]))
    return case(*((column < end, literal(start)) for start, end in pairwise(starts)),
                else_=literal(starts[-1]))


def rebuild_sync(conn: Connection) -> int:
    """Recompute both tables from the fact rows, in set-based SQL (a GROUP BY per scope and
    measure: seconds for a million rows); returns the fact rows. Synchronous, so that a
    migration can run it too."""
    f = t.conversation_facts.c
    conn.execute(delete(t.report_histograms))
    conn.execute(delete(t.report_rollups))
    total = int(conn.scalar(select(func.count()).select_from(t.conversation_facts)) or 0)
    if not total:
        return 0
    inbound = f.channel != "outbound"
    resolved = f.resolved_at.is_not(None)
    eligible = and_(resolved, ~f.abandoned)

    def count_if(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    sums = [func.count(), count_if(inbound), count_if(f.handed_off), count_if(resolved),
            count_if(and_(resolved, inbound)), count_if(and_(resolved, inbound, ~f.handed_off)),
            count_if(f.abandoned), count_if(eligible), func.count(f.csat),
            count_if(f.csat >= CSAT_SATISFIED), func.coalesce(func.sum(f.csat), 0),
            *(part for name in DURATIONS
              for part in (func.count(f[name]), func.coalesce(func.sum(f[name]), 0)))]
    month = _starts(conn, f.created_at, MONTH).label("start")
    gap = f.next_same_topic_at - f.resolved_at
    for scope in SCOPES:
        team = func.coalesce(f.team, "") if "t" in scope else literal("")
        agent = func.coalesce(f.agent_id, "") if "a" in scope else literal("")
        key = [literal(scope), literal(MONTH), month, team.label("team"),
               agent.label("agent"), f.channel]
        conn.execute(insert(t.report_rollups).from_select(
            [*KEY, *COUNTS],
            select(*key, *sums).group_by(month, team, agent, f.channel)))
        measures: list[tuple[str, Any, Any]] = [
            (name, bucket_sql(f[name], BUCKET_BITS[scope]), f[name].is_not(None))
            for name in DURATIONS]
        measures.append((FCR_GAP, case((gap <= 0, 0), else_=(gap + DAY_MS - 1) // DAY_MS),
                         and_(eligible, f.next_same_topic_at.is_not(None),
                              gap <= FCR_MAX_DAYS * DAY_MS)))
        for name, bucket, present in measures:
            conn.execute(insert(t.report_histograms).from_select(
                [*KEY, "measure", "bucket", "n"],
                select(*key, literal(name), bucket.label("bucket"), func.count())
                .where(present).group_by(month, team, agent, f.channel, bucket)))
    # The years: their months summed.
    r, h = t.report_rollups.c, t.report_histograms.c
    year = _starts(conn, r.start, YEAR).label("start")
    conn.execute(insert(t.report_rollups).from_select(
        [*KEY, *COUNTS],
        select(r.scope, literal(YEAR), year, r.team, r.agent, r.channel,
               *(func.sum(r[name]) for name in COUNTS))
        .where(r.span == MONTH).group_by(r.scope, year, r.team, r.agent, r.channel)))
    year = _starts(conn, h.start, YEAR).label("start")
    conn.execute(insert(t.report_histograms).from_select(
        [*KEY, "measure", "bucket", "n"],
        select(h.scope, literal(YEAR), year, h.team, h.agent, h.channel, h.measure, h.bucket,
               func.sum(h.n))
        .where(h.span == MONTH)
        .group_by(h.scope, year, h.team, h.agent, h.channel, h.measure, h.bucket)))
    return total


async def read_all(conn: AsyncConnection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Both tables' non-zero rows in key order (tests compare upkeep with a rebuild)."""
    r, h = t.report_rollups.c, t.report_histograms.c
    rows = [tuple(row) for row in (await conn.execute(
        select(*(r[name] for name in (*KEY, *COUNTS))).order_by(*(r[n] for n in KEY)))).all()
        if any(row[len(KEY):])]
    histograms = [tuple(row) for row in (await conn.execute(
        select(*(h[name] for name in (*HISTOGRAM_KEY, "n")))
        .where(h.n != 0).order_by(*(h[n] for n in HISTOGRAM_KEY)))).all()]
    return rows, histograms


def totals(rows: Mapping[str, int]) -> list[int]:
    """COUNTS in order from a mapping (a SQL row of sums)."""
    return [int(rows[name] or 0) for name in COUNTS]
