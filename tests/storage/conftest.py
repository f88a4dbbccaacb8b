"""The storage contract runs against every implementation: SQLite always, PostgreSQL when
CHATKIT_TEST_POSTGRES names a server (each test gets a fresh database there)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from chatkit.storage import SqlStore


async def _postgres_database() -> tuple[str, str]:
    import asyncpg

    base = make_url(os.environ["CHATKIT_TEST_POSTGRES"])
    name = f"chatkit_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base.set(database=name).render_as_string(False), name


async def _drop_postgres_database(name: str) -> None:
    import asyncpg

    base = make_url(os.environ["CHATKIT_TEST_POSTGRES"])
    admin = await asyncpg.connect(base.set(drivername="postgresql").render_as_string(False))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    if not os.environ.get("CHATKIT_TEST_POSTGRES"):
        pytest.skip("PostgreSQL contract tests need CHATKIT_TEST_POSTGRES "
                    "(e.g. postgresql://postgres@127.0.0.1:5432/test)")
    url, name = await _postgres_database()
    yield url
    await _drop_postgres_database(name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore(store_url)
    await store.open()
    yield store
    await store.close()
