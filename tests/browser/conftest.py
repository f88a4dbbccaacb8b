"""Fixtures for the browser tests: the real chatkit server in-process, a host website on
another origin, and Debian's Chromium driven through Playwright's async API (on the same
event loop as pytest-aiohttp's servers).

Chromium comes from the system (`apt-get install -y chromium`); Playwright never downloads
a browser here. Without /usr/bin/chromium these tests are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatkit import AgentRole, ChatKit, Settings

CHROMIUM = Path(os.environ.get("CHATKIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PREFIX = "/chat"
AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD = "grace@example.com", "Grace", "correct horse battery"

# A host page that does its worst with global CSS: none of it may reach the widget.
HOSTILE_HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile shop</title>
<style>
  * { box-sizing: content-box !important; font-family: "Comic Sans MS", cursive !important;
      line-height: 3 !important; letter-spacing: 2px !important; }
  div, span, button { font-size: 30px !important; padding: 20px !important;
                      background: yellow !important; color: green !important; }
  iframe { border: 5px solid red !important; width: 10px !important; height: 10px !important; }
  button { display: none !important; }
  svg { width: 200px !important; }
  body { transform: none; color: purple; }
</style></head>
<body>
  <h1>A shop with hostile CSS</h1>
  <div>Some content of the host page.</div>
  <script>
    window.ChatKit = window.ChatKit
      || function () { (ChatKit.q = ChatKit.q || []).push(arguments); };
    window.__events = [];
    for (const name of ['ready', 'open', 'close', 'message']) {
      ChatKit('on', name, (data) => window.__events.push({name, data}));
    }
  </script>
  <script src="__WIDGET__" async></script>
</body></html>
"""

if TYPE_CHECKING:
    from tests.browser.agent import Agent


@dataclass
class Chat:
    """The running chatkit server."""

    server: TestServer
    kit: ChatKit

    @property
    def origin(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    @property
    def mount(self) -> str:
        return self.origin + PREFIX


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium "
                    "(apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture
async def chat(aiohttp_server: Callable[..., Awaitable[TestServer]],
               tmp_path: Path) -> Chat:
    kit = ChatKit(Settings(database_url=f"sqlite:///{tmp_path}/t.db", demo=True,
                           secret_key="x" * 32, prefix=PREFIX))
    server = await aiohttp_server(kit.create_app(), host="127.0.0.1")
    await kit.agents.create(email=AGENT_EMAIL, name=AGENT_NAME, password=AGENT_PASSWORD,
                            role=AgentRole.AGENT)
    return Chat(server, kit)


@pytest.fixture
async def on_duty(chat: Chat) -> AsyncIterator[None]:
    """An agent online in a team whose chats wait to be picked (manual): a visitor who asks
    for a person is queued (with nobody online they get the offline form) and stays queued."""
    from chatkit.routing import Routing, RoutingConfig
    from tests.browser.agent import Agent

    chat.kit.routing.routing = Routing(RoutingConfig.model_validate(
        {"teams": [{"id": "support", "strategy": "manual"}]}))
    await chat.kit.agents.create(email="duty@example.com", name="Duty", password=AGENT_PASSWORD,
                                 role=AgentRole.AGENT)
    agent = Agent(chat)
    await agent.login("duty@example.com", AGENT_PASSWORD)
    await agent.ok("presence", {"status": "online"})
    yield
    await agent.close()


async def serve_page(aiohttp_server: Callable[..., Awaitable[TestServer]], html: str, *,
                     every_path: bool = False) -> str:
    """A host site on another origin (another port) than chatkit, serving `html` at / (or at
    every path); returns its URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}" if every_path else "/", page)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://{server.host}:{server.port}/"


async def serve_host_page(aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat, *,
                          identify: dict[str, Any] | None = None,
                          attributes: dict[str, Any] | None = None,
                          every_path: bool = False) -> str:
    """The hostile host page with chatkit's widget, on another origin (another port) than
    chatkit; returns its URL. `identify` and `attributes` are queued through the page's
    ChatKit stub before widget.js has loaded, as a host site's template would."""
    calls = "".join(f"\n    ChatKit({json.dumps(name)}, {json.dumps(value)});"
                    for name, value in (("identify", identify), ("setAttributes", attributes))
                    if value is not None).replace("</", "<\\/")  # inside the page's <script>
    stub = "window.__events = [];"
    html = (HOSTILE_HOST_PAGE.replace(stub, stub + calls)
            .replace("__WIDGET__", f"{chat.mount}/widget.js"))
    return await serve_page(aiohttp_server, html, every_path=every_path)


@pytest.fixture
async def host_page(aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat) -> str:
    """URL of the hostile host page, on another origin (another port) than chatkit."""
    return await serve_host_page(aiohttp_server, chat)


@pytest.fixture
async def agent(chat: Chat) -> AsyncIterator[Agent]:
    """An agent's client, logged in as the test agent."""
    from tests.browser.agent import Agent

    agent = Agent(chat)
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    yield agent
    await agent.close()


@pytest.fixture
async def browser(chromium_path: Path, chat: Chat) -> AsyncIterator[Any]:
    # Depends on `chat` so that the browser, and its sockets, close before the server stops.
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    """A fresh page; JavaScript errors on it (host or frame) fail the test."""
    context = await browser.new_context(viewport={"width": 1100, "height": 800},
                                        reduced_motion="reduce")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors: {errors}"


async def sign_in(page: Any, chat: Chat, email: str = AGENT_EMAIL,
                  password: str = AGENT_PASSWORD) -> None:
    """Sign in to the console through its form, as an agent would: the console sends an agent
    without a session to the form, and the form back to the console."""
    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", email)
    await page.fill("#login-password", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{chat.mount}/console/")


async def inbox_view(page: Any, label: str) -> None:
    """Show one of the console inbox's views: "Mine", "Queue" or "All open"."""
    await page.locator("#inbox-tabs button", has_text=label).click()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Awaitable[None]]:
    async def take(page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-{name}.png"))

    return take
