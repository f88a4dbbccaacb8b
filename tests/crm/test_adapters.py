"""The built-in CRM adapter (chatkit's contacts) and the custom one in examples/."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from chatkit import ChatKit, Settings
from chatkit.crm import (
    CRM_OUTCOME,
    ContactsCRM,
    ContextService,
    CRMAdapter,
    CRMContact,
    CRMContext,
    CRMIdentity,
    Outcome,
)
from chatkit.storage import SqlStore
from tests.bot.conftest import load_example


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path}/store.db")
    await store.open()
    yield store
    await store.close()


async def test_the_built_in_crm_is_chatkits_contacts(store: SqlStore) -> None:
    crm = ContactsCRM(store)
    assert isinstance(crm, CRMAdapter)
    contact = await store.create_contact()
    await store.identify_contact(contact.id, external_id="user-7", name="Lin",
                                 email="Lin@Example.com")
    await store.set_contact_attributes(contact.id, {"plan": "Pro", "seats": 3}, max_keys=50)
    for identity in (CRMIdentity(contact_id=contact.id), CRMIdentity(external_id="user-7"),
                     CRMIdentity(email="lin@example.com")):
        found = await crm.find_contact(identity)
        assert found is not None and (found.id, found.name) == (contact.id, "Lin")
    assert await crm.find_contact(CRMIdentity(external_id="nobody")) is None
    assert await crm.find_contact(CRMIdentity()) is None
    found = await crm.find_contact(CRMIdentity(contact_id=contact.id))
    assert found is not None
    context = await crm.fetch_context(found)
    assert (context.plan, context.company, context.fields) == ("Pro", None,
                                                               {"plan": "Pro", "seats": 3})
    conversation = await store.create_conversation(contact.id)
    outcome = Outcome(conversation_id=conversation.id,
                      contact=CRMIdentity(contact_id=contact.id, external_id="user-7"),
                      status="resolved", agent_id=None, agent_name=None, team="support",
                      reason="abandoned", resolved_at=1)
    await crm.write_outcome(outcome)
    (event,) = [e for e in await store.list_events(conversation_id=conversation.id)
                if e.kind == CRM_OUTCOME]
    assert event.data == outcome.to_wire()


async def test_the_custom_crm_example(tmp_path: Path) -> None:
    example = load_example("custom_crm")
    crm = example.ShopCRM(tmp_path / "shop.db")
    assert isinstance(crm, CRMAdapter)
    for identity in (CRMIdentity(external_id="42"), CRMIdentity(email="grace@example.com")):
        found = await crm.find_contact(identity)
        assert found is not None and found.id == "42"
    assert await crm.find_contact(CRMIdentity(external_id="7")) is None
    context = await crm.fetch_context(found)
    assert (context.plan, context.lifetime_value, context.fields) == ("Gold", 1234.5,
                                                                      {"orders": 17})
    outcome = Outcome(conversation_id="v1", contact=CRMIdentity(external_id="42"),
                      status="resolved", agent_id="a1", agent_name="Ada", team="support",
                      reason=None, resolved_at=5, csat=None)
    await crm.write_outcome(outcome)
    await crm.write_outcome(dataclasses.replace(outcome, csat=5))  # the rating, later
    with sqlite3.connect(tmp_path / "shop.db") as db:
        rows = db.execute("SELECT conversation_id, customer_id, agent, csat "
                          "FROM support_outcomes").fetchall()
    assert rows == [("v1", "42", "Ada", 5)]


def test_the_example_app_plugs_its_crm_in(tmp_path: Path) -> None:
    example = load_example("custom_crm")
    app = example.build_app(tmp_path / "shop.db")
    assert isinstance(app, web.Application)


def test_a_crm_without_the_ports_methods_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="crm"):
        ChatKit(Settings(database_url=f"sqlite:///{tmp_path}/x.db"),
                crm=object())  # type: ignore[arg-type]


class GatedCRM(ContactsCRM):
    """chatkit's contacts, with each fetch held until the test opens the gate."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self.gate = asyncio.Event()
        self.fetches = 0

    async def fetch_context(self, contact: CRMContact) -> CRMContext:
        self.fetches += 1
        await self.gate.wait()
        return await super().fetch_context(contact)


async def test_an_agent_who_opens_the_chat_during_the_build_waits_for_it(
        store: SqlStore) -> None:
    crm = GatedCRM(store)
    service = ContextService(store, crm)
    contact = await store.create_contact()
    await store.identify_contact(contact.id, external_id="user-7", name="Lin", email=None)
    conversation = await store.create_conversation(contact.id)
    service.handed_over(conversation)
    opened = [asyncio.create_task(service.panel(conversation)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert not any(task.done() for task in opened) and crm.fetches == 1
    crm.gate.set()
    first, second = await asyncio.gather(*opened)
    assert first == second and first["crm"]["status"] == "ok" and crm.fetches == 1
    assert (await store.get_conversation_context(conversation.id))[0] == first  # type: ignore[index]
    # Built and kept: the next agent reads it; a refresh asks the CRM again.
    assert await service.panel(conversation) == first and crm.fetches == 1
    await service.panel(conversation, refresh=True)
    assert crm.fetches == 2
