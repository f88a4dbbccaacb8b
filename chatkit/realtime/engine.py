"""A leaner engine.io socket for the WebSocket transport.

Why this exists: python-engineio's `AsyncSocket` spends a large part of a relayed message's
server CPU, and of an idle connection's memory, on per-socket asyncio machinery rather than on
the protocol. For every inbound WebSocket frame it creates a task
(`ensure_future(websocket_wait())`) plus an `asyncio.wait_for` timer; every outbound packet
goes `send` -> `asyncio.Queue.put` -> a separate writer task wakes, `poll()`s the queue
(another `wait_for`: another task and timer) and only then writes; and each socket keeps a
`_send_ping` task asleep between pings. An idle connection holds four or five tasks, their
timers and an `asyncio.Queue` (four deques). Measured with bench/relay.py: about 30 % less
server CPU per relayed message and about 15 KB less memory per idle connection.

`LeanSocket` keeps the Engine.IO protocol as `AsyncSocket` speaks it (handshake, ping interval
and timeout, PING/PONG, CLOSE, NOOP, the polling -> WebSocket upgrade with its probe, maximum
payload) and changes how the WebSocket transport is driven:

* reading is a plain `await ws.receive()` loop on the aiohttp response, which hands Socket.IO
  packets to python-socketio's message handler directly;
* once the WebSocket is up, `send` encodes the packet and writes it to the WebSocket in the
  caller's task: no queue, no writer task. If the client is not reading (more than
  `_BACKLOG_ABOVE` bytes wait in the transport's write buffer) packets go to a per-socket
  backlog drained by a task that waits for the transport, so one slow client does not block
  the sender of a fan-out; the backlog exists only while that lasts;
* the next ping, and over WebSocket the "no frame for ping_interval + ping_timeout" read
  deadline, are one entry per socket in a server-wide heap driven by one loop timer
  (`_Deadlines`), not a sleeping task per socket and a task + timer per frame;
* the `asyncio.Queue` is created only when a code path of the parent needs it (polling, and
  packets sent before the WebSocket handshake completes), and dropped once the socket
  writes to its WebSocket directly;
* the WebSocket is served from `LeanEngineServer.handle_request` after engineio's request
  frames have returned, so their locals are not kept for the connection's lifetime; the
  environ's keys are interned (python-socketio keeps every connection's environ);
* permessage-deflate is declined (`websocket_compression`): browsers always offer it, its
  zlib state costs about 100 KB per connection, and chat packets are too small to gain.

The polling transport, and any async mode other than aiohttp, run the parent's code.

`LeanEngineServer` is `engineio.AsyncServer` constructing `LeanSocket`s: engineio hard-codes
`async_socket.AsyncSocket(self, sid)` in `_handle_connect`, so that one method is copied here
with the class swapped. Written against python-engineio 4.15.1 (4.14 differs only in
`handle_request`'s checks, which are not overridden; 4.13 and older schedule pings
differently) and python-socketio 5.18.1. pyproject.toml pins python-engineio to 4.15.x because
this module overrides private methods (`_handle_connect`, `_upgrade_websocket`,
`handle_request`'s driver hook `_async['translate_request']`) and relies on `AsyncSocket`'s
attributes (`queue`, `last_ping`, `connected`, `upgrading`, `upgraded`, `closing`, `closed`)
and ping rules; check this module against the new code before widening the pin.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import heapq
import inspect
import itertools
import logging
import struct
import sys
import time
from typing import Any

import engineio
import engineio.async_socket
import engineio.exceptions
import engineio.packet
from aiohttp import WSMsgType, web

__all__ = ["LeanEngineServer", "LeanSocket"]

_TEXT_OR_BINARY = (WSMsgType.TEXT, WSMsgType.BINARY)
#: Above this many bytes waiting in the transport's write buffer the client is not keeping
#: up: packets are queued on the socket rather than written (asyncio's low-water mark).
_BACKLOG_ABOVE = 16 * 1024

#: Strong references to the few short-lived tasks started here (pings, backlog flushes,
#: closes), so that they are not garbage-collected mid-flight.
_tasks: set[asyncio.Task[Any]] = set()


def _spawn(coro: Any) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def _frame(data: str | bytes) -> bytes:
    """One unmasked, uncompressed WebSocket frame (RFC 6455 5.2), as a server sends it:
    text for str, binary for bytes."""
    payload, opcode = (data.encode(), 0x81) if isinstance(data, str) else (data, 0x82)
    size = len(payload)
    if size < 126:
        return bytes((opcode, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", opcode, 126, size) + payload
    return struct.pack("!BBQ", opcode, 127, size) + payload


async def _write(ws: web.WebSocketResponse, data: str | bytes) -> None:
    if isinstance(data, str):
        await ws.send_str(data)
    else:
        await ws.send_bytes(data)


class _Deadlines:
    """Every socket's next deadline (ping due, or read deadline) on one loop timer: a heap of
    (when, seq, socket). A uvloop timer costs about 650 bytes; an entry here about 100.
    Re-arming a socket pushes a new entry; the old one goes stale (the socket's `_due` no
    longer matches) and is dropped when it comes up."""

    __slots__ = ("_firing", "_heap", "_seq", "_timer", "_timer_at")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, LeanSocket]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._firing = False

    def arm(self, loop: asyncio.AbstractEventLoop, sock: LeanSocket, when: float) -> None:
        sock._due = when
        heapq.heappush(self._heap, (when, next(self._seq), sock))
        if not self._firing and (self._timer is None or when < self._timer_at):
            self._set_timer(loop, when)

    def _set_timer(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, loop)
        self._timer_at = when

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        heap = self._heap
        now = loop.time()
        self._firing = True
        try:
            while heap and heap[0][0] <= now:
                when, _, sock = heapq.heappop(heap)
                if sock._due == when:
                    sock._due = None
                    try:
                        sock._tick()
                    except Exception:  # pragma: no cover - one socket must not stop the rest
                        sock.server.logger.exception('%s: deadline error', sock.sid)
        finally:
            self._firing = False
            if heap:
                self._set_timer(loop, heap[0][0])


class LeanSocket(engineio.async_socket.AsyncSocket):  # type: ignore[misc]
    """`engineio.async_socket.AsyncSocket` with a direct WebSocket transport (see module)."""

    # set by BaseSocket.__init__
    server: Any
    sid: str
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool
    closing: bool
    closed: bool

    #: Accept permessage-deflate when the client offers it (engineio accepts whatever is
    #: offered). Off: browsers always offer it, its zlib state costs about 100 KB per idle
    #: connection, and chat packets are too small to gain from compression.
    websocket_compression = False

    def __init__(self, server: Any, sid: str) -> None:
        self._queue: asyncio.Queue[Any] | None = None
        self._ws: web.WebSocketResponse | None = None
        self._transport: asyncio.Transport | None = None
        self._backlog: collections.deque[str | bytes] | None = None
        self._pending: list[bytes] | None = None  # frames to write at the end of this pass
        self._due: float | None = None  # this socket's entry in the server's _Deadlines
        self._ping_at: float | None = None
        self._rx_at = 0.0
        self._rx_limit = 0.0
        super().__init__(server, sid)
        self._queue = None  # BaseSocket made one; it is made again only if needed

    # -- the queue, only for the parent's code paths -------------------------------------

    @property
    def queue(self) -> asyncio.Queue[Any]:
        if self._queue is None:
            self._queue = self.server.create_queue()
        return self._queue

    @queue.setter
    def queue(self, value: asyncio.Queue[Any]) -> None:
        self._queue = value

    # -- sending -------------------------------------------------------------------------

    async def send(self, pkt: engineio.packet.Packet) -> None:
        """Send a packet to the client: straight to the WebSocket once it is up."""
        ws = self._ws
        if ws is None:
            await super().send(pkt)
            return
        if self.closed:
            raise engineio.exceptions.SocketIsClosedError()
        last_ping = self.last_ping
        if (last_ping and time.time() - last_ping > self.server.ping_timeout
                and not await self.check_ping_timeout()):
            return
        data = pkt.encode()
        if self.server.logger.isEnabledFor(logging.INFO):
            self.server.logger.info(
                '%s: Sending packet %s data %s', self.sid,
                engineio.packet.packet_names[pkt.packet_type],
                data if isinstance(data, str) else '<binary>')
        backlog = self._backlog
        if backlog is not None:
            backlog.append(data)
            return
        transport = self._transport
        if transport is None:
            await _write(ws, data)
            return
        if transport.get_write_buffer_size() > _BACKLOG_ABOVE:
            self._backlog = collections.deque((data,))
            _spawn(self._flush_backlog(ws))
            return
        # Frames for this socket are gathered and written together once per loop pass: one
        # write syscall for all of them instead of one per frame.
        pending = self._pending
        if pending is None:
            self._pending = [_frame(data)]
            asyncio.get_running_loop().call_soon(self._write_pending, ws, transport)
        else:
            pending.append(_frame(data))

    def _write_pending(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        frames, self._pending = self._pending, None
        if not frames or ws.closed or transport.is_closing():
            return
        try:
            transport.writelines(frames)
        except Exception as exc:
            self._write_failed(ws, exc)

    async def _flush_backlog(self, ws: web.WebSocketResponse) -> None:
        backlog = self._backlog
        try:
            while backlog:
                await _write(ws, backlog.popleft())  # waits for the transport to drain
        except Exception as exc:
            self._write_failed(ws, exc)
        finally:
            if self._backlog is backlog:
                self._backlog = None

    def _write_failed(self, ws: web.WebSocketResponse, exc: Exception) -> None:
        """Like the parent's writer task: a failed write ends the WebSocket, which ends the
        read loop, which closes the socket."""
        self.server.logger.info('%s: WebSocket write failed: %r', self.sid, exc)
        self._backlog = None
        if not ws.closed:
            _spawn(ws.close())

    async def close(self, wait: bool = True, abort: bool = False,
                    reason: Any = None) -> None:
        """Close the socket connection (the parent's, without the queue when there is none
        to wait for)."""
        if self.closed or self.closing:
            return
        self._cancel_timer()
        if self._queue is not None:
            await super().close(wait=wait, abort=abort, reason=reason)
            return
        self.closing = True
        await self.server._trigger_event(
            'disconnect', self.sid, reason or self.server.reason.SERVER_DISCONNECT,
            run_async=False)
        if not abort:
            await self.send(engineio.packet.Packet(engineio.packet.CLOSE))
        self.closed = True
        # wait=True means "until the packets are written"; direct writes already are, and
        # a backlog only exists while a client is not reading, which is no reason to wait.

    async def hang_up(self) -> None:
        """End the transport from the server's side (at shutdown, after close()): clients
        do not hang up on a CLOSE packet. Over polling, a None in the queue ends the
        parent's long poll, as its own clean-up does."""
        ws = self._ws
        if ws is not None:
            if self._pending and self._transport is not None:
                self._write_pending(ws, self._transport)  # before the close frame
            if not ws.closed:
                await ws.close()
        else:
            self.queue.put_nowait(None)

    # -- pings and the read deadline: one deadline ---------------------------------------

    def schedule_ping(self) -> None:
        # only schedule a new ping if the previous ping wait cycle completed (the parent's
        # rule), but with the socket's timer instead of a sleeping task
        if self.last_ping:
            self.last_ping = None
            loop = asyncio.get_running_loop()
            self._ping_at = loop.time() + self.server.ping_interval
            self._arm(loop, self._ping_at)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self.server.deadlines.arm(loop, self, when)

    def _cancel_timer(self) -> None:
        self._due = None  # the heap entry goes stale

    async def _ping(self) -> None:
        with contextlib.suppress(engineio.exceptions.SocketIsClosedError):
            await self.send(engineio.packet.Packet(engineio.packet.PING))

    def _tick(self) -> None:
        """The socket's one deadline: first the next ping (armed by schedule_ping, i.e. on
        connect and on every PONG), then, over WebSocket, the read deadline: no frame for
        ping_interval + ping_timeout ends the WebSocket, as the parent's per-frame
        `wait_for` does. A PONG re-arms it for the next ping."""
        if self.closing or self.closed:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._ping_at is not None:
            if now < self._ping_at:  # pragma: no cover - timers do not fire early
                self._arm(loop, self._ping_at)
                return
            self._ping_at = None
            self.last_ping = time.time()
            _spawn(self._ping())
        ws = self._ws
        if ws is None:
            return  # polling: the parent's poll timeout and service task watch the client
        due = self._rx_at + self._rx_limit
        if now < due:
            self._arm(loop, due)
        elif not ws.closed:
            self.server.logger.info('%s: No packet from the client in %ss, closing',
                                    self.sid, self._rx_limit)
            _spawn(ws.close())

    # -- the WebSocket transport ---------------------------------------------------------

    async def _upgrade_websocket(self, environ: dict[str, Any]) -> Any:
        """Upgrade the connection from polling to websocket (or open it as one)."""
        request = environ.get('aiohttp.request')
        if not isinstance(request, web.Request):
            return await super()._upgrade_websocket(environ)  # another async mode
        if self.upgraded:
            raise OSError('Socket has been upgraded already')
        # What engineio's aiohttp driver does, minus its wrapper object.
        ws = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size,
                                   compress=self.websocket_compression)
        await ws.prepare(request)
        # Served by LeanEngineServer.handle_request once the frames between it and here are
        # gone: they would otherwise be kept (about 1.5 KB) for the connection's lifetime.
        self.server.defer_websocket(request, self, ws)
        return ws

    async def _read(self, ws: web.WebSocketResponse) -> str | bytes | None:
        """The next text or binary frame, or None when the WebSocket is over."""
        msg = await ws.receive()
        if msg.type not in _TEXT_OR_BINARY:
            return None
        data: str | bytes = msg.data
        if len(data) > self.server.max_http_buffer_size:
            return None  # the parent raises 'packet is too large' and ends the same way
        return data

    async def _flush_queue(self, ws: web.WebSocketResponse) -> None:
        """Packets sent before the WebSocket was up (the OPEN packet, anything sent while
        upgrading) are in the queue: write them in order, then drop the queue. The caller
        switches to direct writes right after, with no await in between, so nothing can
        overtake them. (A method of its own so that its locals do not outlive it.)"""
        while self._queue is not None:
            queued: list[Any] = []
            while not self._queue.empty():
                queued.append(self._queue.get_nowait())
                self._queue.task_done()
            if not queued:
                self._queue = None
                break
            for pkt in queued:
                if pkt is not None:
                    await _write(ws, pkt.encode())

    async def _serve_websocket(self, ws: web.WebSocketResponse,
                               transport: asyncio.Transport | None) -> None:
        server = self.server
        if self.connected:
            # the socket was already connected over polling, so this is an upgrade
            self.upgrading = True  # hold packet sends (in the queue) during the upgrade
            data = await self._read(ws)
            probe = None if data is None else engineio.packet.Packet(encoded_packet=data)
            if probe is None or probe.packet_type != engineio.packet.PING \
                    or probe.data != 'probe':
                server.logger.info('%s: Failed websocket upgrade, no PING packet', self.sid)
                self.upgrading = False
                return
            await ws.send_str(engineio.packet.Packet(engineio.packet.PONG,
                                                     data='probe').encode())
            await self.queue.put(engineio.packet.Packet(engineio.packet.NOOP))  # end poll
            data = await self._read(ws)
            upgrade = None if data is None else engineio.packet.Packet(encoded_packet=data)
            if upgrade is None or upgrade.packet_type != engineio.packet.UPGRADE:
                self.upgraded = False
                server.logger.info('%s: Failed websocket upgrade, expected UPGRADE packet, '
                                   'received %s instead.', self.sid, data)
                self.upgrading = False
                return
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        await self._flush_queue(ws)
        self._transport = transport
        self._ws = ws
        server.logger.info('%s: Upgrade to websocket successful', self.sid)

        loop = asyncio.get_running_loop()
        self._rx_limit = server.ping_interval + server.ping_timeout
        self._rx_at = loop.time()
        if self._due is None:  # else a ping is due first, and _tick arms the deadline
            self._arm(loop, self._rx_at + self._rx_limit)
        logger = server.logger
        sid = self.sid
        max_size = server.max_http_buffer_size
        on_message = server.handlers.get('message')
        if server.async_handlers or not inspect.iscoroutinefunction(on_message):
            on_message = None  # python-socketio sets async_handlers=False on engineio
        try:
            while True:
                try:
                    msg = await ws.receive()
                except (asyncio.CancelledError, Exception):  # as the parent's bare except
                    break
                if msg.type not in _TEXT_OR_BINARY:
                    break  # connection closed by the client, or timed out
                data = msg.data
                if len(data) > max_size:
                    break  # the parent raises 'packet is too large' and ends the same way
                self._rx_at = loop.time()
                try:
                    if (isinstance(data, str) and data[:1] == '4' and data[1:2].isnumeric()
                            and not logger.isEnabledFor(logging.INFO)):
                        # A Socket.IO packet: what receive() does with it, minus decoding
                        # into a Packet (which yields exactly data[1:] for these).
                        if on_message is None:
                            await server._trigger_event('message', sid, data[1:],
                                                        run_async=server.async_handlers)
                        else:
                            # what _trigger_event does with run_async=False, minus a
                            # closure per frame
                            try:
                                await on_message(sid, data[1:])
                            except asyncio.CancelledError:
                                pass
                            except Exception:
                                logger.exception('message async handler error')
                    else:
                        await self.receive(engineio.packet.Packet(encoded_packet=data))
                except engineio.exceptions.UnknownPacketError:
                    pass
                except engineio.exceptions.SocketIsClosedError:
                    logger.info('Receive error -- socket is closed')
                    break
                except ValueError:
                    logger.info('%s: Invalid packet received', sid)
                    break
                except Exception:
                    # if we get an unexpected exception we log the error and keep going
                    logger.exception('Unknown receive error')
        finally:
            self._cancel_timer()
        if not ws.closed:
            await ws.close()
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


def _interned(translate: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The driver's WSGI-style environ with its keys interned: python-socketio keeps each
    connection's environ for the connection's lifetime, and the `HTTP_*` keys are made anew
    for every request (about 600 bytes per connection). Same keys, same values."""
    environ: dict[str, Any] = translate(*args, **kwargs)
    return {sys.intern(key): value for key, value in environ.items()}


class LeanEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """`engineio.AsyncServer` whose sockets are `LeanSocket`s."""

    socket_class = LeanSocket
    #: ping and read deadlines of all this server's sockets
    deadlines: _Deadlines
    start_service_task: bool
    service_task_handle: Any
    sockets: dict[str, Any]
    _async: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadlines = _Deadlines()
        self._deferred: dict[int, tuple[LeanSocket, web.WebSocketResponse]] = {}
        translate = self._async['translate_request']
        if not inspect.iscoroutinefunction(translate):
            # a copy: the driver's dict is shared by every server of that async mode
            self._async = {**self._async,
                           'translate_request': functools.partial(_interned, translate)}

    async def send_packet(self, sid: str, pkt: engineio.packet.Packet) -> None:
        """The parent's, with its socket lookup inlined for the common case."""
        socket = self.sockets.get(sid)
        if socket is None or socket.closed:
            await super().send_packet(sid, pkt)  # the parent's warning and clean-up
            return
        await socket.send(pkt)

    def defer_websocket(self, request: web.Request, socket: LeanSocket,
                        ws: web.WebSocketResponse) -> None:
        self._deferred[id(request)] = (socket, ws)

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """The parent's, then, when that request opened a WebSocket (connect or upgrade),
        the WebSocket is served here, in the same aiohttp handler task, after the parent's
        frames (handle_request, _handle_connect, handle_get_request, _upgrade_websocket,
        with the locals they hold) have returned."""
        key = id(args[0]) if args else 0
        try:
            response = await super().handle_request(*args, **kwargs)
        finally:
            deferred = self._deferred.pop(key, None) if self._deferred else None
        if deferred is not None:
            socket, ws = deferred
            try:
                await socket._serve_websocket(ws, args[0].transport)
            finally:
                # what the parent does when its websocket handler returns
                if socket.closed and self.sockets.get(socket.sid) is socket:
                    del self.sockets[socket.sid]
        return response

    async def _handle_connect(self, environ: dict[str, Any], transport: str,
                              jsonp_index: int | None = None) -> Any:
        """Handle a client connection request. Copied from engineio 4.15.1's
        `AsyncServer._handle_connect`; the only change is the socket class."""
        if self.start_service_task:
            # start the service task to monitor connected clients
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(
                self._service_task)

        sid = self.generate_id()
        s = self.socket_class(self, sid)
        self.sockets[sid] = s

        pkt = engineio.packet.Packet(engineio.packet.OPEN, {
            'sid': sid,
            'upgrades': self._upgrades(sid, transport),
            'pingTimeout': int(self.ping_timeout * 1000),
            'pingInterval': int(
                self.ping_interval + self.ping_interval_grace_period) * 1000,
            'maxPayload': self.max_http_buffer_size,
        })
        await s.send(pkt)

        ret = await self._trigger_event('connect', sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning('Application rejected connection')
            return self._unauthorized(ret or None)

        s.schedule_ping()

        if transport == 'websocket':
            ret = await s.handle_get_request(environ)
            if s.closed and sid in self.sockets:
                # websocket connection ended, so we are done
                del self.sockets[sid]
            return ret
        else:
            s.connected = True
            headers = None
            if self.cookie:
                if isinstance(self.cookie, dict):
                    headers = [(
                        'Set-Cookie',
                        self._generate_sid_cookie(sid, self.cookie)
                    )]
                else:
                    headers = [(
                        'Set-Cookie',
                        self._generate_sid_cookie(sid, {
                            'name': self.cookie, 'path': '/', 'SameSite': 'Lax'
                        })
                    )]
            try:
                return self._ok(await s.poll(), headers=headers,
                                jsonp_index=jsonp_index)
            except engineio.exceptions.QueueEmpty:
                return self._bad_request()
