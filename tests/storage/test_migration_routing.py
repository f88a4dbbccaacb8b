"""0004 (routing) on a database with data: waiting chats keep their place in a queue."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from chatkit.models import Presence
from chatkit.storage import SqlStore
from chatkit.storage.migrate import alembic_config


async def test_upgrading_puts_waiting_conversations_in_queues(store_url: str) -> None:
    old = SqlStore(store_url)
    old._connect_engines()
    async with old._write() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0003"))
        await conn.execute(text("INSERT INTO contacts (id, created_at) VALUES ('c1', 1), "
                                "('c2', 1)"))
        await conn.execute(text(
            "INSERT INTO agents (id, email, name, role, password_hash, created_at) "
            "VALUES ('a1', 'a@example.com', 'A', 'agent', 'h', 1)"))
        await conn.execute(text(
            "INSERT INTO conversations (id, contact_id, status, last_seq, created_at, "
            "queued_at, team) VALUES ('v1', 'c1', 'queued', 0, 2, 20, 'billing'), "
            "('v2', 'c2', 'queued', 0, 1, 10, NULL)"))
    await old.close()

    store = SqlStore(store_url)
    await store.open()
    try:
        assert [c.id for c in await store.queue("billing")] == ["v1"]
        assert [(c.id, c.priority) for c in await store.queue("support")] == [("v2", 0)]
        presence = await store.get_presence(["a1"])
        assert presence["a1"].presence is Presence.OFFLINE
        messages, _ = await store.get_messages("v1")
        assert messages == []
    finally:
        await store.close()
