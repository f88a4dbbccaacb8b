"""The bot flow end to end, over real Socket.IO connections to a real server: the menu, quick
replies, answers with feedback, clarifications, every way to a person, and the transcript the
agent gets."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from chatkit import AgentRole, ChatKit, Settings
from tests.bot.conftest import ANSWERED, CLOSE, ENTRIES, FLOW, UNKNOWN, load_example
from tests.clients import AgentClient, Visitor
from tests.conftest import AGENT_EMAIL, AGENT_PASSWORD, StartServer

_ids = itertools.count(1)


@pytest.fixture
async def bot_server(start_server: StartServer, tmp_path: Path) -> AsyncIterator[TestServer]:
    """chatkit with the bot on, the tests' knowledge base and bot flow (tests/bot/conftest),
    and an agent on duty: online, in a team whose chats wait to be picked (manual), so a
    handoff is queued (not met by the offline form) and stays queued for the test to see."""
    kb_path, bot_path = tmp_path / "kb.yaml", tmp_path / "bot.yaml"
    routing_path = tmp_path / "routing.yaml"
    kb_path.write_text(yaml.safe_dump({"entries": [
        e.model_dump(mode="json", exclude_defaults=True) for e in ENTRIES]},
        allow_unicode=True), encoding="utf-8")
    bot_path.write_text(yaml.safe_dump(FLOW, allow_unicode=True), encoding="utf-8")
    routing_path.write_text("teams: [{id: support, strategy: manual}]\n", encoding="utf-8")
    server = await start_server(bot_enabled=True, kb_path=kb_path, bot_path=bot_path,
                                routing_path=routing_path)
    await server.kit.agents.create(email=AGENT_EMAIL, name="Ada",  # type: ignore[attr-defined]
                                   password=AGENT_PASSWORD, role=AgentRole.AGENT)
    on_duty = AgentClient(server)
    await on_duty.login(AGENT_EMAIL, AGENT_PASSWORD)
    await on_duty.ok("presence", {"status": "online"})
    yield server
    await on_duty.close()


class Chat:
    """A visitor talking to the bot."""

    def __init__(self, server: TestServer) -> None:
        self.visitor = Visitor(server)

    async def open(self, locale: str = "en") -> dict[str, Any]:
        await self.visitor.connect()
        resumed: dict[str, Any] = await self.visitor.ok("resume", {"locale": locale})
        return resumed

    async def say(self, body: str) -> dict[str, Any]:
        return await self.visitor.say(body, f"v-{next(_ids)}")

    async def pick(self, seq: int, choice: str) -> dict[str, Any]:
        message: dict[str, Any] = await self.visitor.ok("message", {
            "client_id": f"v-{next(_ids)}", "reply_to": {"seq": seq, "choice": choice}})
        return message

    async def heard(self, count: int) -> list[dict[str, Any]]:
        """The next `count` messages from the bot."""
        return [await self.visitor.next("message") for _ in range(count)]

    async def until_status(self, status: str) -> dict[str, Any]:
        while (conversation := await self.visitor.next("conversation"))["status"] != status:
            pass
        return conversation

    async def close(self) -> None:
        await self.visitor.close()


@pytest.fixture
async def chat(bot_server: TestServer) -> Any:
    chat = Chat(bot_server)
    yield chat
    await chat.close()


@pytest.fixture
async def agent(bot_server: TestServer) -> Any:
    agent = AgentClient(bot_server)
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    yield agent
    await agent.close()


def choice_id(message: dict[str, Any], label: str) -> str:
    return next(q["id"] for q in message["meta"]["quick_replies"] if q["label"] == label)


async def events(server: TestServer, conversation_id: str) -> list[Any]:
    found: list[Any] = await server.kit.store.list_events(  # type: ignore[attr-defined]
        conversation_id=conversation_id)
    return found


async def test_the_menu_hands_over_to_a_team_and_the_agent_sees_it_all(
        bot_server: TestServer, chat: Chat, agent: AgentClient) -> None:
    resumed = await chat.open("es")
    assert resumed["conversation"] is None
    # The widget showed the greeting from /api/widget/config; picking from it starts the
    # conversation, whose message 1 is that greeting.
    sent = await chat.pick(1, "billing")
    assert (sent["seq"], sent["sender"], sent["body"]) == (2, "visitor", "Facturación")
    assert sent["meta"] == {"reply_to": {"seq": 1, "choice": "billing"}}
    greeting, handoff = await chat.heard(2)
    assert (greeting["seq"], greeting["body"]) == (1, "¡Hola! Soy el asistente de Acme.")
    assert greeting["author_name"] == "Asistente de Acme"
    assert greeting["meta"]["kind"] == "menu"
    assert [q["label"] for q in greeting["meta"]["quick_replies"]] == [
        "Facturación", "Sales", "Hacer una pregunta"]
    assert handoff["seq"] == 3 and handoff["meta"] == {"kind": "handoff"}
    assert handoff["body"].startswith("Te pongo en contacto con nuestro equipo de Facturación")
    queued = await chat.until_status("queued")
    assert (queued["team"], queued["handoff_reason"]) == ("billing", "menu")

    # The agent gets the whole transcript, the bot's messages included, on join.
    joined = await agent.ok("join", {"conversation_id": sent["conversation_id"]})
    assert [(m["seq"], m["sender"], m["meta"]["kind"] if m["sender"] == "bot" else None)
            for m in joined["messages"]] == [(1, "bot", "menu"), (2, "visitor", None),
                                             (3, "bot", "handoff")]
    assert joined["conversation"]["team"] == "billing"
    log = await events(bot_server, sent["conversation_id"])
    queued_event = next(e for e in log if e.kind == "conversation.queued")
    assert queued_event.actor_kind == "bot"
    assert (queued_event.data["reason"], queued_event.data["team"]) == ("menu", "billing")


async def test_an_answer_that_does_not_help_twice_goes_to_a_person(
        bot_server: TestServer, chat: Chat, agent: AgentClient) -> None:
    await chat.open()
    asked = await chat.pick(1, "question")
    assert asked["body"] == "Ask a question"
    greeting, prompt = await chat.heard(2)
    assert prompt["body"].startswith("Sure. What's your question")
    conversation_id = asked["conversation_id"]

    for attempt in (1, 2):
        await chat.say(ANSWERED)
        answer, feedback = await chat.heard(2)
        assert answer["body"] == "Orders arrive in **2-4 business days**."
        assert answer["meta"]["entry_id"] == "shipping"
        assert answer["meta"]["articles"][0] == {
            "id": "shipping", "title": "How long does shipping take?",
            "url": "/chat/help/articles/shipping"}
        assert feedback["body"] == "Did this help?" and feedback["seq"] == answer["seq"] + 1
        no = await chat.pick(feedback["seq"], "no")
        assert no["body"] == "No"
        (reply,) = await chat.heard(1)
        if attempt == 1:
            assert reply["meta"]["kind"] == "fallback"
    assert reply["meta"] == {"kind": "handoff"}
    queued = await chat.until_status("queued")
    assert (queued["handoff_reason"], queued["team"]) == ("not_helpful", "support")

    joined = await agent.ok("join", {"conversation_id": conversation_id})
    assert [(m["sender"], m["body"]) for m in joined["messages"]] == [
        ("bot", greeting["body"]), ("visitor", "Ask a question"), ("bot", prompt["body"]),
        ("visitor", ANSWERED), ("bot", answer["body"]), ("bot", "Did this help?"),
        ("visitor", "No"), ("bot", "Sorry about that. Could you ask in other words? Or talk "
                                   "to a person."),
        ("visitor", ANSWERED), ("bot", answer["body"]), ("bot", "Did this help?"),
        ("visitor", "No"), ("bot", reply["body"])]
    # A person has it now: the bot says nothing more.
    await agent.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                               "body": "Hi, I'm Ada. Let me check."})
    await chat.say("Thanks")
    (from_agent,) = await chat.heard(1)
    assert from_agent["sender"] == "agent"
    assert chat.visitor.pending("message") == []


async def test_close_answers_are_offered_and_a_pick_is_answered(chat: Chat) -> None:
    await chat.open()
    sent = await chat.say(CLOSE)
    assert sent["seq"] == 2
    _greeting, clarify = await chat.heard(2)
    assert clarify["meta"]["kind"] == "clarify"
    labels = [q["label"] for q in clarify["meta"]["quick_replies"]]
    assert labels[-1] == "None of these" and "How do I cancel my booking?" in labels
    picked = await chat.pick(clarify["seq"],
                             choice_id(clarify, "How do I cancel my booking?"))
    assert picked["body"] == "How do I cancel my booking?"
    answer, feedback = await chat.heard(2)
    assert answer["body"] == "Open **My bookings** and choose *Cancel*."
    assert answer["meta"]["entry_id"] == "cancel-booking"
    assert feedback["meta"]["kind"] == "feedback"


async def test_two_turns_without_an_answer_go_to_a_person(bot_server: TestServer,
                                                          chat: Chat) -> None:
    await chat.open()
    sent = await chat.say(UNKNOWN)
    _greeting, fallback = await chat.heard(2)
    assert fallback["meta"] == {"kind": "fallback", "quick_replies": [
        {"id": "person", "label": "Talk to a person"}]}
    await chat.say("and turtle toys?")
    (handoff,) = await chat.heard(1)
    assert handoff["meta"] == {"kind": "handoff"}
    queued = await chat.until_status("queued")
    assert (queued["handoff_reason"], queued["team"]) == ("low_confidence", None)
    kinds = [e.kind for e in await events(bot_server, sent["conversation_id"])]
    assert kinds == ["conversation.created", "conversation.queued"]


async def test_a_configured_phrase_goes_to_a_person_at_once(chat: Chat) -> None:
    await chat.open()
    await chat.say("Please cancel my account today")
    _greeting, handoff = await chat.heard(2)
    assert handoff["body"].startswith("Connecting you with a person")
    queued = await chat.until_status("queued")
    assert (queued["handoff_reason"], queued["team"]) == ("phrase", "retention")


async def test_talk_to_a_person_after_an_answer_goes_to_its_team(chat: Chat) -> None:
    await chat.open()
    await chat.say(ANSWERED)
    await chat.heard(3)
    conversation = await chat.visitor.ok("handoff", {"reason": "I'd rather ask someone"})
    assert conversation["status"] == "queued"
    assert (conversation["handoff_reason"], conversation["team"]) == ("visitor_asked",
                                                                      "support")


async def test_invalid_quick_replies_are_refused_and_change_nothing(chat: Chat) -> None:
    await chat.open()

    async def refused(payload: dict[str, Any]) -> str:
        ack = await chat.visitor.call("message", {"client_id": f"x-{next(_ids)}", **payload})
        assert not ack["ok"], ack
        code: str = ack["error"]["code"]
        return code

    # No conversation yet: only the greeting's menu, as message 1, can be answered.
    assert await refused({"reply_to": {"seq": 1, "choice": "sing-a-song"}}) == "invalid_choice"
    assert await refused({"reply_to": {"seq": 2, "choice": "billing"}}) == "invalid_choice"
    assert (await chat.visitor.ok("resume"))["conversation"] is None

    sent = await chat.say(ANSWERED)
    _greeting, answer, feedback = await chat.heard(3)
    # A choice another message offered, a message that offered none, a visitor's message,
    # a message that does not exist.
    for seq, choice in [(feedback["seq"], "billing"), (answer["seq"], "yes"),
                        (sent["seq"], "yes"), (99, "yes")]:
        assert await refused({"reply_to": {"seq": seq, "choice": choice}}) == "invalid_choice"
    ack = await chat.visitor.call("message", {"client_id": "x-1", "reply_to": {
        "seq": feedback["seq"], "choice": "maybe"}})
    assert ack["error"]["message"] == (f"reply_to: message {feedback['seq']} did not offer "
                                       "the choice 'maybe'")
    # Malformed: body and reply_to together, neither, a bad seq, unknown fields.
    for payload in [{"body": "Yes", "reply_to": {"seq": feedback["seq"], "choice": "yes"}},
                    {}, {"reply_to": {"seq": 0, "choice": "yes"}},
                    {"reply_to": {"seq": "3", "choice": "yes"}},
                    {"reply_to": {"seq": 3, "choice": "yes", "label": "Yes"}},
                    {"reply_to": {"seq": 3, "choice": ""}}]:
        assert await refused(payload) == "invalid_payload"
    page = await chat.visitor.ok("history", {"conversation_id": sent["conversation_id"]})
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4]
    # A valid pick is stored once, even when resent.
    payload = {"client_id": "yes-1", "reply_to": {"seq": feedback["seq"], "choice": "yes"}}
    first = await chat.visitor.ok("message", payload)
    again = await chat.visitor.ok("message", payload)
    assert first == again and first["body"] == "Yes"


async def test_a_bad_locale_is_refused(chat: Chat) -> None:
    await chat.visitor.connect()
    ack = await chat.visitor.call("resume", {"locale": "<script>"})
    assert ack["error"]["code"] == "invalid_payload"


async def test_the_widget_gets_the_greeting_before_any_conversation(
        bot_server: TestServer, start_server: StartServer) -> None:
    base = f"http://{bot_server.host}:{bot_server.port}/chat/api/widget/config"
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params={"locale": "es-MX"}) as response:
            assert response.status == 200
            config = await response.json()
        async with http.get(base) as response:
            english = await response.json()
        async with http.get(base, params={"locale": "x" * 50}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_payload"
        async with http.get(base, params={"other": "1"}) as response:
            assert response.status == 400
    greeting = config["greeting"]
    assert greeting["body"] == "¡Hola! Soy el asistente de Acme."
    assert greeting["author_name"] == "Asistente de Acme" and greeting["sender"] == "bot"
    assert greeting["meta"]["quick_replies"][0] == {"id": "billing", "label": "Facturación"}
    assert english["greeting"]["meta"]["quick_replies"][0]["label"] == "Billing"

    no_bot = await start_server()
    url = f"http://{no_bot.host}:{no_bot.port}/chat/api/widget/config"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        found = await response.json()
    assert found["greeting"] is None and found["attachments"] == {
        "max_bytes": 10 * 1024 * 1024, "types": [
            "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"]}
    assert found["triggers"] == []
    # Whether a person can chat now (tests/routing/test_offline.py looks closer).
    assert set(found["availability"]) == {"available", "open", "opens_at", "time_zone",
                                          "teams"}


async def test_the_developers_answerers_come_first(
        start_server: StartServer, make_settings: Callable[..., Settings]) -> None:
    example = load_example("custom_answerer")
    server = await start_server(ChatKit(make_settings(bot_enabled=True),
                                        answerers=[example.OrderStatus(example.ORDERS), "kb"]))
    chat = Chat(server)
    await chat.open()
    await chat.say("Where is my order 1042?")
    _greeting, answer, feedback = await chat.heard(3)
    assert answer["body"] == "Order **#1042** is shipped on Monday."
    assert feedback["meta"]["kind"] == "feedback"
    assert answer["meta"]["articles"] == [
        {"id": None, "title": "Track a parcel", "url": "https://track.example.com/"}]
    # The demo knowledge base answers the rest.
    await chat.say("How long does shipping take?")
    answer, _feedback = await chat.heard(2)
    assert answer["meta"]["entry_id"] == "shipping-time"
    await chat.close()


def test_answerers_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ChatKit(answerers=[])
    with pytest.raises(ValueError, match="unknown name 'faq'"):
        ChatKit(answerers=["faq"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="no answer"):
        ChatKit(answerers=[object()])  # type: ignore[list-item]
