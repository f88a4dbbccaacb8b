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


async def test_upgrading_keeps_the_conversations_of_the_first_schema(store_url: str) -> None:
    """0001 -> 0002 on a database with data: old messages have no meta, old conversations no
    team, reason or bot state, and everything else is as it was."""
    from alembic import command
    from sqlalchemy import text

    from chatkit.storage.migrate import alembic_config

    old = SqlStore(store_url)
    old._connect_engines()
    async with old._write() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0001"))
        await conn.execute(text("INSERT INTO contacts (id, created_at) VALUES ('c1', 1)"))
        await conn.execute(text(
            "INSERT INTO conversations (id, contact_id, status, last_seq, created_at) "
            "VALUES ('v1', 'c1', 'queued', 1, 2)"))
        await conn.execute(text(
            "INSERT INTO messages (conversation_id, seq, client_id, sender, author_id, body, "
            "created_at) VALUES ('v1', 1, 'x', 'visitor', 'c1', 'from before', 3)"))
    await old.close()

    store = SqlStore(store_url)
    await store.open()
    try:
        found = await store.get_bot_state("v1")
        assert found is not None
        conversation, state = found
        assert (conversation.status, conversation.team, conversation.handoff_reason,
                state) == ("queued", None, None, None)
        messages, _ = await store.get_messages("v1")
        assert [(m.body, m.meta) for m in messages] == [("from before", None)]
    finally:
        await store.close()
