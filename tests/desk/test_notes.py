"""Private notes and whispers: agents see them, the visitor never does (live, history,
resume), and the visitor's resume and read marks work across the seqs notes take."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.test_utils import TestServer

from tests.clients import PREFIX, Visitor
from tests.desk.conftest import chat_with, close, login


async def test_a_note_reaches_agents_and_never_the_visitor(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    token = (await visitor.ok("resume"))["token"]
    bo = await login(desk, "bo")  # the same team: may read it
    sue = await login(desk, "sue")  # a supervisor watching: hears it live
    await sue.ok("watch", {"conversation_id": conversation_id})
    hello = await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                                     "body": "Hi! Let me look."})
    note = await ada.ok("note", {"conversation_id": conversation_id, "client_id": "a-2",
                                 "body": "Third late order this month <b>VIP</b>"})
    assert note["internal"] is True and note["meta"] == {"kind": "note"}
    assert (note["sender"], note["author_name"], note["seq"]) == ("agent", "Ada Person", 3)
    # Once per client id, like messages.
    again = await ada.ok("note", {"conversation_id": conversation_id, "client_id": "a-2",
                                  "body": "Third late order this month <b>VIP</b>"})
    assert again["seq"] == 3
    after = await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-3",
                                     "body": "Found it: it ships today."})
    assert (hello["seq"], after["seq"]) == (2, 4)

    # Live: the visitor hears seqs 2 and 4, nothing between.
    live = [await visitor.next("message"), await visitor.next("message")]
    assert [m["seq"] for m in live] == [2, 4]
    await asyncio.sleep(0.2)
    assert visitor.pending("message") == []
    # History and a resume from before the note.
    page = await visitor.ok("history", {"conversation_id": conversation_id})
    assert [m["seq"] for m in page["messages"]] == [1, 2, 4]
    resumed = await visitor.ok("resume", {"since_seq": 2})
    assert [m["seq"] for m in resumed["messages"]] == [4]
    assert resumed["has_more"] is False and resumed["conversation"]["last_seq"] == 4
    # The visitor reads up to the last it saw; the mark passes the note's seq.
    read = await visitor.ok("read", {"seq": 4})
    assert read["visitor_read_seq"] == 4
    # A reconnect (another tab) with a since_seq: exact, no note.
    tab = Visitor(desk)
    resumed = await tab.start(token, since_seq=1)
    assert [(m["seq"], m["body"]) for m in resumed["messages"]] == [
        (2, "Hi! Let me look."), (4, "Found it: it ships today.")]
    assert all(not m["internal"] for m in resumed["messages"])
    # Paged: a page of one after seq 2 is seq 4, and says there is no more.
    resumed = await tab.ok("resume", {"since_seq": 2, "limit": 1})
    assert [m["seq"] for m in resumed["messages"]] == [4] and resumed["has_more"] is False

    # Who watches hears it live; another agent of the team reads it in history.
    heard = await sue.next("message")
    assert heard["seq"] == 2
    heard = await sue.next("message")
    assert heard["seq"] == 3 and heard["internal"] and heard["body"].endswith("<b>VIP</b>")
    page = await bo.ok("history", {"conversation_id": conversation_id})
    assert [m["seq"] for m in page["messages"]] == [1, 2, 3, 4]
    # The page-load check counts only what the visitor sees.
    await ada.ok("note", {"conversation_id": conversation_id, "client_id": "a-4",
                          "body": "waiting on the warehouse"})
    url = f"http://{desk.host}:{desk.port}{PREFIX}/api/widget/visitor"
    async with aiohttp.ClientSession() as http, http.get(
            url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert (await response.json())["unread"] == 0
    await asyncio.sleep(0.2)
    assert visitor.pending("message") == [] and tab.pending("message") == []
    await close(ada, bo, sue, visitor, tab)


async def test_notes_are_refused_where_the_agent_may_not_see(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    cy = await login(desk, "cy")  # billing: not her team's chat
    ack = await cy.call("note", {"conversation_id": conversation_id, "client_id": "c-1",
                                 "body": "hello"})
    assert ack["error"]["code"] == "forbidden"
    for bad in ({"conversation_id": conversation_id, "client_id": "c-1", "body": "  "},
                {"conversation_id": conversation_id, "client_id": "c-1"},
                {"conversation_id": conversation_id, "client_id": "c-1", "body": "x" * 4001}):
        assert (await ada.call("note", bad))["error"]["code"] == "invalid_payload"
    ack = await ada.call("note", {"conversation_id": "nope", "client_id": "c-1", "body": "x"})
    assert ack["error"]["code"] == "not_found"
    await ada.ok("resolve", {"conversation_id": conversation_id})
    ack = await ada.call("note", {"conversation_id": conversation_id, "client_id": "c-2",
                                  "body": "after"})
    assert ack["error"]["code"] == "conflict"
    await close(ada, cy, visitor)


async def test_a_supervisor_whispers_to_the_agent(desk: TestServer) -> None:
    ada = await login(desk, "ada", online=True)
    visitor, conversation_id = await chat_with(desk, ada)
    sue = await login(desk, "sue")
    bo = await login(desk, "bo")
    ack = await bo.call("whisper", {"conversation_id": conversation_id, "client_id": "b-1",
                                    "body": "psst"})
    assert ack["error"]["code"] == "forbidden"
    whisper = await sue.ok("whisper", {"conversation_id": conversation_id, "client_id": "s-1",
                                       "body": "Offer the refund, it's approved."})
    assert whisper["internal"] is True
    assert whisper["meta"] == {"kind": "note", "whisper": True,
                               "to_agent_id": whisper["meta"]["to_agent_id"]}
    assert whisper["author_name"] == "Sue Person"
    heard = await ada.next("message")
    assert heard["seq"] == whisper["seq"] and heard["meta"]["whisper"] is True
    await asyncio.sleep(0.2)
    assert visitor.pending("message") == []
    page = await visitor.ok("history", {"conversation_id": conversation_id})
    assert [m["seq"] for m in page["messages"]] == [1]
    await close(ada, bo, sue, visitor)
