"""Signing in to the console: the form, server-side sessions, CSRF, the lockout, roles, and the
/agent namespace with the session cookie. Real HTTP against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from chatkit import AgentRole
from chatkit.console.auth import LOGIN_FORM_COOKIE, SESSION_COOKIE
from chatkit.storage import schema as t
from tests.conftest import StartServer

PASSWORD = "a good password"
MAX_FAILURES = 3


class Clock:
    """A clock the test moves (ms since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
async def server(start_server: StartServer) -> TestServer:
    server = await start_server(login_max_failures=MAX_FAILURES, login_failure_window=600,
                                login_lockout=900, session_idle_timeout=3600,
                                session_lifetime=8 * 3600)
    kit = server.kit  # type: ignore[attr-defined]
    for name, role in [("root", AgentRole.ADMIN), ("sue", AgentRole.SUPERVISOR),
                       ("ada", AgentRole.AGENT)]:
        await kit.agents.create(email=f"{name}@example.com", name=name.title(),
                                password=PASSWORD, role=role)
    return server


@pytest.fixture
def clock(server: TestServer) -> Clock:
    clock = Clock()
    kit = server.kit  # type: ignore[attr-defined]
    kit.sessions.clock = kit.logins.clock = clock
    return clock


class Browser:
    """A browser's view of chatkit: a cookie jar, and the forms' hidden fields."""

    def __init__(self, server: TestServer, http: aiohttp.ClientSession) -> None:
        self.origin = f"http://{server.host}:{server.port}"
        self.base = f"{self.origin}/chat"
        self.http = http

    def cookie(self, name: str) -> str | None:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None

    def set_session(self, token: str) -> None:
        """Send this session cookie from now on (and no other)."""
        self.http.cookie_jar.clear(lambda cookie: cookie.key == SESSION_COOKIE)
        self.http.cookie_jar.update_cookies({SESSION_COOKIE: token})

    async def login_form(self, query: str = "") -> dict[str, str]:
        async with self.http.get(f"{self.base}/console/login{query}") as response:
            assert response.status == 200
            html = await response.text()
        return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))

    async def sign_in(self, email: str, password: str = PASSWORD, *,
                      fields: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        form = await self.login_form() if fields is None else fields
        async with self.http.post(f"{self.base}/console/login", allow_redirects=False,
                                  data={**form, "email": email, "password": password}) as response:
            await response.read()
            return response

    async def console(self) -> tuple[aiohttp.ClientResponse, str]:
        async with self.http.get(f"{self.base}/console/", allow_redirects=False) as response:
            return response, await response.text()

    async def csrf(self) -> str:
        response, html = await self.console()
        assert response.status == 200, html
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
        assert found is not None
        return found.group(1)

    async def api(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                  json: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, f"{self.base}{path}", headers=headers or {},
                                     json=json) as response:
            return response.status, await response.json()


@pytest.fixture
async def browser(server: TestServer) -> AsyncIterator[Browser]:
    # unsafe: keep cookies of an IP address (the test server's 127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(server, http)


async def test_signing_in_opens_a_session_and_shows_the_console(
        browser: Browser, server: TestServer) -> None:
    response = await browser.sign_in("sue@example.com")
    assert response.status == 303
    assert response.headers["Location"] == "/chat/console/"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/chat"
    assert not cookie["secure"]  # plain http here; https gets Secure
    page, html = await browser.console()
    assert page.status == 200
    assert '<meta name="chatkit-agent-name" content="Sue">' in html
    assert '<meta name="chatkit-agent-role" content="supervisor">' in html
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # The store keeps only the token's hash.
    token = cookie.value
    kit = server.kit  # type: ignore[attr-defined]
    async with kit.store._read() as conn:
        hashes = (await conn.execute(select(t.agent_sessions.c.token_hash))).scalars().all()
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]


async def test_the_cookie_is_secure_over_https_behind_a_proxy(browser: Browser) -> None:
    fields = await browser.login_form()
    async with browser.http.post(f"{browser.base}/console/login", allow_redirects=False,
                                 headers={"X-Forwarded-Proto": "https"}, data={
                                     **fields, "email": "ada@example.com",
                                     "password": PASSWORD}) as response:
        assert response.status == 303
        assert response.cookies[SESSION_COOKIE]["secure"]


async def test_the_console_page_escapes_the_agents_name(browser: Browser,
                                                        server: TestServer) -> None:
    kit = server.kit  # type: ignore[attr-defined]
    await kit.agents.create(email="eve@example.com", name='Eve"><script>x()</script>',
                            password=PASSWORD)
    await browser.sign_in("eve@example.com")
    _, html = await browser.console()
    assert "<script>x()" not in html
    assert "&lt;script&gt;x()" in html


async def test_without_a_session_the_console_redirects_to_the_form(browser: Browser) -> None:
    response, _ = await browser.console()
    assert response.status == 303
    assert response.headers["Location"] == "/chat/console/login?next=/chat/console/"


async def test_a_wrong_password_is_refused(browser: Browser) -> None:
    response = await browser.sign_in("ada@example.com", "wrong password")
    assert response.status == 401
    assert SESSION_COOKIE not in response.cookies
    assert (await browser.console())[0].status == 303


async def test_the_form_needs_its_csrf_token_and_cookie(browser: Browser) -> None:
    fields = await browser.login_form()
    for bad in ({**fields, "csrf_token": ""}, {**fields, "csrf_token": fields["csrf_token"] + "x"},
                {k: v for k, v in fields.items() if k != "csrf_token"}):
        response = await browser.sign_in("ada@example.com", fields=bad)
        assert response.status == 403
        assert SESSION_COOKIE not in response.cookies
    # The right token without its cookie (another browser's form) fails too.
    browser.http.cookie_jar.clear(lambda cookie: cookie.key == LOGIN_FORM_COOKIE)
    assert (await browser.sign_in("ada@example.com", fields=fields)).status == 403


async def test_a_form_still_works_after_another_tab_opened_one(browser: Browser) -> None:
    first = await browser.login_form()
    await browser.login_form()  # another tab: the first form's cookie stays as it was
    assert (await browser.sign_in("ada@example.com", fields=first)).status == 303


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/chat/console/?tab=queue", "/chat/console/?tab=queue"),
    ("https://evil.example/", "/chat/console/"),
    ("//evil.example/", "/chat/console/"),
    ("/\\evil.example/", "/chat/console/"),
    ("javascript:alert(1)", "/chat/console/"),
])
async def test_only_a_path_on_this_site_is_kept_as_next(browser: Browser, next_url: str,
                                                        expected: str) -> None:
    fields = await browser.login_form()
    response = await browser.sign_in("ada@example.com", fields={**fields, "next": next_url})
    assert response.status == 303
    assert response.headers["Location"] == expected


async def test_every_sign_in_makes_a_new_session(browser: Browser) -> None:
    await browser.sign_in("ada@example.com")
    first = browser.cookie(SESSION_COOKIE)
    await browser.sign_in("ada@example.com")
    second = browser.cookie(SESSION_COOKIE)
    assert first and second and first != second
    browser.set_session(first)
    assert (await browser.console())[0].status == 303  # the earlier one ended


async def test_signing_out_ends_the_session_everywhere(browser: Browser) -> None:
    await browser.sign_in("root@example.com")
    csrf = await browser.csrf()
    token = browser.cookie(SESSION_COOKIE)
    async with browser.http.post(f"{browser.base}/console/logout", allow_redirects=False,
                                 data={"csrf_token": "wrong"}) as response:
        assert response.status == 403
    assert (await browser.console())[0].status == 200
    async with browser.http.post(f"{browser.base}/console/logout", allow_redirects=False,
                                 data={"csrf_token": csrf}) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/chat/console/login"
    assert browser.cookie(SESSION_COOKIE) is None
    # The old cookie, kept by someone, no longer works.
    assert token is not None
    browser.set_session(token)
    assert (await browser.console())[0].status == 303
    status, body = await browser.api("GET", "/api/routing")
    assert (status, body["error"]["code"]) == (401, "invalid_token")


async def test_forged_and_tampered_cookies_are_refused(browser: Browser) -> None:
    await browser.sign_in("root@example.com")
    token = browser.cookie(SESSION_COOKIE)
    assert token is not None
    for forged in ("x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), "", "a" * 5000):
        browser.set_session(forged)
        assert (await browser.console())[0].status == 303
        status, _ = await browser.api("GET", "/api/routing")
        assert status == 401


async def test_a_session_ends_when_idle_and_after_its_lifetime(browser: Browser,
                                                               clock: Clock) -> None:
    await browser.sign_in("ada@example.com")
    clock.advance(3599)
    assert (await browser.console())[0].status == 200  # used: idle time starts again
    for _ in range(7):
        clock.advance(3000)
        assert (await browser.console())[0].status == 200
    clock.advance(3600 * 8 - 7 * 3000 - 3599)  # 8 hours after signing in
    assert (await browser.console())[0].status == 303
    await browser.sign_in("ada@example.com")
    clock.advance(3600)
    assert (await browser.console())[0].status == 303


# ---- the lockout ----

async def test_repeated_failures_lock_the_email_even_for_the_right_password(
        browser: Browser, clock: Clock) -> None:
    for _ in range(MAX_FAILURES - 1):
        assert (await browser.sign_in("ada@example.com", "nope")).status == 401
    locked = await browser.sign_in("ada@example.com", "nope")
    assert locked.status == 429
    assert locked.headers["Retry-After"] == "900"
    clock.advance(60)
    response = await browser.sign_in("ada@example.com")
    assert response.status == 429 and response.headers["Retry-After"] == "840"
    assert SESSION_COOKIE not in response.cookies
    async with browser.http.post(f"{browser.base}/api/agents/login", json={
            "email": "ada@example.com", "password": PASSWORD}) as api:
        assert api.status == 429 and api.headers["Retry-After"] == "840"
        error = (await api.json())["error"]
        assert error["code"] == "too_many_attempts"
        assert error["message"] == "too many attempts, try again in 14 minutes"
    # Others are not affected.
    assert (await browser.sign_in("sue@example.com")).status == 303
    clock.advance(840)
    assert (await browser.sign_in("ada@example.com")).status == 303


async def test_the_page_says_how_long_to_wait(browser: Browser) -> None:
    for _ in range(MAX_FAILURES):
        await browser.sign_in("ada@example.com", "nope")
    fields = await browser.login_form()
    async with browser.http.post(f"{browser.base}/console/login", data={
            **fields, "email": "ada@example.com", "password": PASSWORD}) as response:
        assert response.status == 429
        assert "too many attempts, try again in 15 minutes" in await response.text()


async def test_an_unknown_email_is_locked_the_same_way(browser: Browser) -> None:
    async def statuses(email: str) -> list[tuple[int, str | None]]:
        found = []
        for _ in range(MAX_FAILURES + 1):
            response = await browser.sign_in(email, "nope")
            found.append((response.status, response.headers.get("Retry-After")))
        return found

    assert await statuses("ada@example.com") == await statuses("nobody@example.com")


async def test_failures_through_the_api_count_too_and_a_success_clears_them(
        browser: Browser) -> None:
    async def api_login(password: str) -> int:
        async with browser.http.post(f"{browser.base}/api/agents/login", json={
                "email": "ada@example.com", "password": password}) as response:
            return response.status

    for _ in range(MAX_FAILURES - 1):
        assert await api_login("nope") == 401
    assert await api_login(PASSWORD) == 200  # clears the count
    for _ in range(MAX_FAILURES - 1):
        assert await api_login("nope") == 401
    assert (await browser.sign_in("ada@example.com", "nope")).status == 429
    assert await api_login(PASSWORD) == 429


# ---- the API with the session cookie ----

async def test_cookie_requests_that_change_something_need_the_csrf_header(
        browser: Browser) -> None:
    await browser.sign_in("root@example.com")
    csrf = await browser.csrf()
    status, current = await browser.api("GET", "/api/routing")  # reading needs no token
    assert status == 200
    update = {"version": current["version"], "config": current["config"]}
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        status, body = await browser.api("PUT", "/api/routing", headers=headers, json=update)
        assert (status, body["error"]["code"]) == (403, "csrf_failed")
        status, body = await browser.api("POST", "/api/kb/reload", headers=headers)
        assert status == 403
    assert (await browser.api("GET", "/api/routing"))[1]["version"] == current["version"]
    status, saved = await browser.api("PUT", "/api/routing", headers={"X-CSRF-Token": csrf},
                                      json=update)
    assert status == 200 and saved["version"] == current["version"] + 1
    status, _ = await browser.api("POST", "/api/kb/reload", headers={"X-CSRF-Token": csrf})
    assert status == 200


async def test_uploads_with_the_cookie_need_the_csrf_header(browser: Browser) -> None:
    await browser.sign_in("ada@example.com")
    csrf = await browser.csrf()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    async def upload(headers: dict[str, str]) -> int:
        form = aiohttp.FormData()
        form.add_field("file", png, filename="a.png", content_type="image/png")
        async with browser.http.post(f"{browser.base}/api/attachments", data=form,
                                     headers=headers) as response:
            return response.status

    assert await upload({}) == 403
    assert await upload({"X-CSRF-Token": csrf}) == 201


@pytest.mark.parametrize("email", ["ada@example.com", "sue@example.com"])
async def test_only_admins_reach_the_admin_routes(browser: Browser, email: str) -> None:
    await browser.sign_in(email)
    csrf = await browser.csrf()
    status, body = await browser.api("GET", "/api/routing")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, _ = await browser.api("POST", "/api/kb/reload", headers={"X-CSRF-Token": csrf})
    assert status == 403


async def test_the_bearer_token_still_works_without_csrf(browser: Browser) -> None:
    async with browser.http.post(f"{browser.base}/api/agents/login", json={
            "email": "root@example.com", "password": PASSWORD}) as response:
        token = (await response.json())["token"]
    status, _ = await browser.api("POST", "/api/kb/reload",
                                  headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    status, _ = await browser.api("POST", "/api/kb/reload",
                                  headers={"Authorization": "Bearer forged.token"})
    assert status == 401


# ---- the /agent namespace with the cookie ----

async def connect(browser: Browser, origin: str | None, *, cookie: str | None = None,
                  extra: dict[str, str] | None = None) -> tuple[socketio.AsyncClient, Any]:
    """A socket with the browser's session cookie; returns it and the refusal (or None)."""
    client = socketio.AsyncClient(reconnection=False)
    refused: list[Any] = []
    client.on("connect_error", refused.append, namespace="/agent")
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie or browser.cookie(SESSION_COOKIE)}"}
    if origin is not None:
        headers["Origin"] = origin
    headers.update(extra or {})
    try:
        await client.connect(browser.origin, namespaces=["/agent"], headers=headers,
                             socketio_path="/chat/socket.io", transports=["websocket"],
                             wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        data = refused[0] if refused else None
        return client, data.get("data", data) if isinstance(data, dict) else "refused"
    return client, None


async def disconnected(client: socketio.AsyncClient) -> None:
    """Wait (5 s at most) for the server to disconnect the socket."""
    for _ in range(50):
        if not client.connected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the socket is still connected")


async def test_the_console_connects_with_its_cookie_and_hears_its_sign_out(
        browser: Browser) -> None:
    await browser.sign_in("sue@example.com")
    csrf = await browser.csrf()
    client, refused = await connect(browser, browser.origin)
    assert refused is None
    signed_out: asyncio.Queue[Any] = asyncio.Queue()
    client.on("signed_out", signed_out.put_nowait, namespace="/agent")
    try:
        ack = await client.call("conversations", {}, namespace="/agent", timeout=5)
        assert ack["ok"], ack
        async with browser.http.post(f"{browser.base}/console/logout",
                                     data={"csrf_token": csrf}) as response:
            assert response.status == 200  # followed to the form
        assert await asyncio.wait_for(signed_out.get(), 5) == {}
        # And it is disconnected, though it sends nothing more (it only listened).
        await disconnected(client)
    finally:
        await client.disconnect()


async def test_a_listening_socket_whose_session_ended_elsewhere_is_cut_off(
        browser: Browser, server: TestServer) -> None:
    """A socket that sends nothing never reaches the per-event check: the periodic
    check_sessions finds its session gone (ended on another process, say) and cuts it off."""
    await browser.sign_in("sue@example.com")
    token = browser.cookie(SESSION_COOKIE)
    assert token is not None
    client, refused = await connect(browser, browser.origin)
    assert refused is None
    signed_out: asyncio.Queue[Any] = asyncio.Queue()
    client.on("signed_out", signed_out.put_nowait, namespace="/agent")
    kit = server.kit  # type: ignore[attr-defined]
    try:
        await kit.agent_namespace.check_sessions()  # alive: nothing happens
        await asyncio.sleep(0.3)
        assert client.connected and signed_out.empty()
        await kit.sessions.close(token)  # the store only: no session_ended here
        await kit.agent_namespace.check_sessions()
        assert await asyncio.wait_for(signed_out.get(), 5) == {}
        await disconnected(client)
    finally:
        await client.disconnect()


async def test_a_socket_whose_session_ended_is_cut_off(browser: Browser, clock: Clock,
                                                      server: TestServer) -> None:
    await browser.sign_in("sue@example.com")
    token = browser.cookie(SESSION_COOKIE)
    assert token is not None
    client, refused = await connect(browser, browser.origin)
    assert refused is None
    try:
        # A socket in use keeps its session from going idle.
        for _ in range(3):
            clock.advance(3000)  # the idle timeout is 3600 s
            ack = await client.call("conversations", {}, namespace="/agent", timeout=5)
            assert ack["ok"], ack
        assert (await browser.console())[0].status == 200
        # The session ends (in the store: another process's sign-out, say); the socket is
        # refused at its next check and disconnected.
        kit = server.kit  # type: ignore[attr-defined]
        await kit.sessions.close(token)
        clock.advance(61)
        ack = await client.call("conversations", {}, namespace="/agent", timeout=5)
        assert ack["error"]["code"] == "invalid_token"
        await disconnected(client)
    finally:
        await client.disconnect()


async def test_a_foreign_origin_cannot_use_the_cookie(start_server: StartServer) -> None:
    # Any site may open sockets here (for the widget), but only the console's own pages may
    # open one with the console's cookie.
    server = await start_server(allowed_origins=["*"])
    kit = server.kit  # type: ignore[attr-defined]
    await kit.agents.create(email="sue@example.com", name="Sue", password=PASSWORD,
                            role=AgentRole.SUPERVISOR)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        browser = Browser(server, http)
        await browser.sign_in("sue@example.com")
        client, refused = await connect(browser, "https://shop.example")
        await client.disconnect()
        assert refused is not None and refused["code"] == "forbidden", refused
        # Nor may a page of another site that the browser marks as such.
        client, refused = await connect(browser, None,
                                        extra={"Sec-Fetch-Site": "cross-site"})
        await client.disconnect()
        assert refused is not None and refused["code"] == "forbidden", refused
        # Its own page may (a same-origin request may come without an Origin).
        for origin in (browser.origin, None):
            client, refused = await connect(browser, origin)
            await client.disconnect()
            assert refused is None


async def test_a_dead_session_cannot_connect(browser: Browser) -> None:
    await browser.sign_in("sue@example.com")
    token = browser.cookie(SESSION_COOKIE)
    csrf = await browser.csrf()
    async with browser.http.post(f"{browser.base}/console/logout", data={"csrf_token": csrf}):
        pass
    for cookie in (token, "forged"):
        client, refused = await connect(browser, browser.origin, cookie=cookie)
        await client.disconnect()
        assert refused is not None and refused["code"] == "invalid_token", refused
