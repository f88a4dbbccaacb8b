"""The migrations build exactly the schema the code uses (storage/schema.py)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chatkit.storage import SqlStore
from chatkit.storage.schema import metadata


async def test_migrated_database_matches_the_tables_in_code(store: SqlStore) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection)
        return [d for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name == "alembic_version")]

    async with store._write() as conn:
        assert await conn.run_sync(diff) == []


async def test_opening_twice_is_harmless(store_url: str) -> None:
    for _ in range(2):
        store = SqlStore(store_url)
        await store.open()
        await store.close()
