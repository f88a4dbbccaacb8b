from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole, ChatKit, Settings
from tests.clients import AgentClient, Visitor

SECRET = "test-secret-" + "x" * 32
AGENT_EMAIL, AGENT_PASSWORD = "ada@example.com", "correct horse"

StartServer = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def redis_url() -> str:
    """CHATKIT_TEST_REDIS; the test is skipped, saying so, without it."""
    url = os.environ.get("CHATKIT_TEST_REDIS")
    if not url:
        pytest.skip("Redis tests need CHATKIT_TEST_REDIS (e.g. redis://127.0.0.1:6379/0)")
    return url


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/chatkit.db"


@pytest.fixture
def make_settings(db_url: str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"database_url": db_url, "secret_key": SECRET,
                                     "bot_enabled": False}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def start_server(aiohttp_server: Callable[..., Awaitable[TestServer]],
                       make_settings: Callable[..., Settings]) -> StartServer:
    """Start chatkit on a loopback port; returns the TestServer (kit at server.app[...])."""

    async def start(kit: ChatKit | None = None, **overrides: object) -> TestServer:
        kit = kit or ChatKit(make_settings(**overrides))
        server: TestServer = await aiohttp_server(kit.create_app())
        server.kit = kit  # type: ignore[attr-defined]
        return server

    return start


@pytest.fixture
async def server(start_server: StartServer) -> TestServer:
    server = await start_server()
    await server.kit.agents.create(email=AGENT_EMAIL, name="Ada", password=AGENT_PASSWORD,  # type: ignore[attr-defined]
                                   role=AgentRole.AGENT)
    return server


@pytest.fixture
async def visitor(server: TestServer) -> AsyncIterator[Visitor]:
    client = Visitor(server)
    yield client
    await client.close()


@pytest.fixture
async def agent(server: TestServer) -> AsyncIterator[AgentClient]:
    client = AgentClient(server)
    await client.login(AGENT_EMAIL, AGENT_PASSWORD)
    yield client
    await client.close()


def postgres_url() -> str | None:
    return os.environ.get("CHATKIT_TEST_POSTGRES")
