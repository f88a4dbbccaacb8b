"""Baseline relay servers for bench/relay.py (not part of chatkit).

Run one per process::

    python bench/_relay_servers.py sio --port 8101 [--cpu 0] [--no-uvloop]
    python bench/_relay_servers.py ws  --port 8102 [--cpu 0] [--no-uvloop]

Both serve ``GET /health`` (200 when ready) and relay the same traffic shape that chatkit relays:

* ``sio``: a bare python-socketio ``AsyncServer(async_mode="aiohttp")`` with library defaults
  (engine.io ping 25 s / 20 s, default JSON, default client manager, websocket compression
  negotiated by aiohttp's defaults). Namespaces ``/visitor`` and ``/agent``; a socket that
  connects with ``auth={"pair": i}`` is put in room ``p<i>``. A ``message`` event is acked with
  ``{"ok": true, "data": <message>}`` and emitted as ``message`` to the paired room of the other
  namespace. ``resume`` is acked with a dummy token (used by the idle-memory test).
* ``ws``: a raw aiohttp WebSocket relay at ``/ws?role=visitor|agent&pair=i`` speaking plain JSON
  frames: ``{"t":"m","id":n,"client_id":..,"body":..}`` is answered with
  ``{"t":"a","id":n,"data":<message>}`` to the sender and ``{"t":"e","data":<message>}`` to the
  peer. ``{"t":"r","id":n}`` (resume) is answered with an ack carrying a dummy token.

Nothing is persisted: these are the "how fast can a relay be" baselines.
"""

from __future__ import annotations

import argparse
import os
import sys


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _loop_kind(use_uvloop: bool) -> str:
    if use_uvloop:
        try:
            import uvloop

            uvloop.install()
            return "uvloop"
        except ImportError:
            pass
    return "asyncio"


def build_sio_app():  # type: ignore[no-untyped-def]
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")  # library defaults
    app = web.Application()
    sio.attach(app)
    pair_of: dict[tuple[str, str], object] = {}
    seq: dict[object, int] = {}

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/health", health)

    def make_handlers(ns: str, other: str, sender: str) -> None:
        async def connect(sid: str, environ: dict, auth: object = None) -> None:  # type: ignore[type-arg]
            pair = auth.get("pair") if isinstance(auth, dict) else None
            if pair is not None:
                pair_of[(ns, sid)] = pair
                await sio.enter_room(sid, f"p{pair}", namespace=ns)

        async def disconnect(sid: str, *args: object) -> None:
            pair_of.pop((ns, sid), None)

        async def resume(sid: str, data: object = None) -> dict:  # type: ignore[type-arg]
            return {"ok": True, "data": {"token": "bench", "conversation": None, "messages": []}}

        async def message(sid: str, data: dict) -> dict:  # type: ignore[type-arg]
            pair = pair_of.get((ns, sid))
            if pair is None or not isinstance(data, dict):
                return {"ok": False, "error": {"code": "not_found", "message": "no pair"}}
            n = seq.get(pair, 0) + 1
            seq[pair] = n
            msg = {
                "conversation_id": f"c{pair}",
                "seq": n,
                "client_id": data.get("client_id"),
                "sender": sender,
                "body": data.get("body"),
            }
            await sio.emit("message", msg, room=f"p{pair}", namespace=other)
            return {"ok": True, "data": msg}

        sio.on("connect", connect, namespace=ns)
        sio.on("disconnect", disconnect, namespace=ns)
        sio.on("resume", resume, namespace=ns)
        sio.on("message", message, namespace=ns)

    make_handlers("/visitor", "/agent", "visitor")
    make_handlers("/agent", "/visitor", "agent")
    return app


def build_ws_app():  # type: ignore[no-untyped-def]
    import orjson
    from aiohttp import WSMsgType, web

    peers: dict[tuple[str, str], web.WebSocketResponse] = {}
    seq: dict[str, int] = {}
    dumps = orjson.dumps
    loads = orjson.loads

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        role = request.query.get("role", "visitor")
        pair = request.query.get("pair")
        other = "agent" if role == "visitor" else "visitor"
        ws = web.WebSocketResponse()  # aiohttp defaults (compress=True if offered)
        await ws.prepare(request)
        if pair is not None:
            peers[(role, pair)] = ws
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                d = loads(frame.data)
                t = d.get("t")
                if t == "m" and pair is not None:
                    n = seq.get(pair, 0) + 1
                    seq[pair] = n
                    msg = {
                        "conversation_id": f"c{pair}",
                        "seq": n,
                        "client_id": d.get("client_id"),
                        "sender": role,
                        "body": d.get("body"),
                    }
                    await ws.send_str(dumps({"t": "a", "id": d.get("id"), "data": msg}).decode())
                    peer = peers.get((other, pair))
                    if peer is not None and not peer.closed:
                        await peer.send_str(dumps({"t": "e", "data": msg}).decode())
                elif t == "r":
                    await ws.send_str(
                        dumps({"t": "a", "id": d.get("id"), "data": {"token": "bench"}}).decode()
                    )
        finally:
            if pair is not None and peers.get((role, pair)) is ws:
                del peers[(role, pair)]
        return ws

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/ws", ws_handler)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["sio", "ws"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args(argv)
    _pin(args.cpu)
    loop_kind = _loop_kind(not args.no_uvloop)
    from aiohttp import web

    app = build_sio_app() if args.kind == "sio" else build_ws_app()
    print(
        f"relay-server {args.kind} loop={loop_kind} pid={os.getpid()}", file=sys.stderr, flush=True
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None, backlog=4096)


if __name__ == "__main__":
    main()
