"""Alembic, run from code: `SqlStore.open()` and `chatkit migrate` both call `upgrade`."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary())


def migration_lock() -> asyncio.Lock:
    """The running loop's lock for migrations (an asyncio.Lock belongs to one loop)."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest revision, inside the caller's transaction.

    It runs once at start-up, before the server accepts a connection, so Alembic's reading of
    its script files on the loop's thread blocks no client."""
    command.upgrade(alembic_config(connection), "head")
