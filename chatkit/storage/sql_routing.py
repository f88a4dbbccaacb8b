"""The routing part of SqlStore (storage/routing.py): presence, queues, atomic assignment.

Each agent's load (their assigned conversations) is kept on their row, `agents.load`, by
triggers on conversations (migration 0017): whatever statement makes a conversation assigned
to an agent or stops it being that adds or takes off one, in its own transaction. So
choosing who may take a chat reads one row per candidate, and no code path can forget it;
`check_loads` compares it with a count (and repairs it).

How assignment stays atomic with any number of processes: a chat is given only to an agent
whose row is locked (`FOR NO KEY UPDATE` on PostgreSQL; on SQLite the transaction holds the
one write lock from BEGIN IMMEDIATE) and whose load, read under that lock, is below
capacity, and only a conversation locked first or moved by a conditional UPDATE (`WHERE
status IN (...)`, ...). Of two transactions giving chats to one agent, the second waits for
the agent's row (claim) or skips the agent (assign_many), and reads the first's load; two
giving out one chat cannot both hold its row.

Locks are taken so that no two transactions wait for each other (PostgreSQL):
* a transaction that waits for a conversation's row holds no agent's row: it locks the
  conversation first, then agents in id order (claim; the triggers, which lock the agent
  after the conversation in every resolve, requeue or transfer);
* a transaction holding agents' rows never waits for a conversation, nor for an agent out of
  id order: assign_many takes the free agents, then the queue's heads, with `SKIP LOCKED`
  (then the heads' facts rows, which other writers lock after their conversation's row,
  and last the roll-ups' rows, which every transaction takes last: storage/rollups.py);
  sweep locks the conversations it times out (`SKIP LOCKED`), then their agents in id order
  (holding none yet), and last the agents whose grace period starts (`SKIP LOCKED`).
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.models import (
    AgentPresence,
    Conversation,
    ConversationStatus,
    HandoffReason,
    Presence,
    Strategy,
)
from chatkit.storage import rollups
from chatkit.storage import schema as t
from chatkit.storage.facts import Facts, as_row, fold_assigned, project_sync
from chatkit.storage.facts import from_mapping as facts_from
from chatkit.storage.rollups import adjust_sync, take_pending
from chatkit.storage.routing import ROUTING_VERSIONS_KEPT, InLine, StoredRouting, Swept

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

# The row helpers shared with sql.py are imported where used: sql.py imports this module to
# build SqlStore, so importing it back at the top would be circular.

S = ConversationStatus
_T = TypeVar("_T")
_a, _c, _k = t.agents.c, t.conversations.c, t.agent_connections.c
_r = t.routing_configs.c
_v, _m = t.visitor_connections.c, t.queue_marks.c



class RoutingSql:
    """Mixed into SqlStore, which provides the connections and the shared row helpers."""

    if TYPE_CHECKING:
        is_sqlite: bool

        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        async def _run_sync(self, conn: AsyncConnection,
                            fn: Callable[[Connection], _T]) -> _T: ...

    # presence and connections

    async def set_presence(self, agent_id: str, presence: Presence, *,
                           now: int) -> AgentPresence | None:
        async with self._write() as conn:
            result = await conn.execute(
                update(t.agents).where(_a.id == agent_id, _a.presence != str(presence))
                .values(presence=str(presence), presence_at=now))
            if result.rowcount:
                await _log(conn, "agent.presence", None, agent_id,
                           {"presence": str(presence)}, now)
            found = await _presences(conn, [agent_id])
        return found.get(agent_id)

    async def get_presence(self, agent_ids: Collection[str]) -> dict[str, AgentPresence]:
        async with self._read() as conn:
            return await _presences(conn, agent_ids)

    async def agent_connected(self, agent_id: str, connection_id: str, *,
                              expires_at: int) -> None:
        async with self._write() as conn:
            # The agent's row first: inserting the connection share-locks it (the foreign
            # key), and upgrading that lock afterwards, while a claim waits to lock the row
            # for update, is a deadlock on PostgreSQL.
            await conn.execute(update(t.agents).where(_a.id == agent_id)
                               .values(offline_deadline=None))
            await conn.execute(insert(t.agent_connections).values(
                id=connection_id, agent_id=agent_id, expires_at=expires_at))

    async def agent_disconnected(self, connection_id: str, *, now: int, grace_ms: int) -> None:
        async with self._write() as conn:
            agent_id = await conn.scalar(select(_k.agent_id).where(_k.id == connection_id))
            if agent_id is None:
                return
            await conn.execute(delete(t.agent_connections).where(_k.id == connection_id))
            live = exists().where(_k.agent_id == agent_id, _k.expires_at > now)
            await conn.execute(update(t.agents).where(_a.id == agent_id, ~live)
                               .values(offline_deadline=now + grace_ms))

    async def renew_connections(self, connection_ids: Collection[str], *,
                                expires_at: int) -> None:
        if not connection_ids:
            return
        async with self._write() as conn:
            await conn.execute(update(t.agent_connections)
                               .where(_k.id.in_(list(connection_ids)))
                               .values(expires_at=expires_at))

    # queues

    async def agent_loads(self, agent_ids: Collection[str]) -> dict[str, int]:
        async with self._read() as conn:
            return await _loads(conn, agent_ids)

    async def check_loads(self, *, repair: bool = False) -> dict[str, tuple[int, int]]:
        counted = (select(func.count()).where(_c.agent_id == _a.id,
                                             _c.status == str(S.ASSIGNED))
                   .correlate(t.agents).scalar_subquery())
        query = select(_a.id, _a.load, counted.label("counted")).where(_a.load != counted)
        if not repair:
            async with self._read() as conn:
                rows = (await conn.execute(query)).all()
            return {row.id: (int(row.load), int(row.counted)) for row in rows}
        async with self._write() as conn:
            # Under the write lock (SQLite) or the agents' row locks (PostgreSQL, in id
            # order, as assignment takes them), so nothing changes between count and fix.
            rows = (await conn.execute(query.order_by(_a.id)
                                       .with_for_update(key_share=True))).all()
            if rows:
                await conn.execute(update(t.agents).where(_a.id.in_([row.id for row in rows]))
                                   .values(load=counted))
        return {row.id: (int(row.load), int(row.counted)) for row in rows}

    async def queue(self, team: str, *, limit: int = 100) -> list[Conversation]:
        from chatkit.storage.sql import _CONVERSATION_SELECT, _to_conversation

        query = (_CONVERSATION_SELECT.where(_c.status == str(S.QUEUED), _c.queue_team == team)
                 .order_by(*_QUEUE_ORDER).limit(limit))
        async with self._read() as conn:
            return [_to_conversation(row) for row in (await conn.execute(query)).all()]

    async def queue_length(self, team: str) -> int:
        query = select(func.count()).where(_c.status == str(S.QUEUED), _c.queue_team == team)
        async with self._read() as conn:
            return int(await conn.scalar(query) or 0)

    async def queued_teams(self) -> list[str]:
        query = (select(_c.queue_team).where(_c.status == str(S.QUEUED),
                                             _c.queue_team.is_not(None)).distinct())
        async with self._read() as conn:
            return sorted(str(team) for team in (await conn.scalars(query)).all())

    # assignment

    async def assign_next(self, team: str, candidates: Mapping[str, int], strategy: Strategy,
                          *, now: int, accept_deadline: int | None) -> Conversation | None:
        given = await self.assign_many(team, candidates, strategy, now=now,
                                       accept_deadline=accept_deadline, limit=1)
        return given[0] if given else None

    async def assign_many(self, team: str, candidates: Mapping[str, int], strategy: Strategy,
                          *, now: int, accept_deadline: int | None,
                          limit: int) -> list[Conversation]:
        if strategy is Strategy.MANUAL or not candidates or limit < 1:
            return []
        work = functools.partial(_assign_many, team=team, candidates=candidates,
                                 strategy=strategy, now=now, accept_deadline=accept_deadline,
                                 limit=limit)
        async with self._write() as conn:
            return await self._run_sync(conn, work)

    async def claim(self, conversation_id: str, agent_id: str, *, capacity: int,
                    allowed_from: Collection[ConversationStatus],
                    expected_agents: Collection[str | None] | None = None,
                    queue_teams: Collection[str] | None = None,
                    require_online: bool = False, now: int,
                    accept_deadline: int | None, actor_kind: str, actor_id: str | None,
                    data: dict[str, object] | None = None) -> Conversation | None:
        extra: list[Any] = []
        if expected_agents is not None:
            named = [a for a in expected_agents if a is not None]
            either = [_c.agent_id.in_(named)] if named else []
            if None in expected_agents:
                either.append(_c.agent_id.is_(None))
            extra.append(or_(*either))
        if queue_teams is not None:
            extra.append(_c.queue_team.in_(list(queue_teams)))
        async with self._write() as conn:
            # The conversation first, then its agents (the new one and the one it leaves) in
            # id order: the module's docstring says why.
            before = (await conn.execute(
                select(_c.status, _c.agent_id).where(_c.id == conversation_id)
                .with_for_update(key_share=True))).first()
            if before is None:
                return None
            agents = {row.id: row for row in (await conn.execute(
                select(_a.id, _a.presence, _a.load, _a.name)
                .where(_a.id.in_(sorted({agent_id, before.agent_id} - {None})))
                .order_by(_a.id).with_for_update(key_share=True))).all()}
            me = agents.get(agent_id)
            if me is None or me.load >= capacity or (
                    require_online and me.presence != str(Presence.ONLINE)):
                return None
            row = (await conn.execute(
                update(t.conversations)
                .where(_c.id == conversation_id,
                       _c.status.in_([str(s) for s in allowed_from]), *extra)
                .values(status=str(S.ASSIGNED), agent_id=agent_id, assigned_at=now,
                        accept_deadline=accept_deadline, abandon_deadline=None)
                .returning(*_RETURNED))).first()
            if row is None:
                return None
            moved: dict[str, object] = {"previous_agent_id": before.agent_id} if (
                before.agent_id not in (None, agent_id)) else {}
            await _log(conn, "conversation.assigned", conversation_id, actor_id,
                       {"from": before.status, "agent_id": agent_id, **moved,
                        **dict(data or {})}, now, actor_kind=actor_kind)
            return _returned(row, me.name)

    async def accept(self, conversation_id: str, agent_id: str) -> Conversation | None:
        from chatkit.storage.sql import _conversation

        async with self._write() as conn:
            result = await conn.execute(
                update(t.conversations)
                .where(_c.id == conversation_id, _c.agent_id == agent_id,
                       _c.status == str(S.ASSIGNED))
                .values(accept_deadline=None))
            if result.rowcount != 1:
                return None
            return await _conversation(conn, conversation_id)

    async def requeue(self, conversation_id: str, *, team: str, now: int,
                      expected_agents: Collection[str | None] | None = None,
                      from_team: str | None = None, actor_kind: str, actor_id: str | None,
                      data: dict[str, object] | None = None) -> Conversation | None:
        from chatkit.storage.sql import _conversation

        conditions: list[Any] = [_c.id == conversation_id,
                                 _c.status.in_([str(S.QUEUED), str(S.ASSIGNED)])]
        if from_team is not None:
            conditions.append(_c.queue_team == from_team)
        if expected_agents is not None:
            named = [a for a in expected_agents if a is not None]
            either = [_c.agent_id.in_(named)] if named else []
            if None in expected_agents:
                either.append(_c.agent_id.is_(None))
            conditions.append(or_(*either))
        async with self._write() as conn:
            before = (await conn.execute(select(_c.status, _c.agent_id)
                                         .where(_c.id == conversation_id))).first()
            if before is None or not await _to_front(conn, conditions, team=team, now=now):
                return None
            await _log(conn, "conversation.queued", conversation_id, actor_id,
                       {"from": before.status, "agent_id": None, "previous_agent_id":
                        before.agent_id, "queue_team": team, **(data or {})}, now,
                       actor_kind=actor_kind)
            return await _conversation(conn, conversation_id)

    async def sweep(self, *, now: int, grace_ms: int) -> Swept:
        from chatkit.storage.sql import _conversation

        requeued: list[str] = []
        changed: set[str] = set()
        async with self._write() as conn:
            await conn.execute(delete(t.agent_connections).where(_k.expires_at <= now))
            # The conversations first, skipping those another transaction is changing (the
            # next sweep sees them again), then their agents (the module's docstring).
            expired = (await conn.execute(
                select(_c.id, _c.agent_id, _c.queue_team)
                .where(_c.status == str(S.ASSIGNED), _c.accept_deadline <= now)
                .order_by(_c.id).with_for_update(skip_locked=True, key_share=True))).all()
            gone = list((await conn.scalars(
                select(_a.id).where(_a.offline_deadline <= now).order_by(_a.id))).all())
            theirs: dict[str, list[Any]] = {agent_id: [] for agent_id in gone}
            holding: dict[str, int] = {}
            if gone:
                for chat in (await conn.execute(
                        select(_c.id, _c.agent_id, _c.queue_team, _c.assigned_at)
                        .where(_c.agent_id.in_(gone), _c.status == str(S.ASSIGNED))
                        .order_by(_c.id).with_for_update(skip_locked=True, key_share=True))).all():
                    theirs[chat.agent_id].append(chat)
            agents = sorted({row.agent_id for row in expired} | set(gone))
            if agents:
                await conn.execute(select(_a.id).where(_a.id.in_(agents)).order_by(_a.id)
                                   .with_for_update(key_share=True))
                if gone:
                    # Under the agents' locks nobody gives them a chat or takes one away:
                    # what they hold now is what they hold until this commits.
                    holding = dict((await conn.execute(
                        select(_c.agent_id, func.count())
                        .where(_c.agent_id.in_(gone), _c.status == str(S.ASSIGNED))
                        .group_by(_c.agent_id))).all())
            for row in expired:
                moved = await _to_front(conn, [_c.id == row.id, _c.agent_id == row.agent_id,
                                               _c.status == str(S.ASSIGNED),
                                               _c.accept_deadline <= now],
                                        team=row.queue_team, now=now)
                if not moved:
                    continue
                requeued.append(row.id)
                await _log(conn, "conversation.queued", row.id, None,
                           {"from": str(S.ASSIGNED), "agent_id": None,
                            "previous_agent_id": row.agent_id, "reason": "accept_timeout"}, now)
                # Not answering is "not responding": no more chats until they say otherwise.
                result = await conn.execute(
                    update(t.agents).where(_a.id == row.agent_id,
                                           _a.presence == str(Presence.ONLINE))
                    .values(presence=str(Presence.AWAY), presence_at=now))
                if result.rowcount:
                    changed.add(row.agent_id)
                    await _log(conn, "agent.presence", None, row.agent_id,
                               {"presence": str(Presence.AWAY), "reason": "accept_timeout"},
                               now)
            live_now = exists().where(_k.agent_id == _a.id, _k.expires_at > now)
            for agent_id in gone:
                if holding.get(agent_id, 0) != len(theirs[agent_id]):
                    continue  # a chat of theirs is being changed: the agent waits a sweep
                result = await conn.execute(
                    update(t.agents).where(_a.id == agent_id, _a.offline_deadline <= now,
                                           ~live_now)
                    .values(presence=str(Presence.OFFLINE), presence_at=now,
                            offline_deadline=None))
                if not result.rowcount:
                    continue
                changed.add(agent_id)
                await _log(conn, "agent.presence", None, agent_id,
                           {"presence": str(Presence.OFFLINE), "reason": "disconnected"}, now)
                # Newest first, each to the very front: they keep their order among themselves.
                for conversation in sorted(theirs[agent_id],
                                           key=lambda c: (-(c.assigned_at or 0), c.id)):
                    if await _to_front(conn, [_c.id == conversation.id,
                                              _c.agent_id == agent_id,
                                              _c.status == str(S.ASSIGNED)],
                                       team=conversation.queue_team, now=now):
                        requeued.append(conversation.id)
                        await _log(conn, "conversation.queued", conversation.id, None,
                                   {"from": str(S.ASSIGNED), "agent_id": None,
                                    "previous_agent_id": agent_id, "reason": "agent_gone"}, now)
            # Agents left with no live connection (a dead process's expired): the grace
            # period starts. Last, and skipping rows others hold: this transaction already
            # holds agents' rows (the module's docstring).
            alone = t.agents.alias("alone")
            lonely = (select(alone.c.id)
                      .where(alone.c.presence != str(Presence.OFFLINE),
                             alone.c.offline_deadline.is_(None),
                             ~exists().where(_k.agent_id == alone.c.id, _k.expires_at > now))
                      .with_for_update(skip_locked=True, key_share=True))
            await conn.execute(update(t.agents).where(_a.id.in_(lonely))
                               .values(offline_deadline=now + grace_ms))
            if not requeued and not changed:
                return Swept()
            conversations = [c for c in [await _conversation(conn, cid) for cid in requeued]
                             if c is not None]
            presences = await _presences(conn, changed)
        return Swept(conversations, [presences[a] for a in sorted(presences)])

    # the routing configuration

    async def routing_config(self) -> StoredRouting | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.routing_configs)
                                      .order_by(_r.version.desc()).limit(1))).first()
        if row is None:
            return None
        return StoredRouting(row.version, orjson.loads(row.document), row.source,
                             row.file_digest, row.changed_by, row.changed_at)

    async def routing_config_version(self) -> int:
        async with self._read() as conn:
            return int(await conn.scalar(select(func.coalesce(func.max(_r.version), 0))) or 0)

    async def save_routing_config(self, document: dict[str, Any], *, expected_version: int,
                                  source: str, file_digest: str | None,
                                  changed_by: str | None, now: int) -> StoredRouting | None:
        version = expected_version + 1
        try:
            async with self._write() as conn:
                newest = await conn.scalar(select(func.coalesce(func.max(_r.version), 0)))
                if newest != expected_version:
                    return None
                # Two PostgreSQL transactions may both read the same newest version; the
                # primary key lets only one of them insert the next.
                await conn.execute(insert(t.routing_configs).values(
                    version=version, document=orjson.dumps(document).decode(), source=source,
                    file_digest=file_digest, changed_by=changed_by, changed_at=now))
                await _log(conn, "routing.changed", None, changed_by,
                           {"version": version, "source": source}, now,
                           actor_kind="agent" if changed_by is not None else "system")
                await conn.execute(delete(t.routing_configs).where(
                    _r.version <= version - ROUTING_VERSIONS_KEPT))
        except IntegrityError:
            return None
        return StoredRouting(version, document, source, file_digest, changed_by, now)


    # the visitor's wait

    async def queue_order(self, team: str) -> list[InLine]:
        query = (select(_c.id, _c.contact_id)
                 .where(_c.status == str(S.QUEUED), _c.queue_team == team)
                 .order_by(*_QUEUE_ORDER))
        async with self._read() as conn:
            return [InLine(row.id, row.contact_id) for row in (await conn.execute(query)).all()]

    async def queue_position(self, conversation_id: str) -> tuple[str, int] | None:
        async with self._read() as conn:
            mine = (await conn.execute(
                select(_c.queue_team, _c.priority, _c.queue_rank)
                .where(_c.id == conversation_id, _c.status == str(S.QUEUED)))).first()
            if mine is None or mine.queue_team is None:
                return None
            # Ahead: higher priority, or the same and an earlier place (the id breaks ties,
            # as in _QUEUE_ORDER).
            ahead = await conn.scalar(
                select(func.count()).select_from(t.conversations)
                .where(_c.status == str(S.QUEUED), _c.queue_team == mine.queue_team,
                       or_(_c.priority > mine.priority,
                           and_(_c.priority == mine.priority,
                                or_(_c.queue_rank < mine.queue_rank,
                                    and_(_c.queue_rank == mine.queue_rank,
                                         _c.id < conversation_id))))))
        return str(mine.queue_team), int(ahead or 0) + 1

    async def handle_time(self, team: str, *, sample: int) -> float | None:
        # An abandoned conversation has no agent; one that an agent handled keeps theirs.
        recent = (select((_c.resolved_at - _c.assigned_at).label("handled"))
                  .where(_c.status == str(S.RESOLVED), _c.queue_team == team,
                         _c.agent_id.is_not(None), _c.assigned_at.is_not(None),
                         _c.resolved_at >= _c.assigned_at)
                  .order_by(_c.resolved_at.desc()).limit(sample).subquery())
        async with self._read() as conn:
            mean = await conn.scalar(select(func.avg(recent.c.handled)))
        return None if mean is None else float(mean)

    async def mark_queues(self, teams: Collection[str]) -> None:
        if not teams:
            return
        upsert = _upsert(self.is_sqlite, t.queue_marks)
        # In team order: two processes marking the same teams lock their rows in one order.
        statement = upsert.values([{"team": team, "version": 1} for team in sorted(teams)])
        async with self._write() as conn:
            await conn.execute(statement.on_conflict_do_update(
                index_elements=["team"], set_={"version": t.queue_marks.c.version + 1}))

    async def queue_marks(self) -> dict[str, int]:
        async with self._read() as conn:
            rows = (await conn.execute(select(_m.team, _m.version))).all()
        return {row.team: int(row.version) for row in rows}

    async def track_visitors(self, connections: Mapping[str, str], *,
                             expires_at: int) -> None:
        if not connections:
            return
        upsert = _upsert(self.is_sqlite, t.visitor_connections)
        statement = upsert.on_conflict_do_update(
            index_elements=["id"], set_={"contact_id": upsert.excluded.contact_id,
                                         "expires_at": upsert.excluded.expires_at})
        async with self._write() as conn:
            # Parameters for many rows (one statement, not one compiled VALUES per row).
            await conn.execute(statement, [
                {"id": connection_id, "contact_id": contact_id, "expires_at": expires_at}
                for connection_id, contact_id in sorted(connections.items())])
            # Few conversations have a deadline (their visitors are away): find those by the
            # deadline's index, rather than look up every tracked contact.
            contacts = set(connections.values())
            away = [row.id for row in (await conn.execute(
                select(_c.id, _c.contact_id).where(_c.abandon_deadline.is_not(None),
                                                   _c.status == str(S.QUEUED)))).all()
                    if row.contact_id in contacts]
            if away:
                await conn.execute(update(t.conversations).where(_c.id.in_(away))
                                   .values(abandon_deadline=None))

    async def renew_visitors(self, connection_ids: Collection[str], *,
                             expires_at: int) -> None:
        if not connection_ids:
            return
        async with self._write() as conn:
            await conn.execute(update(t.visitor_connections)
                               .where(_v.id.in_(list(connection_ids)))
                               .values(expires_at=expires_at))

    async def visitor_disconnected(self, connection_id: str, *, now: int,
                                   grace_ms: int) -> None:
        async with self._write() as conn:
            contact_id = await conn.scalar(select(_v.contact_id).where(_v.id == connection_id))
            if contact_id is None:
                return
            await conn.execute(delete(t.visitor_connections).where(_v.id == connection_id))
            await _start_abandon_grace(conn, [contact_id], now=now, grace_ms=grace_ms)

    async def abandon(self, conversation_id: str, *, now: int, how: str, actor_kind: str,
                      actor_id: str | None) -> Conversation | None:
        async with self._write() as conn:
            return await _abandon(conn, [_c.id == conversation_id], conversation_id, now=now,
                                  how=how, actor_kind=actor_kind, actor_id=actor_id)

    async def sweep_visitors(self, *, now: int, grace_ms: int) -> list[Conversation]:
        abandoned: list[Conversation] = []
        # Every process sweeps every second: look first (both by index), write only when
        # something expired or is due.
        async with self._read() as conn:
            expired = await conn.scalar(select(_v.id).where(_v.expires_at <= now).limit(1))
            due = await conn.scalar(select(_c.id).where(_c.abandon_deadline <= now,
                                                        _c.status == str(S.QUEUED)).limit(1))
        if expired is None and due is None:
            return abandoned
        async with self._write() as conn:
            gone = sorted(set((await conn.scalars(
                select(_v.contact_id).where(_v.expires_at <= now))).all()))
            if gone:
                await conn.execute(delete(t.visitor_connections).where(_v.expires_at <= now))
                await _start_abandon_grace(conn, gone, now=now, grace_ms=grace_ms)
            live = exists().where(_v.contact_id == _c.contact_id, _v.expires_at > now)
            due = (await conn.scalars(
                select(_c.id).where(_c.status == str(S.QUEUED), _c.abandon_deadline <= now,
                                    ~live).order_by(_c.id))).all()
            for conversation_id in due:
                # Again under the write: a connection may have come back meanwhile.
                found = await _abandon(conn, [_c.id == conversation_id,
                                              _c.abandon_deadline <= now, ~live],
                                       conversation_id, now=now, how="gone",
                                       actor_kind="system", actor_id=None)
                if found is not None:
                    abandoned.append(found)
        return abandoned


_QUEUE_ORDER = (_c.priority.desc(), _c.queue_rank, _c.id)


def _upsert(is_sqlite: bool, table: Any) -> Any:
    """INSERT ... ON CONFLICT for the engine in use (both have it, each its own class)."""
    if is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(table)


async def _start_abandon_grace(conn: AsyncConnection, contact_ids: list[str], *, now: int,
                               grace_ms: int) -> None:
    """Contacts that may have no live widget connection left: their queued conversation
    (if any, and if none is live) is abandoned at now + grace_ms, unless it already has a
    deadline (the earlier one stands). An offline message (the visitor left an email for the
    next shift) is not waited on live, so leaving the page never abandons it."""
    live = exists().where(_v.contact_id == _c.contact_id, _v.expires_at > now)
    await conn.execute(update(t.conversations)
                       .where(_c.contact_id.in_(contact_ids), _c.status == str(S.QUEUED),
                              _c.handoff_reason.is_distinct_from(str(HandoffReason.OFFLINE)),
                              _c.abandon_deadline.is_(None), ~live)
                       .values(abandon_deadline=now + grace_ms))


async def _abandon(conn: AsyncConnection, conditions: list[Any], conversation_id: str, *,
                   now: int, how: str, actor_kind: str,
                   actor_id: str | None) -> Conversation | None:
    from chatkit.storage.sql import _conversation

    queued_at = await conn.scalar(select(_c.queued_at).where(_c.id == conversation_id))
    result = await conn.execute(
        update(t.conversations).where(*conditions, _c.status == str(S.QUEUED))
        .values(status=str(S.RESOLVED), agent_id=None, resolved_at=now, accept_deadline=None,
                abandon_deadline=None))
    if result.rowcount != 1:
        return None
    conversation = await _conversation(conn, conversation_id)
    # The event issue 7's reports count abandonment from: a resolution from the queue.
    await _log(conn, "conversation.resolved", conversation_id, actor_id,
               {"from": str(S.QUEUED), "agent_id": None, "reason": "abandoned", "how": how,
                "queue_team": None if conversation is None else conversation.queue_team,
                "waited_ms": None if queued_at is None else now - int(queued_at)}, now,
               actor_kind=actor_kind)
    return conversation


async def _presences(conn: AsyncConnection, agent_ids: Collection[str]) -> dict[str, AgentPresence]:
    if not agent_ids:
        return {}
    rows = (await conn.execute(
        select(_a.id, _a.presence, _a.presence_at, _a.offline_deadline, _a.last_assigned_at)
        .where(_a.id.in_(list(agent_ids))))).all()
    return {row.id: AgentPresence(row.id, Presence(row.presence), row.presence_at,
                                  row.offline_deadline, row.last_assigned_at) for row in rows}


async def _loads(conn: AsyncConnection, agent_ids: Collection[str]) -> dict[str, int]:
    if not agent_ids:
        return {}
    rows = (await conn.execute(select(_a.id, _a.load)
                               .where(_a.id.in_(list(agent_ids))))).all()
    found = {row.id: int(row.load) for row in rows}
    return {agent_id: found.get(agent_id, 0) for agent_id in agent_ids}


# Who may take a chat now: (room left, last_assigned_at, load, name) per free candidate.
_Free = dict[str, tuple[int, int, int, str]]


def _json_table(name: str) -> Any:
    """A JSON object parameter `name` as a table of (key, value) rows (`json_each`; on
    PostgreSQL, _TAKE and _GIVE_AND_LOG use `json_each_text`): a thousand ids go as ONE
    parameter, which costs far less to send and compile than a thousand bound ones."""
    return func.json_each(bindparam(name, type_=Text)).table_valued("key", "value").alias(name)


@functools.cache
def _ranking(least_busy: bool) -> Any:
    """_free_candidates' statement (SQLite), built once per strategy (building it per call
    cost about as much CPU as running it). Parameters: candidates, team, limit."""
    candidate = _json_table("candidates")
    capacity = cast(candidate.c.value, Integer)
    order: list[Any] = [_a.last_assigned_at, _a.id]
    if least_busy:
        order.insert(0, _a.load)
    return (select(_a.id, _a.last_assigned_at, _a.load, _a.name, capacity.label("capacity"))
            .select_from(candidate.join(t.agents, _a.id == candidate.c.key))
            .where(_a.presence == str(Presence.ONLINE), _a.load < capacity,
                   exists().where(_c.status == str(S.QUEUED),
                                  _c.queue_team == bindparam("team")))
            .order_by(*order).limit(bindparam("limit", type_=Integer)))


# The heads of a team's queue (SQLite: the transaction holds the write lock). Parameters:
# team, limit.
_HEADS = (select(_c.id).where(_c.status == str(S.QUEUED), _c.queue_team == bindparam("team"))
          .order_by(*_QUEUE_ORDER).limit(bindparam("limit", type_=Integer)))


@functools.cache
def _give() -> Any:
    """_assign_heads' UPDATE (SQLite), built once. Parameters: plan (a JSON object,
    conversation id -> agent id), now, deadline. By id alone (the rows are ours): with
    `status = 'queued'` in it, SQLite's planner walked the whole queue by its index instead
    of the primary key."""
    plan = _json_table("plan")
    return (update(t.conversations).where(_c.id == plan.c.key)
            .values(status=str(S.ASSIGNED), agent_id=plan.c.value,
                    assigned_at=bindparam("now", type_=BigInteger),
                    accept_deadline=bindparam("deadline", type_=BigInteger))
            .returning(*_RETURNED))


def _assign_many(conn: Connection, *, team: str, candidates: Mapping[str, int],
                 strategy: Strategy, now: int, accept_deadline: int | None,
                 limit: int) -> list[Conversation]:
    """RoutingSql.assign_many's transaction, synchronous: the store runs it in one go (on
    SQLite in the driver's thread, one hand-off for all its statements: storage/
    sqlite_thread.py)."""
    facts: dict[str, Facts] | None = None
    if conn.dialect.name == "sqlite":
        # The free agents, if anyone waits: when nobody is free or nothing waits, that one
        # statement is all.
        free = _free_candidates(conn, candidates, strategy, limit, team=team)
        if not free:
            return []
        # Then the heads.
        heads = list(conn.scalars(_HEADS, {
            "team": team,
            "limit": min(limit, sum(room for room, _, _, _ in free.values()))}).all())
    else:
        free, heads, facts = _take(conn, candidates, strategy, limit, team=team)
    if not heads:
        return []
    plan = _plan(free, len(heads), strategy, now)
    pairs = list(zip(heads, (agent_id for agent_id, _ in plan), strict=False))
    return _assign_heads(conn, pairs, {a: name for a, (_, _, _, name) in free.items()},
                         now=now, accept_deadline=accept_deadline,
                         data={"strategy": str(strategy)}, facts=facts)


def _take(conn: Connection, candidates: Mapping[str, int], strategy: Strategy, limit: int,
          *, team: str) -> tuple[_Free, list[str], dict[str, Facts]]:
    """PostgreSQL: the free agents, the heads and their facts, all locked, in one round trip
    (_TAKE): what _free_candidates, _HEADS and the facts' read do in three on SQLite."""
    row = conn.execute(_TAKE[strategy is Strategy.LEAST_BUSY], {
        "candidates": orjson.dumps(dict(candidates)).decode(), "team": team,
        "limit": limit}).one()
    free: _Free = {agent_id: (capacity - load, last, load, name)
                   for agent_id, last, load, name, capacity in orjson.loads(row.free)}
    facts = {found["conversation_id"]: facts_from(found) for found in orjson.loads(row.facts)}
    return free, orjson.loads(row.heads), facts


def _take_sql(least_busy: bool) -> Any:
    """_take's statement: the ranking (as _ranking), then the heads (as _HEADS, as many as
    the free agents have room for: none when nobody is free), then the heads' facts (as
    facts.fold_assigned would read them), locked in that order. Parameters: candidates,
    team, limit. One row of three JSON arrays.

    The agents' rows are locked as they are chosen, skipping those another transaction
    holds (it is giving them chats, or changing their load: either way it tells routing
    again when it is done), and a row changed since the statement's snapshot is checked
    again at its newest (READ COMMITTED), so the loads read are exact; the heads are locked
    skipping those another process is giving out (it takes the next in line instead)."""
    return text(
        "WITH free AS ("
        " SELECT a.id, a.last_assigned_at, a.load, a.name,"
        " CAST(c.value AS integer) AS capacity"
        " FROM json_each_text(CAST(:candidates AS json)) AS c JOIN agents AS a ON a.id = c.key"
        " WHERE a.presence = 'online' AND a.load < CAST(c.value AS integer)"
        " AND EXISTS (SELECT 1 FROM conversations AS q"
        " WHERE q.status = 'queued' AND q.queue_team = :team)"
        f" ORDER BY {'a.load, ' if least_busy else ''}a.last_assigned_at, a.id"
        " LIMIT :limit FOR NO KEY UPDATE OF a SKIP LOCKED),"
        " heads AS ("
        " SELECT id, priority, queue_rank FROM conversations"
        " WHERE status = 'queued' AND queue_team = :team"
        " ORDER BY priority DESC, queue_rank, id"
        " LIMIT LEAST(:limit, (SELECT coalesce(sum(capacity - load), 0) FROM free))"
        " FOR NO KEY UPDATE SKIP LOCKED),"
        " facts AS ("
        " SELECT f.* FROM conversation_facts AS f"
        # An array, not IN (SELECT ...): the planner guessed 500 heads and read every
        # fact row to hash-join them, where an index probe per head is all it takes.
        " WHERE f.conversation_id = ANY (ARRAY(SELECT id FROM heads)) FOR UPDATE)"
        " SELECT (SELECT CAST(coalesce(json_agg(json_build_array("
        " id, last_assigned_at, load, name, capacity)), '[]') AS text) FROM free) AS free,"
        " (SELECT CAST(coalesce(json_agg(id ORDER BY priority DESC, queue_rank, id), '[]')"
        " AS text) FROM heads) AS heads,"
        " (SELECT CAST(coalesce(json_agg(facts), '[]') AS text) FROM facts) AS facts"
    ).columns(free=Text, heads=Text, facts=Text)


_TAKE = {least_busy: _take_sql(least_busy) for least_busy in (False, True)}


def _free_candidates(conn: Connection, candidates: Mapping[str, int], strategy: Strategy,
                     limit: int, *, team: str) -> _Free:
    """SQLite: the `limit` best online candidates below capacity, in one statement, none when
    nothing waits in `team`'s queue: one primary-key read per candidate, the load being on
    the row. The best `limit` are enough for `limit` chats: an agent outside them is picked
    only after each of them was (_plan's keys only grow), and that takes `limit` picks."""
    statement = _ranking(strategy is Strategy.LEAST_BUSY)
    rows = conn.execute(statement, {
        "candidates": orjson.dumps(dict(candidates)).decode(), "team": team,
        "limit": limit}).all()
    return {row.id: (row.capacity - row.load, row.last_assigned_at, row.load, row.name)
            for row in rows}


def _plan(free: _Free, count: int, strategy: Strategy, now: int) -> list[tuple[str, int]]:
    """Who gets the next `count` chats, in order: exactly what `count` assign_next calls in a
    row at `now` would choose. round_robin: assigned least recently (then id); least_busy:
    fewest chats, then least recently, then id. Each pick is assigned at `now` and has one
    chat more. Returns (agent id, place in the plan)."""
    least_busy = strategy is Strategy.LEAST_BUSY
    heap = [((load if least_busy else 0), last, agent_id, room)
            for agent_id, (room, last, load, _) in free.items()]
    heapq.heapify(heap)
    plan: list[tuple[str, int]] = []
    while heap and len(plan) < count:
        load, _, agent_id, room = heapq.heappop(heap)
        plan.append((agent_id, len(plan)))
        if room > 1:
            heapq.heappush(heap, ((load + 1 if least_busy else 0), now, agent_id, room - 1))
    return plan


# What an UPDATE of conversations returns: every column but the bot's state (as
# sql._CONVERSATION_SELECT, whose agent name the caller adds).
_RETURNED: list[Any] = [column for column in t.conversations.c if column.name != "bot_state"]


def _returned(row: Any, agent_name: str | None) -> Conversation:
    return Conversation(
        id=row.id, contact_id=row.contact_id, status=ConversationStatus(row.status),
        agent_id=row.agent_id, agent_name=agent_name, last_seq=row.last_seq,
        created_at=row.created_at, queued_at=row.queued_at, assigned_at=row.assigned_at,
        resolved_at=row.resolved_at, visitor_read_seq=row.visitor_read_seq,
        agent_read_seq=row.agent_read_seq, team=row.team,
        handoff_reason=None if row.handoff_reason is None else HandoffReason(row.handoff_reason),
        queue_team=row.queue_team, priority=row.priority, accept_deadline=row.accept_deadline)


def _assign_heads(conn: Connection, pairs: list[tuple[str, str]], names: Mapping[str, str],
                  *, now: int, accept_deadline: int | None, data: dict[str, object],
                  facts: dict[str, Facts] | None = None) -> list[Conversation]:
    """Give each (locked, queued) conversation to its (locked, free) agent: one UPDATE for
    the whole batch that returns the rows, and the log. The triggers add each chat to its
    agent's load and assigned time."""
    events = [(conversation_id, {"from": str(S.QUEUED), "agent_id": agent_id, **data})
              for conversation_id, agent_id in pairs]
    if conn.dialect.name == "sqlite":
        rows = conn.execute(_give(), {
            "plan": orjson.dumps(dict(pairs)).decode(), "now": now,
            "deadline": accept_deadline}).all()
        _log_many(conn, "conversation.assigned", events, now)
    else:
        rows = _give_and_log(conn, pairs, events, now=now, accept_deadline=accept_deadline,
                             facts=facts)
    # The rows are ours (row locks on PostgreSQL, the write lock on SQLite), so every one
    # matches.
    if len(rows) != len(pairs):
        raise RuntimeError(f"assigned {len(rows)} of {len(pairs)} locked chats")
    found = {row.id: _returned(row, names[row.agent_id]) for row in rows}
    return [found[conversation_id] for conversation_id, _ in pairs]


def _give_and_log(conn: Connection, pairs: list[tuple[str, str]],
                  events: list[tuple[str, dict[str, Any]]], *, now: int,
                  accept_deadline: int | None,
                  facts: dict[str, Facts] | None = None) -> list[Any]:
    """PostgreSQL: the assignment's writes in one statement (_GIVE_AND_LOG): the
    conversations, their events, their facts and the roll-ups, the facts read (locked) and
    folded first. One round trip instead of five; the roll-ups' rows are still the last
    locks the transaction takes (nothing follows but the commit), in key order."""
    changes = fold_assigned(conn, [(cid, data, now) for cid, data in events], found=facts)
    adjust_sync(conn, changes)
    rollup_rows, histogram_rows = take_pending(conn)
    return list(conn.execute(_GIVE_AND_LOG, {
        "plan": orjson.dumps(dict(pairs)).decode(), "now": now, "deadline": accept_deadline,
        "kind": "conversation.assigned",
        "events": orjson.dumps([{"conversation_id": cid, "data": orjson.dumps(data).decode(),
                                 "n": n} for n, (cid, data) in enumerate(events)]).decode(),
        "facts": orjson.dumps([as_row(after) for _, after in changes]).decode(),
        "report_rollups": orjson.dumps(rollup_rows).decode(),
        "report_histograms": orjson.dumps(histogram_rows).decode()}).all())


def _quoted(names: Collection[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _upsert_sql(table: Any, key: Collection[str], counts: Collection[str], *,
                after: str | None = None) -> str:
    """INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c from a JSON parameter of rows
    (rollups._upsert's statement, in text to ride in a CTE), in key order, RETURNING 1.
    `after`: another CTE that must be done first (the sub-statements of a WITH run in no
    set order: only a dependency orders them)."""
    waits = f"WHERE (SELECT count(*) FROM {after}) >= 0 " if after else ""
    # In the order rollups.Tally sorts the keys (Python's, by code point: collation "C"),
    # whatever the database's collation.
    order = ", ".join(f'"{name}" COLLATE "C"' if isinstance(table.c[name].type, String)
                      else f'"{name}"' for name in key)
    return (f'INSERT INTO {table.name} ({_quoted([*key, *counts])}) '
            f'SELECT {_quoted([*key, *counts])} '
            f'FROM json_populate_recordset(NULL::{table.name}, CAST(:{table.name} AS json)) '
            f'{waits}ORDER BY {order} '
            f'ON CONFLICT ({_quoted(key)}) DO UPDATE SET '
            + ", ".join(f'"{name}" = {table.name}."{name}" + excluded."{name}"'
                        for name in counts)
            + " RETURNING 1")


_FACT_COLUMNS = [column.name for column in t.conversation_facts.c
                 if column.name != "conversation_id"]

# The whole of an assignment's writes on PostgreSQL (_give_and_log), as data-modifying CTEs
# over JSON parameters: plan (conversation id -> agent id), now, deadline, kind, events
# ([{conversation_id, data, n}], logged in n's order), facts (the rows after, by column
# name), report_rollups and report_histograms (their deltas). Returns the conversations
# as _RETURNED.
_GIVE_AND_LOG = text(
    "WITH given AS ("
    " UPDATE conversations SET status = 'assigned', agent_id = plan.value,"
    " assigned_at = CAST(:now AS bigint), accept_deadline = CAST(:deadline AS bigint)"
    " FROM json_each_text(CAST(:plan AS json)) AS plan WHERE conversations.id = plan.key"
    # The ids again as an array, which the planner probes the primary key with: from the
    # join alone it guessed 100 rows and read the whole table to hash-join them (the same
    # for the facts below).
    " AND conversations.id = ANY (ARRAY(SELECT key FROM json_each_text(CAST(:plan AS json))))"
    " RETURNING " + ", ".join(f'conversations."{column.name}"' for column in _RETURNED) + "),"
    " logged AS ("
    " INSERT INTO events (conversation_id, kind, actor_kind, actor_id, data, created_at)"
    " SELECT e.conversation_id, :kind, 'system', NULL, e.data, CAST(:now AS bigint)"
    " FROM json_to_recordset(CAST(:events AS json)) AS e(conversation_id text, data text, n int)"
    " ORDER BY e.n),"
    " facts AS ("
    " UPDATE conversation_facts SET "
    + ", ".join(f'"{name}" = f."{name}"' for name in _FACT_COLUMNS)
    + " FROM json_populate_recordset(NULL::conversation_facts, CAST(:facts AS json)) AS f"
    " WHERE conversation_facts.conversation_id = f.conversation_id"
    " AND conversation_facts.conversation_id = ANY (ARRAY(SELECT key FROM"
    " json_each_text(CAST(:plan AS json))))),"
    f" rolled AS ({_upsert_sql(t.report_rollups, rollups.KEY, rollups.COUNTS)}),"
    # The roll-ups' rows, then the histograms', each in key order: as rollups.flush takes
    # them in every other transaction (the other way round, two transactions deadlocked).
    " counted AS ("
    + _upsert_sql(t.report_histograms, rollups.HISTOGRAM_KEY, ("n",), after="rolled") + ")"
    " SELECT * FROM given")


async def _lock_if_free(conn: AsyncConnection, agent_id: str, capacity: int, *,
                        require_online: bool) -> bool:
    """Lock the agent's row; then whether they may take one more chat (their load is on the
    row)."""
    row = (await conn.execute(select(_a.presence, _a.load).where(_a.id == agent_id)
                              .with_for_update(key_share=True))).first()
    if row is None or (require_online and row.presence != str(Presence.ONLINE)):
        return False
    return int(row.load) < capacity


async def _to_front(conn: AsyncConnection, conditions: list[Any], *, team: str | None,
                    now: int) -> bool:
    """Put the conversation matching `conditions` first in its (new) team's queue: ahead of
    everyone waiting now, priority still first."""
    first = await conn.scalar(select(func.min(_c.queue_rank))
                              .where(_c.status == str(S.QUEUED)))
    rank = min(now, int(first) - 1) if first is not None else now
    result = await conn.execute(
        update(t.conversations).where(and_(*conditions))
        .values(status=str(S.QUEUED), agent_id=None, queued_at=now, queue_rank=rank,
                queue_team=team, accept_deadline=None, abandon_deadline=None))
    return bool(result.rowcount == 1)


def _log_many(conn: Connection, kind: str, entries: list[tuple[str, dict[str, Any]]],
              at: int) -> None:
    """System events about several conversations, in one INSERT."""
    conn.execute(insert(t.events), [
        {"conversation_id": conversation_id, "kind": kind, "actor_kind": "system",
         "actor_id": None, "data": orjson.dumps(data).decode(), "created_at": at}
        for conversation_id, data in entries])
    project_sync(conn, [(conversation_id, kind, data, at)
                        for conversation_id, data in entries])


async def _log(conn: AsyncConnection, kind: str, conversation_id: str | None,
               actor_id: str | None, data: dict[str, Any], at: int, *,
               actor_kind: str | None = None) -> None:
    from chatkit.storage.sql import _record

    if actor_kind is None:
        actor_kind = "agent" if kind.startswith("agent.") else "system"
    await _record(conn, kind, conversation_id=conversation_id, actor_kind=actor_kind,
                  actor_id=actor_id, data=data, at=at)
