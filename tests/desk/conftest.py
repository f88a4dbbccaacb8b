"""A desk to work at: routing with one team, two agents of capacity 1, a supervisor and an
admin; no bot, so a visitor's first message queues the chat at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.clients import PREFIX, AgentClient, Visitor

ROUTING = """
default_team: support
teams:
  - {id: support, name: Support}
  - {id: billing, name: Billing}
agents:
  ada@example.com: {teams: [support], capacity: 1}
  bo@example.com: {teams: [support], capacity: 1}
  cy@example.com: {teams: [billing], capacity: 1}
"""
PASSWORD = "a good password"
ROLES = {"ada": AgentRole.AGENT, "bo": AgentRole.AGENT, "cy": AgentRole.AGENT,
         "sue": AgentRole.SUPERVISOR, "root": AgentRole.ADMIN}

Start = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def desk(start_server: Start, tmp_path: Path) -> TestServer:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    server = await start_server(routing_path=path, accept_timeout=30,
                                routing_sweep_interval=0.05)
    for name, role in ROLES.items():
        await server.kit.agents.create(  # type: ignore[attr-defined]
            email=f"{name}@example.com", name=f"{name.title()} Person", password=PASSWORD,
            role=role)
    return server


async def login(server: TestServer, name: str, *, online: bool = False) -> AgentClient:
    client = AgentClient(server)
    await client.login(f"{name}@example.com", PASSWORD)
    if online:
        await client.ok("presence", {"status": "online"})
    return client


async def token_of(server: TestServer, name: str) -> str:
    url = f"http://{server.host}:{server.port}{PREFIX}/api/agents/login"
    async with aiohttp.ClientSession() as http, http.post(
            url, json={"email": f"{name}@example.com", "password": PASSWORD}) as response:
        token: str = (await response.json())["token"]
    return token


async def chat_with(server: TestServer, agent: AgentClient) -> tuple[Visitor, str]:
    """A visitor whose chat the (online) agent was offered and accepted."""
    visitor = Visitor(server)
    await visitor.start()
    sent = await visitor.say("Hello, my order is late", "v-1")
    conversation_id: str = sent["conversation_id"]
    while (await agent.next("assignment"))["conversation"]["id"] != conversation_id:
        pass
    await agent.ok("join", {"conversation_id": conversation_id})
    return visitor, conversation_id


async def close(*clients: Any) -> None:
    for client in clients:
        await client.close()
