"""Messages with attachments, both ways, over real Socket.IO connections to a real server."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.attachments import samples
from tests.attachments.http import download, upload
from tests.clients import AgentClient, Visitor
from tests.conftest import AGENT_EMAIL, AGENT_PASSWORD, StartServer


async def upload_id(server: TestServer, token: str, data: bytes, name: str) -> str:
    uploaded = await upload(server, token, data, name)
    assert uploaded.status == 201, uploaded.body
    attachment_id: str = uploaded.json()["id"]
    return attachment_id


async def test_visitor_sends_files_and_the_agent_sends_one_back(
        server: TestServer, visitor: Visitor) -> None:
    token = (await visitor.start())["token"]
    picture = await upload_id(server, token, samples.png(), "photo.png")
    document = await upload_id(server, token, samples.PDF, "receipt.pdf")

    # Files alone: the body may be left out, and is empty.
    sent = await visitor.ok("message", {"client_id": "v-1",
                                        "attachment_ids": [picture, document]})
    assert sent["body"] == "" and sent["sender"] == "visitor"
    files = sent["meta"]["attachments"]
    assert [(f["id"], f["name"], f["content_type"], f["size"]) for f in files] == [
        (picture, "photo.png", "image/png", len(samples.png())),
        (document, "receipt.pdf", "application/pdf", len(samples.PDF))]
    conversation_id = sent["conversation_id"]

    agent = AgentClient(server)
    agent_token = await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    joined = await agent.ok("join", {"conversation_id": conversation_id})
    (seen,) = joined["messages"]
    assert [f["id"] for f in seen["meta"]["attachments"]] == [picture, document]
    for carried, data in zip(seen["meta"]["attachments"], (samples.png(), samples.PDF),
                             strict=True):
        # The link works as it is (an <img> sends no token of its own).
        got = await download(server, carried["url"])
        assert got.status == 200 and got.body == data

    # Words and files together; the visitor's other tab and the agent hear it live.
    second_tab = Visitor(server)
    await second_tab.start(token)
    gif = await upload_id(server, token, samples.GIF, "wave.gif")
    sent = await visitor.ok("message", {"client_id": "v-2", "body": "and this",
                                        "attachment_ids": [gif]})
    live = await agent.next("message")
    assert live["body"] == "and this" and live["meta"]["attachments"][0]["id"] == gif
    assert (await second_tab.next("message"))["meta"]["attachments"][0]["id"] == gif
    await second_tab.close()

    # The agent sends a picture back.
    reply_file = await upload_id(server, agent_token, samples.png(4, 4, (0, 90, 200)),
                                 "diagram.png")
    reply = await agent.ok("message", {"conversation_id": conversation_id,
                                       "client_id": "a-1", "attachment_ids": [reply_file]})
    heard = await visitor.next("message")
    assert heard == reply and heard["body"] == ""
    (carried,) = heard["meta"]["attachments"]
    assert (carried["name"], carried["content_type"]) == ("diagram.png", "image/png")
    got = await download(server, carried["url"])
    assert got.status == 200 and got.body == samples.png(4, 4, (0, 90, 200))
    # ...and it is in the visitor's history, with a link.
    page = await visitor.ok("history", {"conversation_id": conversation_id})
    assert page["messages"][-1]["meta"]["attachments"][0]["url"].startswith("/chat/api/")
    await agent.close()


async def test_a_file_that_is_not_the_senders_is_refused(server: TestServer,
                                                         visitor: Visitor) -> None:
    token = (await visitor.start())["token"]
    sent = await visitor.say("hello", "v-1")
    stranger = Visitor(server)
    foreign = await upload_id(server, (await stranger.start())["token"], samples.png(), "x.png")
    await stranger.close()

    agent = AgentClient(server)
    agent_token = await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    agents_file = await upload_id(server, agent_token, samples.GIF, "a.gif")
    for ids in ([foreign], [agents_file], ["0" * 32]):
        ack = await visitor.call("message", {"client_id": "v-2", "body": "mine?",
                                             "attachment_ids": ids})
        assert ack["error"]["code"] == "not_found", ack
        assert ids[0] in ack["error"]["message"]
    # The agent may not send the visitor's files either.
    await agent.ok("join", {"conversation_id": sent["conversation_id"]})
    own = await upload_id(server, token, samples.GIF, "b.gif")
    ack = await agent.call("message", {"conversation_id": sent["conversation_id"],
                                       "client_id": "a-1", "attachment_ids": [own]})
    assert ack["error"]["code"] == "not_found"
    # Nothing was stored or broadcast, and the file still waits for its uploader.
    page = await visitor.ok("history", {"conversation_id": sent["conversation_id"]})
    assert [m["body"] for m in page["messages"]] == ["hello"]
    assert agent.pending("message") == []
    assert (await download(server, own, token)).status == 200
    await agent.close()


async def test_a_file_goes_in_one_message_and_a_resend_gets_that_message(
        server: TestServer, visitor: Visitor, agent: AgentClient) -> None:
    token = (await visitor.start())["token"]
    picture = await upload_id(server, token, samples.png(), "photo.png")
    payload = {"client_id": "v-1", "body": "look", "attachment_ids": [picture]}
    first = await visitor.ok("message", payload)
    await agent.ok("join", {"conversation_id": first["conversation_id"]})
    # The ack was lost, say: the resend gets the original, and nothing is broadcast again.
    assert await visitor.ok("message", payload) == first
    ack = await visitor.call("message", {"client_id": "v-2", "attachment_ids": [picture]})
    assert ack["error"]["code"] == "conflict"
    page = await visitor.ok("history", {"conversation_id": first["conversation_id"]})
    assert [m["client_id"] for m in page["messages"]] == ["v-1"]
    assert agent.pending("message") == []


@pytest.mark.parametrize(("payload", "problem"), [
    ({"client_id": "c", "attachment_ids": []}, "attachment_ids"),
    ({"client_id": "c", "attachment_ids": ["a" * 32] * 2}, "twice"),
    ({"client_id": "c", "attachment_ids": [f"{n:032x}" for n in range(6)]}, "attachment_ids"),
    ({"client_id": "c", "attachment_ids": ["../../etc/passwd"]}, "attachment_ids"),
    ({"client_id": "c", "attachment_ids": "a" * 32}, "attachment_ids"),
    ({"client_id": "c", "body": "  ", "attachment_ids": ["a" * 32]}, "whitespace"),
    ({"client_id": "c", "reply_to": {"seq": 1, "choice": "faq"},
      "attachment_ids": ["a" * 32]}, "reply_to"),
    ({"client_id": "c"}, "send body"),
])
async def test_visitor_payloads_are_checked(visitor: Visitor, payload: dict[str, Any],
                                            problem: str) -> None:
    await visitor.start()
    ack = await visitor.call("message", payload)
    assert ack["error"]["code"] == "invalid_payload" and problem in ack["error"]["message"]


async def test_agent_payloads_are_checked(visitor: Visitor, agent: AgentClient) -> None:
    await visitor.start()
    conversation_id = (await visitor.say("hi", "v-1"))["conversation_id"]
    await agent.ok("join", {"conversation_id": conversation_id})
    for payload in ({"conversation_id": conversation_id, "client_id": "a"},
                    {"conversation_id": conversation_id, "client_id": "a",
                     "attachment_ids": ["A" * 32]}):
        ack = await agent.call("message", payload)
        assert ack["error"]["code"] == "invalid_payload"


async def test_files_alone_are_nothing_for_the_bot_to_answer(start_server: StartServer) -> None:
    server = await start_server(bot_enabled=True)
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    picture = await upload_id(server, token, samples.png(), "photo.png")
    sent = await visitor.ok("message", {"client_id": "v-1", "attachment_ids": [picture]})
    assert sent["seq"] == 2  # after the greeting
    asked = await visitor.say("How long does shipping take?", "v-2")
    while (message := await visitor.next("message"))["meta"] is None or \
            message["meta"].get("kind") != "feedback":
        pass
    page = await visitor.ok("history", {"conversation_id": sent["conversation_id"]})
    said = [(m["sender"], (m["meta"] or {}).get("kind")) for m in page["messages"]]
    # One answer, to the words; no "could you ask in other words?" for the picture.
    assert said == [("bot", "menu"), ("visitor", None), ("visitor", None), ("bot", "answer"),
                    ("bot", "feedback")]
    assert asked["seq"] == 3
    await visitor.close()
