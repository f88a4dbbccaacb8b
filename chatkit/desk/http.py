"""The REST API of canned responses (docs/protocol.md, "Canned responses"), with an agent's
token or console session (and its CSRF token on changes): every agent reads the shared ones
and manages their own; admins manage the shared. A ChatKitError the desk raises becomes its
JSON error in chatkit.routes.chatkit_middleware."""

from __future__ import annotations

from aiohttp import web

from chatkit.console.auth import require_agent
from chatkit.errors import InvalidPayload
from chatkit.keys import KIT
from chatkit.realtime.schemas import CannedCreate, CannedUpdate
from chatkit.routes import json_body

routes = web.RouteTableDef()

_NO_STORE = {"Cache-Control": "no-store"}


def _no_query(request: web.Request) -> None:
    if request.query:
        raise InvalidPayload("no query parameters")


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
    created = await request.config_dict[KIT].desk.create_canned(
        agent, shortcut=body.shortcut, title=body.title, body=body.body, shared=body.shared)
    return web.json_response(created.to_wire(), status=201)


@routes.patch("/api/canned/{canned_id}")
async def update_canned(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    _no_query(request)
    body = await json_body(request, CannedUpdate)
    updated = await request.config_dict[KIT].desk.update_canned(
        agent, request.match_info["canned_id"], shortcut=body.shortcut, title=body.title,
        body=body.body)
    return web.json_response(updated.to_wire())


@routes.delete("/api/canned/{canned_id}")
async def delete_canned(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    _no_query(request)
    await request.config_dict[KIT].desk.delete_canned(agent, request.match_info["canned_id"])
    return web.Response(status=204)


def add_desk_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
