"""Three `chatkit serve` processes over one real PostgreSQL and one real Redis: what
../shared/DESIGN.md promises for scale-out, proven with whole processes (each test gets a
fresh database and its own Redis channel).

- a visitor on one process and its agent on another talk both ways, and a third process
  hears none of it (Redis routes each event to the processes holding its rooms);
- handoffs racing on all three processes never give a chat to two agents nor an agent more
  than their capacity;
- kill -9 of the visitor's process mid-stream: the visitor reconnects to another, no
  acknowledged message is lost or stored twice, and the dead process's entries leave Redis's
  room directory;
- kill -9 of an agent's process: another process takes over its timers and gives the
  agent's chats to someone else.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from chatkit import AgentRole
from chatkit.agents import AgentService
from chatkit.realtime.agent import AGENT
from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from tests.clients import AgentClient, Visitor
from tests.served import Address, Served, all_messages, stream
from tests.storage.conftest import _drop_postgres_database, _postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "a good password"
CAPACITY = 2


@pytest.fixture
def services() -> tuple[str, str]:
    postgres, redis = (os.environ.get("CHATKIT_TEST_POSTGRES"),
                       os.environ.get("CHATKIT_TEST_REDIS"))
    if not postgres or not redis:
        pytest.skip("scale-out tests need CHATKIT_TEST_POSTGRES and CHATKIT_TEST_REDIS "
                    "(.ci/run sets both)")
    return postgres, redis


class Cluster:
    """Processes of one deployment: one database, one Redis channel."""

    def __init__(self, tmp_path: Path, database: str, redis: str) -> None:
        self.tmp_path = tmp_path
        self.database = database
        self.env = {
            "CHATKIT_REDIS_URL": redis,
            "CHATKIT_REDIS_CHANNEL": f"chatkit-test-{uuid.uuid4().hex[:8]}",
            "CHATKIT_AGENT_CAPACITY": str(CAPACITY),
            "CHATKIT_ACCEPT_TIMEOUT": "600",  # nobody's offer runs out unless a test says so
            "CHATKIT_DISCONNECT_GRACE": "0.5",
            "CHATKIT_ROUTING_SWEEP_INTERVAL": "0.2",
        }
        self.processes: list[Served] = []
        self.store = SqlStore(database)
        self.redis = Redis.from_url(redis)
        self.channel = self.env["CHATKIT_REDIS_CHANNEL"]

    async def start(self, count: int, **settings: str) -> list[Served]:
        self.env.update({f"CHATKIT_{name.upper()}": value for name, value in settings.items()})
        await self.store.open()  # migrates once, before the processes start
        for _ in range(count):
            served = Served(self.tmp_path, "--no-demo", database=self.database, env=self.env)
            await served.start()
            self.processes.append(served)
        return self.processes

    async def agent(self, name: str) -> None:
        await AgentService(self.store, token_ttl=3600).create(
            email=f"{name}@example.com", name=name.title(), password=PASSWORD,
            role=AgentRole.AGENT)

    async def close(self) -> None:
        for served in self.processes:
            await served.__aexit__()
            assert "Traceback" not in served.output, served.output
        await self.store.close()
        await self.redis.aclose()

    async def holders(self, namespace: str, room: str) -> set[str]:
        """The processes (ids) Redis's directory has for a room."""
        key = f"{self.channel}:room:{namespace}:{room}"
        return {member.decode() for member in await self.redis.smembers(key)}

    async def hosts(self) -> set[str]:
        return {member.decode() for member in
                await self.redis.smembers(f"{self.channel}:hosts")}

    async def scalar(self, query: Any) -> Any:
        async with self.store._read() as conn:
            return await conn.scalar(query)

    async def rows(self, query: Any) -> list[Any]:
        async with self.store._read() as conn:
            return list((await conn.execute(query)).all())


@pytest.fixture
async def cluster(services: tuple[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    url, name = await _postgres_database()
    found = Cluster(tmp_path, url, services[1])
    try:
        yield found
    finally:
        await found.close()
        await _drop_postgres_database(name)


async def online(served: Served, name: str) -> AgentClient:
    agent = AgentClient(Address(served))  # type: ignore[arg-type]
    await agent.login(f"{name}@example.com", PASSWORD)
    await agent.ok("presence", {"status": "online"})
    return agent


async def handed_off(served: Served, n: int) -> tuple[Visitor, str]:
    visitor = Visitor(Address(served))  # type: ignore[arg-type]
    await visitor.start()
    sent = await visitor.say("I want to talk to a human please", f"h-{n}")
    return visitor, sent["conversation_id"]


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll the database (other processes change it) until the check holds, up to 20 s."""
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the condition did not come true within 20 s")


async def test_visitor_and_agent_on_different_processes(cluster: Cluster) -> None:
    one, two, three = await cluster.start(3)
    await cluster.agent("ada")
    ada = await online(two, "ada")
    bystander = Visitor(Address(three))  # type: ignore[arg-type]
    await bystander.start()  # another visitor: process three is in the directory too
    # What Redis sends to each process's own channel, from here on.
    by_host: dict[str, list[Any]] = {}
    listener = cluster.redis.pubsub()
    await listener.psubscribe(f"{cluster.channel}:host:*")

    async def listen() -> None:
        async for message in listener.listen():
            if message["type"] == "pmessage":
                host = bytes(message["channel"]).decode().rsplit(":", 1)[1]
                by_host.setdefault(host, []).extend(orjson.loads(message["data"]))

    listening = asyncio.create_task(listen())
    visitor, conversation_id = await handed_off(one, 1)
    # Assigned by process one's routing, announced to the agent on process two via Redis.
    offer = await ada.next("assignment")
    assert offer["conversation"]["id"] == conversation_id
    joined = await ada.ok("join", {"conversation_id": conversation_id})
    assert joined["conversation"]["status"] == "assigned"
    assert [m["body"] for m in joined["messages"]][-1:] != []  # the bot transcript is there
    reply = await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                                     "body": "Hello from process two"})
    while (heard := await visitor.next("message"))["id"] != reply["id"]:
        pass
    assert heard == reply
    follow_up = await visitor.say("thanks, from process one", "v-2")
    while (got := await ada.next("message"))["id"] != follow_up["id"]:
        pass
    assert got == follow_up

    # Only the visitor's process and the agent's heard anything; the third, with neither, no
    # event at all.
    contact_id = await cluster.scalar(select(t.conversations.c.contact_id)
                                      .where(t.conversations.c.id == conversation_id))
    visitor_side = await cluster.holders("/visitor", f"contact:{contact_id}")
    agent_side = await cluster.holders("/agent", f"conv:{conversation_id}")
    assert len(visitor_side) == 1 and len(agent_side) == 1 and visitor_side != agent_side
    third = await cluster.hosts() - visitor_side - agent_side
    assert len(third) == 1
    await asyncio.sleep(0.3)  # (anything still on its way to the listener)
    listening.cancel()
    await listener.aclose()
    assert set(by_host) == visitor_side | agent_side
    # Each event routed to a process: [namespace, room(s), skip_sid, event, its packet].
    assert [event for _, _, _, event, packet in by_host[agent_side.pop()]
            if orjson.loads(packet[packet.index("["):])[1].get("id") == follow_up["id"]
            ] == ["message"]
    await bystander.close()
    await visitor.close()
    await ada.close()


async def test_an_assigned_chats_activity_goes_to_its_agent_not_the_team(
        cluster: Cluster) -> None:
    # A chat taken on another process than its visitor's: the visitor's process learns of
    # it, and the visitor's next messages tell its agent, not every agent of the team (on
    # every process), that the chat has activity.
    one, two, three = await cluster.start(3)
    await cluster.agent("ada")
    await cluster.agent("bo")
    visitor, conversation_id = await handed_off(one, 1)  # nobody online: it waits
    ada, bo = AgentClient(Address(two)), AgentClient(Address(three))  # type: ignore[arg-type]
    for agent, name in ((ada, "ada"), (bo, "bo")):  # signed in, not online: no offers
        agent.events["activity"] = asyncio.Queue()  # (tests/clients.py does not listen)
        agent.sio.on("activity", agent.events["activity"].put_nowait, namespace=AGENT)
        await agent.login(f"{name}@example.com", PASSWORD)
    joined = await ada.ok("join", {"conversation_id": conversation_id})  # taken on two
    assert joined["conversation"]["status"] == "assigned"
    reply = await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                                     "body": "Hello"})
    while (await visitor.next("message"))["id"] != reply["id"]:
        pass
    sent = await visitor.say("thanks", "v-2")
    while (await ada.next("activity"))["seq"] != sent["seq"]:
        pass
    await asyncio.sleep(0.5)
    assert [event for event in bo.pending("activity")
            if event["conversation_id"] == conversation_id
            and event["seq"] >= sent["seq"]] == []
    for client in (visitor, ada, bo):
        await client.close()


async def test_a_chat_moved_on_another_process_is_no_longer_its_old_agents(
        cluster: Cluster) -> None:
    # Ada has the chat open on one process; a supervisor on another gives it to Bo. Ada's
    # process lets it go: her next message there is refused, as it would be on the same one.
    one, two = await cluster.start(2)
    for name in ("ada", "bo"):
        await cluster.agent(name)
    await AgentService(cluster.store, token_ttl=3600).create(
        email="sue@example.com", name="Sue", password=PASSWORD, role=AgentRole.SUPERVISOR)
    visitor, conversation_id = await handed_off(one, 1)  # nobody online: it waits
    ada = AgentClient(Address(one))  # type: ignore[arg-type]
    sue = AgentClient(Address(two))  # type: ignore[arg-type]
    await ada.login("ada@example.com", PASSWORD)
    await sue.login("sue@example.com", PASSWORD)
    await ada.ok("join", {"conversation_id": conversation_id})
    await ada.ok("message", {"conversation_id": conversation_id, "client_id": "a-1",
                             "body": "Hello, Ada here"})
    bo_client = await online(two, "bo")  # after Ada took it: nothing else waits for him
    bo = await cluster.scalar(select(t.agents.c.id).where(t.agents.c.email == "bo@example.com"))
    moved = await sue.ok("reassign", {"conversation_id": conversation_id, "to_agent_id": bo})
    assert moved["agent_id"] == bo
    while (await ada.next("conversation"))["agent_id"] != bo:
        pass  # her process heard of it before her socket did
    refused = await ada.call("message", {"conversation_id": conversation_id,
                                         "client_id": "a-2", "body": "Still me"})
    assert not refused["ok"] and refused["error"]["code"] == "conflict"
    bodies = await cluster.rows(select(t.messages.c.body).where(
        t.messages.c.conversation_id == conversation_id))
    assert "Still me" not in [row.body for row in bodies]
    for client in (visitor, ada, sue, bo_client):
        await client.close()


async def test_racing_handoffs_on_three_processes_never_double_assign(
        cluster: Cluster) -> None:
    processes = await cluster.start(3)
    names = [f"agent{n}" for n in range(6)]
    for name in names:
        await cluster.agent(name)
    agents = [await online(processes[n % 3], name) for n, name in enumerate(names)]
    chats = 24
    started = await asyncio.gather(*(handed_off(processes[n % 3], n) for n in range(chats)))
    visitors = [visitor for visitor, _ in started]
    capacity = len(agents) * CAPACITY

    async def assigned_count() -> int:
        return int(await cluster.scalar(select(func.count()).select_from(t.conversations)
                                        .where(t.conversations.c.status == "assigned")))

    async def check_invariants() -> None:
        loads = await cluster.rows(
            select(t.conversations.c.agent_id, func.count())
            .where(t.conversations.c.status == "assigned")
            .group_by(t.conversations.c.agent_id))
        assert all(count <= CAPACITY for _, count in loads), loads
        # Each assignment is one event; a chat assigned twice (or to two agents) would
        # show two before its resolution.
        assignments = await cluster.rows(
            select(t.events.c.conversation_id, func.count())
            .where(t.events.c.kind == "conversation.assigned")
            .group_by(t.events.c.conversation_id))
        resolved = {row[0] for row in await cluster.rows(
            select(t.conversations.c.id).where(t.conversations.c.status == "resolved"))}
        for conversation_id, count in assignments:
            assert count == 1 or conversation_id in resolved, (conversation_id, count)

    await eventually(lambda: _equals(assigned_count, capacity))
    await asyncio.sleep(1)  # five sweeps on every process: nothing more may be given out
    assert await assigned_count() == capacity
    await check_invariants()

    # Every agent resolves one chat at once, each on its own process: the freed places go
    # to the chats still waiting, again never beyond capacity.
    offers: list[str] = []
    for agent in agents:
        offers.append((await agent.next("assignment"))["conversation"]["id"])
    await asyncio.gather(*(agent.ok("join", {"conversation_id": offer})
                           for agent, offer in zip(agents, offers, strict=True)))
    await asyncio.gather(*(agent.ok("resolve", {"conversation_id": offer})
                           for agent, offer in zip(agents, offers, strict=True)))
    await eventually(lambda: _equals(assigned_count, capacity))
    queued = await cluster.scalar(select(func.count()).select_from(t.conversations)
                                  .where(t.conversations.c.status == "queued"))
    assert queued == chats - capacity - len(agents)
    await check_invariants()
    for client in [*visitors, *agents]:
        await client.close()


async def _equals(read: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await read() == expected


async def test_kill_9_of_the_visitors_process_loses_nothing_acknowledged(
        cluster: Cluster) -> None:
    # The stream sends as fast as it can, far beyond a person's rate limit.
    one, two, three = await cluster.start(3, visitor_event_rate="0", connection_ttl="5")
    await cluster.agent("ada")
    ada = await online(two, "ada")
    visitor, conversation_id = await handed_off(one, 1)
    token = (await visitor.ok("resume", {"since_seq": 0}))["token"]
    await ada.next("assignment")
    await ada.ok("join", {"conversation_id": conversation_id})

    stop, fifty_acked = asyncio.Event(), asyncio.Event()
    streaming = asyncio.create_task(stream(visitor, stop, fifty_acked))
    await asyncio.wait_for(fifty_acked.wait(), 30)
    await one.kill()
    stop.set()
    sent, acked = await streaming
    await visitor.close()
    assert 50 <= len(acked) < len(sent), "the kill should land mid-stream"

    # The widget reconnects (the load balancer sends it to process three) and resends what
    # has no ack, with the same client ids.
    contact_id = await cluster.scalar(select(t.conversations.c.contact_id)
                                      .where(t.conversations.c.id == conversation_id))
    dead = await cluster.holders("/visitor", f"contact:{contact_id}")
    visitor = Visitor(Address(three))  # type: ignore[arg-type]
    await visitor.start(token)
    by_client = {m["client_id"]: m for m in await all_messages(visitor)}
    for client_id, message in acked.items():
        assert by_client[client_id] == message
    for client_id in sent:
        if client_id not in acked:
            await visitor.say(f"message {client_id[2:]}", client_id)
    final = await all_messages(visitor)
    mine = [m["client_id"] for m in final if m["sender"] == "visitor"]
    assert sorted(mine) == sorted([*sent, "h-1"])
    assert [m["seq"] for m in final] == list(range(1, len(final) + 1))
    # The agent, on process two, sees the same conversation.
    history: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        page = await ada.ok("history", {"conversation_id": conversation_id,
                                        **({"before_seq": before} if before else {}),
                                        "limit": 200})
        history = page["messages"] + history
        if not page["has_more"]:
            break
        before = page["messages"][0]["seq"]
    assert [m["id"] for m in history] == [m["id"] for m in final]
    # The dead process's entries leave Redis's directory once its key runs out
    # (connection_ttl, 5 s here) and a survivor sweeps: nothing is routed to it any more.
    assert len(dead) == 1 and dead <= await cluster.hosts()

    async def swept() -> bool:
        return not dead & await cluster.hosts()

    await eventually(swept)
    assert dead.isdisjoint(await cluster.holders("/visitor", f"contact:{contact_id}"))
    assert await cluster.redis.exists(f"{cluster.channel}:rooms-of:{dead.pop()}") == 0
    await visitor.close()
    await ada.close()


async def test_kill_9_of_an_agents_process_hands_their_chats_on(cluster: Cluster) -> None:
    one, two, _ = await cluster.start(3, connection_ttl="5")
    await cluster.agent("ada")
    await cluster.agent("bo")
    ada = await online(one, "ada")
    visitor, conversation_id = await handed_off(two, 1)
    assert (await ada.next("assignment"))["conversation"]["id"] == conversation_id
    await ada.ok("join", {"conversation_id": conversation_id})
    bo = await online(two, "bo")

    # Ada's process dies: nobody tells the store she left. Her connection runs out
    # (connection_ttl, 5 s here), the grace period passes, and a surviving process's sweep
    # puts her chat back in the queue, where it goes to Bo.
    await one.kill()
    offer = await asyncio.wait_for(bo.events["assignment"].get(), 20)
    assert offer["conversation"]["id"] == conversation_id
    presence = await cluster.scalar(select(t.agents.c.presence)
                                    .where(t.agents.c.email == "ada@example.com"))
    assert presence == "offline"
    async with aiohttp.ClientSession() as http, http.get(
            f"{two.base_url}/chat/api/ready") as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {"store": "ok", "redis": "ok"}
    await visitor.close()
    await bo.close()
    await ada.close()
