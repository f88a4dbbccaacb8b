"""The SQL store's reporting part (storage/reports.py): metrics over the conversation facts
and their monthly roll-ups, the export's pages, and QA reviews.

A metrics report adds up pieces of its range: the whole calendar months in it from the
roll-ups (storage/rollups.py), the rest from the fact rows - or, when a month is mostly
inside the range, the month's roll-up minus the fact rows of it outside the range. Counts,
sums and the histograms of the durations add up the same way.

Percentiles are nearest-rank (the value at rank ceil(p/100 * n) of the n sorted values),
exact, in two steps: the histogram says which bucket holds that rank and how many values
lie below the bucket; then one index walk within the bucket, `ORDER BY duration LIMIT 1
OFFSET k` over the durations in [bucket low, bucket high) of the selection, finds the
value. A walk reads at most the bucket's values, not the selection's.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.errors import Conflict, NotFound
from chatkit.models import CSAT_SATISFIED, ConversationStatus, Message
from chatkit.storage import facts as projection
from chatkit.storage import rollups
from chatkit.storage import schema as t
from chatkit.storage.facts import Facts, OpenHours
from chatkit.storage.reports import (
    DURATIONS,
    PERCENTILES,
    Group,
    Metrics,
    QaReview,
    Selection,
    Volume,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

_f = t.conversation_facts.c
_q = t.qa_reviews.c
_r = t.report_rollups.c
_h = t.report_histograms.c
DAY_MS = rollups.DAY_MS
#: Walks per statement (each a scalar subquery, a column of one row).
_WALKS_PER_STATEMENT = 100


def _selected(selection: Selection, start: int | None = None,
              end: int | None = None) -> list[ColumnElement[bool]]:
    conditions = [_f.created_at >= (selection.start if start is None else start),
                  _f.created_at < (selection.end if end is None else end)]
    if selection.team is not None:
        conditions.append(_f.team == selection.team)
    if selection.agent_id is not None:
        conditions.append(_f.agent_id == selection.agent_id)
    if selection.channel is not None:
        conditions.append(_f.channel == selection.channel)
    return conditions


_FACT_GROUP = {Group.TEAM: _f.team, Group.AGENT: _f.agent_id, Group.CHANNEL: _f.channel}
_ROLLUP_GROUP = {Group.TEAM: _r.team, Group.AGENT: _r.agent, Group.CHANNEL: _r.channel}
_HISTOGRAM_GROUP = {Group.TEAM: _h.team, Group.AGENT: _h.agent, Group.CHANNEL: _h.channel}


def _fact_sums() -> list[Any]:
    """The roll-ups' COUNTS, summed over fact rows."""
    inbound = _f.channel != "outbound"
    resolved = _f.resolved_at.is_not(None)
    return [func.count(), _count_if(inbound), _count_if(_f.handed_off), _count_if(resolved),
            _count_if(and_(resolved, inbound)),
            _count_if(and_(resolved, inbound, ~_f.handed_off)), _count_if(_f.abandoned),
            _count_if(and_(resolved, ~_f.abandoned)), func.count(_f.csat),
            _count_if(_f.csat >= CSAT_SATISFIED), func.coalesce(func.sum(_f.csat), 0),
            *(part for name in DURATIONS
              for part in (func.count(_f[name]), func.coalesce(func.sum(_f[name]), 0)))]


def _group_key(group: Group) -> Any:
    return _FACT_GROUP.get(group, literal(""))


def _count_if(condition: Any) -> Any:
    return func.count(case((condition, 1)))


def _scope(selection: Selection, group: Group) -> str:
    """The roll-up keys a report reads: by team, by agent, or by both when it needs both."""
    team = selection.team is not None or group is Group.TEAM
    agent = selection.agent_id is not None or group is Group.AGENT
    return "ta" if team and agent else "a" if agent else "t"


def _fcr_days(window_ms: int) -> int | None:
    """The window in whole days when the roll-ups' FCR histogram can answer it."""
    days, rest = divmod(window_ms, DAY_MS)
    return days if not rest and 1 <= days <= rollups.FCR_MAX_DAYS else None


@dataclass(slots=True)
class _Plan:
    """A range as pieces, each added (+1) or taken away (-1): whole years and months from
    the roll-ups, spans of fact rows."""

    rollups: list[tuple[int, str, int]]  # (sign, span, start)
    spans: list[tuple[int, int, int]]  # (sign, start, end)
    cost: int = 0

    def extend(self, other: _Plan, sign: int = 1) -> None:
        self.rollups += [(sign * s, span, start) for s, span, start in other.rollups]
        self.spans += [(sign * s, start, end) for s, start, end in other.spans]
        self.cost += other.cost


#: What reading one roll-up piece costs, in fact rows read (a guess: a month of a breakdown
#: by agent is a few tens of thousands of histogram rows; a month of a team's, far fewer).
_PIECE_COST = 20_000


async def _plan(conn: AsyncConnection, selection: Selection) -> _Plan:
    """The cheapest pieces: a year that is mostly inside the range is its roll-up less the
    months (or facts) outside; a month likewise; else the months, or facts, inside."""
    plan = _Plan([], [])
    year = rollups.year_of(selection.start)
    while year < selection.end:
        following = rollups.next_year(year)
        start, end = max(year, selection.start), min(following, selection.end)
        if (start, end) == (year, following):
            plan.extend(_Plan([(1, rollups.YEAR, year)], [], _PIECE_COST))
        else:
            inside = await _months(conn, selection, start, end)
            outside = _Plan([(1, rollups.YEAR, year)], [], _PIECE_COST)
            for a, b in ((year, start), (end, following)):
                if a < b:
                    outside.extend(await _months(conn, selection, a, b), -1)
            plan.extend(inside if inside.cost <= outside.cost else outside)
        year = following
    return plan


async def _months(conn: AsyncConnection, selection: Selection, first: int, last: int
                  ) -> _Plan:
    """[first, last) (within a year) as months and facts."""
    plan = _Plan([], [])
    month = rollups.month_of(first)
    while month < last:
        following = rollups.next_month(month)
        start, end = max(month, first), min(following, last)
        if (start, end) == (month, following):
            plan.extend(_Plan([(1, rollups.MONTH, month)], [], _PIECE_COST))
        else:
            outside = [(a, b) for a, b in ((month, start), (end, following)) if a < b]
            inside_n = await _count(conn, selection, start, end)
            outside_n = sum([await _count(conn, selection, a, b) for a, b in outside])
            if outside_n + _PIECE_COST < inside_n:
                plan.extend(_Plan([(1, rollups.MONTH, month)],
                                  [(-1, a, b) for a, b in outside], _PIECE_COST + outside_n))
            elif inside_n:
                plan.extend(_Plan([], [(1, start, end)], inside_n))
        month = following
    return plan


async def _count(conn: AsyncConnection, selection: Selection, start: int, end: int) -> int:
    return int(await conn.scalar(select(func.count()).select_from(t.conversation_facts)
                                 .where(*_selected(selection, start, end))) or 0)


def _rollup_filters(columns: Any, scope: str, selection: Selection,
                    pieces: list[tuple[str, int]]) -> list[Any]:
    spans = {span: [start for s, start in pieces if s == span] for span, _ in pieces}
    conditions = [columns.scope == scope,
                  or_(*(and_(columns.span == span, columns.start.in_(starts))
                        for span, starts in spans.items()))]
    if selection.team is not None:
        conditions.append(columns.team == selection.team)
    if selection.agent_id is not None:
        conditions.append(columns.agent == selection.agent_id)
    if selection.channel is not None:  # every scope's key has the channel
        conditions.append(columns.channel == selection.channel)
    return conditions


def _key(group: Group, value: Any) -> str | None:
    if group is Group.NONE:
        return None
    return None if value in (None, "") and group is not Group.CHANNEL else str(value)


_GROUP_SPAN = 1 << 40  # above any bucket (seconds)


def _bucketed(group: Group, rows: Sequence[Any], bits: int
              ) -> Iterable[tuple[str | None, str, int, int]]:
    """(group, duration, bucket, count) of rows of (group key, *DURATIONS): what
    rollups.bucket_s gives, value by value, vectorized."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    groups: dict[Any, int] = {}
    index = np.array([groups.setdefault(raw, len(groups)) for raw in columns[0]],
                     dtype=np.int64)
    keys = [_key(group, raw) for raw in groups]
    for name, column in zip(DURATIONS, columns[1:], strict=True):
        found = np.array(column, dtype=object)
        present = found != None  # noqa: E711 - elementwise, not identity
        values = found[present].astype(np.int64)
        seconds = np.where(values > 0, values // 1000, 0)
        length = np.frexp(seconds.astype(np.float64))[1].astype(np.int64)  # bit_length
        shift = np.maximum(length - bits, 0)
        buckets = (seconds >> shift) << shift
        pairs, counts = np.unique(index[present] * _GROUP_SPAN + buckets, return_counts=True)
        for pair, n in zip(pairs.tolist(), counts.tolist(), strict=True):
            yield keys[pair // _GROUP_SPAN], name, pair % _GROUP_SPAN, n


class ReportsSql:
    """Mixed into SqlStore, which provides the connections."""

    if TYPE_CHECKING:
        is_sqlite: bool

        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    # metrics

    async def report_metrics(self, selection: Selection, *, group: Group,
                             fcr_window_ms: int) -> list[Metrics]:
        scope = _scope(selection, group)
        bits = rollups.BUCKET_BITS[scope]
        days = _fcr_days(fcr_window_ms)
        async with self._read() as conn:
            if not self.is_sqlite:
                # One snapshot for the pieces and the walks.
                await conn.execution_options(isolation_level="REPEATABLE READ")
            plan = await _plan(conn, selection)
            counts: dict[str | None, list[int]] = {}
            relapsed: dict[str | None, int] = {}
            histograms: dict[tuple[str | None, str], dict[int, int]] = {}

            def tally(key: str | None, values: Iterable[int], sign: int = 1) -> None:
                row = counts.setdefault(key, [0] * len(rollups.COUNTS))
                for i, value in enumerate(values):
                    row[i] += sign * int(value or 0)

            def bucket(key: str | None, measure: str, value: int, n: int) -> None:
                found = histograms.setdefault((key, measure), {})
                found[value] = found.get(value, 0) + n

            for sign in (1, -1):
                pieces = [(span, start) for s, span, start in plan.rollups if s == sign]
                if pieces:
                    await self._from_rollups(conn, selection, group, scope, pieces, sign,
                                             days, tally, relapsed, bucket)
            for sign, start, end in plan.spans:
                await self._from_facts(conn, selection, group, start, end, sign, bits,
                                       fcr_window_ms if days is not None else None,
                                       tally, relapsed, bucket)
            if days is None:  # a window the roll-ups do not answer: from the facts
                relapsed = await self._relapsed(conn, selection, group, fcr_window_ms)
            found = self._metrics(group, counts, relapsed)
            await self._percentiles(conn, selection, group, bits, found, histograms)
        return sorted(found.values(), key=lambda m: (m.key is None, m.key or ""))

    async def _from_rollups(self, conn: AsyncConnection, selection: Selection, group: Group,
                            scope: str, pieces: list[tuple[str, int]], sign: int,
                            days: int | None, tally: Any, relapsed: dict[str | None, int],
                            bucket: Any) -> None:
        key = _ROLLUP_GROUP.get(group, literal("")).label("g")
        rows = (await conn.execute(
            select(key, *(func.sum(_r[name]) for name in rollups.COUNTS))
            .where(*_rollup_filters(_r, scope, selection, pieces)).group_by(key))).all()
        for row in rows:
            if row[1]:
                tally(_key(group, row.g), row[1:], sign)
        hkey = _HISTOGRAM_GROUP.get(group, literal("")).label("g")
        measures = list(DURATIONS) + ([rollups.FCR_GAP] if days is not None else [])
        rows = (await conn.execute(
            select(hkey, _h.measure, _h.bucket, func.sum(_h.n).label("n"))
            .where(*_rollup_filters(_h, scope, selection, pieces), _h.measure.in_(measures))
            .group_by(hkey, _h.measure, _h.bucket))).all()
        for row in rows:
            g = _key(group, row.g)
            if row.measure == rollups.FCR_GAP:
                assert days is not None
                if row.bucket <= days:
                    relapsed[g] = relapsed.get(g, 0) + sign * int(row.n)
            elif row.n:
                bucket(g, row.measure, int(row.bucket), sign * int(row.n))

    async def _from_facts(self, conn: AsyncConnection, selection: Selection, group: Group,
                          start: int, end: int, sign: int, bits: int,
                          fcr_window_ms: int | None, tally: Any,
                          relapsed: dict[str | None, int], bucket: Any) -> None:
        key = _group_key(group).label("g")
        conditions = _selected(selection, start, end)
        # The relapses (first-contact resolution) in the same scan as the counts.
        window = 0 if fcr_window_ms is None else fcr_window_ms
        relapses = _count_if(and_(_f.resolved_at.is_not(None), ~_f.abandoned,
                                  _f.next_same_topic_at <= _f.resolved_at + window))
        rows = (await conn.execute(select(key, relapses, *_fact_sums()).where(*conditions)
                                   .group_by(key))).all()
        for row in rows:
            g = _key(group, row.g)
            tally(g, row[2:], sign)
            if fcr_window_ms is not None:
                relapsed[g] = relapsed.get(g, 0) + sign * int(row[1])
        # The durations' histograms: the rows read once, bucketed and counted by numpy (a
        # Python loop over each value, or a GROUP BY per duration, cost several times more).
        rows = (await conn.execute(select(key, *(_f[name] for name in DURATIONS))
                                   .where(*conditions))).all()
        for g, name, value, n in _bucketed(group, rows, bits):
            bucket(g, name, value, sign * n)

    async def _relapsed(self, conn: AsyncConnection, selection: Selection, group: Group,
                        window_ms: int, start: int | None = None,
                        end: int | None = None) -> dict[str | None, int]:
        """Per group, the conversations that count for first-contact resolution but whose
        contact began another on the same topic within the window of their resolution."""
        key = _group_key(group).label("g")
        rows = (await conn.execute(
            select(key, func.count().label("n"))
            .where(*_selected(selection, start, end), _f.resolved_at.is_not(None),
                   ~_f.abandoned, _f.next_same_topic_at <= _f.resolved_at + window_ms)
            .group_by(key))).all()
        found: dict[str | None, int] = {}
        for row in rows:
            g = _key(group, row.g)
            found[g] = found.get(g, 0) + int(row.n)
        return found

    @staticmethod
    def _metrics(group: Group, counts: dict[str | None, list[int]],
                 relapsed: dict[str | None, int]) -> dict[str | None, Metrics]:
        found: dict[str | None, Metrics] = {}
        for g, row in counts.items():
            values = dict(zip(rollups.COUNTS, row, strict=True))
            if values["conversations"] <= 0:
                continue
            means: dict[str, float | None] = {}
            for name in DURATIONS:
                n = values[f"{name}_n"]
                means[name] = values[f"{name}_sum"] / n if n else None
            found[g] = Metrics(
                g, **{name: values[name] for name in (
                    "conversations", "inbound", "handed_off", "resolved", "inbound_resolved",
                    "bot_resolved", "abandoned", "fcr_eligible", "csat_ratings",
                    "csat_satisfied", "csat_total")},
                fcr_resolved=values["fcr_eligible"] - relapsed.get(g, 0),
                means=means,
                percentiles={name: dict.fromkeys(PERCENTILES) for name in DURATIONS})
        return found

    async def _percentiles(self, conn: AsyncConnection, selection: Selection, group: Group,
                           bits: int, found: dict[str | None, Metrics],
                           histograms: dict[tuple[str | None, str], dict[int, int]]) -> None:
        """Each percentile: its bucket from the histogram, then a walk within the bucket."""
        walks: list[tuple[Metrics, str, int, Any]] = []
        for (g, name), counted in histograms.items():
            metrics = found.get(g)
            if metrics is None:
                continue
            ordered = sorted((b, n) for b, n in counted.items() if n)
            total = sum(n for _, n in ordered)
            for p in PERCENTILES if total > 0 else ():
                rank = (total * p + 99) // 100
                below = 0
                for value, n in ordered:
                    if below + n >= rank:
                        walks.append((metrics, name, p, (selection, group, g, name, value,
                                                         bits, rank - below)))
                        break
                    below += n
        for start in range(0, len(walks), _WALKS_PER_STATEMENT):
            chunk = walks[start:start + _WALKS_PER_STATEMENT]
            params: dict[str, Any] = {}
            columns = [self._walk(params, f"w{i}_", *walk_args)
                       for i, (_, _, _, walk_args) in enumerate(chunk)]
            row = (await conn.execute(text("SELECT " + ", ".join(columns)), params)).one()
            for (metrics, name, p, _), value in zip(chunk, row, strict=True):
                metrics.percentiles[name][p] = None if value is None else int(value)

    def _walk(self, params: dict[str, Any], prefix: str, selection: Selection, group: Group,
              g: str | None, name: str, bucket: int, bits: int, offset: int) -> str:
        """The `offset`-th (1-based) smallest duration of the selection's group within the
        bucket: a scalar subquery (SQL text, its parameters added to `params`: thousands of
        them in a breakdown by agent, where building SQLAlchemy expressions would cost
        more than the walks) that walks the duration's index."""
        assert name in DURATIONS  # a column name, in the SQL text
        low, high = rollups.bucket_bounds_ms(bucket, bits)
        # Written so that the planner walks the duration's index (duration, created_at,
        # team, agent_id), or (agent_id, duration, created_at) for an agent, rather than
        # sorting a range of created_at or of a team (SQLite: `+ 0` keeps it off the
        # created_at index).
        created = "created_at + 0" if self.is_sqlite else "created_at"
        conditions = [f"{name} < :{prefix}h", f"{created} >= :{prefix}s",
                      f"{created} < :{prefix}e"]
        params.update({f"{prefix}h": high, f"{prefix}s": selection.start,
                       f"{prefix}e": selection.end, f"{prefix}o": offset - 1})
        if low is None:
            conditions.append(f"{name} IS NOT NULL")
        else:
            conditions.append(f"{name} >= :{prefix}l")
            params[f"{prefix}l"] = low
        agent = selection.agent_id if group is not Group.AGENT else g
        if selection.agent_id is not None or group is Group.AGENT:
            if agent is None:
                conditions.append("agent_id IS NULL")
            else:
                conditions.append(f"agent_id = :{prefix}a")
                params[f"{prefix}a"] = agent
        team = selection.team if group is not Group.TEAM else g
        if selection.team is not None or group is Group.TEAM:
            conditions.append(f"coalesce(team, '') = :{prefix}t")
            params[f"{prefix}t"] = team or ""
        channel = selection.channel if group is not Group.CHANNEL else g
        if selection.channel is not None or group is Group.CHANNEL:
            conditions.append(f"channel = :{prefix}c")
            params[f"{prefix}c"] = channel
        return (f"(SELECT {name} FROM conversation_facts WHERE {' AND '.join(conditions)} "
                f"ORDER BY {name} LIMIT 1 OFFSET :{prefix}o)")

    async def report_volume(self, selection: Selection, *, bucket_ms: int,
                            offset_ms: int = 0) -> list[Volume]:
        if bucket_ms < 1:
            raise ValueError("a bucket lasts at least 1 ms")
        # Integer division on both engines (the columns and the literals are integers).
        shifted = _f.created_at + offset_ms
        bucket = ((shifted - (shifted % bucket_ms)) - offset_ms).label("bucket")
        query = (select(bucket, func.count().label("conversations"),
                        _count_if(_f.handed_off).label("handed_off"),
                        _count_if(and_(_f.resolved_at.is_not(None), _f.channel != "outbound",
                                       ~_f.handed_off)).label("bot_resolved"),
                        _count_if(_f.abandoned).label("abandoned"))
                 .where(*_selected(selection)).group_by(bucket).order_by(bucket))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [Volume(int(row.bucket), int(row.conversations), int(row.handed_off),
                       int(row.bot_resolved), int(row.abandoned)) for row in rows]

    # the export

    async def count_facts(self, selection: Selection) -> int:
        async with self._read() as conn:
            return int(await conn.scalar(
                select(func.count()).select_from(t.conversation_facts)
                .where(*_selected(selection))) or 0)

    async def facts_page(self, selection: Selection, *, after: tuple[int, str] | None,
                         limit: int) -> list[Facts]:
        query = select(t.conversation_facts).where(*_selected(selection))
        if after is not None:
            query = query.where(tuple_(_f.created_at, _f.conversation_id) > tuple_(*after))
        query = query.order_by(_f.created_at, _f.conversation_id).limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [projection._from_row(row) for row in rows]

    async def transcripts(self, conversation_ids: Collection[str]) -> dict[str, list[Message]]:
        from chatkit.storage.sql import _to_message

        if not conversation_ids:
            return {}
        m = t.messages.c
        query = (select(t.messages)
                 .where(m.conversation_id.in_(list(conversation_ids)), m.internal.is_(False))
                 .order_by(m.conversation_id, m.seq))
        found: dict[str, list[Message]] = {cid: [] for cid in conversation_ids}
        async with self._read() as conn:
            for row in (await conn.execute(query)).all():
                found[row.conversation_id].append(_to_message(row))
        return found

    async def rebuild_facts(self, open_hours: OpenHours) -> int:
        async with self._write() as conn:
            return await projection.rebuild(conn, open_hours)

    async def all_facts(self) -> list[Facts]:
        async with self._read() as conn:
            return await projection.read_all(conn)

    async def all_rollups(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with self._read() as conn:
            return await rollups.read_all(conn)

    async def rebuild_rollups(self) -> int:
        async with self._write() as conn:
            return await conn.run_sync(rollups.rebuild_sync)

    async def queue_stats(self) -> dict[str, tuple[int, int]]:
        c = t.conversations.c
        query = (select(c.queue_team, func.count().label("n"),
                        func.min(c.queued_at).label("oldest"))
                 .where(c.status == str(ConversationStatus.QUEUED), c.queue_team.is_not(None))
                 .group_by(c.queue_team))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {str(row.queue_team): (int(row.n), int(row.oldest or 0)) for row in rows}

    # QA

    async def save_review(self, conversation_id: str, *, reviewer_id: str,
                          scores: Sequence[dict[str, Any]], total: int, comment: str | None,
                          now: int) -> QaReview:
        c = t.conversations.c
        for attempt in range(2):
            try:
                async with self._write() as conn:
                    row = (await conn.execute(
                        select(c.status, c.agent_id, c.queue_team)
                        .where(c.id == conversation_id))).first()
                    if row is None:
                        raise NotFound("no such conversation")
                    if row.status != str(ConversationStatus.RESOLVED) or row.agent_id is None:
                        raise Conflict("only a conversation an agent resolved can be reviewed")
                    values = {"scores": list(scores), "total": total, "comment": comment,
                              "updated_at": now, "agent_id": row.agent_id,
                              "team": row.queue_team}
                    mine = and_(_q.conversation_id == conversation_id,
                                _q.reviewer_id == reviewer_id)
                    changed = await conn.execute(update(t.qa_reviews).where(mine)
                                                 .values(values))
                    if changed.rowcount != 1:
                        await conn.execute(insert(t.qa_reviews).values(
                            id=uuid.uuid4().hex, conversation_id=conversation_id,
                            reviewer_id=reviewer_id, created_at=now, **values))
                    stored = (await conn.execute(select(t.qa_reviews).where(mine))).one()
                return _review(stored)
            except IntegrityError:
                # The same reviewer saved it from two places at once: the second updates.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def get_review(self, review_id: str) -> QaReview | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.qa_reviews)
                                      .where(_q.id == review_id))).first()
        return None if row is None else _review(row)

    async def list_reviews(self, *, agent_id: str | None = None,
                           conversation_id: str | None = None, start: int | None = None,
                           end: int | None = None, limit: int = 100) -> list[QaReview]:
        query = select(t.qa_reviews)
        if agent_id is not None:
            query = query.where(_q.agent_id == agent_id)
        if conversation_id is not None:
            query = query.where(_q.conversation_id == conversation_id)
        if start is not None:
            query = query.where(_q.created_at >= start)
        if end is not None:
            query = query.where(_q.created_at < end)
        query = query.order_by(_q.created_at.desc(), _q.id).limit(limit)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_review(row) for row in rows]

    async def resolved_by_agents(self, start: int, end: int) -> list[str]:
        query = (select(_f.conversation_id)
                 .where(_f.resolved_at >= start, _f.resolved_at < end,
                        _f.agent_id.is_not(None), ~_f.abandoned)
                 .order_by(_f.conversation_id))
        async with self._read() as conn:
            return [str(cid) for cid in (await conn.scalars(query)).all()]


def _review(row: Any) -> QaReview:
    return QaReview(row.id, row.conversation_id, row.reviewer_id, row.agent_id, row.team,
                    list(row.scores), row.total, row.comment, row.created_at, row.updated_at)
