"""The delivery guarantees of docs/protocol.md: ack after commit, once-only storage of a
client id, replay by sequence, token resume across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiohttp.test_utils import TestServer

from chatkit import ChatKit
from chatkit.models import AppendResult, NewMessage
from chatkit.storage import SqlStore
from tests.clients import AgentClient, Visitor


async def stored_bodies(url: str, conversation_id: str) -> list[tuple[int, str]]:
    """What a separate connection finds committed in the database file."""
    store = SqlStore(url)
    await store.open()
    try:
        messages, _ = await store.get_messages(conversation_id, limit=1000)
    finally:
        await store.close()
    return [(m.seq, m.body) for m in messages]


class GatedStore(SqlStore):
    """The real store, but each commit of messages waits until the test opens the gate."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()

    async def append_messages(self, batch: Sequence[NewMessage]) -> list[AppendResult | None]:
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        return await super().append_messages(batch)


async def test_ack_only_after_commit(start_server: object, make_settings: object,
                                     db_url: str) -> None:
    store = GatedStore(db_url)
    kit = ChatKit(make_settings(), store=store)  # type: ignore[operator]
    server: TestServer = await start_server(kit)  # type: ignore[operator]
    visitor = Visitor(server)
    await visitor.start()
    first = await visitor.say("first", "c-1")

    store.gate.clear()
    ack = asyncio.create_task(visitor.call("message", {"client_id": "c-2", "body": "second"}))
    await asyncio.wait_for(store.waiting.wait(), 5)
    await asyncio.sleep(0.2)
    assert not ack.done(), "acknowledged before the commit"
    assert await stored_bodies(db_url, first["conversation_id"]) == [(1, "first")]

    store.gate.set()
    result = await asyncio.wait_for(ack, 5)
    assert result["ok"] and result["data"]["seq"] == 2
    # Acknowledged means another connection can read it.
    assert await stored_bodies(db_url, first["conversation_id"]) == [(1, "first"),
                                                                      (2, "second")]
    await visitor.close()


async def test_resend_with_same_client_id_is_stored_once(server: TestServer,
                                                         agent: AgentClient) -> None:
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    original = await visitor.say("only once", "dup-1")
    await agent.ok("join", {"conversation_id": original["conversation_id"]})
    agent.pending("message")
    await visitor.close()

    # The visitor never saw the ack (say), reconnects, and resends.
    again = Visitor(server)
    await again.start(token)
    resent = await again.say("only once", "dup-1")
    assert resent == original  # same id, same seq
    # Two copies racing in one batch are stored once too.
    both = await asyncio.gather(again.say("twice", "dup-2"), again.say("twice", "dup-2"))
    assert both[0] == both[1]
    assert await stored_bodies(server.kit.settings.database_url,  # type: ignore[attr-defined]
                               original["conversation_id"]) == [(1, "only once"),
                                                                (2, "twice")]
    # The agent heard of "twice" once, and of the resent message not at all.
    assert (await agent.next("message"))["client_id"] == "dup-2"
    await asyncio.sleep(0.2)
    assert agent.pending("message") == []
    await again.close()


async def test_reconnect_replays_missed_messages_in_order(server: TestServer,
                                                          agent: AgentClient) -> None:
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    conversation_id = (await visitor.say("hello", "c-1"))["conversation_id"]
    await agent.ok("join", {"conversation_id": conversation_id})
    first_reply = await agent.ok("message", {"conversation_id": conversation_id,
                                             "client_id": "a-0", "body": "hi!"})
    seen = (await visitor.next("message"))["seq"]
    assert seen == first_reply["seq"] == 2
    await visitor.close()

    for n in range(1, 6):  # while the visitor is away
        await agent.ok("message", {"conversation_id": conversation_id,
                                   "client_id": f"a-{n}", "body": f"missed {n}"})

    back = Visitor(server)
    resumed = await back.start(token, since_seq=seen)
    assert resumed["conversation"]["id"] == conversation_id
    assert [(m["seq"], m["body"]) for m in resumed["messages"]] == [
        (3, "missed 1"), (4, "missed 2"), (5, "missed 3"), (6, "missed 4"), (7, "missed 5")]
    assert resumed["has_more"] is False
    # A small page says there is more.
    page = await back.ok("resume", {"since_seq": seen, "limit": 2})
    assert [m["seq"] for m in page["messages"]] == [3, 4] and page["has_more"]
    await back.close()


async def test_token_resumes_the_conversation_across_a_restart(
        start_server: object, make_settings: object) -> None:
    server: TestServer = await start_server()  # type: ignore[operator]
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    sent = await visitor.say("before the restart", "c-1")
    await visitor.close()
    await server.close()

    # A new process on the same database: the token still names the same visitor.
    fresh = ChatKit(make_settings())  # type: ignore[operator]
    server = await start_server(fresh)  # type: ignore[operator]
    visitor = Visitor(server)
    resumed = await visitor.start(token)
    assert resumed["conversation"]["id"] == sent["conversation_id"]
    assert [m["body"] for m in resumed["messages"]] == ["before the restart"]
    after = await visitor.say("after the restart", "c-2")
    assert after["seq"] == 2 and after["conversation_id"] == sent["conversation_id"]
    await visitor.close()


async def test_generated_secret_survives_a_restart(start_server: object,
                                                   make_settings: object) -> None:
    """With no secret configured, one is generated once and kept in the store."""
    server: TestServer = await start_server(secret_key=None)  # type: ignore[operator]
    visitor = Visitor(server)
    token = (await visitor.start())["token"]
    await visitor.say("hello", "c-1")
    await visitor.close()
    await server.close()
    server = await start_server(secret_key=None)  # type: ignore[operator]
    visitor = Visitor(server)
    assert [m["body"] for m in (await visitor.start(token))["messages"]] == ["hello"]
    await visitor.close()


@pytest.mark.parametrize("token", [
    "garbage",
    "e30.AAAA",
    "",
    "x" * 2000,
])
async def test_malformed_tokens_are_refused(server: TestServer, token: str) -> None:
    visitor = Visitor(server)
    with pytest.raises(Exception, match="failed to connect"):
        await visitor.connect({"token": token})
    assert visitor.connect_error["code"] in {"invalid_token", "invalid_payload"}


async def test_forged_and_foreign_tokens_are_refused(server: TestServer,
                                                     agent: AgentClient) -> None:
    from chatkit.tokens import TokenSigner

    owner = Visitor(server)
    resumed = await owner.start()
    sent = await owner.say("my private question", "c-1")

    # Signed by another server (another secret), for the very same contact.
    foreign = TokenSigner("another-server-secret-" + "y" * 32).sign("visitor",
                                                                    resumed["contact_id"])
    # Another visitor's genuine signature under the owner's payload, and a tampered payload.
    payload = resumed["token"].split(".")[0]
    stranger = Visitor(server)
    signature = (await stranger.start())["token"].split(".")[1]
    await stranger.close()
    for token in (foreign, f"{payload}.{signature}", f"{payload}x.{signature}"):
        intruder = Visitor(server)
        with pytest.raises(Exception, match="failed to connect"):
            await intruder.connect({"token": token})
        assert intruder.connect_error["code"] == "invalid_token"

    # An agent token is not a visitor token, nor the reverse.
    agent_token = server.kit.agents.issue_token(  # type: ignore[attr-defined]
        (await server.kit.store.list_agents())[0])  # type: ignore[attr-defined]
    intruder = Visitor(server)
    with pytest.raises(Exception, match="failed to connect"):
        await intruder.connect({"token": agent_token})
    impostor = AgentClient(server)
    with pytest.raises(Exception, match="failed to connect"):
        await impostor.connect({"token": resumed["token"]})
    assert impostor.connect_error["code"] == "invalid_token"

    # Another visitor with a valid token of their own sees nothing of the first one's.
    other = Visitor(server)
    mine = await other.start()
    assert mine["conversation"] is None and mine["contact_id"] != resumed["contact_id"]
    ack = await other.call("history", {"conversation_id": sent["conversation_id"]})
    assert ack == {"ok": False, "error": {"code": "not_found",
                                          "message": "no such conversation"}}
    await owner.close()
    await other.close()


async def test_agent_token_expires(server: TestServer, make_settings: object) -> None:
    from chatkit.agents import AgentService
    from chatkit.tokens import TokenSigner

    kit = server.kit  # type: ignore[attr-defined]
    expired = AgentService(kit.store, token_ttl=-10)
    expired.use_signer(TokenSigner(kit.settings.secret_key))
    token = expired.issue_token((await kit.store.list_agents())[0])
    agent = AgentClient(server)
    with pytest.raises(Exception, match="failed to connect"):
        await agent.connect({"token": token})
    assert agent.connect_error == {"code": "invalid_token", "message": "token expired"}


async def test_a_message_stored_while_an_agent_joins_reaches_them(
        server: TestServer, visitor: Visitor, agent: AgentClient) -> None:
    """Joining reads the transcript after the socket is in the conversation's room: a message
    stored right after the read (another process, say) arrives live instead of being missed."""
    sent = await visitor.start() and await visitor.say("first", "v-1")
    service = server.kit.conversations  # type: ignore[attr-defined]
    read_page = service._page

    async def page_then_a_message(*args: object, **kwargs: object) -> object:
        page = await read_page(*args, **kwargs)
        await visitor.say("while joining", "v-2")  # stored after the read, before the ack
        return page

    service._page = page_then_a_message
    joined = await agent.ok("join", {"conversation_id": sent["conversation_id"]})
    assert [m["body"] for m in joined["messages"]] == ["first"]
    live = await agent.next("message")
    assert live["body"] == "while joining"
