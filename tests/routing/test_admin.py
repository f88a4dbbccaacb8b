"""Routing configured by admins: the store keeps it (routing.yaml seeds it), the admin API
changes it, and every server process switches to a new version without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from chatkit.routing.config import Routing, RoutingConfig
from chatkit.routing.service import RoutingService
from chatkit.storage import SqlStore
from tests.conftest import StartServer
from tests.routing.harness import CheckingNotifier

ROUTING = """
default_team: support
teams:
  - {id: support, name: Support}
  - {id: billing, name: Billing, skills: [billing], strategy: least_busy}
agents:
  ada@example.com: {teams: [support, billing], skills: [billing], capacity: 2}
"""
PASSWORD = "a good password"


@pytest.fixture
def routing_file(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    return path


async def start(start_server: StartServer, routing_file: Path) -> TestServer:
    server = await start_server(routing_path=routing_file, routing_sweep_interval=0.05)
    kit = server.kit  # type: ignore[attr-defined]
    for name, role in [("root", AgentRole.ADMIN), ("sue", AgentRole.SUPERVISOR),
                       ("ada", AgentRole.AGENT)]:
        await kit.agents.create(email=f"{name}@example.com", name=name.title(),
                                password=PASSWORD, role=role)
    return server


class Api:
    def __init__(self, server: TestServer, http: aiohttp.ClientSession) -> None:
        self.base = f"http://{server.host}:{server.port}/chat"
        self.http = http

    async def token(self, name: str) -> str:
        async with self.http.post(f"{self.base}/api/agents/login", json={
                "email": f"{name}@example.com", "password": PASSWORD}) as response:
            assert response.status == 200
            token: str = (await response.json())["token"]
            return token

    async def call(self, method: str, token: str | None, body: Any = None,
                   ) -> tuple[int, dict[str, Any]]:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, f"{self.base}/api/routing", headers=headers,
                                     json=body) as response:
            found: dict[str, Any] = await response.json()
            return response.status, found


def edited(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**config, **changes}


async def test_only_admins_read_or_change_the_routing(start_server: StartServer,
                                                      routing_file: Path) -> None:
    server = await start(start_server, routing_file)
    async with aiohttp.ClientSession() as http:
        api = Api(server, http)
        assert (await api.call("GET", None))[0] == 401
        for name in ("ada", "sue"):
            token = await api.token(name)
            status, body = await api.call("GET", token)
            assert (status, body["error"]["code"]) == (403, "forbidden")
            status, _ = await api.call("PUT", token, {"version": 1, "config": {}})
            assert status == 403
        status, body = await api.call("GET", await api.token("root"))
    assert status == 200
    # routing.yaml seeded the store: version 1, every field given.
    assert (body["version"], body["source"], body["changed_by"]) == (1, "file", None)
    config = body["config"]
    assert [t["id"] for t in config["teams"]] == ["support", "billing"]
    assert config["teams"][1] == {"id": "billing", "name": "Billing", "skills": ["billing"],
                                  "strategy": "least_busy", "overflow": None, "hours": None}
    assert config["agents"]["ada@example.com"]["capacity"] == 2
    assert [a["email"] for a in body["agents"]] == [
        "ada@example.com", "root@example.com", "sue@example.com"]


async def test_an_invalid_configuration_is_refused_field_by_field(
        start_server: StartServer, routing_file: Path) -> None:
    server = await start(start_server, routing_file)
    async with aiohttp.ClientSession() as http:
        api = Api(server, http)
        root = await api.token("root")
        _, current = await api.call("GET", root)
        config = current["config"]
        teams = [config["teams"][0], {**config["teams"][1], "strategy": "fastest"}]
        status, body = await api.call("PUT", root, {"version": 1, "config": edited(
            config, teams=teams, agents={"ada@example.com": {"capacity": 0}})})
        assert status == 422
        assert body["error"]["code"] == "invalid_config"
        fields = {p["field"] for p in body["error"]["problems"]}
        assert fields == {"teams[1].strategy", "agents.ada@example.com.capacity"}
        # A check across fields names its field too.
        teams = [config["teams"][0], {**config["teams"][1], "overflow": "nobody"}]
        status, body = await api.call("PUT", root, {"version": 1,
                                                    "config": edited(config, teams=teams)})
        assert status == 422
        assert body["error"]["problems"] == [{"field": "teams.billing.overflow",
                                              "message": "no team 'nobody'"}]
        # Not the shape of an update at all: a plain 400.
        status, body = await api.call("PUT", root, {"config": config})
        assert (status, body["error"]["code"]) == (400, "invalid_payload")
        status, body = await api.call("PUT", root, ["not", "an", "object"])
        assert status == 400
        # Nothing changed.
        _, after = await api.call("GET", root)
    assert after["version"] == 1 and after["config"] == config
    kit = server.kit  # type: ignore[attr-defined]
    assert [e for e in await kit.store.list_events() if e.kind == "routing.changed"
            and e.actor_kind == "agent"] == []


async def test_two_admins_from_one_version_cannot_overwrite_each_other(
        start_server: StartServer, routing_file: Path) -> None:
    server = await start(start_server, routing_file)
    kit = server.kit  # type: ignore[attr-defined]
    async with aiohttp.ClientSession() as http:
        api = Api(server, http)
        root = await api.token("root")
        _, current = await api.call("GET", root)
        config = current["config"]
        first = edited(config, default_capacity=5)
        second = edited(config, default_capacity=7)
        status, saved = await api.call("PUT", root, {"version": 1, "config": first})
        assert status == 200
        assert (saved["version"], saved["source"], saved["changed_by"]["name"]) == (
            2, "admin", "Root")
        status, body = await api.call("PUT", root, {"version": 1, "config": second})
        assert (status, body["error"]["code"], body["error"]["version"]) == (409, "conflict", 2)
        _, after = await api.call("GET", root)
    assert after["version"] == 2 and after["config"]["default_capacity"] == 5
    # In use here at once, and in the event log, with who changed it.
    assert kit.routing.version == 2 and kit.routing.routing.default_capacity == 5
    logged = [e for e in await kit.store.list_events() if e.kind == "routing.changed"]
    root_agent = await kit.store.get_agent_by_email("root@example.com")
    assert [(e.actor_kind, e.actor_id, e.data["version"]) for e in logged] == [
        ("system", None, 1), ("agent", root_agent.id, 2)]


async def test_another_process_switches_to_the_new_version_without_a_restart(
        start_server: StartServer, routing_file: Path, db_url: str) -> None:
    server = await start(start_server, routing_file)
    # A second server process over the same store (the same database file).
    other = await start_server(routing_path=routing_file, routing_sweep_interval=0.05)
    other_kit = other.kit  # type: ignore[attr-defined]
    assert other_kit.routing.version == 1
    # And a bare routing service over its own connection to the store, swept by hand.
    store = SqlStore(db_url)
    await store.open()
    bare = RoutingService(store, CheckingNotifier(store, Routing()), Routing(),
                          accept_timeout=1, disconnect_grace=1, default_capacity=3)
    try:
        await bare.load(None)
        assert bare.version == 1 and set(bare.routing.teams) == {"support", "billing"}
        async with aiohttp.ClientSession() as http:
            api = Api(server, http)
            root = await api.token("root")
            _, current = await api.call("GET", root)
            config = current["config"]
            config["teams"][0]["strategy"] = "manual"
            config["agents"]["ada@example.com"]["capacity"] = 9
            status, _ = await api.call("PUT", root, {"version": 1, "config": config})
            assert status == 200
        await bare.sweep()
        assert bare.version == 2
        assert str(bare.routing.teams["support"].strategy) == "manual"
        for _ in range(100):  # its own sweep, every 0.05 s
            if other_kit.routing.version == 2:
                break
            await asyncio.sleep(0.05)
        assert str(other_kit.routing.routing.teams["support"].strategy) == "manual"
        ada = await other_kit.store.get_agent_by_email("ada@example.com")
        assert other_kit.routing.routing.capacity_of(ada) == 9
    finally:
        await store.close()


async def test_routing_yaml_seeds_the_store_and_wins_only_when_it_changes(
        db_url: str, routing_file: Path) -> None:
    from chatkit.routing.config import load_routing_config

    async def started(config: RoutingConfig | None) -> RoutingService:
        service = RoutingService(store, CheckingNotifier(store, Routing()), Routing(),
                                 accept_timeout=1, disconnect_grace=1)
        await service.load(config)
        return service

    store = SqlStore(db_url)
    await store.open()
    try:
        from_file = await asyncio.to_thread(load_routing_config, routing_file)
        first = await started(from_file)
        assert first.version == 1
        admin = await store.create_agent(email="root@example.com", name="Root",
                                         role=AgentRole.ADMIN, password_hash="h")
        stored = await first.current_config()
        await first.replace_config(admin, {**stored.document, "default_capacity": 6},
                                   expected_version=1)
        # Restarted with the same file: the admin's edit stays.
        again = await started(from_file)
        assert (again.version, again.routing.default_capacity) == (2, 6)
        # Restarted with no file: the store's stays too.
        bare = await started(None)
        assert bare.version == 2
        # The file changed: it wins, as a new version.
        await asyncio.to_thread(routing_file.write_text,
                                ROUTING.replace("capacity: 2", "capacity: 4"), "utf-8")
        changed = await started(await asyncio.to_thread(load_routing_config, routing_file))
        assert (changed.version, changed.routing.default_capacity) == (3, 3)
        found = await store.routing_config()
        assert found is not None and found.source == "file"
        # Only its contents count: a comment changes nothing.
        text = "# reviewed\n" + ROUTING.replace("capacity: 2", "capacity: 4")
        await asyncio.to_thread(routing_file.write_text, text, "utf-8")
        again = await started(await asyncio.to_thread(load_routing_config, routing_file))
        assert again.version == 3
    finally:
        await store.close()


async def test_with_no_file_the_default_team_is_stored_for_admins_to_edit(
        db_url: str) -> None:
    store = SqlStore(db_url)
    await store.open()
    try:
        service = RoutingService(store, CheckingNotifier(store, Routing()), Routing(),
                                 accept_timeout=1, disconnect_grace=1)
        await service.load(None)
        found = await store.routing_config()
        assert found is not None and (found.version, found.source) == (1, "default")
        assert [t["id"] for t in found.document["teams"]] == ["support"]
    finally:
        await store.close()
