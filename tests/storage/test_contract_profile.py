"""The storage contract for contact edits and the contact history (storage/profile.py)."""

from __future__ import annotations

import asyncio

import pytest

from chatkit.errors import InvalidPayload, NotFound
from chatkit.models import AgentRole, ConversationStatus
from chatkit.storage import SqlStore
from chatkit.storage.profile import ConversationOwner

S = ConversationStatus


def entries(changes: list) -> list[tuple[str, object, object, str, str | None, str]]:  # type: ignore[type-arg]
    return [(c.field, c.old, c.new, c.actor_kind, c.actor_id, c.via) for c in changes]


async def test_an_edit_changes_the_contact_and_logs_each_field(store: SqlStore) -> None:
    contact = await store.create_contact(name="Ada", email="ada@example.com")
    updated, changes = await store.update_contact(
        contact.id, details={"email": "ada@example.org", "phone": "+34 600 123 456",
                             "name": "Ada"},
        preferences={"language": "es", "transcript_by_email": True}, actor_kind="visitor",
        actor_id=contact.id, via="profile", now=1000)
    assert (updated.name, updated.email, updated.phone) == ("Ada", "ada@example.org",
                                                            "+34 600 123 456")
    assert updated.preferences == {"language": "es", "transcript_by_email": True}
    assert await store.get_contact(contact.id) == updated
    # The name did not change: no entry for it.
    assert entries(changes) == [
        ("email", "ada@example.com", "ada@example.org", "visitor", contact.id, "profile"),
        ("phone", None, "+34 600 123 456", "visitor", contact.id, "profile"),
        ("preferences.language", None, "es", "visitor", contact.id, "profile"),
        ("preferences.transcript_by_email", None, True, "visitor", contact.id, "profile")]
    history, more = await store.contact_history(contact.id)
    assert history == changes[::-1] and not more
    assert all(c.created_at == 1000 for c in history)


async def test_none_removes_a_detail_or_a_preference(store: SqlStore) -> None:
    contact = await store.create_contact(name="Ada")
    await store.update_contact(contact.id, details={"phone": "555 0100"},
                               preferences={"replies_by_email": True}, actor_kind="visitor",
                               actor_id=contact.id, via="profile", now=1)
    updated, changes = await store.update_contact(
        contact.id, details={"phone": None}, preferences={"replies_by_email": None},
        actor_kind="agent", actor_id="agent-1", via="agent", now=2)
    assert updated.phone is None and updated.preferences == {}
    assert entries(changes) == [
        ("phone", "555 0100", None, "agent", "agent-1", "agent"),
        ("preferences.replies_by_email", True, None, "agent", "agent-1", "agent")]


async def test_an_edit_that_changes_nothing_logs_nothing(store: SqlStore) -> None:
    contact = await store.create_contact(name="Ada")
    same, changes = await store.update_contact(contact.id, details={"name": "Ada"},
                                               preferences={}, actor_kind="visitor",
                                               actor_id=contact.id, via="profile", now=1)
    assert changes == [] and same == contact
    assert await store.contact_history(contact.id) == ([], False)


async def test_a_missing_contact_or_detail_is_refused(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        await store.update_contact("missing", details={"name": "X"}, preferences={},
                                   actor_kind="visitor", actor_id=None, via="profile", now=1)
    contact = await store.create_contact()
    with pytest.raises(ValueError):
        await store.update_contact(contact.id, details={"verified": "yes"}, preferences={},
                                   actor_kind="visitor", actor_id=None, via="profile", now=1)
    assert await store.get_contact(contact.id) == contact


async def test_the_history_pages_newest_first(store: SqlStore) -> None:
    contact = await store.create_contact()
    for n in range(5):
        await store.update_contact(contact.id, details={"name": f"Name {n}"}, preferences={},
                                   actor_kind="visitor", actor_id=contact.id, via="profile",
                                   now=n)
    first, more = await store.contact_history(contact.id, limit=2)
    assert [c.new for c in first] == ["Name 4", "Name 3"] and more
    rest, more = await store.contact_history(contact.id, before_id=first[-1].id, limit=10)
    assert [c.new for c in rest] == ["Name 2", "Name 1", "Name 0"] and not more
    assert rest[0].old == "Name 1" and rest[-1].old is None
    # Another contact's history is its own.
    assert await store.contact_history((await store.create_contact()).id) == ([], False)


async def test_concurrent_edits_both_land_and_are_logged(store: SqlStore) -> None:
    contact = await store.create_contact()
    await asyncio.gather(
        store.update_contact(contact.id, details={}, preferences={"language": "es"},
                             actor_kind="visitor", actor_id=contact.id, via="profile", now=1),
        store.update_contact(contact.id, details={}, preferences={"replies_by_email": True},
                             actor_kind="agent", actor_id="a-1", via="agent", now=1))
    updated = await store.get_contact(contact.id)
    assert updated is not None
    assert updated.preferences == {"language": "es", "replies_by_email": True}
    history, _ = await store.contact_history(contact.id)
    assert sorted(c.field for c in history) == ["preferences.language",
                                                "preferences.replies_by_email"]


async def test_identify_and_attributes_are_logged_as_the_host(store: SqlStore) -> None:
    # Each call returns the history entries it logged (ProfileService.announce tells agents).
    device = await store.create_contact()
    _, logged = await store.identify_contact(device.id, external_id="u-1", name="Eve",
                                             email=None)
    history, _ = await store.contact_history(device.id)
    assert sorted(entries(history), key=repr) == [
        ("external_id", None, "u-1", "host", "u-1", "identify"),
        ("name", None, "Eve", "host", "u-1", "identify")]
    assert sorted(logged, key=repr) == sorted(history, key=repr)

    other = await store.create_contact()
    verified, logged = await store.verify_contact(other.id, external_id="u-2", name="Ada",
                                                  email="ada@example.com")
    history, _ = await store.contact_history(verified.id)
    assert sorted(entries(history), key=repr) == [
        ("email", None, "ada@example.com", "host", "u-2", "identify"),
        ("external_id", None, "u-2", "host", "u-2", "identify"),
        ("name", None, "Ada", "host", "u-2", "identify"),
        ("verified", False, True, "host", "u-2", "identify")]
    assert sorted(logged, key=repr) == sorted(history, key=repr)
    # The same identity again: nothing changed, nothing logged; a new email is logged.
    _, logged = await store.verify_contact(other.id, external_id="u-2", name="Ada",
                                           email="ada@example.com")
    assert logged == [] and len((await store.contact_history(verified.id))[0]) == 4
    _, logged = await store.verify_contact((await store.create_contact()).id,
                                           external_id="u-2", name=None,
                                           email="ada@example.org")
    newest = (await store.contact_history(verified.id))[0][0]
    assert entries([newest]) == [("email", "ada@example.com", "ada@example.org", "host", "u-2",
                                  "identify")]
    assert logged == [newest]

    _, first = await store.set_contact_attributes(verified.id, {"plan": "pro", "seats": 3},
                                                  max_keys=50)
    _, second = await store.set_contact_attributes(verified.id, {"plan": "team", "seats": None},
                                                   max_keys=50)
    history, _ = await store.contact_history(verified.id, limit=4)
    # Newest first; within one change, in field order.
    assert entries(history) == [
        ("attributes.seats", 3, None, "host", "u-2", "attributes"),
        ("attributes.plan", "pro", "team", "host", "u-2", "attributes"),
        ("attributes.seats", None, 3, "host", "u-2", "attributes"),
        ("attributes.plan", None, "pro", "host", "u-2", "attributes")]
    assert [*reversed(first + second)] == history
    _, unchanged = await store.set_contact_attributes(verified.id, {"plan": "team"},
                                                      max_keys=50)
    assert unchanged == []


async def test_a_refused_attribute_merge_logs_nothing(store: SqlStore) -> None:
    contact = await store.create_contact()
    with pytest.raises(InvalidPayload):
        await store.set_contact_attributes(contact.id, {f"k{n}": n for n in range(3)},
                                           max_keys=2)
    assert await store.contact_history(contact.id) == ([], False)


async def test_a_verified_contact_created_by_identify_logs_its_fields(store: SqlStore) -> None:
    # The device is verified as someone else: the new identity's contact is a new row.
    device, _ = await store.verify_contact((await store.create_contact()).id,
                                           external_id="u-1", name=None, email=None)
    created, _ = await store.verify_contact(device.id, external_id="u-2", name="Bo", email=None)
    assert created.id != device.id
    history, _ = await store.contact_history(created.id)
    assert sorted(entries(history), key=repr) == [
        ("external_id", None, "u-2", "host", "u-2", "identify"),
        ("name", None, "Bo", "host", "u-2", "identify"),
        ("verified", False, True, "host", "u-2", "identify")]


async def test_the_offline_forms_email_is_logged_as_the_visitor(store: SqlStore) -> None:
    contact = await store.create_contact()
    await store.set_contact_email(contact.id, "me@example.com")
    history, _ = await store.contact_history(contact.id)
    assert entries(history) == [("email", None, "me@example.com", "visitor", contact.id,
                                 "offline_form")]
    assert await store.set_contact_email("missing", "me@example.com") is None


async def test_conversation_owners(store: SqlStore) -> None:
    contact = await store.create_contact()
    assert await store.conversation_owners(contact.id) == []
    agent = await store.create_agent(email="a@example.com", name="A", role=AgentRole.AGENT,
                                     password_hash="x")
    first = await store.create_conversation(contact.id)
    await store.transition(first.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="system", actor_id=None, queue_team="billing")
    await store.transition(first.id, S.ASSIGNED, allowed_from={S.QUEUED}, agent_id=agent.id,
                           actor_kind="agent", actor_id=agent.id)
    await store.transition(first.id, S.RESOLVED, allowed_from={S.ASSIGNED}, agent_id=agent.id,
                           actor_kind="agent", actor_id=agent.id)
    await store.create_conversation(contact.id)  # with the bot: no team, no agent yet
    assert sorted(await store.conversation_owners(contact.id),
                  key=lambda owner: owner.queue_team or "") == [
        ConversationOwner(None, None), ConversationOwner("billing", agent.id)]
    assert await store.conversation_owners((await store.create_contact()).id) == []
