"""`chatkit serve` as a real subprocess on a loopback port, for tests that need whole
processes: signals, kill -9, several processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from tests.clients import Visitor

CHECKOUT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """`chatkit serve` in a subprocess on a free loopback port. The test's own CHATKIT_*
    variables are not passed on; `env` sets the process's settings instead."""

    def __init__(self, cwd: Path, *extra: str, database: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.db = database or f"sqlite:///{cwd}/served.db"
        self.args = ["serve", "--port", str(self.port), "--database", self.db, *extra]
        self.cwd = cwd
        self.env = env or {}
        self.output = ""

    async def __aenter__(self) -> Served:
        await self.start()
        return self

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_")}
        # This checkout's chatkit, whatever is installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT),
                                                          env.get("PYTHONPATH")]))
        self.output = ""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "chatkit", *self.args, cwd=self.cwd, env={**env, **self.env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert self.process.stdout is not None
        while "Ctrl+C to stop" not in self.output:
            line = await asyncio.wait_for(self.process.stdout.readline(), 60)
            assert line, f"chatkit serve exited:\n{self.output}"
            self.output += line.decode()
        # The announcement comes before the socket is bound; wait for it.
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        # From here the output is read as it comes, so a chatty process never blocks on a
        # full pipe.
        self._reader = asyncio.create_task(self._read_output())

    async def _read_output(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.output += line.decode()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        code = await asyncio.wait_for(self.process.wait(), 30)
        await asyncio.wait_for(self._reader, 10)
        return code

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        self.process.kill()
        await self.process.wait()
        await asyncio.wait_for(self._reader, 10)

    async def __aexit__(self, *exc: object) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if not self._reader.done():
            await asyncio.wait_for(self._reader, 10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Address:
    """Where a served process listens, for the test clients (what they read of a
    TestServer)."""

    def __init__(self, served: Served) -> None:
        self.host, self.port = "127.0.0.1", served.port


async def stream(visitor: Visitor, stop: asyncio.Event, acked_enough: asyncio.Event, *,
                 enough: int = 50, window: int = 20, limit: int = 5000,
                 ) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Send numbered messages, `window` in flight at a time, until `stop` is set (or `limit`
    is reached); set `acked_enough` once `enough` are acknowledged. Returns the client ids
    sent, in order, and the acks by client id. A call whose connection dies fails (after at
    most 3 s): it counts as sent and not acknowledged, as in the widget's outbox."""
    sent: list[str] = []
    acked: dict[str, dict[str, Any]] = {}
    in_flight: set[asyncio.Task[None]] = set()

    async def send(client_id: str, n: int) -> None:
        try:
            ack = await visitor.sio.call("message", {"client_id": client_id,
                                                     "body": f"message {n}"},
                                         namespace="/visitor", timeout=3)
        except Exception:  # the connection died under it: no ack
            return
        if isinstance(ack, dict) and ack.get("ok"):
            acked[client_id] = ack["data"]
            if len(acked) >= enough:
                acked_enough.set()

    for n in range(limit):
        if stop.is_set():
            break
        while len(in_flight) >= window and not stop.is_set():
            _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            break
        client_id = f"m-{n}"
        sent.append(client_id)
        task = asyncio.create_task(send(client_id, n))
        in_flight.add(task)
    if in_flight:
        await asyncio.wait(in_flight)
    return sent, acked


async def all_messages(visitor: Visitor) -> list[dict[str, Any]]:
    """The open conversation's whole history, through `resume` pages."""
    found: list[dict[str, Any]] = []
    while True:
        page = await visitor.ok("resume", {"since_seq": len(found), "limit": 200})
        found += page["messages"]
        if not page["has_more"]:
            return found
