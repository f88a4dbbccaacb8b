"""The Redis hop of chatkit/realtime/redis_delivery.py alone: the CPU time per event of the
process that emits and of the process that receives, for events emitted in bursts of B (one
script call and one pub/sub message per burst), against the same emits delivered within one
process (no Redis) measured in the same run.

    .venv/bin/python bench/redis_hop.py                       # bursts of 1, 10, 100
    .venv/bin/python bench/redis_hop.py --events 5000 --bursts 10
    PYTHONPATH=/path/to/hiredis .venv/bin/python bench/redis_hop.py   # with hiredis

Two RedisDelivery managers in two processes on a real Redis (CHATKIT_TEST_REDIS or --redis);
the receiver has one socket, stood in for by its engine.io id, in 100 conversation rooms, and
every event (a message as the relay sends it) goes to one of them. CPU time is
time.process_time of each process over all its events; the machine's load changes it, so
compare figures of one run. Loopback only; the receiver is stopped here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import orjson
import socketio

from chatkit.realtime.redis_delivery import RedisDelivery
from chatkit.realtime.server import _LocalDelivery, _TextPacket

NS = "/agent"
ROOMS = 100
WIRE = {"id": 123456, "conversation_id": "c" * 22, "seq": 42,
        "sender": {"kind": "visitor", "id": "v" * 22, "name": "Visitor"},
        "body": "hello there, this is message number 1234 of the relay", "internal": False,
        "attachments": [], "created_at": "2026-11-29T18:00:00.123456Z", "client_id": "x" * 16}


def _server(manager: _LocalDelivery) -> tuple[socketio.AsyncServer, list[int]]:
    server = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager,
                                  serializer=_TextPacket)
    sent = [0]

    async def send(eio_sid: str, packet: Any) -> None:
        packet.encode()
        sent[0] += 1

    server._send_eio_packet = send
    return server, sent


async def _subscribed(manager: RedisDelivery) -> None:
    manager.initialize()
    for _ in range(500):
        if manager._subscribed is True:
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("not subscribed to Redis within 5 s")


async def receive(url: str, channel: str, events: int) -> None:
    manager = RedisDelivery(url, channel=channel, ttl=30)
    _, sent = _server(manager)
    await _subscribed(manager)
    sid = await manager.connect("e1", NS)
    for room in range(ROOMS):
        await manager.enter_room(sid, NS, f"conv:{room}")
    started = time.process_time()
    print("ready", flush=True)
    for _ in range(6000):  # at most 60 s
        if sent[0] >= events:
            break
        await asyncio.sleep(0.01)
    print(f"{(time.process_time() - started) * 1e6 / events:.2f} {sent[0]}", flush=True)
    await manager.close()


async def _emit_all(manager: _LocalDelivery, events: int, burst: int) -> float:
    started = time.process_time()
    for first in range(0, events, burst):
        for n in range(first, min(events, first + burst)):
            await manager.emit("message", WIRE, namespace=NS, room=f"conv:{n % ROOMS}")
        flusher = getattr(manager, "_flusher", None)
        while flusher is not None and not flusher.done():
            await flusher
    return (time.process_time() - started) * 1e6 / events


async def local(events: int) -> float:
    """The baseline: the same emits to a socket of this process (no Redis)."""
    manager = _LocalDelivery()
    _server(manager)
    sid = await manager.connect("e1", NS)
    for room in range(ROOMS):
        await manager.enter_room(sid, NS, f"conv:{room}")
    return await _emit_all(manager, events, events)


async def send(url: str, channel: str, events: int, burst: int) -> float:
    manager = RedisDelivery(url, channel=channel, ttl=30)
    _server(manager)
    await _subscribed(manager)
    try:
        return await _emit_all(manager, events, burst)
    finally:
        await manager.close()


def hop(url: str, events: int, burst: int) -> tuple[float, float]:
    channel = f"chatkit-hop-{uuid.uuid4().hex[:8]}"
    receiver = subprocess.Popen([sys.executable, __file__, "--receive", channel, "--redis", url,
                                 "--events", str(events)],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert receiver.stdout is not None
        if receiver.stdout.readline().strip() != "ready":
            raise RuntimeError("the receiver did not start")
        sent = asyncio.run(send(url, channel, events, burst))
        us, delivered = receiver.stdout.readline().split()
        if int(delivered) < events:
            raise RuntimeError(f"the receiver got {delivered} of {events} events")
        receiver.wait(30)
        return sent, float(us)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis", default=os.environ.get("CHATKIT_TEST_REDIS"))
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--bursts", default="1,10,100", help="events per script call")
    p.add_argument("--receive", metavar="CHANNEL", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.redis:
        print("needs Redis: --redis URL (or CHATKIT_TEST_REDIS)", file=sys.stderr)
        return 2
    if args.receive:
        asyncio.run(receive(args.redis, args.receive, args.events))
        return 0
    try:
        import hiredis  # type: ignore[import-not-found]  # noqa: F401
        parser = "hiredis"
    except ImportError:
        parser = "redis-py's own"
    base = min(asyncio.run(local(args.events)) for _ in range(3))  # short: the best of 3
    print(f"{args.events} events of {len(orjson.dumps(WIRE))} bytes of data, {parser} parser, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"within one process (no Redis): {base:.2f} us of CPU per event")
    print(f"{'burst':>6}{'sender us/event':>17}{'receiver us/event':>19}{'both':>8}"
          f"{'x one process':>15}")
    for burst in map(int, args.bursts.split(",")):
        sent, received = hop(args.redis, args.events, burst)
        print(f"{burst:>6}{sent:>17.2f}{received:>19.2f}{sent + received:>8.2f}"
              f"{(sent + received) / base:>15.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
