"""The storage port's contract: what every Store must do, on every engine."""

from __future__ import annotations

import asyncio

import pytest

from chatkit.errors import Conflict
from chatkit.models import (
    ARTICLE_VOTE,
    OPEN_STATUSES,
    AgentRole,
    ArticleVotes,
    ConversationStatus,
    NewMessage,
    SenderKind,
    Unread,
)
from chatkit.storage import SqlStore

S = ConversationStatus


def visitor_says(conversation_id: str, contact_id: str, body: str,
                 client_id: str | None) -> NewMessage:
    return NewMessage(conversation_id, SenderKind.VISITOR, body, client_id, contact_id)


async def new_conversation(store: SqlStore) -> tuple[str, str]:
    contact = await store.create_contact(name="Ada", email="ada@example.com")
    conversation = await store.create_conversation(contact.id)
    return contact.id, conversation.id


async def test_a_write_cancelled_mid_statement_stays_cancelled(store: SqlStore) -> None:
    """A task cancelled inside a write transaction ends cancelled. (The cleanup used to ask
    the connection, which the cancellation had left invalid, and its PendingRollbackError
    replaced the CancelledError: background loops caught it as a failed round and went on
    running after shutdown.)"""
    from sqlalchemy import text

    slow = (text("SELECT pg_sleep(5)") if not store.is_sqlite else text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
        "SELECT count(*) FROM c"))
    started = asyncio.Event()

    async def write() -> None:
        async with store._write() as conn:
            started.set()
            await conn.execute(slow)

    task = asyncio.create_task(write())
    await started.wait()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # And the store goes on: the next write transaction works.
    assert (await store.create_contact(name="After")).name == "After"


async def test_contacts_round_trip(store: SqlStore) -> None:
    contact = await store.create_contact(name="Ada", email="ada@example.com")
    assert await store.get_contact(contact.id) == contact
    assert await store.get_contact("missing") is None


async def test_contact_email_is_set(store: SqlStore) -> None:
    contact = await store.create_contact()
    other = await store.create_contact(name="Bo", email="bo@example.com")
    changed = await store.set_contact_email(contact.id, "ada@example.com")
    assert changed is not None and changed.email == "ada@example.com"
    assert await store.get_contact(contact.id) == changed
    assert await store.get_contact(other.id) == other  # only that contact
    assert await store.set_contact_email("missing", "x@example.com") is None
    assert await store.get_contacts([contact.id, other.id, "missing"]) == {
        contact.id: changed, other.id: other}
    assert await store.get_contacts([]) == {}


async def test_agents_have_unique_emails(store: SqlStore) -> None:
    agent = await store.create_agent(email="Ada@Example.com", name="Ada",
                                     role=AgentRole.SUPERVISOR, password_hash="h")
    assert agent.email == "ada@example.com"
    assert await store.get_agent(agent.id) == agent
    assert await store.get_agent_by_email("ADA@example.com") == agent
    with pytest.raises(Conflict):
        await store.create_agent(email="ada@example.com", name="Other", role=AgentRole.AGENT,
                                 password_hash="h")
    assert [a.id for a in await store.list_agents()] == [agent.id]


async def test_secret_is_created_once(store: SqlStore) -> None:
    first = await store.get_or_create_secret("k", lambda: "one")
    second = await store.get_or_create_secret("k", lambda: "two")
    assert first == second == "one"


async def test_sequence_numbers_have_no_gaps(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    results = await store.append_messages(
        [visitor_says(conversation_id, contact_id, f"m{n}", f"c{n}") for n in range(5)])
    assert [r.message.seq for r in results if r] == [1, 2, 3, 4, 5]
    more = await store.append_messages([visitor_says(conversation_id, contact_id, "m5", "c5")])
    assert more[0] is not None and more[0].message.seq == 6
    conversation = await store.get_conversation(conversation_id)
    assert conversation is not None and conversation.last_seq == 6


async def test_a_batch_spans_conversations(store: SqlStore) -> None:
    a_contact, a = await new_conversation(store)
    b_contact, b = await new_conversation(store)
    results = await store.append_messages([
        visitor_says(a, a_contact, "a1", "x"), visitor_says(b, b_contact, "b1", "x"),
        visitor_says(a, a_contact, "a2", "y"), visitor_says("missing", a_contact, "?", "z"),
    ])
    assert [(r.message.conversation_id, r.message.seq) if r else None for r in results] == [
        (a, 1), (b, 1), (a, 2), None]


async def test_client_id_is_stored_once_per_author(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    first = (await store.append_messages(
        [visitor_says(conversation_id, contact_id, "hi", "same")]))[0]
    again = (await store.append_messages(
        [visitor_says(conversation_id, contact_id, "hi", "same"),
         visitor_says(conversation_id, contact_id, "new", "other"),
         visitor_says(conversation_id, contact_id, "new", "other")]))
    assert first is not None and not first.duplicate
    assert again[0] == type(first)(first.message, duplicate=True)
    assert again[1] is not None and again[2] is not None
    assert not again[1].duplicate and again[2].duplicate
    assert again[1].message == again[2].message and again[1].message.seq == 2
    # Bot messages have no client id and are never deduplicated.
    bots = await store.append_messages([
        NewMessage(conversation_id, SenderKind.BOT, "same words"),
        NewMessage(conversation_id, SenderKind.BOT, "same words")])
    assert [r.message.seq for r in bots if r] == [3, 4]


async def test_another_authors_client_id_is_not_a_duplicate(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    agent = await store.create_agent(email="a@example.com", name="A", role=AgentRole.AGENT,
                                     password_hash="h")
    results = await store.append_messages([
        visitor_says(conversation_id, contact_id, "from the visitor", "1"),
        NewMessage(conversation_id, SenderKind.AGENT, "from the agent", "1", agent.id, "A")])
    assert [r.message.seq for r in results if r] == [1, 2]


async def test_resolved_conversations_take_no_messages(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    assert await store.transition(conversation_id, S.RESOLVED, allowed_from=OPEN_STATUSES,
                                  agent_id=None, actor_kind="system", actor_id=None)
    results = await store.append_messages(
        [visitor_says(conversation_id, contact_id, "too late", "c1")])
    assert results == [None]


async def test_message_pages(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    await store.append_messages(
        [visitor_says(conversation_id, contact_id, f"m{n}", f"c{n}") for n in range(1, 11)])
    messages, more = await store.get_messages(conversation_id, after_seq=3, limit=4)
    assert [m.seq for m in messages] == [4, 5, 6, 7] and more
    messages, more = await store.get_messages(conversation_id, after_seq=7, limit=4)
    assert [m.seq for m in messages] == [8, 9, 10] and not more
    messages, more = await store.get_messages(conversation_id, before_seq=4, limit=2)
    assert [m.seq for m in messages] == [2, 3] and more
    messages, more = await store.get_messages(conversation_id, before_seq=3, limit=5)
    assert [m.seq for m in messages] == [1, 2] and not more
    assert messages[0].body == "m1" and messages[0].sender is SenderKind.VISITOR


async def test_transitions_stamp_times_and_log_events(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    agent = await store.create_agent(email="a@example.com", name="Ada", role=AgentRole.AGENT,
                                     password_hash="h")
    queued = await store.transition(conversation_id, S.QUEUED, allowed_from={S.BOT},
                                    agent_id=None, actor_kind="visitor", actor_id=contact_id,
                                    data={"reason": "asked"})
    assert queued is not None and queued.status is S.QUEUED and queued.queued_at
    # Not allowed from queued: nothing changes.
    assert await store.transition(conversation_id, S.QUEUED, allowed_from={S.BOT},
                                  agent_id=None, actor_kind="visitor",
                                  actor_id=contact_id) is None
    assigned = await store.transition(conversation_id, S.ASSIGNED, allowed_from=OPEN_STATUSES,
                                      agent_id=agent.id, expected_agents={None},
                                      actor_kind="agent", actor_id=agent.id)
    assert assigned is not None and assigned.agent_id == agent.id
    assert assigned.agent_name == "Ada" and assigned.assigned_at
    resolved = await store.transition(conversation_id, S.RESOLVED, allowed_from=OPEN_STATUSES,
                                      agent_id=agent.id, expected_agents={agent.id},
                                      actor_kind="agent", actor_id=agent.id)
    assert resolved is not None and resolved.resolved_at
    assert resolved.resolved_at >= resolved.assigned_at >= resolved.queued_at  # type: ignore[operator]
    events = await store.list_events(conversation_id=conversation_id)
    assert [(e.kind, e.data.get("from")) for e in events] == [
        ("conversation.created", None), ("conversation.queued", "bot"),
        ("conversation.assigned", "queued"), ("conversation.resolved", "assigned")]
    assert events[1].data["reason"] == "asked"
    assert await store.open_conversation_for(contact_id) is None


async def test_open_conversation_and_listing(store: SqlStore) -> None:
    contact_id, first = await new_conversation(store)
    assert (await store.open_conversation_for(contact_id)).id == first  # type: ignore[union-attr]
    await store.transition(first, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="system", actor_id=None)
    _, second = await new_conversation(store)
    queued = await store.list_conversations(statuses={S.QUEUED}, limit=10)
    assert [c.id for c in queued] == [first]
    both = await store.list_conversations(statuses={S.QUEUED, S.BOT}, limit=10)
    assert [c.id for c in both] == [first, second]
    assert len(await store.list_conversations(statuses={S.QUEUED, S.BOT}, limit=1)) == 1


async def test_racing_assignments_give_the_chat_to_one_agent(store: SqlStore,
                                                             store_url: str) -> None:
    """Ten agents, each through its own store (as separate processes would), race for one
    conversation: exactly one wins."""
    _, conversation_id = await new_conversation(store)
    agents = [await store.create_agent(email=f"a{n}@example.com", name=f"A{n}",
                                       role=AgentRole.AGENT, password_hash="h")
              for n in range(10)]
    stores = [SqlStore(store_url) for _ in agents]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        results = await asyncio.gather(*(
            s.transition(conversation_id, S.ASSIGNED, allowed_from=OPEN_STATUSES,
                         agent_id=agent.id, expected_agents={None}, actor_kind="agent",
                         actor_id=agent.id)
            for s, agent in zip(stores, agents, strict=True)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = await store.get_conversation(conversation_id)
    assert final is not None and final.agent_id == winners[0].agent_id


async def test_concurrent_writers_never_reuse_a_sequence_number(store: SqlStore,
                                                                store_url: str) -> None:
    contact_id, conversation_id = await new_conversation(store)
    stores = [SqlStore(store_url) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await asyncio.gather(*(
            s.append_messages([visitor_says(conversation_id, contact_id, f"{w}-{n}",
                                            f"{w}-{n}") for n in range(5)])
            for w, s in enumerate(stores) for _ in range(3)))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    messages, _ = await store.get_messages(conversation_id, limit=100)
    assert [m.seq for m in messages] == list(range(1, 21))  # 4 writers x 5 distinct ids
    assert len({m.client_id for m in messages}) == 20


async def test_a_contact_has_at_most_one_open_conversation(store: SqlStore) -> None:
    contact_id, first = await new_conversation(store)
    with pytest.raises(Conflict):
        await store.create_conversation(contact_id)
    await store.transition(first, S.RESOLVED, allowed_from=OPEN_STATUSES, agent_id=None,
                           actor_kind="system", actor_id=None)
    second = await store.create_conversation(contact_id)  # resolved ones do not count
    assert second.id != first
    assert (await store.open_conversation_for(contact_id)).id == second.id  # type: ignore[union-attr]


async def test_read_marks_only_move_forward_up_to_the_last_message(store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    await store.append_messages(
        [visitor_says(conversation_id, contact_id, f"m{n}", f"c{n}") for n in range(3)])
    steps = [(SenderKind.AGENT, 2, 2, True), (SenderKind.AGENT, 1, 2, False),
             (SenderKind.AGENT, 99, 3, True), (SenderKind.AGENT, 3, 3, False),
             (SenderKind.VISITOR, 1, 1, True)]
    for reader, seq, expected, moved in steps:
        marked = await store.mark_read(conversation_id, reader, seq)
        assert marked is not None
        conversation, did_move = marked
        mark = (conversation.agent_read_seq if reader is SenderKind.AGENT
                else conversation.visitor_read_seq)
        assert (mark, did_move) == (expected, moved)
    assert await store.mark_read("missing", SenderKind.AGENT, 1) is None


async def test_unread_counts_the_visitors_messages_after_the_agents_read_mark(
        store: SqlStore) -> None:
    contact_id, conversation_id = await new_conversation(store)
    _, quiet = await new_conversation(store)
    said = await store.append_messages(
        [visitor_says(conversation_id, contact_id, f"m{n}", f"c{n}") for n in range(3)])
    await store.append_messages([NewMessage(conversation_id, SenderKind.AGENT, "hi", "a1",
                                            "agent-1")])
    stored = [r.message for r in said if r is not None]
    first = stored[0]
    assert await store.unread([conversation_id, quiet]) == {
        conversation_id: Unread(3, first.created_at)}  # the agent's own reply is not unread
    await store.mark_read(conversation_id, SenderKind.AGENT, 2)
    third = stored[2]
    assert await store.unread([conversation_id]) == {
        conversation_id: Unread(1, third.created_at)}
    await store.mark_read(conversation_id, SenderKind.AGENT, 4)
    assert await store.unread([conversation_id]) == {}
    assert await store.unread([]) == {}


async def test_events_are_recorded_in_order(store: SqlStore) -> None:
    await store.record_event("test.first", actor_kind="browser", actor_id="b" * 32,
                             data={"n": 1, "text": "ñ ✓"})
    await store.record_event("test.second")
    events = await store.list_events()
    assert [(e.kind, e.conversation_id, e.actor_kind, e.actor_id, e.data) for e in events] == [
        ("test.first", None, "browser", "b" * 32, {"n": 1, "text": "ñ ✓"}),
        ("test.second", None, None, None, {})]
    assert events[0].id < events[1].id and events[0].created_at > 0


async def test_events_wider_than_their_columns_are_refused(store: SqlStore) -> None:
    # Refused alike on every engine, and nothing is stored.
    for kind, actor_kind, actor_id in [("", None, None), ("k" * 51, None, None),
                                       ("ok", "k" * 11, None), ("ok", None, "i" * 33)]:
        with pytest.raises(ValueError):
            await store.record_event(kind, actor_kind=actor_kind, actor_id=actor_id)
    assert await store.list_events() == []


async def vote(store: SqlStore, entry_id: str, locale: str, helpful: bool, voter: str) -> None:
    await store.record_event(ARTICLE_VOTE, actor_kind="browser", actor_id=voter,
                             data={"entry_id": entry_id, "locale": locale, "helpful": helpful})


async def test_article_votes_are_counted_per_entry_and_locale(store: SqlStore) -> None:
    assert await store.article_votes("returns", "en") == ArticleVotes(0, 0, None)
    for entry_id, locale, helpful, voter in [
            ("returns", "en", True, "v1"), ("returns", "en", True, "v2"),
            ("returns", "en", False, "v3"), ("returns", "es", False, "v1"),
            ("shipping", "en", True, "v1"), ("returns-old", "en", False, "v4")]:
        await vote(store, entry_id, locale, helpful, voter)
    # An event of another kind with the same data is not a vote.
    await store.record_event("kb.viewed", actor_kind="browser", actor_id="v5",
                             data={"entry_id": "returns", "locale": "en", "helpful": True})
    assert await store.article_votes("returns", "en") == ArticleVotes(2, 1, None)
    assert await store.article_votes("returns", "es") == ArticleVotes(0, 1, None)
    assert await store.article_votes("shipping", "en") == ArticleVotes(1, 0, None)
    assert await store.article_votes("returns", "pt-BR") == ArticleVotes(0, 0, None)


async def test_article_votes_tell_what_a_voter_said_last(store: SqlStore) -> None:
    await vote(store, "returns", "en", True, "v1")
    await vote(store, "returns", "en", False, "v2")
    assert (await store.article_votes("returns", "en", voter_id="v1")).voter_said is True
    assert (await store.article_votes("returns", "en", voter_id="v2")).voter_said is False
    assert (await store.article_votes("returns", "en", voter_id="v3")).voter_said is None
    assert (await store.article_votes("returns", "es", voter_id="v1")).voter_said is None
    await vote(store, "returns", "en", False, "v1")  # the store keeps both; the last counts
    assert await store.article_votes("returns", "en", voter_id="v1") == ArticleVotes(1, 2, False)
