"""chatkit mounted as a sub-app beside a host's own routes and middlewares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatkit import ChatKit, Settings
from tests.clients import Visitor
from tests.conftest import SECRET


async def test_mounted_under_a_prefix_beside_host_routes(
        aiohttp_server: Callable[..., Awaitable[TestServer]], db_url: str) -> None:
    seen: list[str] = []

    @web.middleware
    async def host_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.path)
        response = await handler(request)
        response.headers["X-Host"] = "yes"
        return response

    async def home(request: web.Request) -> web.Response:
        return web.Response(text="the host's home page")

    async def orders(request: web.Request) -> web.Response:
        return web.json_response({"orders": [1, 2]})

    app = web.Application(middlewares=[host_middleware])
    app.router.add_get("/", home)
    app.router.add_get("/api/orders", orders)
    kit = ChatKit(Settings(database_url=db_url, secret_key=SECRET, bot_enabled=False))
    sub = kit.setup(app, prefix="/support")
    assert sub is not app and len(app.middlewares) == 1

    server = await aiohttp_server(app)
    base = f"http://{server.host}:{server.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as response:
            assert await response.text() == "the host's home page"
            assert response.headers["X-Host"] == "yes"
        async with http.get(f"{base}/api/orders") as response:
            assert await response.json() == {"orders": [1, 2]}
        async with http.get(f"{base}/support/api/health") as response:
            assert await response.json() == {"status": "ok"}
        async with http.get(f"{base}/chat/api/health") as response:
            assert response.status == 404  # only where it was mounted

    visitor = Visitor(server, prefix="/support")
    await visitor.start()
    sent = await visitor.say("hello from a mounted chatkit", "c-1")
    assert sent["seq"] == 1
    await visitor.close()
    assert "/" in seen and "/api/orders" in seen


def test_mounting_twice_is_refused(db_url: str) -> None:
    kit = ChatKit(Settings(database_url=db_url))
    kit.setup(web.Application())
    try:
        kit.setup(web.Application())
    except RuntimeError as exc:
        assert "already mounted" in str(exc)
    else:
        raise AssertionError("mounted twice")


def test_a_bad_prefix_is_refused(db_url: str) -> None:
    import pytest
    from pydantic import ValidationError

    kit = ChatKit(Settings(database_url=db_url))
    with pytest.raises(ValidationError, match="prefix"):
        kit.setup(web.Application(), prefix="support")


async def test_the_example_host_app_works(
        aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Any,
        monkeypatch: Any) -> None:
    import importlib.util
    from pathlib import Path

    monkeypatch.chdir(tmp_path)  # the example keeps its database in the working directory
    path = Path(__file__).parent.parent / "examples" / "host_app.py"
    spec = importlib.util.spec_from_file_location("host_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = await aiohttp_server(module.build_app())
    base = f"http://{server.host}:{server.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as response:
            assert "/support/widget.js" in await response.text()
            assert response.headers["X-Served-By"] == "acme"
        async with http.get(f"{base}/support/widget.js") as response:
            assert response.status == 200
    visitor = Visitor(server, prefix="/support")
    await visitor.start()
    # The bot's greeting is message 1.
    assert (await visitor.say("hello", "c-1"))["seq"] == 2
    await visitor.close()


async def test_pages_without_the_trailing_slash_redirect(server: TestServer) -> None:
    base = f"http://{server.host}:{server.port}/chat"
    async with aiohttp.ClientSession() as http:
        for page in ("widget", "console"):
            async with http.get(f"{base}/{page}", allow_redirects=False) as response:
                assert response.status == 308
                assert response.headers["Location"] == f"/chat/{page}/"
            async with http.get(f"{base}/{page}/") as response:
                assert response.status == 200 and "text/html" in response.content_type
                assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with aiohttp.ClientSession() as http, http.get(f"{base}/console/") as response:
        # Not signed in: the sign-in form, which no site may frame either.
        assert response.url.path == "/chat/console/login"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_only_allowed_sites_may_frame_the_widget(start_server: Any) -> None:
    open_server = await start_server()
    closed_server = await start_server(allowed_origins=["https://shop.example.com"])
    async with aiohttp.ClientSession() as http:
        url = f"http://{open_server.host}:{open_server.port}/chat/widget/"
        async with http.get(url) as response:
            assert "Content-Security-Policy" not in response.headers
        url = f"http://{closed_server.host}:{closed_server.port}/chat/widget/"
        async with http.get(url) as response:
            assert response.headers["Content-Security-Policy"] == (
                "frame-ancestors 'self' https://shop.example.com")


@pytest.mark.parametrize("origin, connects", [
    ("own", True),                           # the widget's frame and the console
    ("https://shop.example.com", True),      # a listed site
    ("https://SHOP.example.com", True),      # origins are case-insensitive
    ("https://evil.example.com", False),
    (None, True),                            # not a browser: no Origin to check
])
async def test_sockets_from_chatkits_own_pages_and_listed_sites_connect(
        start_server: Any, origin: str | None, connects: bool) -> None:
    import socketio

    server = await start_server(allowed_origins=["https://shop.example.com"])
    own = f"http://{server.host}:{server.port}"
    headers = {} if origin is None else {"Origin": own if origin == "own" else origin}
    # Our own HTTP session: a refused client would leave its own one open.
    async with aiohttp.ClientSession() as http:
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        try:
            await client.connect(own, namespaces=["/visitor"], socketio_path="/chat/socket.io",
                                 transports=["websocket"], headers=headers, wait_timeout=5)
        except socketio.exceptions.ConnectionError:
            assert not connects
        else:
            assert connects
            await client.disconnect()
