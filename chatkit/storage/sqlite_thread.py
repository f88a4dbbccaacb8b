"""Run a synchronous SQLAlchemy function in aiosqlite's connection thread: a whole write
transaction's statements for one hand-off between the event loop and that thread.

Through SQLAlchemy's aiosqlite adapter every statement is three or four hand-offs (a cursor,
execute and fetch, close), each a wake-up of the driver's thread and of the event loop; an
assignment of eight statements made 27 of them, most of its time on a busy machine
(bench/README.md, `routing.py`). `InThread.run` hands the function over once, and there it
runs on a synchronous SQLAlchemy connection over the very sqlite3 connection of the store's
writer, inside the transaction the store already began on it (BEGIN IMMEDIATE): the same
statements, types and errors as on the async connection, and the store's own commit or
rollback ends it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import StaticPool

T = TypeVar("T")


async def call_in_connection_thread(driver: Any, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Call `fn(the sqlite3 connection)` in the thread of `driver`, an aiosqlite Connection,
    and return what it returns.

    PRIVATE API of aiosqlite (0.17 to 0.22 at least): it has no public way to run a function
    in its thread, which owns the sqlite3 connection (sqlite3 refuses it to other threads).
    `Connection._execute(fn)` is how its own methods queue work there, and
    `Connection._conn` is that sqlite3 connection. Kept to this one function;
    tests/storage/test_sqlite_thread.py fails if aiosqlite changes either."""
    raw: sqlite3.Connection = driver._conn
    result: T = await driver._execute(fn, raw)
    return result


class _Borrowed:
    """The store's sqlite3 connection as the synchronous engine's DBAPI connection, lent for
    one call: commit, rollback and close do nothing (the store's async connection owns the
    transaction and the connection); everything else goes to the connection."""

    def __init__(self) -> None:
        self.target: sqlite3.Connection | None = None

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if self.target is None:
            raise RuntimeError("no sqlite3 connection lent (outside InThread.run)")
        return getattr(self.target, name)


class InThread:
    """One per SQLite store: runs functions on its writer's connection, in its thread."""

    def __init__(self, **engine_options: Any) -> None:
        self._borrowed = _Borrowed()
        # One DBAPI connection for ever (the borrowed one, retargeted per call), never reset:
        # the transaction is the store's.
        self._engine = create_engine("sqlite://", creator=lambda: self._borrowed,
                                     poolclass=StaticPool, pool_reset_on_return=None,
                                     **engine_options)

    async def run(self, conn: AsyncConnection, fn: Callable[[Connection], T],
                  info: dict[str, Any] | None = None) -> T:
        """`fn(a synchronous connection)` in `conn`'s driver thread, within `conn`'s
        transaction (begun: the store's `_write`). `info`: entries for that connection's
        `info` during the call (what the store keeps on its own: the roll-ups being
        gathered, the business hours)."""
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        if driver is None:
            raise RuntimeError("the connection is closed")

        def work(sqlite_connection: sqlite3.Connection) -> T:
            self._borrowed.target = sqlite_connection
            try:
                with self._engine.connect() as sync:
                    sync.info.clear()
                    sync.info.update(info or {})
                    try:
                        return fn(sync)
                    finally:
                        sync.info.clear()
            finally:
                self._borrowed.target = None

        return await call_in_connection_thread(driver, work)

    def dispose(self) -> None:
        self._engine.dispose()
