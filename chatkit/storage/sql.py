"""The SQL store: SQLAlchemy Core over aiosqlite (default) or asyncpg (PostgreSQL).

One implementation serves both engines; the differences are confined to `_connect_engines`:
SQLite gets WAL, a single writer connection that takes the write lock up front
(BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing), and a separate
pool of readers; PostgreSQL gets one pool and row locks (SELECT ... FOR UPDATE).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import (
    JSON,
    Row,
    Select,
    bindparam,
    case,
    cast,
    delete,
    event,
    func,
    insert,
    null,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from chatkit.errors import Conflict, Forbidden, InvalidPayload, NotFound, Unavailable
from chatkit.models import (
    ARTICLE_VOTE,
    CSAT_RATED,
    CSAT_SATISFIED,
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
    HandoffReason,
    Message,
    NewMessage,
    SenderKind,
    Unread,
    now_ms,
)
from chatkit.storage import facts as projection
from chatkit.storage import rollups
from chatkit.storage import schema as t
from chatkit.storage.facts import OPEN_HOURS_KEY, OpenHours, wall_clock
from chatkit.storage.sql_crm import CrmSql
from chatkit.storage.sql_desk import DeskSql
from chatkit.storage.sql_profile import NO_CONTACT, ProfileSql, contact_fields, log_changes
from chatkit.storage.sql_reports import ReportsSql
from chatkit.storage.sql_routing import RoutingSql
from chatkit.storage.sql_sessions import SessionSql
from chatkit.storage.sqlite_thread import InThread

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_STAMP_COLUMN = {
    ConversationStatus.QUEUED: "queued_at",
    ConversationStatus.ASSIGNED: "assigned_at",
    ConversationStatus.RESOLVED: "resolved_at",
}


MIGRATION_LOCK_KEY = 0x63686174  # "chat"


def _new_id() -> str:
    return uuid.uuid4().hex


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns are encoded by orjson, as the event log is.
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def database_url(url: str) -> URL:
    """Map the URLs users write (sqlite:///x.db, postgresql://...) to async drivers."""
    parsed = make_url(url)
    if parsed.drivername in {"sqlite", "sqlite+aiosqlite"}:
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in {"postgresql", "postgres", "postgresql+asyncpg"}:
        try:
            import asyncpg  # type: ignore[import-untyped]  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "PostgreSQL needs asyncpg: pip install 'chatkit[postgres]'") from exc
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL {url!r}")


class SqlStore(RoutingSql, CrmSql, SessionSql, DeskSql, ProfileSql, ReportsSql):
    """The storage port on SQLite or PostgreSQL.

    >>> store = SqlStore("sqlite:///chatkit.db")   # doctest: +SKIP
    >>> await store.open()                         # creates and migrates the file
    """

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = database_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._pool_size = pool_size
        self._writer: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._in_thread: InThread | None = None
        #: Business hours for the reports' facts (storage/facts.py): the app sets the
        #: routing configuration's; until then every team counts as always open.
        self.open_hours: OpenHours = wall_clock

    # lifecycle

    async def open(self) -> None:
        self._connect_engines()
        from chatkit.storage.migrate import migration_lock, upgrade

        # Alembic keeps global state, so one migration at a time in this process; across
        # processes, SQLite's write lock or a PostgreSQL advisory lock keeps them in turn.
        async with migration_lock(), self._write() as conn:
            if not self.is_sqlite:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK_KEY})
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        for engine in {self._writer, self._reader} - {None}:
            assert engine is not None
            await engine.dispose()
        self._writer = self._reader = None
        if self._in_thread is not None:
            self._in_thread.dispose()
            self._in_thread = None

    def _connect_engines(self) -> None:
        if not self.is_sqlite:
            engine = create_async_engine(self.url, pool_size=self._pool_size, max_overflow=5,
                                         pool_pre_ping=True, **_JSON_CODEC)
            self._writer = self._reader = engine
            return
        if self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        # One writer: SQLite has one write lock anyway, and queueing on our pool is cheaper
        # than on the lock. Readers run in autocommit, each statement its own snapshot.
        self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0,
                                           connect_args={"timeout": 30}, **_JSON_CODEC)
        self._reader = create_async_engine(self.url, pool_size=self._pool_size,
                                           max_overflow=0, connect_args={"timeout": 30},
                                           **_JSON_CODEC)
        _sqlite_pragmas(self._writer, begin="BEGIN IMMEDIATE")
        _sqlite_pragmas(self._reader, begin=None)
        self._in_thread = InThread(**_JSON_CODEC)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        if self._writer is None:
            raise Unavailable("the store is closed")
        async with self._writer.begin() as conn:
            # The connection's info, held as the dict it is: the cleanup below must not go
            # through the connection, which a cancellation mid-statement leaves invalid
            # (asking it then raises PendingRollbackError, which would replace the
            # CancelledError and keep a cancelled task running).
            info = conn.info
            # The facts projected in this transaction count waits in these hours.
            info[OPEN_HOURS_KEY] = self.open_hours
            # Their roll-ups are written last, just before the commit (storage/rollups.py).
            rollups.begin(info)
            try:
                yield conn
                await rollups.flush(conn)
            finally:
                rollups.discard(info)

    async def _run_sync(self, conn: AsyncConnection, fn: Callable[[Connection], _T]) -> _T:
        """`fn(a synchronous connection)` within `conn`'s transaction (from `_write`), all
        its statements at once: on SQLite in the driver's thread, one hand-off for them all
        (storage/sqlite_thread.py), the roll-ups it gathered written there too; on
        PostgreSQL through `run_sync` (a round trip per statement, as async code)."""
        if self._in_thread is None:
            return await conn.run_sync(fn)

        def work(sync: Connection) -> _T:
            found = fn(sync)
            rollups.flush_sync(sync)
            return found

        return await self._in_thread.run(conn, work, {
            key: conn.info[key] for key in (OPEN_HOURS_KEY, rollups.PENDING_KEY)
            if key in conn.info})

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        if self._reader is None:
            raise Unavailable("the store is closed")
        async with self._reader.connect() as conn:
            yield conn

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(text("SELECT 1"))

    # key-value

    async def get_or_create_secret(self, name: str, factory: Callable[[], str]) -> str:
        async with self._read() as conn:
            value = await conn.scalar(select(t.kv.c.value).where(t.kv.c.key == name))
        if value is not None:
            return str(value)
        try:
            async with self._write() as conn:
                await conn.execute(insert(t.kv).values(key=name, value=factory()))
        except IntegrityError:
            pass  # another process stored it first: use theirs
        async with self._read() as conn:
            value = await conn.scalar(select(t.kv.c.value).where(t.kv.c.key == name))
        return str(value)

    # contacts

    async def create_contact(self, *, name: str | None = None,
                             email: str | None = None) -> Contact:
        contact = Contact(id=_new_id(), name=name, email=email, created_at=now_ms())
        async with self._write() as conn:
            await conn.execute(insert(t.contacts).values(
                id=contact.id, name=name, email=email, created_at=contact.created_at))
        return contact

    async def get_contact(self, contact_id: str) -> Contact | None:
        async with self._read() as conn:
            row = (await conn.execute(
                select(t.contacts).where(t.contacts.c.id == contact_id))).first()
        return None if row is None else _contact(row)

    async def find_contacts(self, query: str, *, limit: int = 20) -> list[Contact]:
        k = t.contacts.c
        wanted = query.strip().lower()
        # LIKE's wildcards in the query are taken literally (autoescape).
        by_id = k.id == query.strip()
        by_email = func.lower(k.email).startswith(wanted, autoescape=True)
        by_name = func.lower(k.name).contains(wanted, autoescape=True)
        rank = case((by_id, 0), (by_email, 1), else_=2)
        async with self._read() as conn:
            rows = (await conn.execute(
                select(t.contacts).where(by_id | by_email | by_name)
                .order_by(rank, k.created_at.desc(), k.id).limit(limit))).all()
        return [_contact(row) for row in rows]

    async def get_contacts(self, contact_ids: Collection[str]) -> dict[str, Contact]:
        if not contact_ids:
            return {}
        async with self._read() as conn:
            rows = (await conn.execute(
                select(t.contacts).where(t.contacts.c.id.in_(list(contact_ids))))).all()
        return {row.id: _contact(row) for row in rows}

    async def set_contact_email(self, contact_id: str, email: str) -> Contact | None:
        async with self._write() as conn:
            before = await _contact_row(conn, t.contacts.c.id == contact_id)
            if before is None:
                return None
            await conn.execute(update(t.contacts).where(t.contacts.c.id == contact_id)
                               .values(email=email))
            row = await _contact_row(conn, t.contacts.c.id == contact_id)
            assert row is not None
            await log_changes(conn, contact_id, contact_fields(before), contact_fields(row),
                              actor_kind="visitor", actor_id=contact_id, via="offline_form",
                              at=now_ms())
        return _contact(row)

    async def identify_contact(self, contact_id: str, *, external_id: str, name: str | None,
                               email: str | None) -> tuple[Contact, list[ContactChange]]:
        changes = _given(external_id=external_id, name=name, email=email)
        async with self._write() as conn:
            row = await _contact_row(conn, t.contacts.c.id == contact_id)
            if row is None:
                raise NotFound("no such contact")
            if row.verified:
                raise Forbidden("this contact is verified: only a signed identify changes it")
            await conn.execute(update(t.contacts).where(t.contacts.c.id == contact_id)
                               .values(**changes))
            now = now_ms()
            await _record(conn, "contact.identified", conversation_id=None,
                          actor_kind="visitor", actor_id=contact_id,
                          data={"external_id": external_id, "verified": False}, at=now)
            before, row = row, await _contact_row(conn, t.contacts.c.id == contact_id)
            assert row is not None
            # The page's unsigned claim: the host site's word, as far as anyone can tell.
            logged = await log_changes(conn, contact_id, contact_fields(before),
                                       contact_fields(row), actor_kind="host",
                                       actor_id=external_id, via="identify", at=now)
        return _contact(row), logged

    async def verify_contact(self, contact_id: str, *, external_id: str, name: str | None,
                             email: str | None) -> tuple[Contact, list[ContactChange]]:
        # Two processes may create the verified contact at once (PostgreSQL): the unique
        # index lets one win and the other's retry finds it. Likewise a conversation the
        # verified contact opened meanwhile stops an open one moving (then retried).
        for attempt in range(3):
            try:
                return await self._verify_contact(contact_id, external_id=external_id,
                                                  name=name, email=email)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _verify_contact(self, contact_id: str, *, external_id: str, name: str | None,
                              email: str | None) -> tuple[Contact, list[ContactChange]]:
        k = t.contacts.c
        now = now_ms()
        async with self._write() as conn:
            device = await _contact_row(conn, k.id == contact_id)
            if device is None:
                raise NotFound("no such contact")
            row = await _contact_row(conn, (k.external_id == external_id) & k.verified)
            # The verified contact's details before (a new one had none), for its history.
            before = (contact_fields(row) if row is not None
                      else contact_fields(device) if not device.verified else NO_CONTACT)
            if row is None and not device.verified:
                # The device's own anonymous contact becomes the verified one: nothing moves.
                await conn.execute(update(t.contacts).where(k.id == contact_id).values(
                    external_id=external_id, verified=True, **_given(name=name, email=email)))
                verified_id = contact_id
            elif row is None:
                verified_id = _new_id()
                await conn.execute(insert(t.contacts).values(
                    id=verified_id, name=name, email=email, created_at=now,
                    external_id=external_id, verified=True))
            else:
                verified_id = row.id
                if changes := _given(name=name, email=email):
                    await conn.execute(update(t.contacts).where(k.id == verified_id)
                                       .values(**changes))
            moved = 0
            if verified_id != contact_id and not device.verified:
                moved = await _move_conversations(conn, contact_id, verified_id)
            await _record(conn, "contact.verified", conversation_id=None, actor_kind="visitor",
                          actor_id=verified_id,
                          data={"external_id": external_id, "device_contact": contact_id,
                                "conversations_moved": moved}, at=now)
            row = await _contact_row(conn, k.id == verified_id)
            assert row is not None
            logged = await log_changes(conn, verified_id, before, contact_fields(row),
                                       actor_kind="host", actor_id=external_id, via="identify",
                                       at=now)
        return _contact(row), logged

    async def set_contact_attributes(
            self, contact_id: str, attributes: dict[str, str | int | float | bool | None], *,
            max_keys: int) -> tuple[Contact, list[ContactChange]]:
        k = t.contacts.c
        async with self._write() as conn:
            # The write transaction holds the row (SQLite's one writer; FOR UPDATE on
            # PostgreSQL), so two merges at once both land.
            row = (await conn.execute(
                select(t.contacts).where(k.id == contact_id).with_for_update())).first()
            if row is None:
                raise NotFound("no such contact")
            merged = dict(row.attributes or {})
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if len(merged) > max_keys:
                raise InvalidPayload(f"a contact has at most {max_keys} attributes")
            await conn.execute(update(t.contacts).where(k.id == contact_id)
                               .values(attributes=merged or None))
            now = now_ms()
            await _record(conn, "contact.attributes", conversation_id=None,
                          actor_kind="visitor", actor_id=contact_id,
                          data={"keys": sorted(attributes)}, at=now)
            contact = replace(_contact(row), attributes=merged)
            logged = await log_changes(conn, contact_id, contact_fields(row),
                                       {**contact_fields(row), **_attribute_fields(row, merged)},
                                       actor_kind="host", actor_id=row.external_id,
                                       via="attributes", at=now)
        return contact, logged

    # agents

    async def create_agent(self, *, email: str, name: str, role: AgentRole,
                           password_hash: str) -> Agent:
        agent = Agent(id=_new_id(), email=email.lower(), name=name, role=role,
                      password_hash=password_hash, created_at=now_ms())
        try:
            async with self._write() as conn:
                await conn.execute(insert(t.agents).values(
                    id=agent.id, email=agent.email, name=name, role=str(role),
                    password_hash=password_hash, created_at=agent.created_at))
        except IntegrityError as exc:
            raise Conflict(f"an agent with email {agent.email} exists") from exc
        return agent

    async def get_agent(self, agent_id: str) -> Agent | None:
        return await self._one_agent(t.agents.c.id == agent_id)

    async def get_agent_by_email(self, email: str) -> Agent | None:
        return await self._one_agent(t.agents.c.email == email.lower())

    async def list_agents(self) -> list[Agent]:
        async with self._read() as conn:
            rows = (await conn.execute(select(t.agents).order_by(t.agents.c.created_at))).all()
        return [_agent(row) for row in rows]

    async def _one_agent(self, condition: Any) -> Agent | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.agents).where(condition))).first()
        return None if row is None else _agent(row)

    # conversations

    async def create_conversation(self, contact_id: str, *,
                                  bot_state: dict[str, Any] | None = None,
                                  opening: Sequence[NewMessage] = ()) -> Conversation:
        now = now_ms()
        conversation_id = _new_id()
        try:
            async with self._write() as conn:
                await conn.execute(insert(t.conversations).values(
                    id=conversation_id, contact_id=contact_id,
                    status=str(ConversationStatus.BOT), last_seq=0, created_at=now,
                    bot_state=bot_state))
                await _record(conn, "conversation.created", conversation_id=conversation_id,
                              actor_kind="visitor", actor_id=contact_id, data={}, at=now)
                if opening:
                    await self._append(
                        conn, [replace(m, conversation_id=conversation_id) for m in opening],
                        look_for_stored=False)
                conversation = await _conversation(conn, conversation_id)
        except IntegrityError as exc:
            raise Conflict("the contact already has an open conversation") from exc
        assert conversation is not None
        return conversation

    async def start_outbound(self, contact_id: str, agent_id: str, *, capacity: int,
                             queue_team: str | None, message: NewMessage,
                             now: int) -> tuple[Conversation, Message, bool] | None:
        from chatkit.storage.sql_routing import _lock_if_free

        m = t.messages.c
        conversation_id = _new_id()
        try:
            async with self._write() as conn:
                if message.client_id is not None:
                    # A resend (the ack was lost): the conversation it started, unchanged.
                    row = (await conn.execute(select(t.messages).where(
                        m.author_id == agent_id, m.client_id == message.client_id))).first()
                    if row is not None:
                        found = await _conversation(conn, row.conversation_id)
                        assert found is not None
                        if found.contact_id != contact_id or row.seq != 1:
                            raise Conflict(f"client_id {message.client_id!r} is another "
                                           "message's; give each new one its own")
                        return found, _to_message(row), True
                if await conn.scalar(select(t.contacts.c.id)
                                     .where(t.contacts.c.id == contact_id)) is None:
                    raise NotFound("no such contact")
                await _refuse_if_open(conn, contact_id)
                # The agent's row lock, then their load: no one goes above capacity.
                if not await _lock_if_free(conn, agent_id, capacity, require_online=False):
                    return None
                await conn.execute(insert(t.conversations).values(
                    id=conversation_id, contact_id=contact_id,
                    status=str(ConversationStatus.ASSIGNED), agent_id=agent_id, last_seq=0,
                    created_at=now, assigned_at=now, queue_team=queue_team, bot_state=None))
                await conn.execute(update(t.agents).where(t.agents.c.id == agent_id)
                                   .values(last_assigned_at=now))
                data = {"outbound": True, "agent_id": agent_id, "queue_team": queue_team}
                await _record(conn, "conversation.created", conversation_id=conversation_id,
                              actor_kind="agent", actor_id=agent_id, data=data, at=now)
                await _record(conn, "conversation.assigned", conversation_id=conversation_id,
                              actor_kind="agent", actor_id=agent_id,
                              data={"from": None, **data}, at=now)
                (result,) = await self._append(
                    conn, [replace(message, conversation_id=conversation_id)],
                    look_for_stored=False)
                conversation = await _conversation(conn, conversation_id)
        except IntegrityError as exc:
            # The unique index: the contact's conversation was started meanwhile.
            async with self._read() as conn:
                await _refuse_if_open(conn, contact_id)
            raise Conflict("the contact already has an open conversation") from exc
        assert conversation is not None and result is not None
        return conversation, result.message, False

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        async with self._read() as conn:
            return await _conversation(conn, conversation_id)

    async def open_conversation_for(self, contact_id: str) -> Conversation | None:
        query = (_CONVERSATION_SELECT
                 .where(t.conversations.c.contact_id == contact_id,
                        t.conversations.c.status != str(ConversationStatus.RESOLVED))
                 .order_by(t.conversations.c.created_at.desc()).limit(1))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _to_conversation(row)

    async def list_conversations(self, *, statuses: Collection[ConversationStatus],
                                 limit: int, queue_teams: Collection[str] | None = None,
                                 unqueued: bool = False,
                                 agent_id: str | None = None,
                                 tag: str | None = None) -> list[Conversation]:
        c = t.conversations.c
        query = (_CONVERSATION_SELECT.where(c.status.in_([str(s) for s in statuses]))
                 .order_by(c.created_at).limit(limit))
        if tag is not None:
            g = t.conversation_tags.c
            query = query.where(c.id.in_(select(g.conversation_id).where(g.tag == tag)))
        if queue_teams is not None:
            visible: list[Any] = [c.queue_team.in_(list(queue_teams))]
            if unqueued:
                visible.append(c.queue_team.is_(None))
            if agent_id is not None:
                visible.append(c.agent_id == agent_id)
            query = query.where(or_(*visible))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_conversation(row) for row in rows]

    async def unread(self, conversation_ids: Collection[str]) -> dict[str, Unread]:
        if not conversation_ids:
            return {}
        c, m = t.conversations.c, t.messages.c
        # By the messages' primary key (conversation_id, seq): a range per conversation.
        query = (select(m.conversation_id, func.count().label("n"),
                        func.min(m.created_at).label("since"))
                 .select_from(t.messages.join(t.conversations, c.id == m.conversation_id))
                 .where(m.conversation_id.in_(list(conversation_ids)),
                        m.seq > c.agent_read_seq, m.sender == str(SenderKind.VISITOR))
                 .group_by(m.conversation_id))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {row.conversation_id: Unread(int(row.n), int(row.since)) for row in rows}

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
        c = t.conversations.c
        now = now_ms()
        values: dict[str, Any] = {"status": str(to), "agent_id": agent_id}
        if to in _STAMP_COLUMN:
            values[_STAMP_COLUMN[to]] = now
        # Any move ends a pending offer, and a visitor's abandon grace period (which only a
        # queued conversation has, and only once it is queued and its visitor gone).
        values["accept_deadline"] = values["abandon_deadline"] = None
        if to is ConversationStatus.QUEUED:
            values["queue_rank"] = now  # the back of the queue
            if queue_team is not None:
                values["queue_team"] = queue_team
            if priority is not None:
                values["priority"] = priority
        data = dict(data or {})
        if handoff is not None:
            values.update(team=handoff.team, handoff_reason=str(handoff.reason))
            data.update(reason=str(handoff.reason), team=handoff.team)
        if to is ConversationStatus.QUEUED and queue_team is not None:
            data["queue_team"] = queue_team  # whose queue: the reports count by it
        conditions = [c.id == conversation_id, c.status.in_([str(s) for s in allowed_from])]
        if expected_agents is not None:
            named = [a for a in expected_agents if a is not None]
            either = [c.agent_id.in_(named)] if named else []
            if None in expected_agents:
                either.append(c.agent_id.is_(None))
            conditions.append(either[0] if len(either) == 1 else either[0] | either[1])
        async with self._write() as conn:
            before = await conn.scalar(select(c.status).where(c.id == conversation_id))
            # The conditional UPDATE is the atomic step: the row lock (PostgreSQL) or the write
            # lock (SQLite) makes racing callers see each other's result.
            result = await conn.execute(update(t.conversations).where(*conditions).values(values))
            if result.rowcount != 1:
                return None
            await _record(conn, f"conversation.{to}", conversation_id=conversation_id,
                          actor_kind=actor_kind, actor_id=actor_id,
                          data={"from": before, "agent_id": agent_id, **data}, at=now)
            return await _conversation(conn, conversation_id)

    async def mark_read(self, conversation_id: str, reader: SenderKind,
                        seq: int) -> tuple[Conversation, bool] | None:
        c = t.conversations.c
        column = c.visitor_read_seq if reader is SenderKind.VISITOR else c.agent_read_seq
        # Only forward, and never past the last message.
        capped = case((c.last_seq < seq, c.last_seq), else_=seq)
        async with self._write() as conn:
            result = await conn.execute(update(t.conversations)
                                        .where(c.id == conversation_id, column < capped)
                                        .values({column: capped}))
            conversation = await _conversation(conn, conversation_id)
        return None if conversation is None else (conversation, result.rowcount == 1)

    async def get_bot_state(
            self, conversation_id: str) -> tuple[Conversation, dict[str, Any] | None] | None:
        query = (_CONVERSATION_SELECT.add_columns(t.conversations.c.bot_state)
                 .where(t.conversations.c.id == conversation_id))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (_to_conversation(row), row.bot_state)

    async def save_bot_turn(self, conversation_id: str, *, expected_seq: int,
                            state: dict[str, Any],
                            messages: Sequence[NewMessage]) -> list[Message] | None:
        c = t.conversations.c
        async with self._write() as conn:
            # The conditional UPDATE takes the row (or SQLite's write) lock first: no message
            # can slip in between the check and the append.
            result = await conn.execute(
                update(t.conversations)
                .where(c.id == conversation_id, c.status == str(ConversationStatus.BOT),
                       c.last_seq == expected_seq)
                .values(bot_state=state))
            if result.rowcount != 1:
                return None
            stored = await self._append(
                conn, [replace(m, conversation_id=conversation_id) for m in messages],
                look_for_stored=False)
        return [r.message for r in stored if r is not None]

    # messages

    async def append_messages(self, batch: Sequence[NewMessage]) -> list[AppendResult | None]:
        if not batch:
            return []
        # Resends are rare, so first insert without looking for stored copies; the unique
        # (author_id, client_id) index refuses the batch if one is there, and then the batch
        # is stored again, looking first. Looking up every client id costs more than the insert.
        try:
            async with self._write() as conn:
                return await self._append(conn, batch, look_for_stored=False)
        except IntegrityError:
            pass
        try:
            async with self._write() as conn:
                return await self._append(conn, batch, look_for_stored=True)
        except IntegrityError:
            if len(batch) == 1:
                raise
        # A racing writer (another process) stored one of these client ids between our look
        # and our insert: store them one by one, so only that one is affected.
        log.warning("group commit of %d messages conflicted; storing them one by one",
                    len(batch))
        results: list[AppendResult | None] = []
        for item in batch:
            results.extend(await self.append_messages([item]))
        return results

    async def _append(self, conn: AsyncConnection, batch: Sequence[NewMessage], *,
                      look_for_stored: bool) -> list[AppendResult | None]:
        m, c = t.messages.c, t.conversations.c
        conversation_ids = {item.conversation_id for item in batch}
        # Lock the conversations first: then no other writer can add to them until we commit,
        # so the duplicate check below cannot go stale.
        rows = (await conn.execute(
            select(c.id, c.last_seq)
            .where(c.id.in_(conversation_ids), c.status != str(ConversationStatus.RESOLVED))
            .with_for_update())).all()
        last_seq = {row.id: row.last_seq for row in rows}

        keyed = {(item.author_id, item.client_id) for item in batch if item.client_id}
        stored: dict[tuple[str | None, str | None], Message] = {}
        if keyed and look_for_stored:
            # Both columns, so the unique (author_id, client_id) index serves the lookup.
            authors = {author for author, _ in keyed}
            client_ids = {client_id for _, client_id in keyed}
            found = (await conn.execute(select(t.messages).where(
                m.author_id.in_(authors), m.client_id.in_(client_ids)))).all()
            for row in found:
                if (row.author_id, row.client_id) in keyed:
                    stored[(row.author_id, row.client_id)] = _to_message(row)

        now = now_ms()
        results: list[AppendResult | None] = []
        new_rows: list[dict[str, Any]] = []
        for item in batch:
            key = (item.author_id, item.client_id)
            if item.client_id and key in stored:
                results.append(AppendResult(stored[key], duplicate=True))
                continue
            if item.conversation_id not in last_seq:
                results.append(None)
                continue
            seq = last_seq[item.conversation_id] = last_seq[item.conversation_id] + 1
            message = Message(conversation_id=item.conversation_id, seq=seq,
                              client_id=item.client_id, sender=item.sender,
                              author_id=item.author_id, author_name=item.author_name,
                              body=item.body, created_at=now, meta=item.meta,
                              internal=item.internal)
            if item.client_id:
                stored[key] = message  # a resend inside the same batch
            results.append(AppendResult(message, duplicate=False))
            new_rows.append({
                "conversation_id": message.conversation_id, "seq": seq,
                "client_id": message.client_id, "sender": str(message.sender),
                "author_id": message.author_id, "author_name": message.author_name,
                "body": message.body, "created_at": now, "meta": message.meta,
                "internal": message.internal,
            })
        if new_rows:
            await conn.execute(insert(t.messages), new_rows)
            touched = {row["conversation_id"] for row in new_rows}
            # executemany needs bind names that differ from the column names.
            await conn.execute(
                update(t.conversations).where(c.id == bindparam("cid"))
                .values(last_seq=bindparam("seq")),
                [{"cid": cid, "seq": last_seq[cid]} for cid in touched])
            await projection.project_replies(conn, {
                row["conversation_id"]: now for row in new_rows
                if row["sender"] == str(SenderKind.AGENT) and not row["internal"]})
        return results

    async def get_messages(self, conversation_id: str, *, after_seq: int = 0,
                           before_seq: int | None = None, limit: int = 50,
                           include_internal: bool = True) -> tuple[list[Message], bool]:
        m = t.messages.c
        query = select(t.messages).where(m.conversation_id == conversation_id)
        if not include_internal:
            query = query.where(m.internal.is_(False))
        if before_seq is not None:
            query = query.where(m.seq < before_seq).order_by(m.seq.desc())
        else:
            query = query.where(m.seq > after_seq).order_by(m.seq)
        async with self._read() as conn:
            rows = (await conn.execute(query.limit(limit + 1))).all()
        has_more = len(rows) > limit
        found = [_to_message(row) for row in rows[:limit]]
        if before_seq is not None:
            found.reverse()
        return found, has_more

    # attachments

    async def create_attachment(self, *, uploader_kind: SenderKind, uploader_id: str,
                                name: str, content_type: str, sha256: str,
                                data: bytes) -> Attachment:
        attachment = Attachment(
            id=_new_id(), uploader_kind=uploader_kind, uploader_id=uploader_id,
            content_type=content_type, size=len(data), name=name, sha256=sha256,
            created_at=now_ms())
        async with self._write() as conn:
            await conn.execute(insert(t.attachments).values(
                id=attachment.id, uploader_kind=str(uploader_kind), uploader_id=uploader_id,
                content_type=content_type, size=attachment.size, name=name, sha256=sha256,
                created_at=attachment.created_at, data=data))
        return attachment

    async def get_attachments(self, attachment_ids: Collection[str]) -> list[Attachment]:
        if not attachment_ids:
            return []
        query = select(*_ATTACHMENT_COLUMNS).where(t.attachments.c.id.in_(set(attachment_ids)))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_to_attachment(row) for row in rows]

    async def attachment_data(self, attachment_id: str) -> bytes | None:
        async with self._read() as conn:
            data = await conn.scalar(select(t.attachments.c.data)
                                     .where(t.attachments.c.id == attachment_id))
        return None if data is None else bytes(data)

    async def count_pending_attachments(self, uploader_kind: SenderKind,
                                        uploader_id: str) -> int:
        a = t.attachments.c
        async with self._read() as conn:
            count = await conn.scalar(select(func.count()).where(
                a.uploader_id == uploader_id, a.uploader_kind == str(uploader_kind),
                a.conversation_id.is_(None)))
        return int(count or 0)

    async def delete_pending_attachments(self, *, created_before: int) -> int:
        a = t.attachments.c
        async with self._write() as conn:
            result = await conn.execute(delete(t.attachments).where(
                a.conversation_id.is_(None), a.created_at < created_before))
        return int(result.rowcount)

    async def append_with_attachments(self, message: NewMessage,
                                      attachment_ids: Sequence[str]) -> AppendResult | None:
        wanted = set(attachment_ids)
        async with self._write() as conn:
            # Looking for a stored copy first: a resend gets the original, whose attachments
            # are its own by now.
            (result,) = await self._append(conn, [message], look_for_stored=True)
            if result is None or result.duplicate or not wanted:
                return result
            a = t.attachments.c
            mine = [a.id.in_(wanted), a.uploader_kind == str(message.sender),
                    a.uploader_id == message.author_id]
            # Conditional on being pending: of two messages claiming one file (in any
            # process), the second finds it taken. An error rolls the message back too.
            claimed = await conn.execute(
                update(t.attachments).where(*mine, a.conversation_id.is_(None))
                .values(conversation_id=result.message.conversation_id,
                        message_seq=result.message.seq))
            if claimed.rowcount != len(wanted):
                found = set((await conn.execute(select(a.id).where(*mine))).scalars())
                if found != wanted:
                    raise NotFound(f"attachment_ids: no attachment {min(wanted - found)!r} "
                                   "of yours waits to be sent")
                raise Conflict("attachment_ids: an attachment is in a message already")
        return result

    # event log

    async def list_events(self, *, conversation_id: str | None = None,
                          limit: int = 1000) -> list[Event]:
        query = select(t.events).order_by(t.events.c.id).limit(limit)
        if conversation_id is not None:
            query = query.where(t.events.c.conversation_id == conversation_id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [Event(row.id, row.conversation_id, row.kind, row.actor_kind, row.actor_id,
                      orjson.loads(row.data), row.created_at) for row in rows]

    async def record_event(self, kind: str, *, conversation_id: str | None = None,
                           actor_kind: str | None = None, actor_id: str | None = None,
                           data: dict[str, Any] | None = None) -> None:
        # The column widths, checked here: SQLite would store longer values, PostgreSQL not.
        if not 1 <= len(kind) <= 50:
            raise ValueError("an event kind has 1 to 50 characters")
        if actor_kind is not None and len(actor_kind) > 10:
            raise ValueError("an actor kind has at most 10 characters")
        if actor_id is not None and len(actor_id) > 32:
            raise ValueError("an actor id has at most 32 characters")
        async with self._write() as conn:
            await _record(conn, kind, conversation_id=conversation_id, actor_kind=actor_kind,
                          actor_id=actor_id, data=data or {}, at=now_ms())

    # help centre

    async def rate_conversation(self, conversation_id: str, *, contact_id: str, rating: int,
                                comment: str | None, now: int,
                                window_ms: int) -> tuple[CsatRating, int | None] | None:
        c, r = t.conversations.c, t.csat_ratings.c
        async with self._write() as conn:
            # Locking the conversation's row (PostgreSQL; SQLite holds the write lock) makes
            # two racing ratings of it take turns: the second replaces the first.
            row = (await conn.execute(
                select(c.contact_id, c.status, c.agent_id, c.queue_team, c.resolved_at)
                .where(c.id == conversation_id).with_for_update())).first()
            if (row is None or row.contact_id != contact_id
                    or row.status != str(ConversationStatus.RESOLVED) or row.agent_id is None
                    or row.resolved_at is None or now - row.resolved_at > window_ms):
                return None
            stored = CsatRating(conversation_id, contact_id, row.agent_id, row.queue_team,
                                rating, comment, now, row.resolved_at)
            replaced = await conn.scalar(select(r.rating).where(
                r.conversation_id == conversation_id))
            values = {"rating": rating, "comment": comment, "rated_at": now}
            if replaced is None:
                await conn.execute(insert(t.csat_ratings).values(
                    conversation_id=conversation_id, contact_id=contact_id,
                    agent_id=row.agent_id, team=row.queue_team,
                    resolved_at=row.resolved_at, **values))
            else:
                await conn.execute(update(t.csat_ratings)
                                   .where(r.conversation_id == conversation_id).values(values))
            # The comment stays in the table: the log is for counting, not for reading.
            await _record(conn, CSAT_RATED, conversation_id=conversation_id,
                          actor_kind="visitor", actor_id=contact_id,
                          data={"rating": rating, "agent_id": row.agent_id,
                                "team": row.queue_team, "has_comment": comment is not None,
                                "replaced": replaced}, at=now)
        return stored, replaced

    async def get_csat(self, conversation_id: str) -> CsatRating | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.csat_ratings).where(
                t.csat_ratings.c.conversation_id == conversation_id))).first()
        return None if row is None else _to_csat(row)

    async def csat_pending(self, contact_id: str, *, since: int) -> Conversation | None:
        c = t.conversations.c
        newest = (_CONVERSATION_SELECT.where(c.contact_id == contact_id)
                  .order_by(c.created_at.desc(), c.id.desc()).limit(1))
        async with self._read() as conn:
            row = (await conn.execute(newest)).first()
            if (row is None or row.status != str(ConversationStatus.RESOLVED)
                    or row.agent_id is None or row.resolved_at is None
                    or row.resolved_at < since):
                return None
            rated = await conn.scalar(select(t.csat_ratings.c.rating).where(
                t.csat_ratings.c.conversation_id == row.id))
        return None if rated is not None else _to_conversation(row)

    async def csat_summary(self, *, agent_id: str | None = None, team: str | None = None,
                           resolved_from: int | None = None,
                           resolved_to: int | None = None) -> CsatSummary:
        r = t.csat_ratings.c
        conditions = []
        if agent_id is not None:
            conditions.append(r.agent_id == agent_id)
        if team is not None:
            conditions.append(r.team == team)
        if resolved_from is not None:
            conditions.append(r.resolved_at >= resolved_from)
        if resolved_to is not None:
            conditions.append(r.resolved_at < resolved_to)
        query = select(func.count().label("ratings"),
                       func.count(case((r.rating >= CSAT_SATISFIED, 1))).label("satisfied"),
                       func.coalesce(func.sum(r.rating), 0).label("total")).where(*conditions)
        async with self._read() as conn:
            row = (await conn.execute(query)).one()
        return CsatSummary(int(row.ratings), int(row.satisfied), int(row.total))

    async def article_votes(self, entry_id: str, locale: str, *,
                            voter_id: str | None = None) -> ArticleVotes:
        e = t.events.c
        # The log keeps data as JSON text: SQLite's JSON functions read it as it is,
        # PostgreSQL's operators need it cast. (No index serves this: it scans the votes.)
        data = type_coerce(e.data, JSON) if self.is_sqlite else cast(e.data, JSONB)
        helpful = data["helpful"].as_boolean().label("helpful")
        voter_latest = (func.max(case((e.actor_id == voter_id, e.id))) if voter_id is not None
                        else null())
        query = (select(helpful, func.count().label("votes"), voter_latest.label("voter_latest"))
                 .where(e.kind == ARTICLE_VOTE, data["entry_id"].as_string() == entry_id,
                        data["locale"].as_string() == locale)
                 .group_by(helpful))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        counts = {bool(row.helpful): int(row.votes) for row in rows}
        voted = [row for row in rows if row.voter_latest is not None]
        voter_said = bool(max(voted, key=lambda row: row.voter_latest).helpful) if voted else None
        return ArticleVotes(counts.get(True, 0), counts.get(False, 0), voter_said)


def _sqlite_pragmas(engine: AsyncEngine, *, begin: str | None) -> None:
    """WAL lets readers run beside the writer; FULL sync makes an acked message survive a power
    cut, and group commit pays the fsync once per batch instead of once per message."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=30000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    if begin is not None:
        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _error: BaseException | None
                       ) -> None:
        # A task cancelled mid-statement invalidates its connection, which is then closed
        # with the cancelled statement's cursor still open: sqlite3 closes such a connection
        # only when the cursor is garbage, and until then its transaction keeps the write
        # lock (every other write: "database is locked"). Rolling back first ends the
        # transaction now (it waits for the statement to finish in aiosqlite's thread).
        try:
            dbapi_connection.rollback()
        except Exception:  # gone already: nothing is held
            log.debug("rolling back an invalidated SQLite connection failed", exc_info=True)


async def _record(conn: AsyncConnection, kind: str, *, conversation_id: str | None,
                  actor_kind: str | None, actor_id: str | None, data: dict[str, Any],
                  at: int) -> None:
    await conn.execute(insert(t.events).values(
        conversation_id=conversation_id, kind=kind, actor_kind=actor_kind, actor_id=actor_id,
        data=orjson.dumps(data).decode(), created_at=at))
    # The reports' projection of the log, in the same transaction (storage/facts.py).
    await projection.project(conn, [(conversation_id, kind, data, at)])


# Every column but the bot's state, which only the bot reads (get_bot_state).
_CONVERSATION_COLUMNS: list[Any] = [c for c in t.conversations.c if c.name != "bot_state"]
_CONVERSATION_SELECT: Select[Any] = (
    select(*_CONVERSATION_COLUMNS, t.agents.c.name.label("agent_name"))
    .select_from(t.conversations.outerjoin(t.agents,
                                           t.agents.c.id == t.conversations.c.agent_id))
)


def _contact(row: Row[Any]) -> Contact:
    return Contact(row.id, row.name, row.email, row.created_at, external_id=row.external_id,
                   verified=bool(row.verified), attributes=dict(row.attributes or {}),
                   phone=row.phone, preferences=dict(row.preferences or {}))


def _attribute_fields(row: Row[Any], merged: dict[str, Any]) -> dict[str, Any]:
    """The history's attribute fields after a merge: each of `merged`, and None for each
    removed (which overrides the row's own)."""
    removed = {f"attributes.{key}": None for key in (row.attributes or {}) if key not in merged}
    return {**removed, **{f"attributes.{key}": value for key, value in merged.items()}}


async def _contact_row(conn: AsyncConnection, condition: Any) -> Row[Any] | None:
    return (await conn.execute(select(t.contacts).where(condition))).first()


def _given(**values: str | None) -> dict[str, str]:
    """The values that were given (None: leave the column as it is)."""
    return {name: value for name, value in values.items() if value is not None}


async def _move_conversations(conn: AsyncConnection, from_id: str, to_id: str) -> int:
    """Give `from_id`'s conversations to `to_id`: all of them, or only the resolved ones
    when `to_id` has an open conversation (which stays the open one)."""
    c = t.conversations.c
    moving = c.contact_id == from_id
    if await conn.scalar(select(c.id).where(c.contact_id == to_id,
                                            c.status != str(ConversationStatus.RESOLVED))):
        moving = moving & (c.status == str(ConversationStatus.RESOLVED))
    rows = (await conn.execute(select(c.id, c.status).where(moving))).all()
    moved = [row.id for row in rows]
    if not moved:
        return 0
    await conn.execute(update(t.conversations).where(c.id.in_(moved)).values(contact_id=to_id))
    await projection.moved(conn, moved, from_id, to_id)
    # Their visitor messages become the verified contact's too, so that a resend (same
    # client id) of one whose ack was lost across the identify is still found, not stored
    # twice; and files uploaded and not yet sent can still be sent.
    m = t.messages.c
    await conn.execute(update(t.messages)
                       .where(m.conversation_id.in_(moved), m.author_id == from_id,
                              m.sender == str(SenderKind.VISITOR))
                       .values(author_id=to_id))
    a = t.attachments.c
    await conn.execute(update(t.attachments)
                       .where(a.uploader_id == from_id, a.conversation_id.is_(None),
                              a.uploader_kind == str(SenderKind.VISITOR))
                       .values(uploader_id=to_id))
    if any(row.status != str(ConversationStatus.RESOLVED) for row in rows):
        # Waiting-room rows follow the open conversation (routing's abandonment tracking).
        await conn.execute(update(t.visitor_connections)
                           .where(t.visitor_connections.c.contact_id == from_id)
                           .values(contact_id=to_id))
    return len(moved)


async def _refuse_if_open(conn: AsyncConnection, contact_id: str) -> None:
    """Conflict, naming it, when the contact has an open conversation."""
    c = t.conversations.c
    open_id = await conn.scalar(select(c.id).where(
        c.contact_id == contact_id, c.status != str(ConversationStatus.RESOLVED)).limit(1))
    if open_id is not None:
        raise Conflict("the contact already has an open conversation",
                       details={"conversation_id": open_id})


async def _conversation(conn: AsyncConnection, conversation_id: str) -> Conversation | None:
    row = (await conn.execute(
        _CONVERSATION_SELECT.where(t.conversations.c.id == conversation_id))).first()
    return None if row is None else _to_conversation(row)


def _to_conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id, contact_id=row.contact_id, status=ConversationStatus(row.status),
        agent_id=row.agent_id, agent_name=row.agent_name, last_seq=row.last_seq,
        created_at=row.created_at, queued_at=row.queued_at, assigned_at=row.assigned_at,
        resolved_at=row.resolved_at, visitor_read_seq=row.visitor_read_seq,
        agent_read_seq=row.agent_read_seq, team=row.team,
        handoff_reason=None if row.handoff_reason is None else HandoffReason(row.handoff_reason),
        queue_team=row.queue_team, priority=row.priority, accept_deadline=row.accept_deadline)


def _to_message(row: Row[Any]) -> Message:
    return Message(conversation_id=row.conversation_id, seq=row.seq,
                   client_id=row.client_id, sender=SenderKind(row.sender),
                   author_id=row.author_id, author_name=row.author_name, body=row.body,
                   created_at=row.created_at, meta=row.meta, internal=row.internal)


# Every column but the bytes, which only attachment_data reads.
_ATTACHMENT_COLUMNS: list[Any] = [c for c in t.attachments.c if c.name != "data"]


def _to_attachment(row: Row[Any]) -> Attachment:
    return Attachment(
        id=row.id, uploader_kind=SenderKind(row.uploader_kind), uploader_id=row.uploader_id,
        content_type=row.content_type, size=row.size, name=row.name, sha256=row.sha256,
        created_at=row.created_at, conversation_id=row.conversation_id,
        message_seq=row.message_seq)


def _to_csat(row: Row[Any]) -> CsatRating:
    return CsatRating(row.conversation_id, row.contact_id, row.agent_id, row.team, row.rating,
                      row.comment, row.rated_at, row.resolved_at)


def _agent(row: Row[Any]) -> Agent:
    return Agent(id=row.id, email=row.email, name=row.name, role=AgentRole(row.role),
                 password_hash=row.password_hash, created_at=row.created_at)


__all__ = ["SqlStore", "database_url"]
