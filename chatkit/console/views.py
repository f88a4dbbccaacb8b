"""The console's pages, rendered on the server with jinja2 (autoescaped):

    GET  {prefix}/console/login     the sign-in form
    POST {prefix}/console/login     sign in: a new session, 303 to the console (or `next`)
    POST {prefix}/console/logout    sign out (CSRF token in the form), 303 to the form
    GET  {prefix}/console/          the console, for a signed-in agent (else 303 to the form)

The console page carries the agent (id, name, role) and the session's CSRF token in <meta>
tags, for its script (static/console/console.js) to read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from chatkit.console.auth import LOGIN_FORM_COOKIE, SESSION_COOKIE, csrf_valid, signed_in
from chatkit.errors import ChatKitError, TooManyAttempts
from chatkit.keys import KIT
from chatkit.templating import compile_templates

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parents[1] / "static"
PAGES = frozenset({"console.html", "login.html"})
# No site may frame the console (clickjacking); forms post only to chatkit; nothing but
# chatkit's own script runs (the pages carry no inline script).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # the pages hold a CSRF token and the agent's name
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
                               "object-src 'none'",
    "Referrer-Policy": "no-referrer",
}
MAX_FIELD = 1000

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class ConsolePages:
    """The templates, compiled, and the console's asset URLs with their content's hash (a new
    release is never served from a stale cache)."""

    templates: jinja2.Environment
    assets: dict[str, str]


PAGES_KEY: web.AppKey[ConsolePages] = web.AppKey("chatkit.console_pages", ConsolePages)


def load_pages() -> ConsolePages:
    """Read and compile the templates and hash the assets. Blocking: call it in a thread."""
    environment = compile_templates(TEMPLATES, PAGES, "the console")
    assets = {}
    for name in ("console.js", "console.css"):
        digest = hashlib.sha256((STATIC / "console" / name).read_bytes()).hexdigest()[:10]
        # Relative to {prefix}/console/, where every console page is.
        assets[name] = f"../static/console/{name}?v={digest}"
    return ConsolePages(environment, assets)


def _render(request: web.Request, template: str, *, status: int = 200,
            headers: dict[str, str] | None = None, **context: Any) -> web.Response:
    pages = request.config_dict[PAGES_KEY]
    html = pages.templates.get_template(template).render(assets=pages.assets, **context)
    return web.Response(text=html, status=status, content_type="text/html",
                        headers={**SECURITY_HEADERS, **(headers or {})})


def _console_path(request: web.Request) -> str:
    return f"{request.config_dict[KIT].prefix}/console/"


def safe_next(request: web.Request, value: str | None) -> str:
    """Where to go after signing in: `value` if it is a path on this site (not another
    site's URL, not //host, not a backslash trick), else the console."""
    default = _console_path(request)
    if not value or len(value) > MAX_FIELD or not value.startswith("/") \
            or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x20 or ord(c) == 0x7f for c in value):
        return default
    url = URL(value)
    if url.is_absolute() or url.scheme:
        return default
    return value


def is_https(request: web.Request) -> bool:
    """Whether the browser reached chatkit over https: directly, or through a proxy that
    ended TLS and says so (X-Forwarded-Proto). Trusting that header costs nothing: it only
    adds Secure to a cookie, and a page cannot make a browser send it."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https"


def _cookie_options(request: web.Request, path: str) -> dict[str, Any]:
    return {"path": path, "httponly": True, "samesite": "Lax", "secure": is_https(request)}


def _login_page(request: web.Request, *, status: int = 200, error: str = "", email: str = "",
                next_url: str | None = None,
                headers: dict[str, str] | None = None) -> web.Response:
    """The sign-in form, with a fresh pair of CSRF tokens (cookie and form)."""
    kit = request.config_dict[KIT]
    nonce, form_token = kit.sessions.login_form_tokens(request.cookies.get(LOGIN_FORM_COOKIE))
    response = _render(request, "login.html", status=status, headers=headers, error=error,
                       email=email, csrf_token=form_token,
                       next=safe_next(request, next_url),
                       expired=request.query.get("expired") == "1")
    # A cookie for the form only (Path: the console), for as long as the form is valid.
    response.set_cookie(LOGIN_FORM_COOKIE, nonce, max_age=7200,
                        **_cookie_options(request, _console_path(request)))
    return response


@routes.get("/console/login", name="console.login")
async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, next_url=request.query.get("next"))


def _field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD else ""


@routes.post("/console/login")
async def login(request: web.Request) -> web.StreamResponse:
    kit = request.config_dict[KIT]
    if request.content_type not in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        return _login_page(request, status=400, error="Send the sign-in form.")
    form = await request.post()
    email, password = _field(form, "email").strip(), _field(form, "password")
    next_url = _field(form, "next")
    if not kit.sessions.login_form_valid(request.cookies.get(LOGIN_FORM_COOKIE),
                                         _field(form, "csrf_token")):
        return _login_page(request, status=403, email=email, next_url=next_url,
                           error="This form has expired or did not come from this site. "
                                 "Please sign in again.")
    if not (3 <= len(email) <= 320) or not password:
        return _login_page(request, status=400, email=email, next_url=next_url,
                           error="Enter your email and password.")
    try:
        agent = await kit.logins.authenticate(email, password)
    except TooManyAttempts as exc:
        return _login_page(request, status=429, email=email, next_url=next_url,
                           error=f"Too many attempts: {exc.message}.",
                           headers={"Retry-After": str(exc.retry_after)})
    except ChatKitError:
        return _login_page(request, status=401, email=email, next_url=next_url,
                           error="Wrong email or password.")
    # A new session at every sign-in (no fixation); a previous one on this browser ends.
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await kit.sessions.close(previous)
    token, _ = await kit.sessions.open(agent)
    response = web.HTTPSeeOther(safe_next(request, next_url), headers=SECURITY_HEADERS)
    response.set_cookie(SESSION_COOKIE, token, max_age=int(kit.sessions.lifetime),
                        **_cookie_options(request, kit.prefix))
    response.del_cookie(LOGIN_FORM_COOKIE, path=_console_path(request))
    raise response


@routes.post("/console/logout", name="console.logout")
async def logout(request: web.Request) -> web.StreamResponse:
    kit = request.config_dict[KIT]
    session = await signed_in(request)
    if session is not None:
        form = await request.post()
        sent = request.headers.get("X-CSRF-Token") or _field(form, "csrf_token")
        if not csrf_valid(session, sent):
            return web.Response(status=403, text="This sign-out did not come from the "
                                "console (missing or wrong CSRF token).",
                                headers=SECURITY_HEADERS)
        await kit.sessions.close(request.cookies[SESSION_COOKIE])
        await kit.agent_namespace.session_ended(session.session.token_hash)
    response = web.HTTPSeeOther(str(request.app.router["console.login"].url_for()),
                                headers=SECURITY_HEADERS)
    response.del_cookie(SESSION_COOKIE, path=kit.prefix)
    raise response


@routes.get("/console/", name="console.page")
async def console(request: web.Request) -> web.StreamResponse:
    session = await signed_in(request)
    if session is None:
        login_url = request.app.router["console.login"].url_for()
        raise web.HTTPSeeOther(str(login_url.with_query(next=request.path_qs)),
                               headers=SECURITY_HEADERS)
    agent = session.agent
    return _render(request, "console.html", agent=agent, csrf_token=session.session.csrf_token)
