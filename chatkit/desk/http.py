"""The REST API of canned responses (docs/protocol.md, "Canned responses"), with an agent's
token or console session (and its CSRF token on changes): every agent reads the shared ones
and manages their own; admins manage the shared."""

from __future__ import annotations

from aiohttp import web

from chatkit.console.auth import require_agent
from chatkit.errors import ChatKitError, Conflict, Forbidden, InvalidPayload, NotFound
from chatkit.keys import KIT
from chatkit.realtime.schemas import CannedCreate, CannedUpdate
from chatkit.routes import error_response, json_body

routes = web.RouteTableDef()

_STATUS: dict[type[ChatKitError], int] = {InvalidPayload: 400, Forbidden: 403, NotFound: 404,
                                          Conflict: 409}
_NO_STORE = {"Cache-Control": "no-store"}


def _error(exc: ChatKitError) -> web.Response:
    return error_response(_STATUS.get(type(exc), 400), exc.code, exc.message)


def _no_query(request: web.Request) -> None:
    if request.query:
        raise web.HTTPBadRequest(
            text='{"error": {"code": "invalid_payload", "message": "no query parameters"}}',
            content_type="application/json")


@routes.get("/api/canned")
async def list_canned(request: web.Request) -> web.Response:
    """The shared canned responses and the agent's own, as stored (variables unexpanded)."""
    agent = await require_agent(request)
    _no_query(request)
    found = await request.config_dict[KIT].desk.list_canned(agent)
    return web.json_response({"canned": [c.to_wire() for c in found]}, headers=_NO_STORE)


@routes.post("/api/canned")
async def create_canned(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    _no_query(request)
    body = await json_body(request, CannedCreate)
    try:
        created = await request.config_dict[KIT].desk.create_canned(
            agent, shortcut=body.shortcut, title=body.title, body=body.body, shared=body.shared)
    except ChatKitError as exc:
        return _error(exc)
    return web.json_response(created.to_wire(), status=201)


@routes.patch("/api/canned/{canned_id}")
async def update_canned(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    _no_query(request)
    body = await json_body(request, CannedUpdate)
    try:
        updated = await request.config_dict[KIT].desk.update_canned(
            agent, request.match_info["canned_id"], shortcut=body.shortcut, title=body.title,
            body=body.body)
    except ChatKitError as exc:
        return _error(exc)
    return web.json_response(updated.to_wire())


@routes.delete("/api/canned/{canned_id}")
async def delete_canned(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    _no_query(request)
    try:
        await request.config_dict[KIT].desk.delete_canned(agent, request.match_info["canned_id"])
    except ChatKitError as exc:
        return _error(exc)
    return web.Response(status=204)


def add_desk_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
