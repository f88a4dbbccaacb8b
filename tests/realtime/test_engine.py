"""chatkit/realtime/engine.py: the lean engine.io socket speaks the protocol as engineio's own
socket does: polling, the polling -> WebSocket upgrade, pings both ways of a WebSocket, the
read deadline, server-side close, and ordered delivery through the slow-client backlog."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatkit.realtime import engine
from chatkit.realtime.server import _LeanServer
from tests.clients import AgentClient, Visitor


async def connect(client: Visitor | AgentClient, transports: list[str],
                  auth: dict[str, Any] | None = None) -> None:
    server = client.server
    await client.sio.connect(f"http://{server.host}:{server.port}",
                             namespaces=[client.namespace], auth=auth or {},
                             socketio_path=f"{client.prefix}/socket.io",
                             transports=transports, wait_timeout=5)


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
async def test_polling_and_upgrade(server: TestServer, agent: AgentClient,
                                   transports: list[str]) -> None:
    visitor = Visitor(server)
    try:
        await connect(visitor, transports)
        await visitor.ok("resume", {"since_seq": 0})
        first = await visitor.say("hello", "c-1")
        assert first["body"] == "hello"
        await agent.ok("join", {"conversation_id": first["conversation_id"]})
        for i in range(5):
            await agent.ok("message", {"conversation_id": first["conversation_id"],
                                       "client_id": f"a-{i}", "body": f"answer {i}"})
        bodies = [(await visitor.next("message"))["body"] for _ in range(5)]
        assert bodies == [f"answer {i}" for i in range(5)]
        assert visitor.sio.transport() == transports[-1]
        eio = server.kit.sio.eio  # type: ignore[attr-defined]
        socket = eio.sockets[visitor.sio.eio.sid]
        assert isinstance(socket, engine.LeanSocket)
        assert (socket._ws is not None) == (transports[-1] == "websocket")
        # the server closes the connection (over polling, python-socketio's client takes
        # 30 s to close by itself, with engineio's own socket as with this one)
        await asyncio.wait_for(eio.disconnect(socket.sid), 5)
        for _ in range(100):
            if not visitor.sio.connected:
                break
            await asyncio.sleep(0.05)
        assert not visitor.sio.connected
    finally:
        await asyncio.wait_for(visitor.close(), 5)


async def echo_app(ping_interval: float, ping_timeout: float
                   ) -> tuple[web.Application, socketio.AsyncServer, list[str]]:
    sio = _LeanServer(async_mode="aiohttp", ping_interval=ping_interval,
                      ping_timeout=ping_timeout)
    disconnects: list[str] = []

    @sio.on("echo")  # type: ignore[misc]
    async def echo(sid: str, data: Any) -> Any:
        return data

    @sio.on("disconnect")  # type: ignore[misc]
    async def gone(sid: str, reason: Any) -> None:
        disconnects.append(str(reason))

    app = web.Application()
    sio.attach(app)
    return app, sio, disconnects


async def open_ws(server: TestServer, http: aiohttp.ClientSession
                  ) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(
        f"http://{server.host}:{server.port}/socket.io/?EIO=4&transport=websocket")
    opened = await ws.receive_str(timeout=5)
    assert opened[0] == "0"
    return ws, json.loads(opened[1:])


async def test_websocket_pings_and_read_deadline(
        aiohttp_server: Any) -> None:
    app, sio, disconnects = await echo_app(ping_interval=1, ping_timeout=1)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        ws, opened = await open_ws(server, http)
        assert opened["pingInterval"] == 1000 and opened["pingTimeout"] == 1000
        assert "websocket" not in opened["upgrades"]
        await ws.send_str("40")
        assert (await ws.receive_str(timeout=5)).startswith("40")
        # three ping cycles, answered: the connection stays
        for _ in range(3):
            assert await ws.receive_str(timeout=3) == "2"
            await ws.send_str("3")
        await ws.send_str('420["echo",{"x":1}]')
        assert await ws.receive_str(timeout=2) == '430[{"x":1}]'
        # stop answering: the next ping goes unanswered, the server closes the socket
        assert await ws.receive_str(timeout=3) == "2"
        rest = []
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            rest.append(msg.data)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING)
        assert set(rest) <= {"1", "2"}  # a CLOSE packet (ping timeout) may come first
        await ws.close()
    for _ in range(50):
        if disconnects and not sio.eio.sockets:
            break
        await asyncio.sleep(0.05)
    assert disconnects and disconnects[0] in ("ping timeout", "transport close")
    assert not sio.eio.sockets
    assert not sio.eio.deadlines._heap or all(s._due is None
                                              for _, _, s in sio.eio.deadlines._heap)


async def test_server_disconnect_and_client_close(aiohttp_server: Any) -> None:
    app, sio, disconnects = await echo_app(ping_interval=25, ping_timeout=20)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        ws, _ = await open_ws(server, http)
        await ws.send_str("40")
        await ws.receive_str(timeout=5)
        await sio.disconnect(next(iter(sio.manager.get_participants("/", None)))[0])
        assert await ws.receive_str(timeout=5) == "41"  # Socket.IO disconnect
        ws2, _ = await open_ws(server, http)
        await ws2.send_str("40")
        await ws2.receive_str(timeout=5)
        await ws2.close()  # the client goes away
        await ws.close()
    for _ in range(50):
        if len(disconnects) == 2 and not sio.eio.sockets:
            break
        await asyncio.sleep(0.05)
    assert sorted(disconnects) == ["client disconnect", "server disconnect"] or \
        "transport close" in disconnects
    assert not sio.eio.sockets


async def test_backlog_keeps_order(aiohttp_server: Any,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With every write going through the slow-client backlog, packets still arrive whole
    and in order."""
    monkeypatch.setattr(engine, "_BACKLOG_ABOVE", -1)
    app, sio, _ = await echo_app(ping_interval=25, ping_timeout=20)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        ws, _ = await open_ws(server, http)
        await ws.send_str("40")
        await ws.receive_str(timeout=5)
        sid = next(iter(sio.manager.get_participants("/", None)))[0]
        await asyncio.gather(*(sio.emit("n", i, to=sid) for i in range(200)))
        got = [json.loads((await ws.receive_str(timeout=5))[2:])[1] for _ in range(200)]
        assert got == list(range(200))
        await ws.close()


async def test_frames_of_every_length_form_arrive_intact(server: Any) -> None:
    """Coalesced frames are built by chatkit (RFC 6455): a short one (< 126 bytes), one
    with a 2-byte length, and one with an 8-byte length (a history page of long messages)."""
    from tests.clients import Visitor

    visitor = Visitor(server)
    await visitor.start()
    sent = [await visitor.say(f"{n} " + "x" * 3990, f"long-{n}") for n in range(20)]
    short = await visitor.say("hi", "short")
    assert short["body"] == "hi"
    page = await visitor.ok("history", {"conversation_id": sent[0]["conversation_id"],
                                        "limit": 50})
    assert len(str(page)) > 65536
    assert [m["body"] for m in page["messages"]] == [m["body"] for m in sent] + ["hi"]
    await visitor.close()
