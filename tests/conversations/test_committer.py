"""Group commit: concurrent messages share a transaction, and one that cannot be stored
does not take the others down with it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatkit.conversations.committer import GroupCommitter
from chatkit.errors import Unavailable
from chatkit.models import AppendResult, NewMessage, SenderKind
from chatkit.storage import SqlStore


class CountingStore(SqlStore):
    """The real SQLite store, counting transactions; a body of "poison" makes one fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    async def append_messages(self, batch: Sequence[NewMessage]) -> list[AppendResult | None]:
        self.batches.append(len(batch))
        if any(item.body == "poison" for item in batch):
            raise RuntimeError("the database refused this batch")
        return await super().append_messages(batch)


@pytest.fixture
async def store(tmp_path: Path) -> CountingStore:
    store = CountingStore(f"sqlite:///{tmp_path}/c.db")
    await store.open()
    return store


async def test_concurrent_messages_share_a_commit(store: CountingStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    committer = GroupCommitter(store)
    results = await asyncio.gather(*(committer.append(NewMessage(
        conversation.id, SenderKind.VISITOR, f"m{n}", f"c{n}", contact.id)) for n in range(50)))
    assert sorted(r.message.seq for r in results if r) == list(range(1, 51))
    assert store.batches == [50]  # all of them arrived before the first commit started
    await committer.close()
    await store.close()


async def test_one_bad_message_fails_alone(store: CountingStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    committer = GroupCommitter(store)
    bodies = ["a", "b", "poison", "c"]
    results = await asyncio.gather(*(committer.append(NewMessage(
        conversation.id, SenderKind.VISITOR, body, body, contact.id)) for body in bodies),
        return_exceptions=True)
    assert isinstance(results[2], Unavailable)
    stored = [r.message.body for r in results if isinstance(r, AppendResult)]
    assert stored == ["a", "b", "c"]
    await committer.close()
    with pytest.raises(Unavailable):
        await committer.append(NewMessage(conversation.id, SenderKind.BOT, "after close"))
    await store.close()
