"""Liveness and readiness, as a load balancer or an orchestrator asks them."""

from __future__ import annotations

import os

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import StartServer
from tests.storage.conftest import _drop_postgres_database, _postgres_database


async def get(server: TestServer, path: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://{server.host}:{server.port}/chat{path}") as response:
        return response.status, await response.json()


async def test_ready_once_started_with_its_database(start_server: StartServer) -> None:
    server = await start_server()
    assert await get(server, "/api/health") == (200, {"status": "ok"})
    assert await get(server, "/api/ready") == (
        200, {"status": "ready", "checks": {"store": "ok", "redis": "not used"}})


async def test_not_ready_without_its_redis(start_server: StartServer) -> None:
    # Nothing listens on port 1: the Redis that carries events between processes is down.
    server = await start_server(redis_url="redis://127.0.0.1:1/0")
    status, body = await get(server, "/api/ready")
    assert status == 503 and body["status"] == "not ready"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["store"] == "ok" and checks["redis"].startswith("unreachable")
    assert await get(server, "/api/health") == (200, {"status": "ok"})  # alive all the same


@pytest.mark.postgres
async def test_not_ready_when_its_database_goes_away(start_server: StartServer) -> None:
    if not os.environ.get("CHATKIT_TEST_POSTGRES"):
        pytest.skip("needs CHATKIT_TEST_POSTGRES")
    url, name = await _postgres_database()
    try:
        server = await start_server(database_url=url)
        assert (await get(server, "/api/ready"))[0] == 200
        await _drop_postgres_database(name)  # WITH (FORCE): its connections are cut
        status, body = await get(server, "/api/ready")
        assert status == 503 and body["checks"]["store"].startswith("unreachable")  # type: ignore[index]
        assert await get(server, "/api/health") == (200, {"status": "ok"})
    finally:
        await _drop_postgres_database(name)


async def test_not_ready_once_shutting_down(start_server: StartServer) -> None:
    server = await start_server()
    kit = server.kit  # type: ignore[attr-defined]
    await kit._disconnect_clients(server.app)  # what aiohttp's shutdown runs first
    status, body = await get(server, "/api/ready")
    assert status == 503 and body["checks"]["process"] == "starting or stopping"  # type: ignore[index]
