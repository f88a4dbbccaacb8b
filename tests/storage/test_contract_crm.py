"""The storage contract for the CRM panel: the visitor's page, a contact's past conversations
with their outcomes, and the panel kept per conversation."""

from __future__ import annotations

from chatkit.models import AgentRole, ConversationStatus
from chatkit.storage import SqlStore

S = ConversationStatus


async def test_the_visitors_page_is_the_latest_recorded(store: SqlStore) -> None:
    contact = await store.create_contact()
    assert await store.get_visitor_page(contact.id) is None
    await store.set_visitor_page(contact.id, url="https://a.example/1", user_agent="UA 1",
                                 now=10)
    await store.set_visitor_page(contact.id, url="https://a.example/2", user_agent=None, now=20)
    page = await store.get_visitor_page(contact.id)
    assert page is not None and (page.url, page.user_agent, page.seen_at) == (
        "https://a.example/2", None, 20)
    await store.set_visitor_page("no-such-contact", url=None, user_agent="x", now=1)
    assert await store.get_visitor_page("no-such-contact") is None


async def test_a_contact_is_found_by_external_id_then_email(store: SqlStore) -> None:
    claimed = await store.create_contact()
    await store.identify_contact(claimed.id, external_id="u-1", name=None, email="A@b.example")
    verified, _ = await store.verify_contact((await store.create_contact()).id,
                                             external_id="u-1", name="Vee", email=None)
    found = await store.find_contact_by_identity(external_id="u-1", email=None)
    assert found is not None and found.id == verified.id  # the verified one first
    found = await store.find_contact_by_identity(external_id="u-2", email="a@B.example")
    assert found is not None and found.id == claimed.id
    assert await store.find_contact_by_identity(external_id=None, email="z@b.example") is None


async def test_past_conversations_come_with_their_outcomes(store: SqlStore) -> None:
    contact = await store.create_contact()
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    first = await store.create_conversation(contact.id)
    await store.transition(first.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="visitor", actor_id=contact.id, queue_team="support")
    await store.transition(first.id, S.ASSIGNED, allowed_from={S.QUEUED}, agent_id=agent.id,
                           actor_kind="agent", actor_id=agent.id)
    resolved = await store.transition(first.id, S.RESOLVED, allowed_from={S.ASSIGNED},
                                      agent_id=agent.id, actor_kind="agent",
                                      actor_id=agent.id, data={"reason": "solved"})
    assert resolved is not None and resolved.resolved_at is not None
    rated = await store.rate_conversation(first.id, contact_id=contact.id, rating=4,
                                          comment=None, now=resolved.resolved_at + 1,
                                          window_ms=10_000)
    assert rated is not None
    second = await store.create_conversation(contact.id)
    other = await store.create_contact()
    await store.create_conversation(other.id)

    past = await store.past_conversations(contact.id, before=None, limit=10)
    assert [p.conversation.id for p in past] == [second.id, first.id]
    assert (past[0].reason, past[0].csat, past[0].conversation.status) == (None, None, S.BOT)
    assert (past[1].reason, past[1].csat, past[1].conversation.agent_name) == (
        "solved", 4, "Ada")
    assert [p.conversation.id for p in await store.past_conversations(
        contact.id, before=second.created_at, limit=10)] == (
        [first.id] if first.created_at < second.created_at else [])
    assert len(await store.past_conversations(contact.id, before=None, limit=1)) == 1


async def test_a_conversations_panel_is_kept_and_replaced(store: SqlStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    assert await store.get_conversation_context(conversation.id) is None
    await store.save_conversation_context(conversation.id, {"crm": {"status": "ok"}}, now=5)
    await store.save_conversation_context(conversation.id, {"crm": {"status": "unavailable"},
                                                            "n": [1, "<b>"]}, now=6)
    assert await store.get_conversation_context(conversation.id) == (
        {"crm": {"status": "unavailable"}, "n": [1, "<b>"]}, 6)
