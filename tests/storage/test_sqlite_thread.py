"""storage/sqlite_thread.py: a synchronous function run in aiosqlite's connection thread,
inside the store's write transaction. The first test guards the one use of aiosqlite's
private API: if a new aiosqlite renames or changes `_execute` / `_conn`, it fails here."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from chatkit.storage.sqlite_thread import call_in_connection_thread


async def test_aiosqlite_private_api_runs_a_function_in_its_thread(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "x.db") as driver:
        await driver.execute("CREATE TABLE x (v INTEGER)")
        await driver.execute("INSERT INTO x VALUES (41)")

        def work(raw: sqlite3.Connection) -> tuple[int, int]:
            assert isinstance(raw, sqlite3.Connection)
            # sqlite3 refuses a connection to other threads than its own: this only works
            # in the driver's thread, on its connection (uncommitted row included).
            value = raw.execute("SELECT v + 1 FROM x").fetchone()[0]
            return value, threading.get_ident()

        value, thread = await call_in_connection_thread(driver, work)
    assert value == 42
    assert thread != threading.get_ident()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    yield store
    await store.close()


async def _count_agents(store: SqlStore) -> int:
    async with store._read() as conn:
        return len((await conn.execute(select(t.agents.c.id))).all())


def _insert_agent(conn: Connection) -> int:
    conn.execute(t.agents.insert().values(id="a1", name="A", email="a@x", password_hash="",
                                          role="agent", created_at=1))
    # The same transaction: the row is there for the next statement.
    return len(conn.execute(select(t.agents.c.id)).all())


async def test_run_sync_is_in_the_stores_transaction(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    try:
        with pytest.raises(RuntimeError, match="undo"):
            async with store._write() as conn:
                assert await store._run_sync(conn, _insert_agent) == 1
                raise RuntimeError("undo")
        assert await _count_agents(store) == 0  # rolled back with the store's transaction
        async with store._write() as conn:
            assert await store._run_sync(conn, _insert_agent) == 1
            # The async connection sees what the thread wrote: one transaction.
            assert (await conn.execute(text("SELECT count(*) FROM agents"))).scalar() == 1
            # The store keeps transaction control (no implicit BEGIN by the driver).
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None and raw.isolation_level is None and raw.in_transaction
        assert await _count_agents(store) == 1
    finally:
        await store.close()


async def test_errors_come_back_as_sqlalchemys(sqlite_store: SqlStore) -> None:
    from sqlalchemy.exc import IntegrityError

    store = sqlite_store
    try:
        async with store._write() as conn:
            await store._run_sync(conn, _insert_agent)
        with pytest.raises(IntegrityError):
            async with store._write() as conn:
                await store._run_sync(conn, _insert_agent)
        # The writer is usable after the failed transaction.
        async with store._write() as conn:
            await conn.execute(t.agents.update().values(name="B"))
        assert await _count_agents(store) == 1
    finally:
        await store.close()
