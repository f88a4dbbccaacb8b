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


async def test_upgrading_from_0015_fills_the_facts_and_the_rollups(
        store_url: str, monkeypatch: Any) -> None:
    """A database at 0015 whose older conversations have no facts (0015 left them to
    `chatkit reports rebuild`): 0016 folds them, in the stored business hours, and fills the
    roll-ups; the reports then equal a rebuild's."""
    from alembic import command
    from sqlalchemy import delete

    from chatkit.cli import _stored_open_hours
    from chatkit.storage import schema as t
    from chatkit.storage.migrate import alembic_config
    from chatkit.storage.reports import Group, Selection
    from tests.reports.dataset import START, generate

    hours = {"time_zone": "UTC", "weekly": {day: [["09:00", "17:00"]] for day in (
        "mon", "tue", "wed", "thu", "fri")}}
    document = {"teams": [{"id": "billing", "name": "Billing", "hours": hours},
                          {"id": "sales", "name": "Sales"}]}
    old = SqlStore(store_url)
    await old.open()
    assert await old.save_routing_config(document, expected_version=0, source="admin",
                                         file_digest=None, changed_by=None, now=1) is not None
    data = await generate(old, monkeypatch, count=30, open_hours=await _stored_open_hours(old))
    older = sorted(data.conversations, key=lambda c: c.created)[:18]
    async with old._write() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0015"))
        await conn.execute(delete(t.conversation_facts).where(
            t.conversation_facts.c.conversation_id.in_([c.id for c in older])))
    await old.close()

    store = SqlStore(store_url)
    await store.open()
    try:
        whole = Selection(START, START + 400 * 24 * 3600 * 1000)

        async def reports() -> list[Any]:
            return [await store.report_metrics(whole, group=group, fcr_window_ms=7 * 86_400_000)
                    for group in Group]

        facts, kept, upgraded = await store.all_facts(), await store.all_rollups(), await reports()
        assert len(facts) == 30
        assert any(f.wait_open_ms != f.wait_ms for f in facts)  # the stored hours counted
        assert await store.rebuild_facts(await _stored_open_hours(store)) == 30
        assert await store.all_facts() == facts
        assert await store.all_rollups() == kept
        assert await reports() == upgraded
    finally:
        await store.close()
