"""Property tests of the store's delivery invariants over random batches with random resends:
per conversation the seqs are 1..n without gaps, each (author, client id) is stored once, and
a resend is answered with the message stored the first time."""

from __future__ import annotations

import asyncio
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit.models import AppendResult, Message, NewMessage, SenderKind
from chatkit.storage import SqlStore
from tests.storage.conftest import _drop_postgres_database, _postgres_database

# (conversation index, client id index, body) per message; a batch is a list of them.
Item = tuple[int, int, str]
# Bodies the schema lets through: no NUL, no lone surrogates.
bodies = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
                 min_size=1, max_size=8)
batches = st.lists(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 15), bodies), min_size=1, max_size=12),
    min_size=1, max_size=6)


async def check(url: str, script: list[list[Item]]) -> None:
    store = SqlStore(url)
    await store.open()
    try:
        contacts = [await store.create_contact() for _ in range(3)]
        conversations = [await store.create_conversation(c.id) for c in contacts]
        first: dict[tuple[str, str], Message] = {}
        for batch in script:
            items = [NewMessage(conversations[c].id, SenderKind.VISITOR, body, f"id-{n}",
                                contacts[c].id) for c, n, body in batch]
            results: list[AppendResult | None] = await store.append_messages(items)
            for item, result in zip(items, results, strict=True):
                assert result is not None
                key = (item.author_id or "", item.client_id or "")
                if key in first:
                    assert result.message == first[key] and result.duplicate
                else:
                    assert not result.duplicate and result.message.body == item.body
                    first[key] = result.message
        for conversation in conversations:
            messages, more = await store.get_messages(conversation.id, limit=1000)
            assert not more
            assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
            stored_keys = [(m.author_id, m.client_id) for m in messages]
            assert len(stored_keys) == len(set(stored_keys))
            assert {m.id for m in messages} == {
                m.id for m in first.values() if m.conversation_id == conversation.id}
    finally:
        await store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=batches)
def test_sqlite_invariants(script: list[list[Item]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(check(f"sqlite:///{directory}/p.db", script))


@pytest.mark.postgres
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=batches)
def test_postgres_invariants(script: list[list[Item]]) -> None:
    if not os.environ.get("CHATKIT_TEST_POSTGRES"):
        pytest.skip("PostgreSQL tests need CHATKIT_TEST_POSTGRES")

    async def run() -> None:
        url, name = await _postgres_database()
        try:
            await check(url, script)
        finally:
            await _drop_postgres_database(name)

    asyncio.run(run())
