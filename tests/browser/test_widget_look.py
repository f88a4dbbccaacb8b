"""The widget's look from the server's settings, and the host page's settings over them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from chatkit import ChatKit, Settings
from tests.browser.conftest import PREFIX, Chat

pytestmark = pytest.mark.browser

AMBER, PURPLE, NEAR_BLACK = "rgb(251, 191, 36)", "rgb(124, 58, 237)", "rgb(17, 24, 39)"


@pytest.fixture
async def chat(aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path) -> Chat:
    # A light accent on the left, with a label: the text on it must turn dark.
    kit = ChatKit(Settings(database_url=f"sqlite:///{tmp_path}/t.db", secret_key="x" * 32,
                           prefix=PREFIX, widget_color="#fbbf24", widget_position="left",
                           widget_launcher_text="Need help?"))
    return Chat(await aiohttp_server(kit.create_app(), host="127.0.0.1"), kit)


async def page_with(aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat,
                    settings: str) -> str:
    html = (f"<!doctype html><html><body><script>{settings}</script>"
            f"<script src='{chat.mount}/widget.js' async></script></body></html>")

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://{server.host}:{server.port}/"


async def style(locator: Any, prop: str) -> str:
    value: str = await locator.evaluate(f"el => getComputedStyle(el).{prop}")
    return value


async def test_colour_corner_and_label_from_the_server(
        page: Any, chat: Chat, aiohttp_server: Callable[..., Awaitable[TestServer]],
        screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(await page_with(aiohttp_server, chat, ""))
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_contain_text("Need help?")
    assert await style(launcher, "backgroundColor") == AMBER
    assert await style(launcher, "color") == NEAR_BLACK  # white on amber would not read
    box = await launcher.bounding_box()
    assert box is not None and box["x"] < 100 and box["width"] > 100

    await launcher.click()
    frame = page.frame_locator("chatkit-widget iframe")
    header = frame.locator(".ck-header")
    await expect(header).to_be_visible()
    assert await style(header, "backgroundColor") == AMBER
    assert await style(frame.locator(".ck-title"), "color") == NEAR_BLACK
    frame_box = await page.locator("chatkit-widget iframe").bounding_box()
    assert frame_box is not None and frame_box["x"] < 100
    # Text in the accent colour on white is darkened when the accent is too light to read.
    choice = frame.locator(".ck-choice").first
    await expect(choice).to_be_visible()
    assert await style(choice, "color") == NEAR_BLACK
    await screenshot(page, "amber-left")


async def test_the_page_settings_win(page: Any, chat: Chat,
                                     aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    from playwright.async_api import expect

    url = await page_with(aiohttp_server, chat, "window.ChatKitSettings = "
                          "{color: '#7c3aed', position: 'right', launcherText: ''};")
    await page.goto(url)
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_be_visible()
    assert await style(launcher, "backgroundColor") == PURPLE
    assert await style(launcher, "color") == "rgb(255, 255, 255)"
    assert await launcher.inner_text() == ""
    box = await launcher.bounding_box()
    assert box is not None and box["x"] > 900 and round(box["width"]) == 56
    # A colour that is not #rrggbb is ignored, not injected: the server's applies.
    await page.goto(await page_with(aiohttp_server, chat,
                                    "window.ChatKitSettings = {color: 'red;x:url(y)'};"))
    await expect(launcher).to_be_visible()
    assert await style(launcher, "backgroundColor") == AMBER
