"""The SQL store's reporting part (storage/reports.py): metrics over conversation_facts, the
export's pages, and QA reviews.

Percentiles are nearest-rank on both engines: the value at rank ceil(p/100 * n) of the n
sorted values. PostgreSQL has it built in (percentile_disc); SQLite has no percentile
function, so there the ranks are numbered with window functions (row_number over the sorted
values, count over the group) and the rows at the wanted ranks kept. Both give the same value.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.errors import Conflict, NotFound
from chatkit.models import CSAT_SATISFIED, ConversationStatus, Message
from chatkit.storage import facts as projection
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


def _selected(selection: Selection, *, by_time: bool = True) -> list[ColumnElement[bool]]:
    # Without `by_time`, the range is written so that no index on created_at serves it
    # (SQLite's planner would otherwise prefer one and sort: see _ranked).
    created: Any = _f.created_at if by_time else _f.created_at + 0
    conditions = [created >= selection.start, created < selection.end]
    if selection.team is not None:
        conditions.append(_f.team == selection.team)
    if selection.agent_id is not None:
        conditions.append(_f.agent_id == selection.agent_id)
    return conditions


def _group_key(group: Group) -> Any:
    if group is Group.TEAM:
        return _f.team
    if group is Group.AGENT:
        return _f.agent_id
    if group is Group.CHANNEL:
        return _f.channel
    return literal("")


#: Breakdowns whose percentiles are walked per group (the column is in the durations'
#: covering indexes), when they have at most this many groups; beyond, one sort per duration
#: costs less than a walk per group.
_WALKED = {Group.TEAM: _f.team, Group.AGENT: _f.agent_id}
MAX_WALKED_GROUPS = 12


def _count_if(condition: Any) -> Any:
    return func.count(case((condition, 1)))


async def _most_of_it(conn: AsyncConnection, selection: Selection) -> bool:
    """Whether the selection is over a quarter of the facts (SQLite): then reading the table
    straight through beats a lookup per row from the created_at index, which SQLite's planner
    would choose whatever the range. Counting the range reads that index only."""
    total = await conn.scalar(select(func.max(literal_column("rowid")))
                              .select_from(t.conversation_facts))
    if not total:
        return False
    chosen = await conn.scalar(select(func.count()).select_from(t.conversation_facts)
                               .where(*_selected(selection)))
    return int(chosen or 0) * 4 > int(total)


async def _ranked(conn: AsyncConnection, selection: Selection, name: str, n: int,
                  within: Any = None) -> dict[int, int | None]:
    """The duration's nearest-rank percentiles over the selection, which has `n` values of
    it: each the value at rank ceil(p * n) in value order, which the duration's covering
    index (duration, created_at, team, agent_id) gives without a sort, walked from the
    nearer end. `within`: a further condition on team or agent_id (also in the index)."""
    column = _f[name]
    found: dict[int, int | None] = dict.fromkeys(PERCENTILES)
    by_time = conn.dialect.name != "sqlite"
    for p in PERCENTILES if n else ():
        rank = (n * p + 99) // 100  # 1..n, ascending
        # From whichever end is nearer: the 90th percentile is the 10%-th from the top.
        order, offset = (column, rank - 1) if rank <= n - rank else (column.desc(), n - rank)
        value = await conn.scalar(
            select(column).where(*_selected(selection, by_time=by_time), column.is_not(None),
                                 *(() if within is None else (within,)))
            .order_by(order).limit(1).offset(offset))
        found[p] = None if value is None else int(value)
    return found


class ReportsSql:
    """Mixed into SqlStore, which provides the connections."""

    if TYPE_CHECKING:
        is_sqlite: bool

        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    # metrics

    async def report_metrics(self, selection: Selection, *, group: Group,
                             fcr_window_ms: int) -> list[Metrics]:
        key = _group_key(group).label("g")
        inbound = _f.channel != "outbound"
        resolved = _f.resolved_at.is_not(None)
        eligible = and_(resolved, ~_f.abandoned)
        query = select(
            key, func.count().label("conversations"),
            _count_if(inbound).label("inbound"),
            _count_if(_f.handed_off).label("handed_off"),
            _count_if(resolved).label("resolved"),
            _count_if(and_(resolved, inbound)).label("inbound_resolved"),
            _count_if(and_(resolved, inbound, ~_f.handed_off)).label("bot_resolved"),
            _count_if(_f.abandoned).label("abandoned"),
            _count_if(eligible).label("fcr_eligible"),
            _count_if(and_(eligible, or_(
                _f.next_same_topic_at.is_(None),
                _f.next_same_topic_at > _f.resolved_at + fcr_window_ms))).label("fcr_resolved"),
            func.count(_f.csat).label("csat_ratings"),
            _count_if(_f.csat >= CSAT_SATISFIED).label("csat_satisfied"),
            func.coalesce(func.sum(_f.csat), 0).label("csat_total"),
            *(func.avg(_f[name]).label(name) for name in DURATIONS),
            *(func.count(_f[name]).label(f"n_{name}") for name in DURATIONS),
        )
        async with self._read() as conn:
            by_time = not self.is_sqlite or not await _most_of_it(conn, selection)
            query = query.where(*_selected(selection, by_time=by_time)).group_by(key)
            rows = (await conn.execute(query)).all()
            found: dict[str | None, Metrics] = {}
            for row in rows:
                g = None if group is Group.NONE else row.g
                found[g] = Metrics(
                    g, **{name: int(getattr(row, name)) for name in (
                        "conversations", "inbound", "handed_off", "resolved",
                        "inbound_resolved", "bot_resolved", "abandoned", "fcr_eligible",
                        "fcr_resolved", "csat_ratings", "csat_satisfied", "csat_total")},
                    means={name: None if getattr(row, name) is None
                           else float(getattr(row, name)) for name in DURATIONS},
                    percentiles={name: dict.fromkeys(PERCENTILES) for name in DURATIONS})
            walk_groups = group in _WALKED and len(found) <= MAX_WALKED_GROUPS
            if group is not Group.NONE and not walk_groups:
                for name in DURATIONS:
                    for g, p, value in await self._percentiles(conn, selection, group, name):
                        metrics = found.get(g)
                        if metrics is not None:
                            metrics.percentiles[name][p] = value
        if group is Group.NONE and rows:
            # One index walk per duration, side by side on the pool's connections.
            walks = await asyncio.gather(*(
                self._ranked(selection, name, int(getattr(rows[0], f"n_{name}")))
                for name in DURATIONS))
            found[None].percentiles = dict(zip(DURATIONS, walks, strict=True))
        elif group is not Group.NONE and walk_groups:
            # A few teams (or agents): the same walks, each within its group.
            column = _WALKED[group]
            for row in rows:
                within = column.is_(None) if row.g is None else column == row.g
                walks = await asyncio.gather(*(
                    self._ranked(selection, name, int(getattr(row, f"n_{name}")), within)
                    for name in DURATIONS))
                found[row.g].percentiles = dict(zip(DURATIONS, walks, strict=True))
        return sorted(found.values(), key=lambda m: (m.key is None, m.key or ""))

    async def _ranked(self, selection: Selection, name: str, n: int,
                      within: Any = None) -> dict[int, int | None]:
        async with self._read() as conn:
            return await _ranked(conn, selection, name, n, within)

    async def _percentiles(self, conn: AsyncConnection, selection: Selection, group: Group,
                           name: str) -> list[tuple[Any, int, int]]:
        column = _f[name]
        key = _group_key(group).label("g")
        conditions = [*_selected(selection), column.is_not(None)]
        if not self.is_sqlite:
            query = select(key, *(func.percentile_disc(p / 100).within_group(column)
                                  .label(f"p{p}") for p in PERCENTILES)
                           ).where(*conditions).group_by(key)
            rows = (await conn.execute(query)).all()
            return [(row.g, p, int(getattr(row, f"p{p}"))) for row in rows
                    for p in PERCENTILES]
        ranked = select(
            key, column.label("v"),
            func.row_number().over(partition_by=key, order_by=column).label("rn"),
            func.count().over(partition_by=key).label("n"),
        ).where(*conditions).subquery()
        # ceil(p * n / 100) in integers.
        ranks = {p: (ranked.c.n * p + 99) // 100 for p in PERCENTILES}
        rows = (await conn.execute(
            select(ranked.c.g, ranked.c.v, ranked.c.rn, ranked.c.n)
            .where(or_(*(ranked.c.rn == rank for rank in ranks.values()))))).all()
        return [(row.g, p, int(row.v)) for row in rows for p in PERCENTILES
                if row.rn == (row.n * p + 99) // 100]

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
