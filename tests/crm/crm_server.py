"""A real CRM for tests: an aiohttp server on 127.0.0.1 that speaks chatkit's CRM contract,
and can be told to be slow, to fail, or to answer nonsense."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

CONTACT = {"id": "crm-42", "name": "Grace Hopper", "email": "grace@example.com",
           "url": "https://crm.example.com/contacts/42"}
CONTEXT = {"plan": "Enterprise", "company": "Navy", "lifetime_value": 12500.5,
           "currency": "USD", "links": [{"title": "Open in CRM",
                                         "url": "https://crm.example.com/contacts/42"}],
           "fields": {"segment": "vip", "seats": 40}}


class FakeCRMState:
    def __init__(self) -> None:
        self.mode = "ok"  # ok | fail | slow | bad_json | invalid
        self.delay = 0.5
        self.calls: list[tuple[str, str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []
        self.contacts: dict[str, dict[str, Any]] = {"user-42": CONTACT}
        self.authorization: str | None = None


def crm_app(state: FakeCRMState) -> web.Application:
    async def misbehave() -> web.Response | None:
        if state.mode == "fail":
            return web.json_response({"error": "down"}, status=503)
        if state.mode == "slow":
            await asyncio.sleep(state.delay)
        if state.mode == "bad_json":
            return web.Response(text="{not json", content_type="application/json")
        if state.mode == "invalid":
            return web.json_response({"contact": {"id": 42}, "links": "nope"})
        return None

    async def find(request: web.Request) -> web.Response:
        body = await request.json()
        state.calls.append(("find", request.path, body))
        state.authorization = request.headers.get("Authorization")
        bad = await misbehave()
        if bad is not None:
            return bad
        return web.json_response({"contact": state.contacts.get(body.get("external_id"))})

    async def context(request: web.Request) -> web.Response:
        state.calls.append(("context", request.match_info["id"], None))
        bad = await misbehave()
        return bad if bad is not None else web.json_response(CONTEXT)

    async def outcomes(request: web.Request) -> web.Response:
        body = await request.json()
        state.calls.append(("outcome", request.path, body))
        bad = await misbehave()
        if bad is not None:
            return bad
        state.outcomes.append(body)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/crm/contacts/find", find)
    app.router.add_get("/crm/contacts/{id}/context", context)
    app.router.add_post("/crm/outcomes", outcomes)
    return app
