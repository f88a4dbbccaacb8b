"""The HTTP side of the sub-app: the widget's files, the REST API. (The console's pages are
chatkit.console's.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from chatkit.attachments.files import FILE_TYPES
from chatkit.console.auth import bearer_token, require_role
from chatkit.errors import ChatKitError, Conflict, InvalidToken, TooManyAttempts
from chatkit.kb import KBLoadError
from chatkit.keys import KIT
from chatkit.models import AgentRole
from chatkit.realtime.dispatch import describe
from chatkit.realtime.schemas import Login, RoutingUpdate, VisitorStatusQuery, WidgetConfigQuery
from chatkit.realtime.visitor import VISITOR_TOKEN
from chatkit.routing.stored import InvalidRoutingConfig
from chatkit.settings import Settings

if TYPE_CHECKING:
    from chatkit.app import ChatKit
    from chatkit.storage.routing import StoredRouting

STATIC = Path(__file__).resolve().parent / "static"

routes = web.RouteTableDef()
#: How long the widget config may be cached (s): short, as it says whether agents are online.
CONFIG_MAX_AGE = 10
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def error_for(exc: ChatKitError) -> web.Response:
    """The JSON error a route answers for `exc`, with the status its class names and its
    details (the conversation a conflict is about, say) beside code and message."""
    response = web.json_response(
        {"error": {**exc.details, "code": exc.code, "message": exc.message}},
        status=exc.http_status)
    if isinstance(exc, InvalidToken):
        response.headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@routes.get("/widget.js")
async def widget_loader(request: web.Request) -> web.StreamResponse:
    kit = request.config_dict[KIT]
    return web.Response(body=await kit.widget_loader(), content_type="application/javascript",
                        charset="utf-8", headers={"Cache-Control": "public, max-age=300"})


def loader_with_config(source: str, settings: Settings, *, triggers: bool = False) -> bytes:
    """The built loader with the server's look filled in where it names __CHATKIT_CONFIG__
    (the page's own ChatKitSettings still take precedence). With `triggers` (the server has
    proactive triggers) the loader gives the frame the page's URL, and the frame fetches the
    widget config at load to evaluate them; without, an idle page view asks nothing."""
    config = {"color": settings.widget_color, "position": settings.widget_position,
              "launcherText": settings.widget_launcher_text, "triggers": triggers}
    # JSON is a JavaScript expression; U+2028/2029 are escaped for older parsers.
    literal = json.dumps(config).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if "__CHATKIT_CONFIG__" not in source:
        raise RuntimeError("the built widget loader lacks its __CHATKIT_CONFIG__ slot")
    return source.replace("__CHATKIT_CONFIG__", literal).encode()


@routes.get("/widget/")
async def widget_frame(request: web.Request) -> web.StreamResponse:
    headers = {"Cache-Control": "no-cache"}
    origins = request.config_dict[KIT].settings.allowed_origins
    if origins and "*" not in origins:
        # Only the configured sites may embed the chat (and chatkit's own demo page).
        headers["Content-Security-Policy"] = f"frame-ancestors 'self' {' '.join(origins)}"
    return web.FileResponse(STATIC / "widget" / "frame.html", headers=headers)


@routes.get("/widget")
@routes.get("/console")
async def add_slash(request: web.Request) -> web.StreamResponse:
    # The pages load their files by relative paths, which need the trailing slash.
    raise web.HTTPPermanentRedirect(request.path + "/")


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. (Restart it when this fails.)"""
    return web.json_response({"status": "ok"})


#: How long readiness waits for the database or Redis before calling it down.
READY_TIMEOUT = 2.0


@routes.get("/api/ready")
async def ready(request: web.Request) -> web.Response:
    """Readiness: send this process traffic only while it has started, is not shutting down,
    and reaches its database and Redis. 503 otherwise, naming what is wrong."""
    kit = request.config_dict[KIT]
    checks: dict[str, str] = {}
    if not kit.ready:
        checks["process"] = "starting or stopping"
    for name, check in (("store", kit.store.ping), ("redis", kit.redis_ping)):
        if check is None:
            checks[name] = "not used"
            continue
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # whatever the driver raises, the answer is "not ready"
            checks[name] = f"unreachable: {type(exc).__name__}"
    ok = all(value in ("ok", "not used") for value in checks.values())
    return web.json_response({"status": "ready" if ok else "not ready", "checks": checks},
                             status=200 if ok else 503, headers={"Cache-Control": "no-store"})


@routes.get("/api/widget/config")
async def widget_config(request: web.Request) -> web.Response:
    """What the widget shows before a conversation exists (it opens no socket until then):
    the bot's greeting and menu in the visitor's locale, the very message a conversation
    starts with, so a quick reply picked here answers message 1 (docs/protocol.md); the
    files its composer may attach; and whether a person can chat now, for the default team
    and each team the menu hands off to, with when a closed team opens again.

    The same for every visitor, so shared caches may keep it, but only briefly: availability
    follows agents' presence. A stale answer costs little, since the handoff itself decides
    again (the visitor who asks for a person while nobody is there gets the offline form)."""
    try:
        query = WidgetConfigQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        return error_response(400, "invalid_payload", describe(exc))
    kit = request.config_dict[KIT]
    bot = kit.conversations.bot
    greeting = None
    if bot is not None:
        locale = bot.locale(query.locale)
        reply = bot.greeting(locale)
        greeting = {"sender": "bot", "author_name": bot.name(locale), "body": reply.body,
                    "meta": reply.meta}
    # What the composer may attach, so it can tell the visitor before uploading.
    attachments = {"max_bytes": kit.settings.attachment_max_bytes,
                   "types": [kind.content_type for kind in FILE_TYPES]}
    # The business's proactive triggers, evaluated by the widget (chatkit/triggers.py).
    triggers = kit.visitors.triggers.for_widget(query.locale)
    routing = kit.routing
    menu_teams = sorted({item.team for item in (bot.config.menu if bot is not None else ())
                         if item.action == "handoff" and item.team is not None})
    default = await routing.availability(None)
    availability = {**default.to_wire(), "teams": {
        team: (await routing.availability(team)).to_wire() for team in menu_teams}}
    return web.json_response({"greeting": greeting, "attachments": attachments,
                              "triggers": triggers, "availability": availability},
                             headers={"Cache-Control": f"public, max-age={CONFIG_MAX_AGE}"})


@routes.get("/api/widget/visitor")
async def widget_visitor(request: web.Request) -> web.Response:
    """What a returning visitor's widget asks at page load, before (and instead of) opening
    a socket: whether they have an open conversation (one an agent started for them, say)
    and how many of its messages they have not read, for the launcher's badge."""
    try:
        VisitorStatusQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        return error_response(400, "invalid_payload", describe(exc))
    kit = request.config_dict[KIT]
    token = bearer_token(request)
    signer = kit.visitors.signer
    if token is None or signer is None:
        return error_response(401, "invalid_token", "send the visitor token: "
                                                     "Authorization: Bearer ...")
    try:
        contact_id = signer.verify(VISITOR_TOKEN, token)
    except ChatKitError as exc:
        return error_response(401, "invalid_token", exc.message)
    status = await kit.conversations.visitor_status(contact_id)
    conversation = status.conversation
    return web.json_response({
        "conversation": None if conversation is None else {
            "id": conversation.id, "status": str(conversation.status),
            "agent_name": conversation.agent_name, "last_seq": conversation.last_seq,
            "visitor_read_seq": conversation.visitor_read_seq},
        "unread": status.unread,
    }, headers={"Cache-Control": "no-store"})


@routes.post("/api/agents/login")
async def login(request: web.Request) -> web.Response:
    """A bearer token for programs (the console signs in with its form instead). Failed
    attempts count towards the same lockout as the form's: 429 with Retry-After."""
    kit = request.config_dict[KIT]
    credentials = await json_body(request, Login)
    try:
        agent = await kit.logins.authenticate(credentials.email, credentials.password)
    except TooManyAttempts as exc:
        return error_for(exc)
    except ChatKitError as exc:
        return error_response(401, exc.code, exc.message)
    return web.json_response({"token": kit.agents.issue_token(agent), "agent": agent.to_wire()},
                             headers={"Cache-Control": "no-store"})


async def json_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON object validated as `model`; raises a JSON 400 otherwise."""
    try:
        body = await request.json()
    except ValueError:
        raise _bad_request("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(describe(exc)) from exc


def query_params(request: web.Request, model: type[M]) -> M:
    """The query string validated as `model`; a JSON 422 (`invalid_query`) naming each
    problem otherwise, and for a parameter given twice."""
    repeated = sorted({key for key in request.query if len(request.query.getall(key)) > 1})
    if repeated:
        raise web.HTTPUnprocessableEntity(
            text=_error_text("invalid_query", f"{', '.join(repeated)}: give it once"),
            content_type="application/json")
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(text=_error_text("invalid_query", describe(exc)),
                                          content_type="application/json") from exc


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_error_text("invalid_payload", message),
                              content_type="application/json")


def _error_text(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


@routes.post("/api/kb/reload")
async def reload_kb(request: web.Request) -> web.Response:
    """The admin action: read the knowledge base's files again, now."""
    await require_role(request, AgentRole.ADMIN)
    source = request.config_dict[KIT].kb
    try:
        kb = await source.reload()
    except KBLoadError as exc:
        return web.json_response({"error": {
            "code": "kb_invalid", "message": "the knowledge base has problems; the previous "
            "one stays in use", "problems": exc.problems}}, status=422)
    return web.json_response({"version": source.version, "entries": len(kb.entries),
                              "locales": sorted(kb.locales)})


@routes.get("/api/routing")
async def get_routing(request: web.Request) -> web.Response:
    """The admin's view of routing: the configuration in use (teams, agents) with its
    version, and the agents that exist (to configure by email)."""
    await require_role(request, AgentRole.ADMIN)
    kit = request.config_dict[KIT]
    return web.json_response(await _routing_wire(kit, await kit.routing.current_config()),
                             headers={"Cache-Control": "no-store"})


@routes.put("/api/routing")
async def put_routing(request: web.Request) -> web.Response:
    """An admin replaces the routing configuration: `{"version": n, "config": {...}}`, where
    n is the version it was made from. 422 with each field's problem when it does not
    validate; 409 when someone saved another version meanwhile. Every process uses the new
    one within a routing sweep; chats already assigned keep their agent."""
    admin = await require_role(request, AgentRole.ADMIN)
    update = await json_body(request, RoutingUpdate)
    kit = request.config_dict[KIT]
    try:
        saved = await kit.routing.replace_config(admin, update.config,
                                                 expected_version=update.version)
    except InvalidRoutingConfig as exc:
        return web.json_response({"error": {"code": exc.code, "message": exc.message,
                                            "problems": exc.problems}}, status=422)
    except Conflict as exc:
        current = await kit.routing.store.routing_config_version()
        return web.json_response({"error": {"code": exc.code, "message": exc.message,
                                            "version": current}}, status=409)
    return web.json_response(await _routing_wire(kit, saved))


async def _routing_wire(kit: ChatKit, stored: StoredRouting) -> dict[str, object]:
    agents = await kit.store.list_agents()
    by_id = {agent.id: agent for agent in agents}
    editor = by_id.get(stored.changed_by) if stored.changed_by is not None else None
    return {"version": stored.version, "config": stored.document, "source": stored.source,
            "changed_at": stored.changed_at,
            "changed_by": None if editor is None else {"id": editor.id, "name": editor.name},
            "agents": [agent.to_wire() for agent in sorted(agents, key=lambda a: a.email)]}


@web.middleware
async def chatkit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For chatkit's own routes only (it is the sub-app's middleware): a ChatKitError that
    escapes a route becomes its JSON error (`error_for`), and no response of chatkit's is to
    be MIME-sniffed. (permessage-deflate is declined by the socket itself.)"""
    try:
        response = await handler(request)
    except ChatKitError as exc:
        response = error_for(exc)
    except web.HTTPException as exc:  # a JSON error raised by json_body, require_role...
        exc.headers.setdefault("X-Content-Type-Options", "nosniff")
        raise
    if not response.prepared:  # a websocket has sent its headers already
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static("/static", STATIC, append_version=False)
