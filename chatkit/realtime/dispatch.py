"""One path for every client event: validate the payload, run the handler, answer with exactly
one ack, `{"ok": true, "data": ...}` or `{"ok": false, "error": {"code", "message"}}`."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, TypeVar

import socketio
from pydantic import BaseModel, ValidationError

from chatkit.errors import ChatKitError, InvalidPayload, Unavailable
from chatkit.realtime.ratelimit import RateLimit

log = logging.getLogger(__name__)

# The event name given to a packet whose JSON did not parse (see realtime/server.py).
UNREADABLE = "\x00unreadable"

# event name -> (payload schema, name of the handler method)
EventTable = dict[str, tuple[type[BaseModel], str]]
M = TypeVar("M", bound=BaseModel)
C = TypeVar("C")


def error_ack(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": False, "error": {**(details or {}), "code": code, "message": message}}


def describe(exc: ValidationError) -> str:
    """'body: String should have at least 1 character; limit: ...'; a check of the whole
    payload (no field) is its message alone: '`to` must be after `from`'."""
    parts = []
    for where, message in _problems(exc):
        parts.append(message if where is None else f"{where}: {message}")
    return "; ".join(parts)


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{'email': 'must be an email address like name@example.com', ...}: what is wrong with
    each field, so a form can show it beside the field (the first problem of each)."""
    fields: dict[str, str] = {}
    for where, message in _problems(exc):
        fields.setdefault(where or "payload", message)
    return fields


def _problems(exc: ValidationError) -> list[tuple[str | None, str]]:
    """Each problem's field path (None: the payload as a whole) and message, without
    pydantic's 'Value error, ' before our own validators' words."""
    return [(".".join(str(p) for p in err["loc"]) or None,
             err["msg"].removeprefix("Value error, ")) for err in exc.errors(include_url=False)]


def validate(schema: type[M], data: Any) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidPayload("payload: must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(describe(exc), details={"fields": field_errors(exc)}) from None


class Namespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """A namespace whose events are declared in `events`: name -> (schema, handler method)."""

    events: ClassVar[EventTable] = {}
    #: How fast one socket may send events (set by ChatKit from the settings); None: no limit.
    rate_limit: RateLimit | None = None

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            sid, environ = args[0], args[1]
            auth = args[2] if len(args) > 2 else None
            return await self.on_connect(sid, environ, auth)
        if event == "disconnect":
            if self.rate_limit is not None:
                self.rate_limit.forget(args[0])
            return await self.on_disconnect(args[0])
        sid = args[0]
        if self.rate_limit is not None:
            wait = self.rate_limit.take(sid)
            if wait is not None:
                # Before anything is read or stored: the client resends it later.
                return error_ack("rate_limited", "too many events: slow down",
                                 {"retry_after_ms": max(1, round(wait * 1000))})
        spec = self.events.get(event)
        if event == UNREADABLE:
            return error_ack("invalid_payload", "the event is not valid JSON")
        if spec is None:
            return error_ack("unknown_event", f"no event named {event!r}")
        if len(args) > 2:
            return error_ack("invalid_payload", "send one JSON object per event")
        schema, method = spec
        try:
            payload = validate(schema, args[1] if len(args) > 1 else None)
            data = await getattr(self, method)(sid, payload)
        except ChatKitError as exc:
            return error_ack(exc.code, exc.message, exc.details)
        except Exception:
            log.exception("%s %r failed", self.namespace, event)
            return error_ack("internal", "the server failed; try again")
        return {"ok": True, "data": data}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise NotImplementedError

    async def on_disconnect(self, sid: str) -> None:
        raise NotImplementedError


def connection(connections: dict[str, C], sid: str) -> C:
    """The state of a connected socket. Events run as tasks, so one can still be handled
    after its socket disconnected: for that event, an error, not a crash."""
    conn = connections.get(sid)
    if conn is None:
        raise Unavailable("the connection is closed")
    return conn


def refuse(exc: ChatKitError) -> socketio.exceptions.ConnectionRefusedError:
    """Socket.IO's connect_error carries a message and a data object (socket.io-client:
    `err.message`, `err.data`); the data is our usual error shape."""
    return socketio.exceptions.ConnectionRefusedError(
        exc.message, {"code": exc.code, "message": exc.message})
