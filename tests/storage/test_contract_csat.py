"""The storage contract for CSAT: a visitor's rating of a conversation an agent resolved."""

from __future__ import annotations

import asyncio

from chatkit.models import CSAT_RATED, AgentRole, Conversation, ConversationStatus, now_ms
from chatkit.storage import SqlStore

S = ConversationStatus
WEEK = 7 * 24 * 3600 * 1000


async def resolved_by_agent(store: SqlStore, *, team: str | None = "billing",
                            agent_email: str = "a@example.com") -> Conversation:
    contact = await store.create_contact()
    agent = await store.get_agent_by_email(agent_email) or await store.create_agent(
        email=agent_email, name="Ada", role=AgentRole.AGENT, password_hash="h")
    conversation = await store.create_conversation(contact.id)
    queued = await store.transition(conversation.id, S.QUEUED, allowed_from={S.BOT},
                                    agent_id=None, actor_kind="visitor", actor_id=contact.id,
                                    queue_team=team)
    assert queued is not None
    assigned = await store.transition(conversation.id, S.ASSIGNED, allowed_from={S.QUEUED},
                                      agent_id=agent.id, actor_kind="agent", actor_id=agent.id)
    assert assigned is not None
    resolved = await store.transition(conversation.id, S.RESOLVED, allowed_from={S.ASSIGNED},
                                      agent_id=agent.id, actor_kind="agent", actor_id=agent.id)
    assert resolved is not None and resolved.resolved_at is not None
    return resolved


async def test_a_rating_is_stored_with_agent_and_team_and_logged(store: SqlStore) -> None:
    conversation = await resolved_by_agent(store)
    assert conversation.resolved_at is not None
    now = now_ms()
    stored = await store.rate_conversation(conversation.id, contact_id=conversation.contact_id,
                                           rating=4, comment="Quick and kind", now=now,
                                           window_ms=WEEK)
    assert stored is not None
    rating, replaced = stored
    assert replaced is None
    assert (rating.agent_id, rating.team, rating.rating, rating.comment) == (
        conversation.agent_id, "billing", 4, "Quick and kind")
    assert (rating.rated_at, rating.resolved_at) == (now, conversation.resolved_at)
    assert await store.get_csat(conversation.id) == rating
    [event] = [e for e in await store.list_events(conversation_id=conversation.id)
               if e.kind == CSAT_RATED]
    assert (event.actor_kind, event.actor_id) == ("visitor", conversation.contact_id)
    assert event.data == {"rating": 4, "agent_id": conversation.agent_id, "team": "billing",
                          "has_comment": True, "replaced": None}


async def test_a_second_rating_replaces_the_first(store: SqlStore) -> None:
    conversation = await resolved_by_agent(store)
    for rating in (2, 5):
        await store.rate_conversation(conversation.id, contact_id=conversation.contact_id,
                                      rating=rating, comment=None, now=now_ms(), window_ms=WEEK)
    found = await store.get_csat(conversation.id)
    assert found is not None and (found.rating, found.comment) == (5, None)
    events = [e.data for e in await store.list_events(conversation_id=conversation.id)
              if e.kind == CSAT_RATED]
    assert [(d["rating"], d["replaced"]) for d in events] == [(2, None), (5, 2)]
    summary = await store.csat_summary()
    assert (summary.ratings, summary.satisfied, summary.total) == (1, 1, 5)


async def test_racing_ratings_leave_one_row(store: SqlStore) -> None:
    conversation = await resolved_by_agent(store)
    results = await asyncio.gather(*(
        store.rate_conversation(conversation.id, contact_id=conversation.contact_id,
                                rating=r, comment=None, now=now_ms(), window_ms=WEEK)
        for r in (1, 2, 3, 4, 5)))
    assert all(r is not None for r in results)
    assert sum(1 for r in results if r is not None and r[1] is None) == 1
    assert (await store.csat_summary()).ratings == 1


async def test_only_the_contacts_resolved_agent_conversation_in_the_window(
        store: SqlStore) -> None:
    conversation = await resolved_by_agent(store)
    contact_id = conversation.contact_id

    async def rate(conversation_id: str, *, contact: str = contact_id, now: int | None = None,
                   ) -> object:
        return await store.rate_conversation(conversation_id, contact_id=contact, rating=3,
                                             comment=None, now=now or now_ms(), window_ms=WEEK)

    stranger = await store.create_contact()
    assert await rate(conversation.id, contact=stranger.id) is None
    assert await rate("nope") is None
    assert conversation.resolved_at is not None
    assert await rate(conversation.id, now=conversation.resolved_at + WEEK + 1) is None
    # Open (with the bot), and resolved without an agent (abandoned in the queue).
    other = await store.create_contact()
    open_one = await store.create_conversation(other.id)
    assert await rate(open_one.id, contact=other.id) is None
    await store.transition(open_one.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="visitor", actor_id=other.id, queue_team="billing")
    abandoned = await store.transition(open_one.id, S.RESOLVED, allowed_from={S.QUEUED},
                                       agent_id=None, actor_kind="system", actor_id=None)
    assert abandoned is not None
    assert await rate(open_one.id, contact=other.id) is None
    assert await store.get_csat(conversation.id) is None
    assert await store.get_csat(open_one.id) is None
    assert (await store.csat_summary()).ratings == 0
    assert not [e for e in await store.list_events() if e.kind == CSAT_RATED]


async def test_pending_until_rated_or_a_new_conversation(store: SqlStore) -> None:
    conversation = await resolved_by_agent(store)
    contact_id = conversation.contact_id
    assert conversation.resolved_at is not None
    pending = await store.csat_pending(contact_id, since=conversation.resolved_at)
    assert pending is not None and (pending.id, pending.agent_name) == (conversation.id, "Ada")
    assert await store.csat_pending(contact_id, since=conversation.resolved_at + 1) is None
    await store.rate_conversation(conversation.id, contact_id=contact_id, rating=1,
                                  comment=None, now=now_ms(), window_ms=WEEK)
    assert await store.csat_pending(contact_id, since=0) is None
    # Another visitor's: a newer conversation ends the wait for a rating.
    second = await resolved_by_agent(store)
    assert await store.csat_pending(second.contact_id, since=0) is not None
    await store.create_conversation(second.contact_id)
    assert await store.csat_pending(second.contact_id, since=0) is None
    # Never an agent: nothing to rate.
    lone = await store.create_contact()
    assert await store.csat_pending(lone.id, since=0) is None


async def test_summary_by_agent_team_and_date_range(store: SqlStore) -> None:
    rated = []
    for team, email, rating in [("billing", "a@example.com", 5), ("billing", "b@example.com", 2),
                                ("sales", "a@example.com", 4), (None, "b@example.com", 3)]:
        conversation = await resolved_by_agent(store, team=team, agent_email=email)
        await store.rate_conversation(conversation.id, contact_id=conversation.contact_id,
                                      rating=rating, comment=None, now=now_ms(), window_ms=WEEK)
        rated.append(conversation)
    a = await store.get_agent_by_email("a@example.com")
    assert a is not None
    by_a = await store.csat_summary(agent_id=a.id)
    assert (by_a.ratings, by_a.satisfied, by_a.total, by_a.csat) == (2, 2, 9, 1.0)
    billing = await store.csat_summary(team="billing")
    assert (billing.ratings, billing.satisfied, billing.average) == (2, 1, 3.5)
    first, last = rated[0].resolved_at, rated[-1].resolved_at
    assert first is not None and last is not None
    ranged = await store.csat_summary(resolved_from=first, resolved_to=last)
    # The range's end is not in it (and two may be resolved in the same millisecond).
    assert ranged.ratings == sum(1 for c in rated if first <= (c.resolved_at or 0) < last)
    assert 1 <= ranged.ratings <= 3
    assert (await store.csat_summary(resolved_from=last + 1)).csat is None
