"""Load generator for bench/relay.py: speaks the wire protocols directly (no socketio client).

Runs in its own process (pinned to one core by relay.py) and prints one JSON object on stdout.

Modes::

    python bench/_relay_client.py load --kind chatkit|sio|ws --base http://127.0.0.1:PORT \
        --server-pid PID --pairs N --inflight 10 --warmup 2 --seconds 5 [--agent-token T]
    python bench/_relay_client.py idle --kind chatkit|sio|ws --base http://127.0.0.1:PORT \
        --server-pid PID --count 1000 --warm 100

Socket.IO is spoken as Engine.IO v4 / Socket.IO v5 text frames over a websocket opened directly
with ``?EIO=4&transport=websocket`` (no polling): ``0{open}`` from the server, ``40/ns,{auth}``
from the client, ``42/ns,<id>["event",{...}]`` events with ack ids, ``43/ns,<id>[{...}]`` acks,
``2``/``3`` engine.io ping/pong. The raw ``ws`` baseline speaks the JSON frames documented in
bench/_relay_servers.py.

Every phase is bounded: each request has a timeout, the whole run has a hard deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import time
from typing import Any, ClassVar

import aiohttp
import orjson
import psutil

loads = orjson.loads
dumps = orjson.dumps
perf_ns = time.perf_counter_ns

REQUEST_TIMEOUT = 30.0


class ProtocolError(Exception):
    pass


class Stats:
    """Shared counters. A message is 'done' when the other side receives it."""

    def __init__(self) -> None:
        self.running = False  # peers keep bouncing messages while True
        self.measuring = False
        self.delivered = 0
        self.total = 0  # deliveries since the steady phase began (warm-up included)
        self.lat_ns: list[int] = []
        self.acks_ok = 0
        self.acks_err = 0
        self.err_samples: list[Any] = []
        self.unexpected: list[str] = []
        self.dropped = 0  # sockets closed during the run

    def record(self, sent_ns: int) -> None:
        self.total += 1
        if self.measuring:
            self.delivered += 1
            self.lat_ns.append(perf_ns() - sent_ns)

    def ack(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("ok") is False:
            self.acks_err += 1
            if len(self.err_samples) < 5:
                self.err_samples.append(data)
        elif self.measuring:
            self.acks_ok += 1


# --------------------------------------------------------------------------------------------
# Connections
# --------------------------------------------------------------------------------------------


class Conn:
    """One client connection. Subclasses implement the wire protocol."""

    role: str  # "visitor" or "agent"

    def __init__(self, stats: Stats, role: str) -> None:
        self.stats = stats
        self.role = role
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 1
        self.reader_task: asyncio.Task[None] | None = None
        self.pair: Pair | None = None
        self.closed = asyncio.get_running_loop().create_future()

    async def request(self, event: str, data: dict[str, Any]) -> Any:
        """Send an event and wait for its ack (setup only)."""
        ack_id = self.next_id
        self.next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[ack_id] = fut
        await self._send(event, data, ack_id)
        return await asyncio.wait_for(fut, REQUEST_TIMEOUT)

    async def fire(self, event: str, data: dict[str, Any]) -> None:
        """Send an event with an ack id whose ack is only counted (steady phase)."""
        ack_id = self.next_id
        self.next_id += 1
        await self._send(event, data, ack_id)

    def _on_ack(self, ack_id: int, data: Any) -> None:
        fut = self.pending.pop(ack_id, None)
        if fut is not None:
            if not fut.done():
                fut.set_result(data)
        else:
            self.stats.ack(data)

    async def _on_message(self, data: dict[str, Any]) -> None:
        pair = self.pair
        if pair is None:
            return
        sender = data.get("sender")
        if self.role == "visitor":
            if sender != "agent":
                return  # own echo or bot/system message
            self.stats.record(int(data["body"]))
            if self.stats.running:
                await pair.visitor_send()
        else:
            if sender != "visitor":
                return
            self.stats.record(int(data["body"]))
            if self.stats.running:
                await pair.agent_send()

    async def _send(self, event: str, data: dict[str, Any], ack_id: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
                await asyncio.wait_for(self.ws.close(), 5)
        if self.reader_task is not None:
            self.reader_task.cancel()


class SioConn(Conn):
    """Engine.IO v4 + Socket.IO v5 over a websocket, text frames only."""

    def __init__(self, stats: Stats, role: str, ns: str) -> None:
        super().__init__(stats, role)
        self.ns = ns
        self.ev_prefix = f"42{ns},"
        self.connected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def connect(
        self, session: aiohttp.ClientSession, url: str, auth: dict[str, Any], compress: int
    ) -> Any:
        self.ws = await session.ws_connect(
            url,
            compress=compress,
            autoping=True,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        )
        first = await asyncio.wait_for(self.ws.receive(), REQUEST_TIMEOUT)
        if first.type != aiohttp.WSMsgType.TEXT or not first.data.startswith("0"):
            raise ProtocolError(f"expected engine.io open packet, got {first.type} {first.data!r}")
        self.reader_task = asyncio.get_running_loop().create_task(self._reader())
        await self.ws.send_str(f"40{self.ns}," + dumps(auth).decode())
        return await asyncio.wait_for(self.connected, REQUEST_TIMEOUT)

    async def _send(self, event: str, data: dict[str, Any], ack_id: int) -> None:
        assert self.ws is not None
        await self.ws.send_str(f"{self.ev_prefix}{ack_id}" + dumps([event, data]).decode())

    async def _reader(self) -> None:
        ws = self.ws
        assert ws is not None
        TEXT = aiohttp.WSMsgType.TEXT
        stats = self.stats
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not TEXT:
                    break
                s: str = msg.data
                c = s[0]
                if c == "4":
                    t = s[1]
                    i = 2
                    if s.startswith("/", 2):
                        i = s.index(",", 2) + 1
                    if t == "2":
                        j = s.index("[", i)
                        payload = loads(s[j:])
                        if payload[0] == "message":
                            await self._on_message(payload[1])
                    elif t == "3":
                        if not self.pending and '"ok":false' not in s:
                            # steady phase: nobody waits for this ack; skip decoding it
                            if stats.measuring:
                                stats.acks_ok += 1
                            continue
                        j = s.index("[", i)
                        payload = loads(s[j:])
                        self._on_ack(int(s[i:j]), payload[0] if payload else None)
                    elif t == "0":
                        if not self.connected.done():
                            self.connected.set_result(loads(s[i:]) if len(s) > i else None)
                    elif t == "4":
                        err = loads(s[i:]) if len(s) > i else None
                        if not self.connected.done():
                            self.connected.set_exception(ProtocolError(f"connect refused: {err}"))
                        else:
                            stats.unexpected.append(s[:200])
                    elif t == "1":
                        stats.unexpected.append("server disconnected namespace: " + s[:200])
                        break
                    else:
                        stats.unexpected.append(s[:200])
                elif c == "2":
                    await ws.send_str("3")
                elif c == "1":
                    break
                elif c == "6":
                    pass
                else:
                    if len(stats.unexpected) < 20:
                        stats.unexpected.append(s[:200])
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # keep the harness alive, report it
            stats.unexpected.append(f"reader error: {exc!r}")
        finally:
            if not self.connected.done():
                self.connected.set_exception(ProtocolError("closed before connect"))
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ProtocolError("connection closed"))
            if stats.running:
                stats.dropped += 1
            if not self.closed.done():
                self.closed.set_result(None)


class WsConn(Conn):
    """Raw JSON-over-websocket baseline protocol."""

    EVENTS: ClassVar[dict[str, str]] = {"message": "m", "resume": "r"}

    async def connect(self, session: aiohttp.ClientSession, url: str, compress: int) -> None:
        self.ws = await session.ws_connect(
            url,
            compress=compress,
            autoping=True,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5),
        )
        self.reader_task = asyncio.get_running_loop().create_task(self._reader())

    async def _send(self, event: str, data: dict[str, Any], ack_id: int) -> None:
        assert self.ws is not None
        frame = {"t": self.EVENTS[event], "id": ack_id}
        frame.update(data)
        await self.ws.send_str(dumps(frame).decode())

    async def _reader(self) -> None:
        ws = self.ws
        assert ws is not None
        TEXT = aiohttp.WSMsgType.TEXT
        stats = self.stats
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not TEXT:
                    break
                s = msg.data
                if not self.pending and s.startswith('{"t":"a"'):
                    if stats.measuring:
                        stats.acks_ok += 1
                    continue
                d = loads(s)
                t = d["t"]
                if t == "e":
                    await self._on_message(d["data"])
                elif t == "a":
                    self._on_ack(d["id"], {"ok": True, "data": d["data"]})
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:
            stats.unexpected.append(f"reader error: {exc!r}")
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ProtocolError("connection closed"))
            if stats.running:
                stats.dropped += 1
            if not self.closed.done():
                self.closed.set_result(None)


# --------------------------------------------------------------------------------------------
# Pairs
# --------------------------------------------------------------------------------------------


class Pair:
    def __init__(self, idx: int, visitor: Conn, agent: Conn) -> None:
        self.idx = idx
        self.visitor = visitor
        self.agent = agent
        self.conversation_id: str | None = None
        self.vn = 0
        self.an = 0
        visitor.pair = self
        agent.pair = self

    async def visitor_send(self) -> None:
        self.vn += 1
        await self.visitor.fire(
            "message", {"client_id": f"v{self.idx}-{self.vn}", "body": str(perf_ns())}
        )

    async def agent_send(self) -> None:
        self.an += 1
        await self.agent.fire(
            "message",
            {
                "conversation_id": self.conversation_id,
                "client_id": f"a{self.idx}-{self.an}",
                "body": str(perf_ns()),
            },
        )


def ok_data(ack: Any, what: str) -> Any:
    if not isinstance(ack, dict) or ack.get("ok") is not True:
        raise ProtocolError(f"{what}: unexpected ack {str(ack)[:300]}")
    return ack.get("data")


def sio_url(base: str, kind: str) -> str:
    ws_base = base.replace("http://", "ws://", 1)
    path = "/chat/socket.io/" if kind == "chatkit" else "/socket.io/"
    return f"{ws_base}{path}?EIO=4&transport=websocket"


async def gather_bounded(coros: list[Any], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def run(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(run(c) for c in coros))


async def setup_pairs(
    session: aiohttp.ClientSession, args: argparse.Namespace, stats: Stats
) -> tuple[list[Pair], dict[str, float]]:
    kind = args.kind
    compress = 15 if args.deflate else 0
    timings: dict[str, float] = {}
    n = args.pairs
    t0 = time.perf_counter()
    if kind == "ws":
        base = args.base.replace("http://", "ws://", 1)
        pairs = [Pair(i, WsConn(stats, "visitor"), WsConn(stats, "agent")) for i in range(n)]

        async def one(p: Pair) -> None:
            await p.visitor.connect(session, f"{base}/ws?role=visitor&pair={p.idx}", compress)  # type: ignore[attr-defined]
            await p.agent.connect(session, f"{base}/ws?role=agent&pair={p.idx}", compress)  # type: ignore[attr-defined]

        await gather_bounded([one(p) for p in pairs], args.concurrency)
        timings["connect_s"] = time.perf_counter() - t0
        return pairs, timings

    bases = args.base.split(",")
    url = sio_url(bases[0], kind)
    pairs = [
        Pair(i, SioConn(stats, "visitor", "/visitor"), SioConn(stats, "agent", "/agent"))
        for i in range(n)
    ]
    if kind == "sio":

        async def one_sio(p: Pair) -> None:
            await p.visitor.connect(session, url, {"pair": p.idx}, compress)  # type: ignore[attr-defined]
            await p.agent.connect(session, url, {"pair": p.idx}, compress)  # type: ignore[attr-defined]

        await gather_bounded([one_sio(p) for p in pairs], args.concurrency)
        timings["connect_s"] = time.perf_counter() - t0
        return pairs, timings

    # chatkit: visitors first (connect, resume, first message starts the conversation) ...
    # With several servers (bench/scaleout.py), pair i's visitor is on server i and its agent
    # on server i + 1: every message crosses from one process to another.
    async def visitor_setup(p: Pair) -> None:
        v = p.visitor
        await v.connect(session, sio_url(bases[p.idx % len(bases)], kind), {}, compress)  # type: ignore[attr-defined]
        r = ok_data(await v.request("resume", {}), "resume")
        if not isinstance(r, dict) or not r.get("token"):
            raise ProtocolError(f"resume ack has no token: {str(r)[:300]}")
        m = ok_data(
            await v.request("message", {"client_id": f"v{p.idx}-0", "body": "hello"}), "message"
        )
        p.conversation_id = m["conversation_id"]

    await gather_bounded([visitor_setup(p) for p in pairs], args.concurrency)
    timings["visitors_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()

    # ... then one agent socket per pair connects and joins its conversation.
    async def agent_setup(p: Pair) -> None:
        a = p.agent
        agent_url = sio_url(bases[(p.idx + 1) % len(bases)], kind)
        tokens = args.agent_token.split(",")  # one agent for every pair, or one per pair
        await a.connect(session, agent_url, {"token": tokens[p.idx % len(tokens)]}, compress)  # type: ignore[attr-defined]
        j = ok_data(await a.request("join", {"conversation_id": p.conversation_id}), "join")
        conv = j.get("conversation") if isinstance(j, dict) else None
        if not conv or conv.get("status") != "assigned":
            raise ProtocolError(f"join ack: conversation not assigned: {str(j)[:300]}")

    await gather_bounded([agent_setup(p) for p in pairs], args.concurrency)
    timings["agents_s"] = time.perf_counter() - t1
    timings["connect_s"] = time.perf_counter() - t0
    return pairs, timings


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def split_cpu(procs: list[psutil.Process]) -> tuple[float, float, int, int]:
    """User and system CPU seconds, voluntary and involuntary context switches, summed."""
    user = system = voluntary = involuntary = 0.0
    for proc in procs:
        t, c = proc.cpu_times(), proc.num_ctx_switches()
        user, system = user + t.user, system + t.system
        voluntary, involuntary = voluntary + c.voluntary, involuntary + c.involuntary
    return user, system, int(voluntary), int(involuntary)


def services_cpu(procs: list[psutil.Process]) -> float:
    """CPU seconds of these processes; one that ended counts as nothing."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += cpu_s(proc)
    return total


def core_busy() -> list[float]:
    """Busy (non-idle) CPU seconds per core, all processes."""
    return [t.user + t.nice + t.system + t.irq + t.softirq for t in psutil.cpu_times(percpu=True)]


def pct(sorted_vals: list[int], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, round(q * (len(sorted_vals) - 1))))
    return sorted_vals[k] / 1e6


async def run_load(args: argparse.Namespace) -> dict[str, Any]:
    stats = Stats()
    servers = [psutil.Process(int(pid)) for pid in str(args.server_pid).split(",")]
    server = servers[0]
    # Processes of the services the servers use (PostgreSQL, Redis), when asked: their CPU
    # over the window is reported apart.
    services = [proc for proc in psutil.process_iter(["name"])
                if args.service_names and proc.info["name"] in args.service_names.split(",")]
    me = psutil.Process()
    out: dict[str, Any] = {"kind": args.kind, "pairs": args.pairs, "inflight": args.inflight}
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as session:
        pairs, timings = await setup_pairs(session, args, stats)
        out["setup"] = {k: round(v, 3) for k, v in timings.items()}
        out["setup_unexpected"] = stats.unexpected[:5]
        # steady phase: every pair starts `inflight` visitor messages; each delivery is answered
        stats.running = True
        for p in pairs:
            for _ in range(args.inflight):
                await p.visitor_send()
        # warm-up: at least --warmup seconds, and until every in-flight slot has turned over
        # twice (at 1000 pairs a message can take seconds), bounded by --max-warmup.
        tw = time.perf_counter()
        turnover_goal = 2 * args.pairs * args.inflight
        await asyncio.sleep(args.warmup)
        while stats.total < turnover_goal and time.perf_counter() - tw < args.max_warmup:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        out["warmup_s"] = round(time.perf_counter() - tw, 2)
        out["warmup_turnover_reached"] = stats.total >= turnover_goal
        gc.collect()
        split0 = split_cpu(servers)
        s_cpu0, c_cpu0, w0 = sum(map(cpu_s, servers)), cpu_s(me), time.perf_counter()
        v_cpu0 = services_cpu(services)
        cores0 = core_busy()
        stats.measuring = True
        prof = None
        if args.profile_out:
            pyspy = args.py_spy or "py-spy"
            prof = await asyncio.create_subprocess_exec(
                pyspy,
                "record",
                "-p",
                str(server.pid),
                "-d",
                str(max(1, int(args.seconds))),
                "-r",
                "100",
                "-f",
                "raw",
                "-o",
                args.profile_out,
                *(["--native"] if args.profile_native else ["--nonblocking"]),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        timeline: list[int] = []
        n_ticks = max(1, round(args.seconds))
        for k in range(n_ticks):  # per-second deliveries over the window (shows any decay)
            await asyncio.sleep(
                max(0.0, w0 + args.seconds * (k + 1) / n_ticks - time.perf_counter())
            )
            timeline.append(stats.delivered)
        stats.measuring = False
        w1, s_cpu1, c_cpu1 = time.perf_counter(), sum(map(cpu_s, servers)), cpu_s(me)
        split1 = split_cpu(servers)
        v_cpu1 = services_cpu(services)
        cores1 = core_busy()
        # CPU time other processes took on the two pinned cores during the window: other work
        # on the machine (test suites, browsers) skews the figures; reported, not corrected.
        busy = {c: cores1[c] - cores0[c] for c in range(len(cores0))}
        w = w1 - w0
        if args.server_cpu is not None and args.server_cpu in busy:
            out["foreign_load_server_core"] = round(
                max(0.0, busy[args.server_cpu] - (s_cpu1 - s_cpu0)) / w, 3
            )
        if args.cpu is not None and args.cpu in busy:
            out["foreign_load_client_core"] = round(
                max(0.0, busy[args.cpu] - (c_cpu1 - c_cpu0)) / w, 3
            )
        out["timeline_msgs_per_s"] = [
            round((b - a) / (args.seconds / n_ticks))
            for a, b in zip([0, *timeline[:-1]], timeline, strict=True)
        ]
        stats.running = False
        if prof is not None:
            try:
                _, err = await asyncio.wait_for(prof.communicate(), 30)
                out["profile"] = {
                    "path": args.profile_out,
                    "rc": prof.returncode,
                    "stderr": err.decode(errors="replace")[-300:],
                }
            except TimeoutError:
                prof.kill()
                out["profile"] = {"error": "py-spy did not finish"}
        out["server_rss_kb_after_load"] = server.memory_info().rss // 1024
        await asyncio.sleep(min(1.0, args.seconds))  # let in-flight messages drain
        await gather_bounded([c.close() for p in pairs for c in (p.visitor, p.agent)], 256)
    wall = w1 - w0
    lat = sorted(stats.lat_ns)
    n = stats.delivered
    out.update(
        {
            "window_s": round(wall, 3),
            "delivered": n,
            "msgs_per_s": round(n / wall, 1),
            "p50_ms": round(pct(lat, 0.50), 3),
            "p99_ms": round(pct(lat, 0.99), 3),
            "max_ms": round(lat[-1] / 1e6, 3) if lat else None,
            "server_cpu_s": round(s_cpu1 - s_cpu0, 3),
            "server_cpu_util": round((s_cpu1 - s_cpu0) / wall, 3),
            "server_cpu_us_per_msg": round((s_cpu1 - s_cpu0) * 1e6 / n, 2) if n else None,
            "client_cpu_util": round((c_cpu1 - c_cpu0) / wall, 3),
            "services_cpu_us_per_msg": round((v_cpu1 - v_cpu0) * 1e6 / n, 2) if n else None,
            # The servers' CPU split in user and system (kernel: sockets, scheduling) time,
            # and their context switches (voluntary: the event loop waited for I/O;
            # involuntary: preempted, the machine being busy), per message.
            "server_user_us_per_msg": round((split1[0] - split0[0]) * 1e6 / n, 2) if n else None,
            "server_system_us_per_msg": (round((split1[1] - split0[1]) * 1e6 / n, 2)
                                         if n else None),
            "server_voluntary_switches_per_msg": (round((split1[2] - split0[2]) / n, 3)
                                                  if n else None),
            "server_involuntary_switches_per_msg": (round((split1[3] - split0[3]) / n, 3)
                                                    if n else None),
            "servers": len(servers),
            "acks_ok": stats.acks_ok,
            "acks_err": stats.acks_err,
            "ack_err_samples": stats.err_samples,
            "dropped_connections": stats.dropped,
            "unexpected_frames": stats.unexpected[:10],
        }
    )
    return out


async def open_idle(
    session: aiohttp.ClientSession,
    args: argparse.Namespace,
    stats: Stats,
    count: int,
    compress: int,
) -> list[Conn]:
    conns: list[Conn] = []

    async def one() -> None:
        if args.kind == "ws":
            c: Conn = WsConn(stats, "visitor")
            base = args.base.replace("http://", "ws://", 1)
            await c.connect(session, f"{base}/ws?role=visitor", compress)  # type: ignore[attr-defined]
        else:
            c = SioConn(stats, "visitor", "/visitor")
            await c.connect(session, sio_url(args.base, args.kind), {}, compress)  # type: ignore[attr-defined]
        conns.append(c)
        ok_data(await c.request("resume", {}), "resume")

    await gather_bounded([one() for _ in range(count)], args.concurrency)
    return conns


async def run_idle(args: argparse.Namespace) -> dict[str, Any]:
    """Server RSS growth per idle visitor connection (connect + resume, then nothing)."""
    stats = Stats()
    server = psutil.Process(int(args.server_pid))
    out: dict[str, Any] = {"kind": args.kind, "count": args.count, "warm": args.warm}

    def rss() -> int:
        return int(server.memory_info().rss)

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        all_conns = await open_idle(session, args, stats, args.warm, 15)  # warm-up, not counted
        await asyncio.sleep(args.settle)
        r0 = rss()
        t0 = time.perf_counter()
        all_conns += await open_idle(session, args, stats, args.count, 15)
        out["connect_s"] = round(time.perf_counter() - t0, 3)
        await asyncio.sleep(args.settle)
        r1 = rss()
        all_conns += await open_idle(session, args, stats, args.count, 0)
        await asyncio.sleep(args.settle)
        r2 = rss()
        alive = sum(1 for c in all_conns if c.ws is not None and not c.ws.closed)
        out.update(
            {
                "rss_before_kb": r0 // 1024,
                "rss_after_deflate_kb": r1 // 1024,
                "rss_after_plain_kb": r2 // 1024,
                "kb_per_conn_deflate": round((r1 - r0) / args.count / 1024, 2),
                "kb_per_conn_plain": round((r2 - r1) / args.count / 1024, 2),
                "alive_at_end": alive,
                "expected_alive": args.warm + 2 * args.count,
                "unexpected_frames": stats.unexpected[:10],
            }
        )
        # deflate negotiated? (aiohttp exposes it on the response object)
        c0 = all_conns[0].ws
        out["deflate_negotiated"] = bool(c0 is not None and getattr(c0, "compress", 0))
        await gather_bounded([c.close() for c in all_conns], 256)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["load", "idle"])
    p.add_argument("--kind", choices=["chatkit", "sio", "ws"], required=True)
    p.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--server-pid", required=True, help="PID, or PID,PID,... of several servers")
    p.add_argument("--service-names", default="",
                   help="process names whose CPU is reported apart (postgres,redis-server)")
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--inflight", type=int, default=10)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--max-warmup", type=float, default=30.0)
    p.add_argument("--profile-out", default=None, help="py-spy the server over the window (raw)")
    p.add_argument("--py-spy", default=None, help="path to py-spy")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native (pauses)")
    p.add_argument("--agent-token", default="",
                   help="the agents' tokens: one, or a comma-separated list (pair i, the i-th)")
    p.add_argument(
        "--deflate", action="store_true", help="offer permessage-deflate in the load test"
    )
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--warm", type=int, default=100)
    p.add_argument("--settle", type=float, default=2.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--server-cpu", type=int, default=None, help="core the server is pinned to")
    p.add_argument("--deadline", type=float, default=300.0, help="hard limit for the whole run (s)")
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    loop_kind = "asyncio"
    if not args.no_uvloop:
        try:
            import uvloop

            uvloop.install()
            loop_kind = "uvloop"
        except ImportError:
            pass

    async def runner() -> dict[str, Any]:
        coro = run_load(args) if args.mode == "load" else run_idle(args)
        return await asyncio.wait_for(coro, args.deadline)

    try:
        result = asyncio.run(runner())
        result["client_loop"] = loop_kind
    except BaseException as exc:  # report, never hang
        result = {"kind": args.kind, "mode": args.mode, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(dumps(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
