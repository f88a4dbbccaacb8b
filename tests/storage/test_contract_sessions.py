"""The storage contract for sign-ins: agents' console sessions and failed sign-ins."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete

from chatkit.models import AgentRole
from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from chatkit.storage.sessions import AgentSession

HOUR = 3600 * 1000
T0 = 1_800_000_000_000


async def a_session(store: SqlStore, token_hash: str = "h" * 64, *,
                    email: str = "ada@example.com") -> AgentSession:
    agent = await store.get_agent_by_email(email) or await store.create_agent(
        email=email, name="Ada", role=AgentRole.SUPERVISOR, password_hash="x")
    session = AgentSession(token_hash=token_hash, agent_id=agent.id, csrf_token="c" * 43,
                           created_at=T0, last_seen_at=T0, expires_at=T0 + 24 * HOUR)
    await store.create_agent_session(session)
    return session


async def test_a_session_is_found_with_its_agent_while_it_lives(store: SqlStore) -> None:
    session = await a_session(store)
    found = await store.agent_session(session.token_hash, now=T0 + 1, idle_ms=8 * HOUR)
    assert found is not None
    assert found[0] == session
    assert (found[1].id, found[1].name, found[1].role) == (session.agent_id, "Ada",
                                                           AgentRole.SUPERVISOR)
    assert await store.agent_session("k" * 64, now=T0 + 1, idle_ms=8 * HOUR) is None


async def test_a_session_ends_when_idle_and_at_its_absolute_expiry(store: SqlStore) -> None:
    session = await a_session(store)
    token = session.token_hash
    assert await store.agent_session(token, now=T0 + 8 * HOUR, idle_ms=8 * HOUR) is None
    # Used now and then, it lives on past the idle timeout...
    for hour in (7, 14, 21):
        await store.touch_agent_session(token, now=T0 + hour * HOUR)
    found = await store.agent_session(token, now=T0 + 23 * HOUR, idle_ms=8 * HOUR)
    assert found is not None and found[0].last_seen_at == T0 + 21 * HOUR
    # ... but not past its lifetime.
    assert await store.agent_session(token, now=T0 + 24 * HOUR, idle_ms=8 * HOUR) is None


async def test_touching_never_moves_last_seen_back(store: SqlStore) -> None:
    session = await a_session(store)
    await store.touch_agent_session(session.token_hash, now=T0 + 2 * HOUR)
    await store.touch_agent_session(session.token_hash, now=T0 + HOUR)  # a slower process
    found = await store.agent_session(session.token_hash, now=T0 + 2 * HOUR, idle_ms=HOUR + 1)
    assert found is not None and found[0].last_seen_at == T0 + 2 * HOUR


async def test_a_deleted_session_is_gone(store: SqlStore) -> None:
    session = await a_session(store)
    other = await a_session(store, "o" * 64)
    assert await store.delete_agent_session(session.token_hash)
    assert not await store.delete_agent_session(session.token_hash)
    assert await store.agent_session(session.token_hash, now=T0, idle_ms=HOUR) is None
    assert await store.agent_session(other.token_hash, now=T0, idle_ms=HOUR) is not None


async def test_deleting_an_agent_deletes_their_sessions(store: SqlStore) -> None:
    session = await a_session(store)
    async with store._write() as conn:
        await conn.execute(delete(t.agents).where(t.agents.c.id == session.agent_id))
    assert await store.agent_session(session.token_hash, now=T0, idle_ms=HOUR) is None
    async with store._read() as conn:
        assert await conn.scalar(t.agent_sessions.select().with_only_columns(
            t.agent_sessions.c.token_hash)) is None


async def test_expired_sessions_are_swept(store: SqlStore) -> None:
    idle = await a_session(store, "i" * 64)
    busy = await a_session(store, "b" * 64)
    await store.touch_agent_session(busy.token_hash, now=T0 + 5 * HOUR)
    assert await store.delete_expired_agent_sessions(now=T0 + 9 * HOUR, idle_ms=8 * HOUR) == 1
    assert await store.agent_session(idle.token_hash, now=T0, idle_ms=99 * HOUR) is None
    assert await store.agent_session(busy.token_hash, now=T0 + 9 * HOUR,
                                     idle_ms=8 * HOUR) is not None
    assert await store.delete_expired_agent_sessions(now=T0 + 24 * HOUR, idle_ms=99 * HOUR) == 1


LIMITS = {"window_ms": 15 * 60_000, "max_failures": 5, "lockout_ms": 15 * 60_000}


async def test_the_fifth_failure_within_the_window_locks_the_email(store: SqlStore) -> None:
    for i in range(4):
        assert await store.record_login_failure("Ada@Example.com", now=T0 + i, **LIMITS) is None
        assert await store.login_locked_until("ada@example.com", now=T0 + i) is None
    until = await store.record_login_failure("ada@example.com", now=T0 + 10, **LIMITS)
    assert until == T0 + 10 + LIMITS["lockout_ms"]
    assert await store.login_locked_until("ADA@example.com", now=T0 + 11) == until
    # More failures while locked do not extend the lockout.
    assert await store.record_login_failure("ada@example.com", now=T0 + 20, **LIMITS) == until
    assert await store.login_locked_until("ada@example.com", now=until) is None
    # After it, the count starts again.
    assert await store.record_login_failure("ada@example.com", now=until, **LIMITS) is None
    assert await store.login_locked_until("someone@example.com", now=T0 + 11) is None


async def test_failures_outside_the_window_start_a_new_count(store: SqlStore) -> None:
    for i in range(4):
        await store.record_login_failure("ada@example.com", now=T0 + i, **LIMITS)
    later = T0 + LIMITS["window_ms"] + 1
    for i in range(4):
        assert await store.record_login_failure("ada@example.com", now=later + i,
                                                **LIMITS) is None


async def test_a_success_clears_the_count(store: SqlStore) -> None:
    for i in range(4):
        await store.record_login_failure("ada@example.com", now=T0 + i, **LIMITS)
    await store.clear_login_failures("ADA@example.com")
    for i in range(4):
        assert await store.record_login_failure("ada@example.com", now=T0 + 10 + i,
                                                **LIMITS) is None


async def test_concurrent_failures_are_all_counted(store: SqlStore) -> None:
    results = await asyncio.gather(*(
        store.record_login_failure("ada@example.com", now=T0, **LIMITS) for _ in range(5)))
    assert sum(result is not None for result in results) == 1
    assert await store.login_locked_until("ada@example.com", now=T0 + 1) is not None


async def test_stale_failure_counts_are_swept(store: SqlStore) -> None:
    await store.record_login_failure("old@example.com", now=T0, **LIMITS)
    for i in range(5):
        await store.record_login_failure("locked@example.com", now=T0 + i, **LIMITS)
    await store.record_login_failure("new@example.com", now=T0 + LIMITS["window_ms"], **LIMITS)
    swept = await store.delete_stale_login_failures(now=T0 + LIMITS["window_ms"] + 1,
                                                    window_ms=LIMITS["window_ms"])
    assert swept == 1  # the locked one waits for its lockout to end, the new one its window
    assert await store.login_locked_until("locked@example.com",
                                          now=T0 + LIMITS["window_ms"]) is not None
