"""Socket.IO events between processes over Redis, each sent only to the processes that hold
a member of its rooms.

python-socketio's Redis manager publishes every event on one channel that every process
reads: each process added costs every message of the deployment, and beyond a handful of
processes that channel, not the database, is what stops scaling (bench/README.md,
"scaleout.py"). Here Redis keeps a directory of who holds which room, and routes:

- each process subscribes to a channel of its own (`<channel>:host:<id>`) besides the
  deployment's shared one (`<channel>`);
- `<channel>:room:<namespace>:<room>` is the set of the processes with a socket in that
  room; a process adds itself when its first socket enters a room and removes itself when
  its last one leaves (`<channel>:rooms-of:<id>` lists what it added);
- a publish is one script that reads the sets of the events' rooms and publishes to each
  process concerned, in one Redis message, only the events for it; Redis runs scripts one
  at a time, so the directory it reads is the one as of the publish. An event travels as
  the Socket.IO packet its recipients get, encoded once by the process that emits it: the
  others send it to their sockets as it is, without reading its data;
- `enter_room` returns only once the room's entry is in Redis. An event emitted after a
  socket entered a room therefore reaches it, whichever process emits it: the emitter's
  script runs after the entry was written. (As with one process, an event emitted before
  the entry may not.) Entries are written only once this process's channel is subscribed,
  so nothing is routed to a channel nobody reads yet.
- each process renews `<channel>:alive:<id>` (expiring after `connection_ttl`) every third
  of it, and every process sweeps the directory of processes whose key ran out: a process
  that died leaves no entries behind for longer than that (until then, what is routed to
  it is published to a channel nobody reads). A process that finds its own key gone (a
  pause longer than the expiry, a Redis that restarted empty) writes all its entries again,
  as it does after every reconnection.

Broadcasts (no room), events with a callback and python-socketio's other messages still go
on the shared channel, which every process reads and filters (also what an external
`AsyncRedisManager(write_only=True)` publishes to). Publishing is coalesced: an emit is
delivered locally at once and queued; one task sends what queued up while its previous send
was in flight as one script call. What cannot be sent (Redis down past a retry) is lost to
the other processes; clients catch up by sequence number when they reconnect. The keys of
one deployment are not in one hash slot: Redis Cluster is not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any, NamedTuple

import orjson
import socketio

from chatkit.realtime.server import _LocalDelivery, _OrjsonCodec

log = logging.getLogger("chatkit.realtime.redis")

#: How long `enter_room` waits at most for the room's entry to be written. Only a Redis that
#: is slow without being down takes this long; the room is registered when it answers.
REGISTER_TIMEOUT = 5.0

# KEYS: the room sets of the batch. ARGV: the prefix of the processes' channels, the sender,
# the events' JSON one after the other, and per event the length of its JSON, the number of
# its rooms and their indexes in KEYS, as decimal numbers separated by spaces. (Two
# arguments, not three or more per event: redis-py encodes each argument in Python, a
# few microseconds apiece.) Each process concerned gets one message: a JSON array of the
# events for it.
_ROUTE = """
local members = {}
for k = 1, #KEYS do members[k] = redis.call('SMEMBERS', KEYS[k]) end
local prefix, sender, blob = ARGV[1], ARGV[2], ARGV[3]
local spec, count = {}, 0
for n in string.gmatch(ARGV[4], '%d+') do
  count = count + 1
  spec[count] = tonumber(n)
end
local out, order = {}, {}
local i, at = 1, 1
while i <= count do
  local size, n = spec[i], spec[i + 1]
  local payload = string.sub(blob, at, at + size - 1)
  at = at + size
  local seen = {}
  for j = i + 2, i + 1 + n do
    for _, host in ipairs(members[spec[j]]) do
      if host ~= sender and not seen[host] then
        seen[host] = true
        local list = out[host]
        if list == nil then
          list = {}
          out[host] = list
          order[#order + 1] = host
        end
        list[#list + 1] = payload
      end
    end
  end
  i = i + 2 + n
end
for _, host in ipairs(order) do
  redis.call('PUBLISH', prefix .. host, '[' .. table.concat(out[host], ',') .. ']')
end
return #order
"""

# Removes host ARGV[2]'s entries (ARGV[1]: the key prefix "<channel>:").
_FORGET = """
local function forget(p, host)
  local own = p .. 'rooms-of:' .. host
  for _, room in ipairs(redis.call('SMEMBERS', own)) do redis.call('SREM', room, host) end
  redis.call('DEL', own, p .. 'alive:' .. host)
  redis.call('SREM', p .. 'hosts', host)
end
"""

# Every process whose alive key ran out leaves the directory. Returns how many did.
_SWEEP = _FORGET + """
local p, gone = ARGV[1], 0
for _, host in ipairs(redis.call('SMEMBERS', p .. 'hosts')) do
  if redis.call('EXISTS', p .. 'alive:' .. host) == 0 then
    forget(p, host)
    gone = gone + 1
  end
end
return gone
"""

# ARGV: prefix, host, ttl (ms), the number of rooms to add, those rooms, then the rooms to
# remove. A host whose alive key is gone (swept) writes nothing and gets 0: it must write
# all its entries again (_RESYNC), or a sweep running meanwhile would leave half of them.
_UPDATE = """
local p, host = ARGV[1], ARGV[2]
if redis.call('EXISTS', p .. 'alive:' .. host) == 0 then return 0 end
local own = p .. 'rooms-of:' .. host
local adds = tonumber(ARGV[4])
for i = 5, 4 + adds do
  redis.call('SADD', ARGV[i], host)
  redis.call('SADD', own, ARGV[i])
end
for i = 5 + adds, #ARGV do
  redis.call('SREM', ARGV[i], host)
  redis.call('SREM', own, ARGV[i])
end
return 1
"""

# ARGV: prefix, host, ttl (ms), then every room the host has: its entries, from scratch.
_RESYNC = _FORGET + """
local p, host = ARGV[1], ARGV[2]
forget(p, host)
redis.call('SET', p .. 'alive:' .. host, '1', 'PX', ARGV[3])
redis.call('SADD', p .. 'hosts', host)
local own = p .. 'rooms-of:' .. host
for i = 4, #ARGV do
  redis.call('SADD', ARGV[i], host)
  redis.call('SADD', own, ARGV[i])
end
return 1
"""

_LEAVE = _FORGET + "forget(ARGV[1], ARGV[2]) return 1"

RoomKey = tuple[str, str]  # (namespace, room)


class _Routed(NamedTuple):
    """An event queued for the processes that hold its rooms."""

    namespace: str
    rooms: list[str]
    payload: bytes  # JSON: [namespace, room(s), skip_sid, event, Socket.IO packet]


class RedisDelivery(socketio.AsyncRedisManager, _LocalDelivery):  # type: ignore[misc]
    """python-socketio's Redis manager, with events routed to the processes that hold their
    rooms (this module's docstring) and publishes coalesced; _LocalDelivery within each
    process. Overrides python-socketio's `emit`, `enter_room`, `initialize`, `_publish` and
    `_listen` and uses its `_redis_connect` (see the pin in pyproject.toml), and watches room
    membership through `basic_enter_room` and `basic_leave_room`, which every join, leave and
    disconnect goes through."""

    def __init__(self, url: str, *, channel: str, ttl: float) -> None:
        super().__init__(url, channel=channel, json=_OrjsonCodec)
        if ttl <= 0:
            raise ValueError("the directory's ttl must be positive")
        self.ttl = ttl
        self.prefix = f"{channel}:"
        self.host_channel = f"{channel}:host:{self.host_id}"
        self._outbox: list[_Routed | dict[str, Any]] = []
        self._flusher: asyncio.Task[None] | None = None
        # The directory, as this process has written it.
        self._confirmed: set[RoomKey] = set()  # rooms whose entry is in Redis
        self._dirty: set[RoomKey] = set()  # rooms whose entry is to be written or removed
        self._resync = True  # write every entry from scratch at the next sync
        self._waiters: list[asyncio.Future[None]] = []  # joins waiting for the next sync
        self._syncer: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        # None: connecting (joins wait); True: subscribed; False: Redis unreachable (joins
        # do not wait: everything is written again once it is back).
        self._subscribed: bool | None = None
        self._scripts: dict[str, Any] = {}
        #: Told (namespace, event, data args) of each event from another process this
        #: process has recipients for, before they get it: caches of this process that the
        #: event makes stale (server.py's SocketNotifier) are dropped there.
        self.heard: Callable[[str, Any, Any], None] | None = None
        #: The events `heard` is told of (the others are not even decoded).
        self.heard_events: Collection[str] = frozenset()

    # keys

    def room_key(self, namespace: str, room: str) -> str:
        """The Redis set of the processes holding `room` (chatkit's namespaces contain no
        ':', so the key is unambiguous)."""
        return f"{self.prefix}room:{namespace}:{room}"

    def _script(self, name: str, source: str) -> Any:
        if self.redis is None:
            self._redis_connect()
        script = self._scripts.get(name)
        if script is None or script.registered_client is not self.redis:
            script = self._scripts[name] = self.redis.register_script(source)
        return script

    # room membership

    def basic_enter_room(self, sid: str, namespace: str, room: str | None,
                         eio_sid: str | None = None) -> None:
        new = room is not None and room not in self.rooms.get(namespace, {})
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if new:
            assert room is not None
            self._changed((namespace, room))

    def basic_leave_room(self, sid: str, namespace: str, room: str | None) -> None:
        had = room is not None and room in self.rooms.get(namespace, {})
        super().basic_leave_room(sid, namespace, room)
        if had and room not in self.rooms.get(namespace, {}):
            assert room is not None
            # Not in Redis any more as far as a join is concerned: a join from now on waits
            # for an entry written after this removal.
            self._confirmed.discard((namespace, room))
            self._changed((namespace, room))

    def _changed(self, key: RoomKey) -> None:
        self._dirty.add(key)
        self._kick()

    async def enter_room(self, sid: str, namespace: str, room: str | None,
                         eio_sid: str | None = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is not None:
            await self.registered(namespace, room)

    async def registered(self, namespace: str, room: str) -> None:
        """Wait until Redis routes `room`'s events to this process (at once when it already
        does; not at all while Redis is unreachable, nor beyond REGISTER_TIMEOUT)."""
        key = (namespace, room)
        if key in self._confirmed or self._subscribed is False \
                or room not in self.rooms.get(namespace, {}):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._dirty.add(key)
        self._kick()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), REGISTER_TIMEOUT)
        except TimeoutError:
            log.warning("the room %s of %s is not yet in Redis's directory after %.0f s",
                        room, namespace, REGISTER_TIMEOUT)

    def _release(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _start_over(self) -> None:
        """Write every entry again at the next sync; until then no room counts as written
        (a join waits for it)."""
        self._resync = True
        self._confirmed = set()

    def _kick(self) -> None:
        if self._subscribed and (self._syncer is None or self._syncer.done()):
            self._syncer = asyncio.get_running_loop().create_task(
                self._sync(), name="chatkit-redis-directory")

    def _local_rooms(self) -> set[RoomKey]:
        return {(namespace, room) for namespace, rooms in self.rooms.items()
                for room in rooms if room is not None}

    async def _sync(self) -> None:
        """Write what changed in this process's rooms to the directory, one script call per
        round, until nothing is left; wake the joins waiting for it."""
        while self._subscribed and (self._dirty or self._resync):
            resync, self._resync = self._resync, False
            keys = self._local_rooms() if resync else self._dirty
            self._dirty = set()
            waiters, self._waiters = self._waiters, []
            present = {key for key in keys
                       if key[1] in self.rooms.get(key[0], {})}
            absent = keys - present
            ttl = str(int(self.ttl * 1000))
            try:
                if resync:
                    await self._script("resync", _RESYNC)(args=[
                        self.prefix, self.host_id, ttl,
                        *(self.room_key(*key) for key in present)])
                    self._confirmed = set()
                else:
                    done = await self._script("update", _UPDATE)(args=[
                        self.prefix, self.host_id, ttl, str(len(present)),
                        *(self.room_key(*key) for key in present),
                        *(self.room_key(*key) for key in absent)])
                    if not done:
                        # Swept while away (or Redis lost its data): all again, from scratch.
                        log.warning("this process was missing from Redis's directory: "
                                    "writing its %d rooms again", len(self._local_rooms()))
                        self._start_over()
                        self._waiters = waiters + self._waiters
                        continue
            except Exception as exc:  # any failure of Redis: again later
                log.warning("cannot update the room directory in Redis (%s: %s); "
                            "retrying with the heartbeat", type(exc).__name__, exc)
                self._start_over()
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                return
            # A room that changed again meanwhile stays unconfirmed until its next write.
            self._confirmed |= {key for key in present if key not in self._dirty}
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _beat(self) -> None:
        """Every third of the ttl: renew this process's alive key (all entries again if it
        had gone), and sweep the entries of processes that stopped renewing theirs."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not self._subscribed:
                continue
            try:
                renewed = await self.redis.set(f"{self.prefix}alive:{self.host_id}", "1",
                                               px=int(self.ttl * 1000), xx=True)
                if not renewed:
                    log.warning("this process's directory entries expired in Redis: "
                                "writing them again")
                    self._start_over()
                gone = await self._script("sweep", _SWEEP)(args=[self.prefix])
                if gone:
                    log.info("%d stopped process(es) left Redis's room directory", gone)
            except Exception as exc:  # Redis unreachable: next beat
                log.warning("cannot renew this process's entry in Redis (%s: %s)",
                            type(exc).__name__, exc)
            if self._resync or self._dirty:
                self._kick()

    # publishing

    async def emit(self, event: str, data: Any, namespace: str,
                   room: str | list[str] | None = None, skip_sid: str | list[str] | None = None,
                   callback: Any = None, to: str | list[str] | None = None,
                   **kwargs: Any) -> None:
        """An event to rooms is encoded once, as the Socket.IO packet its recipients get:
        this process's sockets get it at once, the other processes' through the directory,
        which deliver it as it is (no JSON to read or write again). An event to the whole
        namespace goes on the shared channel, as python-socketio sends it; one with a
        callback, or with `ignore_queue`, is python-socketio's."""
        target = to or room
        if kwargs.get("ignore_queue") or callback is not None:
            await super().emit(event, data, namespace=namespace, room=target,
                               skip_sid=skip_sid, callback=callback, **kwargs)
            return
        namespace = namespace or "/"
        if target is None:
            await _LocalDelivery.emit(self, event, data, namespace, skip_sid=skip_sid)
            await self._publish({"method": "emit", "event": event,
                                 "data": list(data) if isinstance(data, tuple) else [data],
                                 "binary": False, "namespace": namespace, "room": None,
                                 "skip_sid": skip_sid, "callback": None,
                                 "host_id": self.host_id})
            return
        encoded = self.encode(event, data, namespace)
        if not isinstance(encoded, str):  # bytes in the data (chatkit sends none)
            await super().emit(event, data, namespace=namespace, room=target,
                               skip_sid=skip_sid, **kwargs)
            return
        recipients = self.recipients(namespace, target, skip_sid)
        if recipients:
            await self.send_encoded(recipients, encoded)
        self._outbox.append(_Routed(
            namespace, [target] if isinstance(target, str) else list(target),
            orjson.dumps([namespace, target, skip_sid, event, encoded])))
        self._kick_flusher()

    async def _publish(self, data: dict[str, Any]) -> None:
        """python-socketio's messages (and broadcasts): on the shared channel, in order
        with the routed events."""
        self._outbox.append(data)
        self._kick_flusher()

    def _kick_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="chatkit-redis-publish")

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            routed: list[_Routed] = []
            for item in batch:
                if isinstance(item, _Routed):
                    routed.append(item)
                    continue
                await self._send_routed(routed)  # in order
                routed = []
                await self._send(partial(self._publish_shared, orjson.dumps(item)))
            await self._send_routed(routed)

    async def _send(self, call: Callable[[], Awaitable[Any]]) -> None:
        for attempt in (1, 2):  # as python-socketio: retry once
            try:
                if self.redis is None:
                    self._redis_connect()
                await call()
                return
            except Exception as exc:  # any failure of Redis
                log.error("cannot publish to Redis (%s: %s)%s", type(exc).__name__, exc,
                          "; retrying" if attempt == 1 else "; giving up")

    async def _publish_shared(self, payload: bytes) -> None:
        await self.redis.publish(self.channel, payload)

    async def _send_routed(self, routed: list[_Routed]) -> None:
        if not routed:
            return
        keys: dict[str, int] = {}
        spec: list[str] = []
        prefix = f"{self.prefix}room:"
        for item in routed:
            spec.append(f"{len(item.payload)} {len(item.rooms)}")
            for room in item.rooms:
                key = f"{prefix}{item.namespace}:{room}"  # room_key's
                index = keys.get(key)
                if index is None:
                    index = keys[key] = len(keys) + 1
                spec.append(str(index))
        args = [f"{self.prefix}host:", self.host_id,
                b"".join(item.payload for item in routed), " ".join(spec)]
        await self._send(lambda: self._script("route", _ROUTE)(keys=list(keys), args=args))

    async def drain(self) -> None:
        """Publish what is queued (at shutdown, before the connection closes)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher

    # listening

    def initialize(self) -> None:
        super().initialize()  # starts python-socketio's listener task (self.thread)
        if not self.write_only:
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._beat(), name="chatkit-redis-heartbeat")

    async def _listen(self) -> Any:
        """What python-socketio's listener handles: everything but the events routed here,
        which are delivered here without its per-message work (they are for rooms this
        process had when they were published, so they are not filtered again either)."""
        own = self.host_channel.encode()
        async for channel, raw in self._messages():
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # not ours: python-socketio would skip it too
            if channel == own:
                for item in data if isinstance(data, list) else ():
                    await self._deliver_encoded(item)
                continue
            if isinstance(data, dict) and data.get("method") == "batch":
                messages = data.get("messages") or []
            else:
                messages = [data]
            for message in messages:
                if isinstance(message, dict) and self._wanted(message):
                    if message.get("method") == "emit" and message.get("callback") is None \
                            and not message.get("binary") \
                            and message.get("host_id") != self.host_id:
                        await self._deliver(message)
                    else:
                        yield message

    async def _deliver(self, message: dict[str, Any]) -> None:
        """An event from another process, to this process's sockets in its rooms."""
        try:
            namespace = message.get("namespace") or "/"
            event, args = message["event"], message["data"]
            if self.heard is not None and event in self.heard_events:
                self.heard(namespace, event, args)
            data = args[0] if len(args) == 1 else tuple(args)
            await _LocalDelivery.emit(self, event, data, namespace, room=message.get("room"),
                                      skip_sid=message.get("skip_sid"))
        except Exception:  # one bad message must not stop the listener
            log.exception("cannot deliver an event from another process")

    async def _deliver_encoded(self, item: Any) -> None:
        """An event routed here by another process: [namespace, room(s), skip_sid, event,
        Socket.IO packet], sent to this process's sockets as it is. Only an event in
        `heard_events` is decoded, for `heard`."""
        try:
            namespace, room, skip_sid, event, encoded = item
            if self.heard is not None and event in self.heard_events:
                packet = self.server.packet_class(encoded_packet=encoded)
                self.heard(namespace, event, packet.data[1:])
            recipients = self.recipients(namespace, room, skip_sid)
            if recipients:
                await self.send_encoded(recipients, encoded)
        except Exception:  # one bad message must not stop the listener
            log.exception("cannot deliver an event from another process")

    async def _messages(self) -> Any:
        """(channel, data) of what arrives on the shared channel and this process's own,
        resubscribing with a backoff when the connection drops. Once both subscriptions
        are confirmed, the directory entries are written (again)."""
        retry = 1.0
        shared, own = self.channel.encode(), self.host_channel.encode()
        while True:
            pubsub = None
            try:
                if self.redis is None:
                    self._redis_connect()
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(shared, own)
                confirmed = 0
                async for message in pubsub.listen():
                    kind = message["type"]
                    if kind == "message":
                        yield message["channel"], message["data"]
                    elif kind == "subscribe":
                        confirmed += 1
                        if confirmed == 2:
                            retry = 1.0
                            self._on_subscribed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of Redis: reconnect
                self._on_lost()
                log.error("cannot receive from Redis (%s: %s); retrying in %.0f s",
                          type(exc).__name__, exc, retry)
                await asyncio.sleep(retry)
                retry = min(retry * 2, 60.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    def _on_subscribed(self) -> None:
        self._subscribed = True
        self._start_over()
        self._kick()

    def _on_lost(self) -> None:
        self._subscribed = False
        self._start_over()
        self._release()  # joins go on: their rooms are written when Redis is back

    def _wanted(self, message: dict[str, Any]) -> bool:
        """Whether an event may reach a socket here. Routed events are for rooms this
        process had when they were published; the shared channel's are for everyone."""
        if message.get("method") != "emit" or message.get("callback") is not None:
            return True
        rooms = self.rooms.get(message.get("namespace") or "/")
        target = message.get("room")
        if target is None:
            return rooms is not None
        if rooms is None:
            return False
        return any(room in rooms for room in (target if isinstance(target, list) else [target]))

    async def close(self) -> None:
        """Publish what is queued, leave the directory, stop listening and close the
        connections (python-socketio leaves them open)."""
        await self.drain()
        for task in (self._heartbeat, self._syncer, getattr(self, "thread", None)):
            if isinstance(task, asyncio.Task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.redis is not None and not self.write_only:
            with contextlib.suppress(Exception):
                await self._script("leave", _LEAVE)(args=[self.prefix, self.host_id])
        for connection in (self.pubsub, self.redis):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.aclose()

