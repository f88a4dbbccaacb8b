"""A host website with its own routes and middleware, and chatkit mounted at /support.

    python examples/host_app.py        # then open http://127.0.0.1:8081/
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from chatkit import ChatKit, Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Outdoor</title></head>
<body>
  <h1>Acme Outdoor</h1>
  <p>Tents, boots and everything for the trail. Questions? Use the chat bubble.</p>
  <p><a href="/api/orders">Your orders (JSON)</a></p>
  <script src="/support/widget.js" async></script>
</body></html>"""


@web.middleware
async def server_header(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["X-Served-By"] = "acme"
    return response


async def home(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def orders(request: web.Request) -> web.Response:
    return web.json_response({"orders": [{"id": 1042, "status": "shipped"}]})


def build_app() -> web.Application:
    app = web.Application(middlewares=[server_header])
    app.router.add_get("/", home)
    app.router.add_get("/api/orders", orders)
    kit = ChatKit(Settings(database_url="sqlite:///acme-support.db"))
    kit.setup(app, prefix="/support")
    return app


if __name__ == "__main__":
    web.run_app(build_app(), host="127.0.0.1", port=8081)
