"""The Socket.IO server and the notifier that turns service events into emits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engineio
import orjson
import socketio

from chatkit.agents import AgentService
from chatkit.attachments import AttachmentService
from chatkit.conversations import ConversationService
from chatkit.crm import ContextService
from chatkit.models import (
    AgentPresence,
    Contact,
    ContactChange,
    Conversation,
    ConversationStatus,
    CsatRating,
    Message,
    SenderKind,
)
from chatkit.realtime.agent import (
    AGENT,
    SUPERVISORS_ROOM,
    AgentNamespace,
    agent_room,
    contact_wire,
    conversation_room,
    team_room,
)
from chatkit.realtime.dispatch import UNREADABLE
from chatkit.realtime.engine import LeanEngineServer
from chatkit.realtime.visitor import VISITOR, VisitorNamespace, contact_room
from chatkit.routing.wait import Wait
from chatkit.settings import Settings

MAX_FRAME = 64 * 1024


class _OrjsonCodec:
    """python-socketio's `json` hook: orjson is several times faster than the stdlib."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        return orjson.loads(data)


class _TextPacket(socketio.packet.Packet):  # type: ignore[misc]
    """chatkit never sends bytes, so the library's recursive search for them in every
    outgoing packet is skipped. A packet whose JSON does not parse becomes the event
    UNREADABLE (its ack id is read before the JSON), which dispatch answers with
    invalid_payload, instead of an error traceback in the log that any client could cause."""

    json = _OrjsonCodec

    def decode(self, encoded_packet: str | bytes) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except orjson.JSONDecodeError:
            self.data = [UNREADABLE]
            return 0
        return attachments

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        return False


class _LocalDelivery(socketio.AsyncManager):  # type: ignore[misc]
    """Delivers an emit to this process's sockets with one encode and no task per recipient
    (the library starts a task for each), and no encode at all when everyone is skipped:
    the sender of a message already has it in its ack. With Redis (redis_delivery.py), every
    process delivers its share through this same method."""

    async def emit(self, event: str, data: Any, namespace: str,
                   room: str | list[str] | None = None,
                   skip_sid: str | list[str] | None = None, callback: Any = None,
                   to: str | list[str] | None = None, **kwargs: Any) -> None:
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                               callback=callback, to=to, **kwargs)
            return
        recipients = self.recipients(namespace, to or room, skip_sid)
        if recipients:
            await self.send_encoded(recipients, self.encode(event, data, namespace))

    def recipients(self, namespace: str, room: str | list[str] | None,
                   skip_sid: str | list[str] | None) -> list[str]:
        """The engine.io sids of this process's sockets in `room` (all of the namespace's
        for None), less `skip_sid`."""
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        return [eio_sid for sid, eio_sid in self.get_participants(namespace, room)
                if sid not in skip]

    def encode(self, event: str, data: Any, namespace: str) -> str | list[Any]:
        """The Socket.IO packet of an event (a str: chatkit sends no bytes)."""
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded: str | list[Any] = self.server.packet_class(
            socketio.packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        return encoded

    async def send_encoded(self, recipients: list[str], encoded: str | list[Any]) -> None:
        """One encoded packet to these sockets, framed once."""
        frames = [engineio.packet.Packet(engineio.packet.MESSAGE, part)
                  for part in (encoded if isinstance(encoded, list) else [encoded])]
        for eio_sid in recipients:
            for frame in frames:
                await self.server._send_eio_packet(eio_sid, frame)


class _LeanServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio over chatkit's lean engine.io socket (chatkit/realtime/engine.py)."""

    def _engineio_server_class(self) -> type[LeanEngineServer]:
        return LeanEngineServer


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    manager: _LocalDelivery
    if settings.redis_url:
        try:
            import redis.asyncio  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError("--redis needs the redis package: "
                              "pip install 'chatkit[redis]'") from exc
        from chatkit.realtime.redis_delivery import RedisDelivery

        manager = RedisDelivery(settings.redis_url, channel=settings.redis_channel,
                                ttl=settings.connection_ttl)
    else:
        manager = _LocalDelivery()
    # No list: same-origin only (the widget's iframe is served by chatkit itself). With a
    # list, chatkit's own pages (the widget's frame, the console) must still connect.
    origins: Callable[[str | None, dict[str, Any]], bool] | str | None = None
    if "*" in settings.allowed_origins:
        origins = "*"
    elif settings.allowed_origins:
        origins = _own_or_listed(settings.allowed_origins)
    # The largest valid event (a 4000-character body) is far below 64 KiB; a bigger frame
    # closes the connection before anything parses it.
    return _LeanServer(async_mode="aiohttp", client_manager=manager,
                       serializer=_TextPacket, cors_allowed_origins=origins,
                       max_http_buffer_size=MAX_FRAME)


def _own_or_listed(listed: list[str]) -> Callable[[str | None, dict[str, Any]], bool]:
    """engine.io's origin check: chatkit's own origin (as the request names it, or a proxy's
    X-Forwarded-Proto/-Host) or one of `listed`. engine.io allows only the list when given
    one, which would shut out the widget's frame and the console."""
    allowed = {origin.lower() for origin in listed}

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: nothing to check (engine.io does the same)
        origin = origin.lower()
        if origin in allowed:
            return True
        host = environ.get("HTTP_HOST")
        if host is None:
            return False
        scheme = environ.get("wsgi.url_scheme", "http")
        own = {f"{scheme}://{host}".lower()}
        forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
        forwarded_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
        own.add(f"{forwarded_scheme}://{forwarded_host}".lower())
        return origin in own

    return check


class RedisPing:
    """A round trip to the Redis that carries events between processes, for readiness
    checks. Its own connection: python-socketio's manager connects only once a client does,
    and a process nobody is sent to (because it is not ready) would never be ready."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None

    async def __call__(self) -> None:
        if self._client is None:
            import redis.asyncio

            self._client = redis.asyncio.Redis.from_url(self.url, socket_connect_timeout=2,
                                                        socket_timeout=2)
        await self._client.ping()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def close_socket_server(sio: socketio.AsyncServer) -> None:
    """Close every client connection (clients reconnect to a live process), stop Socket.IO's
    background tasks, and close the Redis manager (its directory entries, its connections).
    engine.io only sends a close packet and waits for the client to hang up, which browsers
    do not do, so each socket hangs up itself (LeanSocket.hang_up)."""
    for socket in list(sio.eio.sockets.values()):
        await socket.close(wait=False)
        await socket.hang_up()
    await sio.shutdown()
    close = getattr(sio.manager, "close", None)  # RedisDelivery's (python-socketio's has none)
    if close is not None:
        await close()


# A visitor's message in these waits on a person (with the bot, the bot answers it).
_WAITING_ON_AGENTS = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)


class SocketNotifier:
    """The conversation service's Notifier, over Socket.IO rooms."""

    def __init__(self, sio: socketio.AsyncServer, attachments: AttachmentService) -> None:
        self.sio = sio
        self.attachments = attachments
        self.visitors: VisitorNamespace | None = None
        self.agents: AgentNamespace | None = None
        #: The CRM context service (set by ChatKit): outcomes are written back when a
        #: conversation is resolved or rated. Every resolve, the agent's or an abandonment's,
        #: passes here once, in the process that made it.
        self.crm: ContextService | None = None

    #: The events from other processes heard_from_another_process needs (RedisDelivery
    #: decodes only these).
    HEARD_EVENTS = frozenset({"conversation"})

    def heard_from_another_process(self, namespace: str, event: Any, data: Any) -> None:
        """A conversation changed in another process (sockets here hear of it): the view
        this process's visitor connections keep of it is dropped
        (VisitorNamespace.changed_elsewhere); otherwise a visitor here would keep an
        assigned chat's status as "queued", and each of its messages would tell the whole
        team (every process) of activity meant for its agent. Agent sockets here that joined
        it let it go when it went to someone else (AgentNamespace.changed_elsewhere)."""
        if event != "conversation" or not isinstance(data, list) or not data \
                or not isinstance(data[0], dict):
            return
        if namespace == AGENT and self.agents is not None:
            self.agents.changed_elsewhere(data[0])
        elif namespace == VISITOR and self.visitors is not None:
            self.visitors.changed_elsewhere(data[0])

    async def message_stored(self, conversation: Conversation, message: Message,
                             origin: str | None) -> None:
        # One encoding for both sides: the links in it are for whoever reads the message.
        wire = self.attachments.wire(message)
        if not message.internal:  # an agents-only note never reaches the visitor
            await self.sio.emit("message", wire, room=contact_room(conversation.contact_id),
                                namespace=VISITOR, skip_sid=origin)
        await self.sio.emit("message", wire, room=conversation_room(conversation.id),
                            namespace=AGENT, skip_sid=origin)
        if message.sender is SenderKind.VISITOR and conversation.status in _WAITING_ON_AGENTS:
            # The inbox's unread counts, for the agents who have it listed but not open:
            # its agent (or its queue's team) and the supervisors, each socket once.
            rooms = [SUPERVISORS_ROOM]
            if conversation.status is ConversationStatus.ASSIGNED and conversation.agent_id:
                rooms.append(agent_room(conversation.agent_id))
            elif conversation.queue_team is not None:
                rooms.append(team_room(conversation.queue_team))
            await self.sio.emit("activity", {"conversation_id": conversation.id,
                                             "seq": message.seq,
                                             "created_at": message.created_at},
                                to=rooms, namespace=AGENT)

    async def typing(self, conversation: Conversation, sender: SenderKind,
                     author_name: str | None, typing: bool, origin: str | None) -> None:
        wire = {"conversation_id": conversation.id, "sender": str(sender),
                "author_name": author_name, "typing": typing}
        if sender is SenderKind.VISITOR:
            await self.sio.emit("typing", wire, room=conversation_room(conversation.id),
                                namespace=AGENT)
        else:
            await self.sio.emit("typing", wire, room=contact_room(conversation.contact_id),
                                namespace=VISITOR, skip_sid=origin)

    async def read(self, conversation: Conversation, reader: SenderKind) -> None:
        wire = {"conversation_id": conversation.id, "reader": str(reader),
                "seq": (conversation.visitor_read_seq if reader is SenderKind.VISITOR
                        else conversation.agent_read_seq)}
        # Both sides hear it: the other side shows "read", the reader's other tabs clear
        # their unread counts.
        await self.sio.emit("read", wire, room=contact_room(conversation.contact_id),
                            namespace=VISITOR)
        await self.sio.emit("read", wire, room=conversation_room(conversation.id),
                            namespace=AGENT)

    async def conversation_changed(self, conversation: Conversation, *,
                                   previous_agent_id: str | None = None) -> None:
        if self.crm is not None and conversation.status is ConversationStatus.RESOLVED:
            self.crm.resolved(conversation)  # in the background
        if self.visitors is not None:
            self.visitors.conversation_changed(conversation)
        if self.agents is not None:
            self.agents.conversation_changed(conversation)
        wire = conversation.to_wire()
        await self.sio.emit("conversation", wire, room=contact_room(conversation.contact_id),
                            namespace=VISITOR)
        # Not every agent: the team whose queue has it, its agent (and the one it left),
        # supervisors. One emit to the rooms together: a socket in several hears it once.
        rooms = [SUPERVISORS_ROOM]
        if conversation.queue_team is not None:
            rooms.append(team_room(conversation.queue_team))
        for agent_id in {conversation.agent_id, previous_agent_id} - {None}:
            assert agent_id is not None
            rooms.append(agent_room(agent_id))
        await self.sio.emit("conversation", wire, to=rooms, namespace=AGENT)

    async def contact_changed(self, contact: Contact, changes: list[ContactChange],
                              conversation: Conversation | None,
                              origin: str | None) -> None:
        # Those who may see the contact's open conversation (as for its changes) and whoever
        # has it open; with none open, the supervisors. The agent who made the change has it
        # in their ack (origin).
        rooms = [SUPERVISORS_ROOM]
        if conversation is not None:
            rooms.append(conversation_room(conversation.id))
            if conversation.queue_team is not None:
                rooms.append(team_room(conversation.queue_team))
            if conversation.agent_id is not None:
                rooms.append(agent_room(conversation.agent_id))
        await self.sio.emit("contact", {
            "contact": {"id": contact.id, **contact_wire(contact)},
            "changes": [change.to_wire() for change in changes]},
            to=rooms, namespace=AGENT, skip_sid=origin)

    async def csat_rated(self, conversation: Conversation, rating: CsatRating) -> None:
        if self.crm is not None:
            self.crm.rated(conversation, rating)  # in the background
        # The visitor's other tabs stop asking; the agent rated, their team and the
        # supervisors see it (and whoever still has the conversation open).
        await self.sio.emit("csat", {"conversation_id": conversation.id,
                                     "rating": rating.rating},
                            room=contact_room(conversation.contact_id), namespace=VISITOR)
        rooms = [SUPERVISORS_ROOM, agent_room(rating.agent_id),
                 conversation_room(conversation.id)]
        if rating.team is not None:
            rooms.append(team_room(rating.team))
        await self.sio.emit("csat", rating.to_wire(), to=rooms, namespace=AGENT)

    async def tags_changed(self, conversation: Conversation, tags: list[str]) -> None:
        # Who hears of the conversation (as conversation_changed) and who has it open.
        rooms = [SUPERVISORS_ROOM, conversation_room(conversation.id)]
        if conversation.queue_team is not None:
            rooms.append(team_room(conversation.queue_team))
        if conversation.agent_id is not None:
            rooms.append(agent_room(conversation.agent_id))
        await self.sio.emit("tags", {"conversation_id": conversation.id, "tags": tags},
                            to=rooms, namespace=AGENT)

    async def assigned(self, conversation: Conversation) -> None:
        if conversation.agent_id is not None:
            await self.sio.emit("assignment", {"conversation": conversation.to_wire()},
                                room=agent_room(conversation.agent_id), namespace=AGENT)

    async def queue_changed(self, team: str, length: int) -> None:
        await self.sio.emit("queue", {"team": team, "length": length},
                            to=[team_room(team), SUPERVISORS_ROOM], namespace=AGENT)

    async def queue_position(self, contact_id: str, wait: Wait, *, local: bool) -> None:
        # `local`: the publisher of each process tells its own sockets (routing/wait.py), so
        # none of these crosses Redis.
        await self.sio.emit("queue_position", wait.to_wire(), room=contact_room(contact_id),
                            namespace=VISITOR, ignore_queue=local)

    async def presence_changed(self, presence: AgentPresence) -> None:
        await self.sio.emit("presence", {"agent_id": presence.agent_id,
                                         "presence": str(presence.presence)},
                            to=[agent_room(presence.agent_id), SUPERVISORS_ROOM],
                            namespace=AGENT)


def register_namespaces(sio: socketio.AsyncServer, notifier: SocketNotifier,
                        conversations: ConversationService, agents: AgentService,
                        attachments: AttachmentService
                        ) -> tuple[VisitorNamespace, AgentNamespace]:
    visitors = VisitorNamespace(conversations, attachments)
    agent_ns = AgentNamespace(conversations, agents, attachments)
    sio.register_namespace(visitors)
    sio.register_namespace(agent_ns)
    notifier.visitors, notifier.agents = visitors, agent_ns
    if hasattr(sio.manager, "heard"):  # RedisDelivery
        sio.manager.heard = notifier.heard_from_another_process
        sio.manager.heard_events = SocketNotifier.HEARD_EVENTS
    return visitors, agent_ns
