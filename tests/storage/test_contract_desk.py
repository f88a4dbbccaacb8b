"""The storage contract for the desk: conversation tags and canned responses. Notes are
internal messages (test_contract.py covers those)."""

from __future__ import annotations

import asyncio

import pytest

from chatkit.errors import Conflict, InvalidPayload
from chatkit.models import AgentRole, ConversationStatus, NewMessage, SenderKind
from chatkit.storage import SqlStore

S = ConversationStatus


async def test_tags_change_atomically_and_are_logged(store: SqlStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    other = await store.create_conversation((await store.create_contact()).id)
    changed = await store.change_tags(conversation.id, add=["refund", "vip"], remove=[],
                                      max_tags=3, actor_id="a1", now=10)
    assert changed == (["refund", "vip"], ["refund", "vip"], [])
    # Adding what it has or removing what it lacks changes (and logs) nothing.
    assert await store.change_tags(conversation.id, add=["vip"], remove=["nope"], max_tags=3,
                                   actor_id="a1", now=11) == (["refund", "vip"], [], [])
    with pytest.raises(InvalidPayload):
        await store.change_tags(conversation.id, add=["a", "b"], remove=[], max_tags=3,
                                actor_id="a1", now=12)
    assert await store.get_tags([conversation.id]) == {conversation.id: ["refund", "vip"]}
    assert await store.change_tags(conversation.id, add=["late"], remove=["vip"], max_tags=3,
                                   actor_id="a1", now=13) == (["late", "refund"], ["late"],
                                                              ["vip"])
    await store.change_tags(other.id, add=["late"], remove=[], max_tags=3, actor_id=None, now=14)
    assert await store.get_tags([conversation.id, other.id, "none"]) == {
        conversation.id: ["late", "refund"], other.id: ["late"]}
    assert await store.get_tags([]) == {}
    assert await store.change_tags("nope", add=["x"], remove=[], max_tags=3, actor_id=None,
                                   now=15) is None
    events = [(e.kind, e.data["tag"], e.actor_id, e.created_at)
              for e in await store.list_events(conversation_id=conversation.id)
              if "tagged" in e.kind]
    assert events == [("conversation.tagged", "refund", "a1", 10),
                      ("conversation.tagged", "vip", "a1", 10),
                      ("conversation.untagged", "vip", "a1", 13),
                      ("conversation.tagged", "late", "a1", 13)]
    # Listing by tag.
    found = await store.list_conversations(statuses={S.BOT}, limit=10, tag="late")
    assert {c.id for c in found} == {conversation.id, other.id}
    found = await store.list_conversations(statuses={S.BOT}, limit=10, tag="refund")
    assert [c.id for c in found] == [conversation.id]


async def test_racing_tags_keep_the_bound(store: SqlStore) -> None:
    conversation = await store.create_conversation((await store.create_contact()).id)
    results = await asyncio.gather(*(
        store.change_tags(conversation.id, add=[f"t{i}"], remove=[], max_tags=3, actor_id=None,
                          now=i) for i in range(6)), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, InvalidPayload)) == 3
    assert len((await store.get_tags([conversation.id]))[conversation.id]) == 3


async def test_canned_responses_are_unique_per_owner(store: SqlStore) -> None:
    ada = await store.create_agent(email="ada@example.com", name="Ada", role=AgentRole.AGENT,
                                   password_hash="h")
    bo = await store.create_agent(email="bo@example.com", name="Bo", role=AgentRole.AGENT,
                                  password_hash="h")
    shared = await store.create_canned(owner_id=None, shortcut="hello", title="Hi",
                                       body="Hello {{contact.name}}", now=1)
    with pytest.raises(Conflict):
        await store.create_canned(owner_id=None, shortcut="hello", title="x", body="x", now=2)
    mine = await store.create_canned(owner_id=ada.id, shortcut="hello", title="Mine",
                                     body="Hey", now=3)
    with pytest.raises(Conflict):
        await store.create_canned(owner_id=ada.id, shortcut="hello", title="x", body="x", now=4)
    bos = await store.create_canned(owner_id=bo.id, shortcut="hello", title="Bo's", body="Yo",
                                    now=5)
    other = await store.create_canned(owner_id=ada.id, shortcut="bye", title="Bye", body="Bye",
                                      now=6)
    assert await store.get_canned(shared.id) == shared
    assert [c.id for c in await store.list_canned(ada.id)] == [other.id, shared.id, mine.id]
    assert [c.id for c in await store.list_canned(None)] == [shared.id]
    assert [c.id for c in await store.list_canned(bo.id)] == [shared.id, bos.id]
    with pytest.raises(Conflict):
        await store.update_canned(other.id, shortcut="hello", now=7)
    assert (await store.get_canned(other.id)) == other  # unchanged
    updated = await store.update_canned(other.id, title="Goodbye", body="See you", now=8)
    assert updated is not None
    assert (updated.shortcut, updated.title, updated.body, updated.created_at,
            updated.updated_at) == ("bye", "Goodbye", "See you", 6, 8)
    assert await store.update_canned("nope", title="x", now=9) is None
    assert await store.delete_canned(mine.id) is True
    assert await store.delete_canned(mine.id) is False
    assert await store.get_canned(mine.id) is None


async def test_a_note_is_an_internal_message_kept_from_the_visitors_view(
        store: SqlStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    stored = await store.append_messages([
        NewMessage(conversation.id, SenderKind.VISITOR, "hi", "c-1", contact.id),
        NewMessage(conversation.id, SenderKind.AGENT, "a note", "n-1", "a1", "Ada",
                   meta={"kind": "note"}, internal=True),
        NewMessage(conversation.id, SenderKind.AGENT, "hello", "m-1", "a1", "Ada")])
    assert [r.message.seq for r in stored if r is not None] == [1, 2, 3]
    seen, more = await store.get_messages(conversation.id, after_seq=1, limit=1,
                                          include_internal=False)
    assert [m.seq for m in seen] == [3] and more is False
    everything, _ = await store.get_messages(conversation.id)
    assert [(m.seq, m.internal, m.meta) for m in everything] == [
        (1, False, None), (2, True, {"kind": "note"}), (3, False, None)]
    again = await store.append_messages([NewMessage(conversation.id, SenderKind.AGENT,
                                                    "a note", "n-1", "a1", "Ada",
                                                    meta={"kind": "note"}, internal=True)])
    assert again[0] is not None and again[0].duplicate and again[0].message.seq == 2
