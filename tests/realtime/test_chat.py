"""Visitor to agent and back, over real Socket.IO connections to a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from chatkit.storage import SqlStore
from tests.clients import AgentClient, Visitor
from tests.conftest import AGENT_EMAIL, AGENT_PASSWORD


async def test_visitor_to_agent_and_back(server: TestServer, visitor: Visitor,
                                         agent: AgentClient) -> None:
    resumed = await visitor.start()
    assert resumed["conversation"] is None and resumed["messages"] == []
    assert resumed["token"] and resumed["contact_id"]

    sent = await visitor.say("Where is my order?", "v-1")
    assert sent["seq"] == 1 and sent["sender"] == "visitor" and sent["client_id"] == "v-1"
    conversation_id = sent["conversation_id"]

    # Without a bot the conversation is queued at once, and every agent hears of it.
    update = await agent.next("conversation")
    assert update["id"] == conversation_id and update["status"] == "queued"
    listed = await agent.ok("conversations")
    assert [c["id"] for c in listed["conversations"]] == [conversation_id]

    joined = await agent.ok("join", {"conversation_id": conversation_id})
    assert joined["conversation"]["status"] == "assigned"
    assert joined["conversation"]["agent_name"] == "Ada"
    assert [m["body"] for m in joined["messages"]] == ["Where is my order?"]

    # The visitor sees who took the chat...
    while (changed := await visitor.next("conversation"))["status"] != "assigned":
        pass
    assert changed["agent_name"] == "Ada"

    # ...and the reply, live.
    reply = await agent.ok("message", {"conversation_id": conversation_id,
                                       "client_id": "a-1", "body": "It ships today."})
    assert reply["seq"] == 2 and reply["sender"] == "agent" and reply["author_name"] == "Ada"
    received = await visitor.next("message")
    assert received == reply

    # The visitor's next message reaches the agent, not echoed back to the visitor's socket.
    sent = await visitor.say("Thanks!", "v-2")
    assert await agent.next("message") == sent
    assert visitor.pending("message") == []

    resolved = await agent.ok("resolve", {"conversation_id": conversation_id})
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    while (changed := await visitor.next("conversation"))["status"] != "resolved":
        pass


async def test_second_tab_receives_the_visitors_own_messages(server: TestServer) -> None:
    first, second = Visitor(server), Visitor(server)
    token = (await first.start())["token"]
    await second.start(token)
    sent = await first.say("hello from tab one", "t-1")
    assert await second.next("message") == sent
    await first.close()
    await second.close()


async def test_history_pages_backwards(server: TestServer, visitor: Visitor) -> None:
    await visitor.start()
    for n in range(1, 8):
        sent = await visitor.say(f"message {n}", f"c-{n}")
    conversation_id = sent["conversation_id"]
    page = await visitor.ok("history", {"conversation_id": conversation_id, "limit": 3})
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7] and page["has_more"]
    page = await visitor.ok("history", {"conversation_id": conversation_id, "before_seq": 5,
                                        "limit": 3})
    assert [m["seq"] for m in page["messages"]] == [2, 3, 4] and page["has_more"]
    page = await visitor.ok("history", {"conversation_id": conversation_id, "before_seq": 2,
                                        "limit": 3})
    assert [m["seq"] for m in page["messages"]] == [1] and not page["has_more"]


async def test_two_agents_joining_at_once_one_wins(server: TestServer,
                                                   visitor: Visitor) -> None:
    await server.kit.agents.create(email="bo@example.com", name="Bo",  # type: ignore[attr-defined]
                                   password="another secret")
    first, second = AgentClient(server), AgentClient(server)
    await first.login(AGENT_EMAIL, AGENT_PASSWORD)
    await second.login("bo@example.com", "another secret")
    await visitor.start()
    conversation_id = (await visitor.say("hi", "c-1"))["conversation_id"]

    acks = await asyncio.gather(*(a.call("join", {"conversation_id": conversation_id})
                                  for a in (first, second)))
    assert sorted(ack["ok"] for ack in acks) == [False, True]
    loser = next(ack for ack in acks if not ack["ok"])
    assert loser["error"]["code"] == "conflict"
    # The loser can neither reply nor resolve.
    loser_client = second if acks[0]["ok"] else first
    ack = await loser_client.call("message", {"conversation_id": conversation_id,
                                              "client_id": "x", "body": "mine!"})
    assert ack["error"]["code"] == "conflict"
    ack = await loser_client.call("resolve", {"conversation_id": conversation_id})
    assert ack["error"]["code"] == "conflict"
    await first.close()
    await second.close()


async def bot_with_agent_on_duty(start_server: object,
                                 tmp_path: Path) -> tuple[TestServer, AgentClient]:
    """The bot on, and an agent online in a team whose chats wait to be picked: a handoff is
    queued (nobody online would get the offline form, tests/routing/test_offline.py) and
    stays queued."""
    routing = tmp_path / "routing.yaml"
    routing.write_text("teams: [{id: support, strategy: manual}]\n", encoding="utf-8")
    server: TestServer = await start_server(  # type: ignore[operator]
        bot_enabled=True, routing_path=routing)
    await server.kit.agents.create(email=AGENT_EMAIL, name="Ada",  # type: ignore[attr-defined]
                                   password=AGENT_PASSWORD, role=AgentRole.AGENT)
    agent = AgentClient(server)
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    await agent.ok("presence", {"status": "online"})
    return server, agent


async def test_handoff_queues_the_conversation(start_server: object, tmp_path: Path) -> None:
    server, agent = await bot_with_agent_on_duty(start_server, tmp_path)
    visitor = Visitor(server)
    await visitor.start()
    sent = await visitor.say("How long does shipping take?", "c-1")
    greeting = await visitor.next("message")
    assert greeting["seq"] == 1 and greeting["meta"]["kind"] == "menu"
    answer = await visitor.next("message")
    assert answer["sender"] == "bot" and "business days" in answer["body"]
    assert answer["seq"] == sent["seq"] + 1
    conversation = await visitor.ok("handoff", {"reason": "want a person"})
    assert conversation["status"] == "queued" and conversation["queued_at"] is not None
    # Asking twice changes nothing.
    again = await visitor.ok("handoff")
    assert again["status"] == "queued" and again["queued_at"] == conversation["queued_at"]
    await visitor.close()
    await agent.close()

    store = SqlStore(server.kit.settings.database_url)  # type: ignore[attr-defined]
    await store.open()
    kinds = [e.kind for e in await store.list_events(conversation_id=sent["conversation_id"])]
    await store.close()
    assert kinds == ["conversation.created", "conversation.queued"]


async def test_bot_hands_over_when_asked_in_words(start_server: object,
                                                  tmp_path: Path) -> None:
    server, agent = await bot_with_agent_on_duty(start_server, tmp_path)
    visitor = Visitor(server)
    await visitor.start()
    await visitor.say("I want to talk to a human please", "c-1")
    greeting, reply = await visitor.next("message"), await visitor.next("message")
    assert greeting["meta"]["kind"] == "menu"
    assert reply["sender"] == "bot" and reply["meta"] == {"kind": "handoff"}
    while (changed := await visitor.next("conversation"))["status"] != "queued":
        pass
    assert changed["queued_at"] is not None
    assert changed["handoff_reason"] == "visitor_asked"
    await visitor.close()
    await agent.close()


async def test_two_tabs_starting_at_once_share_one_conversation(server: TestServer) -> None:
    tabs = [Visitor(server) for _ in range(4)]
    token = (await tabs[0].start())["token"]
    for tab in tabs[1:]:
        await tab.start(token)
    sent = await asyncio.gather(*(tab.say(f"first words from tab {n}", f"t{n}")
                                  for n, tab in enumerate(tabs)))
    assert len({m["conversation_id"] for m in sent}) == 1
    assert sorted(m["seq"] for m in sent) == [1, 2, 3, 4]
    for tab in tabs:
        await tab.close()


async def test_typing_is_relayed_both_ways_and_not_stored(server: TestServer, visitor: Visitor,
                                                          agent: AgentClient) -> None:
    await visitor.start()
    assert await visitor.ok("typing", {"typing": True}) == {}  # no conversation yet: no one hears
    sent = await visitor.say("hi", "v-1")
    conversation_id = sent["conversation_id"]
    ack = await agent.call("typing", {"conversation_id": conversation_id, "typing": True})
    assert ack["error"]["code"] == "conflict"  # not joined
    await agent.ok("join", {"conversation_id": conversation_id})

    await visitor.ok("typing", {"typing": True})
    assert await agent.next("typing") == {"conversation_id": conversation_id,
                                          "sender": "visitor", "author_name": None,
                                          "typing": True}
    await agent.ok("typing", {"conversation_id": conversation_id, "typing": True})
    assert await visitor.next("typing") == {"conversation_id": conversation_id,
                                            "sender": "agent", "author_name": "Ada",
                                            "typing": True}
    ack = await visitor.call("typing", {"typing": "yes"})
    assert ack["error"]["code"] == "invalid_payload"
    page = await visitor.ok("history", {"conversation_id": conversation_id})
    assert [m["body"] for m in page["messages"]] == ["hi"]


async def test_read_marks_move_forward_and_reach_the_other_side(
        server: TestServer, visitor: Visitor, agent: AgentClient) -> None:
    await visitor.start()
    for n in range(3):
        sent = await visitor.say(f"message {n}", f"v-{n}")
    conversation_id = sent["conversation_id"]
    ack = await agent.call("read", {"conversation_id": conversation_id, "seq": 2})
    assert ack["error"]["code"] == "conflict"  # not joined
    await agent.ok("join", {"conversation_id": conversation_id})

    marked = await agent.ok("read", {"conversation_id": conversation_id, "seq": 2})
    assert marked["agent_read_seq"] == 2
    assert await visitor.next("read") == {"conversation_id": conversation_id,
                                          "reader": "agent", "seq": 2}
    # Backwards is no change and no event; beyond the last message is capped.
    assert (await agent.ok("read", {"conversation_id": conversation_id,
                                    "seq": 1}))["agent_read_seq"] == 2
    assert (await agent.ok("read", {"conversation_id": conversation_id,
                                    "seq": 99}))["agent_read_seq"] == 3
    assert (await visitor.next("read"))["seq"] == 3
    assert visitor.pending("read") == []

    reply = await agent.ok("message", {"conversation_id": conversation_id,
                                       "client_id": "a-1", "body": "hello"})
    await visitor.next("message")
    mine = await visitor.ok("read", {"seq": reply["seq"]})
    assert mine["visitor_read_seq"] == reply["seq"]
    while (event := await agent.next("read"))["reader"] != "visitor":
        pass
    assert event["seq"] == reply["seq"]
    # The marks are kept: a later resume tells where each side stands.
    resumed = await visitor.ok("resume")
    assert resumed["conversation"]["agent_read_seq"] == 3
    assert resumed["conversation"]["visitor_read_seq"] == reply["seq"]
    ack = await visitor.call("read", {"seq": 0})
    assert ack["error"]["code"] == "invalid_payload"
