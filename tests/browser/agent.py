"""An agent for browser tests, beside the one in the browser: a program, so it gets a bearer
token from POST /api/agents/login (the console's form and cookie are for browsers; conftest's
sign_in) and speaks /agent with python-socketio."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any

import aiohttp
import socketio

from tests.browser.conftest import PREFIX, Chat


class Agent:
    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sio.on("message", self.messages.put_nowait, namespace="/agent")
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    async def login(self, email: str, password: str) -> None:
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.chat.mount}/api/agents/login",
                json={"email": email, "password": password}) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["token"]
        self.token: str = token
        await self.sio.connect(self.chat.origin, namespaces=["/agent"], auth={"token": token},
                               socketio_path=f"{PREFIX}/socket.io", wait_timeout=5)

    async def ok(self, event: str, data: dict[str, Any]) -> Any:
        ack = await self.sio.call(event, data, namespace="/agent", timeout=10)
        assert ack["ok"], ack
        return ack["data"]

    async def say(self, conversation_id: str, body: str) -> dict[str, Any]:
        message: dict[str, Any] = await self.ok("message", {
            "conversation_id": conversation_id,
            # Unique per sender across sessions (docs/protocol.md): a random prefix.
            "client_id": f"agent-{self._prefix}-{next(self._ids)}",
            "body": body})
        return message

    async def close(self) -> None:
        await self.sio.disconnect()
