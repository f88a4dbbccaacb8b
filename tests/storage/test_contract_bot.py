"""The storage contract, continued: what the bot flow needs from every Store, on every engine
(structured messages, the greeting, the bot's state, handoffs with a team and a reason)."""

from __future__ import annotations

import pytest

from chatkit.models import (
    OPEN_STATUSES,
    AgentRole,
    ConversationStatus,
    Handoff,
    HandoffReason,
    NewMessage,
    SenderKind,
)
from chatkit.storage import SqlStore

S = ConversationStatus
MENU = {"kind": "menu", "quick_replies": [{"id": "billing", "label": "Facturación"},
                                          {"id": "faq", "label": "Una pregunta ✓"}]}


def bot_says(body: str, meta: dict[str, object] | None = None,
             conversation_id: str = "") -> NewMessage:
    return NewMessage(conversation_id, SenderKind.BOT, body, author_name="Asistente", meta=meta)


async def test_messages_keep_their_meta(store: SqlStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    choice = {"reply_to": {"seq": 1, "choice": "billing"}}
    results = await store.append_messages([
        bot_says("¿En qué puedo ayudarte?", MENU, conversation.id),
        NewMessage(conversation.id, SenderKind.VISITOR, "Facturación", "c-1", contact.id,
                   meta=choice),
        NewMessage(conversation.id, SenderKind.VISITOR, "plain words", "c-2", contact.id)])
    assert [r.message.meta for r in results if r] == [MENU, choice, None]
    messages, _ = await store.get_messages(conversation.id)
    assert [m.meta for m in messages] == [MENU, choice, None]
    assert messages[0].to_wire()["meta"] == MENU
    # A resend is answered with the stored message, meta and all.
    again = await store.append_messages([NewMessage(
        conversation.id, SenderKind.VISITOR, "Facturación", "c-1", contact.id, meta=choice)])
    assert again[0] is not None and again[0].duplicate and again[0].message == messages[1]


async def test_a_conversation_opens_with_the_greeting_and_the_bots_state(
        store: SqlStore) -> None:
    contact = await store.create_contact()
    state = {"locale": "es", "offer": {"seq": 1, "kind": "menu", "choices": {"faq": "?"}}}
    conversation = await store.create_conversation(
        contact.id, bot_state=state, opening=[bot_says("¡Hola!", MENU)])
    assert conversation.status is S.BOT and conversation.last_seq == 1
    messages, more = await store.get_messages(conversation.id)
    assert not more and len(messages) == 1
    greeting = messages[0]
    assert (greeting.seq, greeting.sender, greeting.body, greeting.meta, greeting.author_name) \
        == (1, SenderKind.BOT, "¡Hola!", MENU, "Asistente")
    assert greeting.conversation_id == conversation.id
    found = await store.get_bot_state(conversation.id)
    assert found == (conversation, state)
    assert await store.get_bot_state("missing") is None
    # Without a bot there is neither greeting nor state.
    other = await store.create_contact()
    plain = await store.create_conversation(other.id)
    assert plain.last_seq == 0 and await store.get_bot_state(plain.id) == (plain, None)


async def test_a_bot_turn_is_saved_only_if_nothing_was_said_meanwhile(store: SqlStore) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id, bot_state={"misses": 0},
                                                   opening=[bot_says("Hi", MENU)])
    await store.append_messages([NewMessage(conversation.id, SenderKind.VISITOR, "hello?",
                                            "c-1", contact.id)])
    # The bot looked at seq 1, but the visitor has spoken since: nothing is saved.
    assert await store.save_bot_turn(conversation.id, expected_seq=1, state={"misses": 9},
                                     messages=[bot_says("stale")]) is None
    found = await store.get_bot_state(conversation.id)
    assert found is not None and found[1] == {"misses": 0} and found[0].last_seq == 2

    saved = await store.save_bot_turn(
        conversation.id, expected_seq=2, state={"misses": 1},
        messages=[bot_says("Sorry?", {"kind": "fallback"}), bot_says("Anything else?")])
    assert saved is not None
    assert [(m.seq, m.body, m.meta) for m in saved] == [
        (3, "Sorry?", {"kind": "fallback"}), (4, "Anything else?", None)]
    messages, _ = await store.get_messages(conversation.id, after_seq=2)
    assert messages == saved
    found = await store.get_bot_state(conversation.id)
    assert found is not None and found[1] == {"misses": 1} and found[0].last_seq == 4

    # Once a person has it, the bot's turns are refused.
    await store.transition(conversation.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                           actor_kind="bot", actor_id=None)
    assert await store.save_bot_turn(conversation.id, expected_seq=4, state={},
                                     messages=[bot_says("too late")]) is None
    assert (await store.get_conversation(conversation.id)).last_seq == 4  # type: ignore[union-attr]
    assert await store.save_bot_turn("missing", expected_seq=0, state={},
                                     messages=[]) is None


@pytest.mark.parametrize("team", ["billing", None])
async def test_a_handoff_keeps_its_team_and_reason(store: SqlStore, team: str | None) -> None:
    contact = await store.create_contact()
    conversation = await store.create_conversation(contact.id)
    assert (conversation.team, conversation.handoff_reason) == (None, None)
    queued = await store.transition(
        conversation.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None, actor_kind="bot",
        actor_id=None, handoff=Handoff(HandoffReason.MENU, team), data={"note": "from menu"})
    assert queued is not None
    assert (queued.team, queued.handoff_reason) == (team, HandoffReason.MENU)
    assert queued.to_wire()["handoff_reason"] == "menu" and queued.to_wire()["team"] == team
    # Assignment keeps them: routing and reports read them later.
    agent = await store.create_agent(email="a@example.com", name="A", role=AgentRole.AGENT,
                                     password_hash="h")
    assigned = await store.transition(conversation.id, S.ASSIGNED, allowed_from=OPEN_STATUSES,
                                      agent_id=agent.id, actor_kind="agent", actor_id=agent.id)
    assert assigned is not None and (assigned.team, assigned.handoff_reason) == (
        team, HandoffReason.MENU)
    listed = await store.list_conversations(statuses={S.ASSIGNED}, limit=5)
    assert listed == [assigned]
    events = await store.list_events(conversation_id=conversation.id)
    assert events[1].kind == "conversation.queued"
    assert events[1].data == {"from": "bot", "agent_id": None, "note": "from menu",
                              "reason": "menu", "team": team}
