"""The storage contract for identities: unverified claims, verified contacts, attributes."""

from __future__ import annotations

import asyncio

import pytest

from chatkit.errors import Forbidden, InvalidPayload, NotFound
from chatkit.models import OPEN_STATUSES, ConversationStatus, NewMessage, SenderKind
from chatkit.storage import SqlStore

S = ConversationStatus


async def test_an_unverified_identify_marks_the_contact_unverified(store: SqlStore) -> None:
    contact = await store.create_contact()
    identified, _ = await store.identify_contact(contact.id, external_id="u-1", name="Ada",
                                              email=None)
    assert (identified.id, identified.external_id, identified.verified) == (contact.id, "u-1",
                                                                             False)
    assert identified.name == "Ada" and identified.email is None
    assert await store.get_contact(contact.id) == identified
    [event] = await store.list_events()
    assert event.kind == "contact.identified" and event.data == {"external_id": "u-1",
                                                                 "verified": False}
    with pytest.raises(NotFound):
        await store.identify_contact("missing", external_id="u-1", name=None, email=None)


async def test_unverified_claims_of_one_id_never_merge(store: SqlStore) -> None:
    first, second = await store.create_contact(), await store.create_contact()
    a, _ = await store.identify_contact(first.id, external_id="u-1", name=None, email=None)
    b, _ = await store.identify_contact(second.id, external_id="u-1", name=None, email=None)
    assert a.id != b.id and not a.verified and not b.verified


async def test_a_verified_contact_is_one_per_external_id(store: SqlStore) -> None:
    device_a, device_b = await store.create_contact(), await store.create_contact()
    # A pretender's unverified claim to the same id does not become the verified contact.
    pretender = await store.create_contact()
    await store.identify_contact(pretender.id, external_id="u-1", name="Eve", email=None)
    a, _ = await store.verify_contact(device_a.id, external_id="u-1", name="Ada",
                                   email="ada@example.com")
    b, _ = await store.verify_contact(device_b.id, external_id="u-1", name=None, email=None)
    assert a.id == b.id == device_a.id and b.verified and b.external_id == "u-1"
    assert b.name == "Ada" and b.email == "ada@example.com"
    assert not (await store.get_contact(pretender.id)).verified  # type: ignore[union-attr]
    kinds = [e.kind for e in await store.list_events()]
    assert kinds.count("contact.verified") == 2


async def test_an_unsigned_claim_never_changes_a_verified_contact(store: SqlStore) -> None:
    verified, _ = await store.verify_contact((await store.create_contact()).id, external_id="u-1",
                                          name="Ada", email=None)
    with pytest.raises(Forbidden):
        await store.identify_contact(verified.id, external_id="u-2", name="Eve", email=None)
    assert await store.get_contact(verified.id) == verified


async def test_verifying_moves_the_devices_conversations(store: SqlStore) -> None:
    home = await store.create_contact()
    verified, _ = await store.verify_contact(home.id, external_id="u-1", name=None, email=None)
    phone = await store.create_contact()
    earlier = await store.create_conversation(phone.id)
    await store.transition(earlier.id, S.RESOLVED, allowed_from=OPEN_STATUSES, agent_id=None,
                           actor_kind="system", actor_id=None)
    open_on_phone = await store.create_conversation(phone.id)
    await store.verify_contact(phone.id, external_id="u-1", name=None, email=None)
    for conversation_id in (earlier.id, open_on_phone.id):
        moved = await store.get_conversation(conversation_id)
        assert moved is not None and moved.contact_id == verified.id
    assert (await store.open_conversation_for(phone.id)) is None
    assert (await store.open_conversation_for(verified.id)).id == open_on_phone.id  # type: ignore[union-attr]


async def test_an_open_conversation_stays_when_the_verified_contact_has_one(
        store: SqlStore) -> None:
    verified, _ = await store.verify_contact((await store.create_contact()).id, external_id="u-1",
                                          name=None, email=None)
    its_own = await store.create_conversation(verified.id)
    phone = await store.create_contact()
    earlier = await store.create_conversation(phone.id)
    await store.transition(earlier.id, S.RESOLVED, allowed_from=OPEN_STATUSES, agent_id=None,
                           actor_kind="system", actor_id=None)
    on_phone = await store.create_conversation(phone.id)
    await store.verify_contact(phone.id, external_id="u-1", name=None, email=None)
    assert (await store.open_conversation_for(verified.id)).id == its_own.id  # type: ignore[union-attr]
    assert (await store.get_conversation(on_phone.id)).contact_id == phone.id  # type: ignore[union-attr]
    # The resolved one joins the verified contact's history all the same.
    assert (await store.get_conversation(earlier.id)).contact_id == verified.id  # type: ignore[union-attr]


async def test_concurrent_verifications_make_one_contact(store: SqlStore) -> None:
    devices = [await store.create_contact() for _ in range(4)]
    for device in devices:  # each already verified as someone else: each must insert
        await store.verify_contact(device.id, external_id=f"other-{device.id}", name=None,
                                   email=None)
    found = await asyncio.gather(*(store.verify_contact(d.id, external_id="u-1", name=None,
                                                        email=None) for d in devices))
    assert len({c.id for c, _ in found}) == 1


async def test_attributes_merge_and_a_null_removes_one(store: SqlStore) -> None:
    contact = await store.create_contact()
    got, _ = await store.set_contact_attributes(contact.id, {"plan": "pro", "seats": 3},
                                                max_keys=3)
    assert got.attributes == {"plan": "pro", "seats": 3}
    got, _ = await store.set_contact_attributes(contact.id, {"seats": None, "vip": True,
                                                             "mrr": 9.5}, max_keys=3)
    assert got.attributes == {"plan": "pro", "vip": True, "mrr": 9.5}
    assert (await store.get_contact(contact.id)).attributes == got.attributes  # type: ignore[union-attr]
    with pytest.raises(InvalidPayload):
        await store.set_contact_attributes(contact.id, {"one": 1, "two": 2}, max_keys=3)
    assert (await store.get_contact(contact.id)).attributes == got.attributes  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.set_contact_attributes("missing", {"a": 1}, max_keys=3)
    events = [e for e in await store.list_events() if e.kind == "contact.attributes"]
    assert [e.data["keys"] for e in events] == [["plan", "seats"], ["mrr", "seats", "vip"]]


async def test_contacts_lists_carry_the_identity(store: SqlStore) -> None:
    contact = await store.create_contact()
    await store.set_contact_attributes(contact.id, {"plan": "pro"}, max_keys=5)
    verified, _ = await store.verify_contact(contact.id, external_id="u-9", name="Ada",
                                             email=None)
    assert (await store.get_contacts([contact.id]))[contact.id] == verified
    assert verified.attributes == {"plan": "pro"}


async def test_a_resend_across_the_identify_is_still_stored_once(store: SqlStore) -> None:
    device = await store.create_contact()
    conversation = await store.create_conversation(device.id)
    [first] = await store.append_messages([NewMessage(
        conversation.id, SenderKind.VISITOR, "hello", "c-1", device.id)])
    verified, _ = await store.verify_contact(device.id, external_id="u-1", name=None, email=None)
    # The ack was lost: the widget resends the same client id, now as the verified contact.
    [again] = await store.append_messages([NewMessage(
        conversation.id, SenderKind.VISITOR, "hello", "c-1", verified.id)])
    assert again.duplicate and again.message.seq == first.message.seq
