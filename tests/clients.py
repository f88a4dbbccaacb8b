"""Real python-socketio clients for tests: a visitor (widget tab) and an agent (console)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import socketio
from aiohttp.test_utils import TestServer

PREFIX = "/chat"


class Client:
    namespace = ""

    def __init__(self, server: TestServer, prefix: str = PREFIX) -> None:
        self.server = server
        self.prefix = prefix
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = {
            "message": asyncio.Queue(), "conversation": asyncio.Queue(),
            "typing": asyncio.Queue(), "read": asyncio.Queue(),
            # routing, agents only
            "assignment": asyncio.Queue(), "queue": asyncio.Queue(),
            "presence": asyncio.Queue(),
            # the visitor's wait, visitors only
            "queue_position": asyncio.Queue(),
            # a visitor's rating (CSAT), both sides
            "csat": asyncio.Queue(),
            # a conversation's tags changed, agents only
            "tags": asyncio.Queue(),
            # a contact's details changed, agents only
            "contact": asyncio.Queue()}
        self.connect_error: Any = None
        for name, queue in self.events.items():
            self.sio.on(name, queue.put_nowait, namespace=self.namespace)
        self.sio.on("connect_error", self._on_connect_error, namespace=self.namespace)

    def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data.get("data") if isinstance(data, dict) else data

    async def connect(self, auth: dict[str, Any] | None = None) -> None:
        url = f"http://{self.server.host}:{self.server.port}"
        await self.sio.connect(url, namespaces=[self.namespace], auth=auth or {},
                               socketio_path=f"{self.prefix}/socket.io",
                               transports=["websocket"], wait_timeout=5)

    async def call(self, event: str, data: Any = None) -> dict[str, Any]:
        """Emit with an ack and return the ack (one JSON object)."""
        args = () if data is None else (data,)
        result: dict[str, Any] = await self.sio.call(event, *args, namespace=self.namespace,
                                                     timeout=10)
        return result

    async def ok(self, event: str, data: Any = None) -> Any:
        ack = await self.call(event, data)
        assert ack["ok"], ack
        return ack["data"]

    async def next(self, kind: str) -> dict[str, Any]:
        """The next event of this kind, waiting up to 5 s."""
        value: dict[str, Any] = await asyncio.wait_for(self.events[kind].get(), 5)
        return value

    def pending(self, kind: str) -> list[Any]:
        found = []
        while not self.events[kind].empty():
            found.append(self.events[kind].get_nowait())
        return found

    async def close(self) -> None:
        await self.sio.disconnect()


class Visitor(Client):
    namespace = "/visitor"

    async def start(self, token: str | None = None, since_seq: int = 0) -> dict[str, Any]:
        await self.connect({"token": token} if token else {})
        resumed: dict[str, Any] = await self.ok("resume", {"since_seq": since_seq})
        return resumed

    async def say(self, body: str, client_id: str) -> dict[str, Any]:
        message: dict[str, Any] = await self.ok("message", {"client_id": client_id,
                                                            "body": body})
        return message


class AgentClient(Client):
    namespace = "/agent"

    async def login(self, email: str, password: str) -> str:
        url = f"http://{self.server.host}:{self.server.port}{self.prefix}/api/agents/login"
        async with aiohttp.ClientSession() as http, http.post(
                url, json={"email": email, "password": password}) as response:
            assert response.status == 200, await response.text()
            token: str = (await response.json())["token"]
        await self.connect({"token": token})
        return token
