"""The room directory of chatkit/realtime/redis_delivery.py on a real Redis, with several
managers in one process (each as one server process would have it) and sockets stood in
for by their engine.io ids: an event reaches exactly the processes holding its rooms, a
join is in Redis before `enter_room` returns, and a process that stops renewing its entry
(dies) leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import redis.asyncio
import socketio

from chatkit.realtime.redis_delivery import RedisDelivery
from chatkit.realtime.server import _TextPacket

pytestmark = pytest.mark.redis

NS = "/agent"


class Process:
    """One manager and what it delivered to its sockets."""

    def __init__(self, url: str, channel: str, ttl: float) -> None:
        self.manager = RedisDelivery(url, channel=channel, ttl=ttl)
        self.server = socketio.AsyncServer(async_mode="aiohttp", client_manager=self.manager,
                                           serializer=_TextPacket)
        self.delivered: list[tuple[str, Any]] = []
        self.server._send_eio_packet = self._send

    async def _send(self, eio_sid: str, packet: Any) -> None:
        event = orjson.loads(packet.data[packet.data.index("["):])
        self.delivered.append((eio_sid, event))

    async def start(self) -> None:
        self.manager.initialize()
        await until(lambda: _true(self.manager._subscribed is True))

    async def socket(self, eio_sid: str, *rooms: str) -> str:
        sid: str = await self.manager.connect(eio_sid, NS)
        for room in rooms:
            await self.manager.enter_room(sid, NS, room)
        return sid

    async def crash(self) -> None:
        """Stop as kill -9 would: no goodbye to Redis."""
        for task in (self.manager._heartbeat, self.manager._syncer, self.manager.thread):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for connection in (self.manager.pubsub, self.manager.redis):
            if connection is not None:
                await connection.aclose()


async def _true(value: bool) -> bool:
    return value


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {seconds} s")


@pytest.fixture
async def deployment(redis_url: str) -> AsyncIterator[Callable[..., Awaitable[Process]]]:
    channel = f"chatkit-test-{uuid.uuid4().hex[:8]}"
    made: list[Process] = []

    async def start(ttl: float = 30) -> Process:
        process = Process(redis_url, channel, ttl)
        made.append(process)
        await process.start()
        return process

    yield start
    for process in made:
        await process.manager.close()
    client = redis.asyncio.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{channel}:*")]
    await client.aclose()
    assert keys == [], "the managers left keys behind"


async def members(process: Process, room: str) -> set[str]:
    return {member.decode() for member in
            await process.manager.redis.smembers(process.manager.room_key(NS, room))}


async def test_events_reach_only_the_processes_holding_their_rooms(
        deployment: Callable[..., Awaitable[Process]]) -> None:
    one, two, three = [await deployment() for _ in range(3)]
    await one.socket("e1", "conv:a")
    await two.socket("e2", "conv:a", "agent:x")
    await three.socket("e3", "agent:y")
    listener = three.manager.redis.pubsub()
    await listener.psubscribe(f"{three.manager.channel}:host:*")

    await one.manager.emit("message", {"n": 1}, namespace=NS, room="conv:a")
    await one.manager.emit("activity", {"n": 2}, namespace=NS, to=["agent:x", "agent:y"])
    await one.manager.emit("message", {"n": 3}, namespace=NS, room="conv:nobody")
    await until(lambda: _true(len(two.delivered) == 2 and len(three.delivered) == 1))
    assert one.delivered == [("e1", ["message", {"n": 1}])]  # at once, locally
    assert two.delivered == [("e2", ["message", {"n": 1}]), ("e2", ["activity", {"n": 2}])]
    assert three.delivered == [("e3", ["activity", {"n": 2}])]
    # One Redis message to each process concerned, with only its events; none back to one.
    heard: dict[str, list[Any]] = {}
    while (message := await listener.get_message(timeout=0.2)) is not None:
        if message["type"] == "pmessage":
            heard.setdefault(message["channel"].decode(), []).extend(
                orjson.loads(message["data"]))
    await listener.aclose()
    assert set(heard) == {two.manager.host_channel, three.manager.host_channel}
    assert [routed(m) for m in heard[two.manager.host_channel]] == [
        ("conv:a", ["message", {"n": 1}]), (["agent:x", "agent:y"], ["activity", {"n": 2}])]
    assert [routed(m) for m in heard[three.manager.host_channel]] == [
        (["agent:x", "agent:y"], ["activity", {"n": 2}])]


def routed(item: list[Any]) -> tuple[Any, Any]:
    """(room(s), [event, *data]) of an event routed to a process: [namespace, room(s),
    skip_sid, event, Socket.IO packet]."""
    namespace, room, _, event, packet = item
    assert namespace == NS and packet.startswith(f"2{NS},")
    data = orjson.loads(packet[packet.index("["):])
    assert data[0] == event
    return room, data


async def test_a_room_is_in_the_directory_when_enter_room_returns(
        deployment: Callable[..., Awaitable[Process]]) -> None:
    one, two = await deployment(), await deployment()
    sid = await one.socket("e1")
    for n in range(20):
        await one.manager.enter_room(sid, NS, f"conv:{n}")
        # No await in between: what another process publishes now is routed here.
        await two.manager.emit("message", {"n": n}, namespace=NS, room=f"conv:{n}")
    await until(lambda: _true(len(one.delivered) == 20))
    assert [event[1]["n"] for _, event in one.delivered] == list(range(20))
    assert await members(two, "conv:7") == {one.manager.host_id}

    # The last socket leaves: the entry goes; a socket entering again puts it back.
    await one.manager.leave_room(sid, NS, "conv:7")
    await until(lambda: _equal(members(two, "conv:7"), set()))
    await one.manager.enter_room(sid, NS, "conv:7")
    assert await members(two, "conv:7") == {one.manager.host_id}
    await one.manager.disconnect(sid, NS)
    await until(lambda: _equal(members(two, "conv:7"), set()))


async def _equal(read: Awaitable[Any], expected: Any) -> bool:
    return bool(await read == expected)


async def test_a_process_that_dies_leaves_the_directory(
        deployment: Callable[..., Awaitable[Process]]) -> None:
    one, two = await deployment(ttl=1.5), await deployment(ttl=1.5)
    await one.socket("e1", "conv:a")
    await two.socket("e2", "conv:a")
    assert await members(two, "conv:a") == {one.manager.host_id, two.manager.host_id}
    await one.crash()
    # Its alive key runs out after the ttl; the survivor's next sweep removes its entries.
    await until(lambda: _equal(members(two, "conv:a"), {two.manager.host_id}), 5)
    client = two.manager.redis
    prefix = two.manager.prefix
    assert await client.smembers(f"{prefix}hosts") == {two.manager.host_id.encode()}
    assert not await client.exists(f"{prefix}rooms-of:{one.manager.host_id}")


async def test_entries_lost_in_redis_are_written_again(
        deployment: Callable[..., Awaitable[Process]]) -> None:
    one, two = await deployment(ttl=1.5), await deployment(ttl=1.5)
    await one.socket("e1", "conv:a", "agent:x")
    client = two.manager.redis
    # As after a Redis restart without persistence: every key of the deployment gone.
    keys = [key async for key in client.scan_iter(f"{two.manager.prefix}*")]
    await client.delete(*keys)
    # Each process finds its alive key gone at its next renewal (a third of the ttl).
    await until(lambda: _equal(members(two, "agent:x"), {one.manager.host_id}), 5)
    await two.manager.emit("message", {"n": 1}, namespace=NS, room="conv:a")
    await until(lambda: _true(one.delivered == [("e1", ["message", {"n": 1}])]))
