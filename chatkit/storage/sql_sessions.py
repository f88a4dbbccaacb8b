"""The sign-in part of SqlStore (storage/sessions.py): console sessions and failed sign-ins.

A failure is counted in one transaction that first makes sure the email's row exists (an
INSERT that does nothing when it does), then locks it (`SELECT ... FOR UPDATE` on PostgreSQL;
on SQLite the transaction holds the write lock from BEGIN IMMEDIATE), and only then reads and
writes the count: two processes counting failures for one email queue on its row, so none is
lost and the lockout starts at exactly the limit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Row

from chatkit.models import Agent, AgentRole
from chatkit.storage import schema as t
from chatkit.storage.sessions import AgentSession
from chatkit.storage.sql_routing import _upsert

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy.ext.asyncio import AsyncConnection

_s, _f = t.agent_sessions.c, t.login_failures.c


class SessionSql:
    """Mixed into SqlStore, which provides the connections."""

    if TYPE_CHECKING:
        is_sqlite: bool

        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    # sessions

    async def create_agent_session(self, session: AgentSession) -> None:
        async with self._write() as conn:
            await conn.execute(t.agent_sessions.insert().values(
                token_hash=session.token_hash, agent_id=session.agent_id,
                csrf_token=session.csrf_token, created_at=session.created_at,
                last_seen_at=session.last_seen_at, expires_at=session.expires_at))

    async def agent_session(self, token_hash: str, *, now: int,
                            idle_ms: int) -> tuple[AgentSession, Agent] | None:
        a = t.agents.c
        query = (select(t.agent_sessions, a.email, a.name, a.role, a.password_hash,
                        a.created_at.label("agent_created_at"))
                 .join(t.agents, a.id == _s.agent_id)
                 .where(_s.token_hash == token_hash, _s.expires_at > now,
                        _s.last_seen_at > now - idle_ms))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        agent = Agent(id=row.agent_id, email=row.email, name=row.name,
                      role=AgentRole(row.role), password_hash=row.password_hash,
                      created_at=row.agent_created_at)
        return _session(row), agent

    async def touch_agent_session(self, token_hash: str, *, now: int) -> None:
        async with self._write() as conn:
            await conn.execute(update(t.agent_sessions)
                               .where(_s.token_hash == token_hash, _s.last_seen_at < now)
                               .values(last_seen_at=now))

    async def delete_agent_session(self, token_hash: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(t.agent_sessions)
                                        .where(_s.token_hash == token_hash))
        return bool(result.rowcount)

    async def delete_expired_agent_sessions(self, *, now: int, idle_ms: int) -> int:
        async with self._write() as conn:
            result = await conn.execute(delete(t.agent_sessions).where(
                or_(_s.expires_at <= now, _s.last_seen_at <= now - idle_ms)))
        return int(result.rowcount or 0)

    # failed sign-ins

    async def login_locked_until(self, email: str, *, now: int) -> int | None:
        async with self._read() as conn:
            until = await conn.scalar(select(_f.locked_until).where(
                _f.email == email.lower(), _f.locked_until > now))
        return None if until is None else int(until)

    async def record_login_failure(self, email: str, *, now: int, window_ms: int,
                                   max_failures: int, lockout_ms: int) -> int | None:
        email = email.lower()
        async with self._write() as conn:
            await conn.execute(_upsert(self.is_sqlite, t.login_failures)
                               .values(email=email, failures=0, window_start=now)
                               .on_conflict_do_nothing(index_elements=["email"]))
            row = (await conn.execute(select(t.login_failures).where(_f.email == email)
                                      .with_for_update())).one()
            if row.locked_until is not None and row.locked_until > now:
                return int(row.locked_until)  # already locked: the lockout is not extended
            fresh = row.window_start <= now - window_ms or row.locked_until is not None
            failures = 1 if fresh else row.failures + 1
            window_start = now if fresh else row.window_start
            locked_until = now + lockout_ms if failures >= max_failures else None
            await conn.execute(update(t.login_failures).where(_f.email == email).values(
                # A lockout starts the count again: after it, N more failures lock again.
                failures=0 if locked_until is not None else failures,
                window_start=window_start, locked_until=locked_until))
        return locked_until

    async def clear_login_failures(self, email: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(t.login_failures).where(_f.email == email.lower()))

    async def delete_stale_login_failures(self, *, now: int, window_ms: int) -> int:
        async with self._write() as conn:
            result = await conn.execute(delete(t.login_failures).where(and_(
                _f.window_start <= now - window_ms,
                or_(_f.locked_until.is_(None), _f.locked_until <= now))))
        return int(result.rowcount or 0)


def _session(row: Row[Any]) -> AgentSession:
    return AgentSession(token_hash=row.token_hash, agent_id=row.agent_id,
                        csrf_token=row.csrf_token, created_at=row.created_at,
                        last_seen_at=row.last_seen_at, expires_at=row.expires_at)
