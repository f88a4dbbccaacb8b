"""Who is asking: the one check every agent-only HTTP route goes through, and the cookies.

An agent proves who they are in one of two ways (docs/protocol.md, "Agents' sign-in"):

- `Authorization: Bearer <token>` (POST /api/agents/login): programs and tests. A cross-site
  page cannot make a browser send this header, so no CSRF check is needed.
- the console's session cookie (the sign-in form). A browser sends it with any request to
  chatkit, including one a foreign page triggers, so every request that may change something
  (not GET, HEAD, OPTIONS) must also carry `X-CSRF-Token` with the session's CSRF token, which
  only chatkit's own pages can read (from their <meta name="csrf-token">).

Roles: `require_role(request, AgentRole.ADMIN)`; `require_agent(request)` for any role.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from aiohttp import web

from chatkit.console.sessions import SignedIn
from chatkit.errors import ChatKitError
from chatkit.keys import KIT
from chatkit.models import Agent, AgentRole

SESSION_COOKIE = "chatkit_session"
LOGIN_FORM_COOKIE = "chatkit_login"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SIGNED_IN: web.RequestKey[SignedIn | None] = web.RequestKey("chatkit.signed_in", SignedIn)


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _json_error(error: type[web.HTTPError], code: str, message: str,
                **headers: str) -> web.HTTPError:
    return error(text=json.dumps({"error": {"code": code, "message": message}}),
                 content_type="application/json", headers=headers)


async def signed_in(request: web.Request) -> SignedIn | None:
    """The console session of the request's cookie, if it lives (looked up once a request)."""
    if _SIGNED_IN not in request:
        token = request.cookies.get(SESSION_COOKIE)
        request[_SIGNED_IN] = (None if not token else
                               await request.config_dict[KIT].sessions.find(token))
    return request[_SIGNED_IN]


def csrf_valid(session: SignedIn, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(),
                                                    session.session.csrf_token.encode())


async def authenticated_agent(request: web.Request) -> Agent:
    """The agent behind a bearer token or the session cookie (with X-CSRF-Token on a request
    that may change something); raises a JSON 401 or 403 otherwise."""
    token = bearer_token(request)
    kit = request.config_dict[KIT]
    if token is not None:
        try:
            return await kit.agents.agent_for_token(token)
        except ChatKitError as exc:
            raise _json_error(web.HTTPUnauthorized, exc.code, exc.message,
                              **{"WWW-Authenticate": "Bearer"}) from exc
    if SESSION_COOKIE not in request.cookies:
        raise _json_error(web.HTTPUnauthorized, "unauthorized",
                          "sign in to the console, or send an agent token: "
                          "Authorization: Bearer ...", **{"WWW-Authenticate": "Bearer"})
    session = await signed_in(request)
    if session is None:
        raise _json_error(web.HTTPUnauthorized, "invalid_token",
                          "your session has ended (signed out or expired): sign in again",
                          **{"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not csrf_valid(
            session, request.headers.get(CSRF_HEADER)):
        raise _json_error(web.HTTPForbidden, "csrf_failed",
                          f"send the {CSRF_HEADER} header with the console's CSRF token "
                          "(its <meta name=\"csrf-token\">)")
    return session.agent


async def require_agent(request: web.Request) -> Agent:
    """The signed-in agent, of any role (JSON 401/403 otherwise)."""
    return await authenticated_agent(request)


async def require_role(request: web.Request, *roles: AgentRole) -> Agent:
    """The signed-in agent, who must have one of `roles` (JSON 401/403 otherwise).

    >>> admin = await require_role(request, AgentRole.ADMIN)     # doctest: +SKIP
    """
    if not roles:
        raise ValueError("require_role: name at least one role (require_agent: any role)")
    agent = await authenticated_agent(request)
    if agent.role not in roles:
        raise _json_error(web.HTTPForbidden, "forbidden",
                          f"this needs the role {' or '.join(roles)}")
    return agent


def console_origins(environ: Mapping[str, Any]) -> set[str]:
    """The origins a handshake's own page may have (the server's, as the browser sees it): the
    Host it was sent to, and X-Forwarded-Proto/-Host's when a proxy sets them, as engine.io
    judges same-origin."""
    scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    if not host:
        return set()
    origins = {f"{scheme}://{host}"}
    if "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ:
        forwarded_scheme = str(environ.get("HTTP_X_FORWARDED_PROTO", scheme)).split(",")[0]
        forwarded_host = str(environ.get("HTTP_X_FORWARDED_HOST", host)).split(",")[0]
        origins.add(f"{forwarded_scheme.strip()}://{forwarded_host.strip()}")
    return origins


def from_console(environ: Mapping[str, Any]) -> bool:
    """Whether a handshake may come from the console's own pages. A browser names the page's
    origin on every cross-origin request and on every WebSocket (Origin), and says whether
    the request is cross-site (Sec-Fetch-Site); a same-origin polling request may carry
    neither, and is the console's."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and origin not in console_origins(environ):
        return False
    return environ.get("HTTP_SEC_FETCH_SITE", "same-origin") in {"same-origin", "none"}


def session_cookie_of(environ: Mapping[str, Any]) -> str | None:
    """The session cookie of a Socket.IO handshake (its HTTP request's Cookie header)."""
    header = environ.get("HTTP_COOKIE")
    if not isinstance(header, str):
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return None
    morsel = cookies.get(SESSION_COOKIE)
    return None if morsel is None else morsel.value
