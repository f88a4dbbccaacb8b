"""Outbound over REST (docs/protocol.md, "Outbound over REST"): what the agent socket's
`contacts` and `start` do, for programs (a CRM workflow, a script) with an agent's bearer
token, or the console's session and its CSRF token. A ChatKitError becomes its JSON error in
chatkit.routes.chatkit_middleware."""

from __future__ import annotations

from aiohttp import web

from chatkit.console.auth import require_agent
from chatkit.keys import KIT
from chatkit.realtime.agent import found_contacts_wire
from chatkit.realtime.schemas import ContactsQuery, StartConversation
from chatkit.routes import json_body, query_params

routes = web.RouteTableDef()
_NO_STORE = {"Cache-Control": "no-store"}


@routes.get("/api/contacts")
async def find_contacts(request: web.Request) -> web.Response:
    """Contacts matching `query` (an id, an email or its start, part of a name), each with
    their open conversation: whom a conversation may be started with."""
    await require_agent(request)
    query = query_params(request, ContactsQuery)
    found = await request.config_dict[KIT].conversations.find_contacts(query.query,
                                                                       limit=query.limit)
    return web.json_response(found_contacts_wire(found), headers=_NO_STORE)


@routes.post("/api/conversations")
async def start_conversation(request: web.Request) -> web.Response:
    """The agent starts a conversation with a known contact, assigned to them, `body` its
    first message; the visitor sees it on their next visit. A resend with the same
    `client_id` answers what the first one started."""
    agent = await require_agent(request)
    body = await json_body(request, StartConversation)
    kit = request.config_dict[KIT]
    conversation, message = await kit.conversations.start_outbound(
        agent, body.contact_id, client_id=body.client_id, body=body.body, origin=None)
    return web.json_response({"conversation": conversation.to_wire(),
                              "message": kit.attachments.wire(message)},
                             status=201, headers=_NO_STORE)


def add_conversation_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
