"""The storage contract, continued: attachments, on every engine. Uploaded pending, owned by the
uploader; bound to one message, atomically with storing it, and never to a second."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from chatkit.errors import Conflict, NotFound
from chatkit.models import (
    AgentRole,
    Attachment,
    ConversationStatus,
    NewMessage,
    SenderKind,
    now_ms,
)
from chatkit.storage import SqlStore

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64  # every byte value, NUL included


async def upload(store: SqlStore, uploader_id: str, data: bytes = PNG, *,
                 kind: SenderKind = SenderKind.VISITOR, name: str = "photo.png") -> Attachment:
    return await store.create_attachment(
        uploader_kind=kind, uploader_id=uploader_id, name=name, content_type="image/png",
        sha256=hashlib.sha256(data).hexdigest(), data=data)


async def conversation_of(store: SqlStore) -> tuple[str, str]:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    return contact.id, conversation.id


def visitor_says(conversation_id: str, contact_id: str, client_id: str, body: str = "",
                 meta: dict[str, object] | None = None) -> NewMessage:
    return NewMessage(conversation_id, SenderKind.VISITOR, body, client_id, contact_id,
                      meta=meta)


async def test_an_upload_is_kept_byte_for_byte_and_pending(store: SqlStore) -> None:
    contact_id, _ = await conversation_of(store)
    attachment = await upload(store, contact_id, name="Fotografía ✓.png")
    assert attachment.size == len(PNG) and attachment.is_pending
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert attachment.created_at <= now_ms()
    assert await store.get_attachments([attachment.id, "missing"]) == [attachment]
    assert await store.get_attachments([]) == []
    assert await store.attachment_data(attachment.id) == PNG
    assert await store.attachment_data("missing") is None
    assert attachment.to_meta() == {"id": attachment.id, "name": "Fotografía ✓.png",
                                    "content_type": "image/png", "size": len(PNG)}


async def test_a_message_takes_its_files_with_it(store: SqlStore) -> None:
    contact_id, conversation_id = await conversation_of(store)
    first, second = await upload(store, contact_id), await upload(store, contact_id, b"%PDF-")
    assert await store.count_pending_attachments(SenderKind.VISITOR, contact_id) == 2
    meta = {"attachments": [first.to_meta(), second.to_meta()]}
    result = await store.append_with_attachments(
        visitor_says(conversation_id, contact_id, "c-1", "see these", meta), [first.id, second.id])
    assert result is not None and not result.duplicate
    assert (result.message.seq, result.message.body, result.message.meta) == (1, "see these", meta)
    stored = {a.id: a for a in await store.get_attachments([first.id, second.id])}
    assert {(a.conversation_id, a.message_seq) for a in stored.values()} == {
        (conversation_id, 1)}
    assert await store.count_pending_attachments(SenderKind.VISITOR, contact_id) == 0
    messages, _ = await store.get_messages(conversation_id)
    assert messages == [result.message]

    # A resend with the same client id gets the original; nothing is checked or stored again.
    again = await store.append_with_attachments(
        visitor_says(conversation_id, contact_id, "c-1", "see these", meta), [first.id, second.id])
    assert again is not None and again.duplicate and again.message == result.message
    # Another message may not take a file that is in a message already.
    with pytest.raises(Conflict):
        await store.append_with_attachments(
            visitor_says(conversation_id, contact_id, "c-2", "again"), [first.id])
    conversation = await store.get_conversation(conversation_id)
    assert conversation is not None and conversation.last_seq == 1


async def test_only_the_uploaders_own_files_and_nothing_is_stored_otherwise(
        store: SqlStore) -> None:
    contact_id, conversation_id = await conversation_of(store)
    other_id, _ = await conversation_of(store)
    mine, theirs = await upload(store, contact_id), await upload(store, other_id)
    agent = await store.create_agent(email="a@example.com", name="A", role=AgentRole.AGENT,
                                     password_hash="h")
    # The same id as uploader, but an agent's upload is not a visitor's.
    posing = await upload(store, contact_id, kind=SenderKind.AGENT)
    for ids in ([theirs.id], [mine.id, theirs.id], [mine.id, "f" * 32], [posing.id]):
        with pytest.raises(NotFound):
            await store.append_with_attachments(
                visitor_says(conversation_id, contact_id, "c-1"), ids)
    # All or nothing: the visitor's own file was not taken either, no message was stored.
    assert (await store.get_attachments([mine.id]))[0].is_pending
    assert await store.get_messages(conversation_id) == ([], False)

    # An agent's message carries the agent's own files.
    agents_file = await upload(store, agent.id, kind=SenderKind.AGENT)
    result = await store.append_with_attachments(
        NewMessage(conversation_id, SenderKind.AGENT, "", "a-1", agent.id, "A"),
        [agents_file.id])
    assert result is not None and result.message.seq == 1 and result.message.body == ""
    # A resolved conversation takes nothing, and the file stays pending.
    await store.transition(conversation_id, ConversationStatus.RESOLVED,
                           allowed_from={ConversationStatus.BOT}, agent_id=None,
                           actor_kind="system", actor_id=None)
    assert await store.append_with_attachments(
        visitor_says(conversation_id, contact_id, "c-9"), [mine.id]) is None
    assert (await store.get_attachments([mine.id]))[0].is_pending


async def test_two_messages_racing_for_one_file_one_wins(store_url: str) -> None:
    stores = [SqlStore(store_url) for _ in range(4)]
    for store in stores:
        await store.open()
    try:
        contact_id, conversation_id = await conversation_of(stores[0])
        attachment = await upload(stores[0], contact_id)
        outcomes = await asyncio.gather(*(
            store.append_with_attachments(
                visitor_says(conversation_id, contact_id, f"c-{n}"), [attachment.id])
            for n, store in enumerate(stores)), return_exceptions=True)
        assert sum(not isinstance(outcome, BaseException) for outcome in outcomes) == 1
        assert all(isinstance(outcome, Conflict) for outcome in outcomes
                   if isinstance(outcome, BaseException))
        messages, _ = await stores[0].get_messages(conversation_id)
        assert len(messages) == 1
        (bound,) = await stores[0].get_attachments([attachment.id])
        assert (bound.conversation_id, bound.message_seq) == (conversation_id, 1)
    finally:
        for store in stores:
            await store.close()


async def test_abandoned_uploads_are_deleted_and_sent_ones_kept(store: SqlStore) -> None:
    contact_id, conversation_id = await conversation_of(store)
    sent, abandoned = await upload(store, contact_id), await upload(store, contact_id)
    await store.append_with_attachments(visitor_says(conversation_id, contact_id, "c-1"),
                                        [sent.id])
    assert await store.delete_pending_attachments(created_before=abandoned.created_at) == 0
    assert await store.delete_pending_attachments(created_before=now_ms() + 1) == 1
    assert [a.id for a in await store.get_attachments([sent.id, abandoned.id])] == [sent.id]
    assert await store.attachment_data(sent.id) == PNG
