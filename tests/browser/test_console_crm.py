"""The CRM panel in Chromium: after a handoff from the real widget, the console shows who the
visitor is, the page they are on and what the bot tried; names and attributes that carry
markup render as inert text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.browser.conftest import (
    Chat,
    inbox_view,
    serve_host_page,
    sign_in,
)

pytestmark = pytest.mark.browser

XSS_NAME = "<img src=x onerror=\"window.__pwned=1\">Eve"
XSS_VALUE = "<script>window.__pwned=2</script><b>bold</b>"


async def test_the_panel_shows_the_context_after_a_handoff_and_renders_markup_inert(
        page: Any, aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat,
        on_duty: None, screenshot: Any) -> None:
    from playwright.async_api import expect

    host = await serve_host_page(aiohttp_server, chat, identify={"id": "eve-1", "name": XSS_NAME},
                                 attributes={"note": XSS_VALUE, "plan": "Pro"})
    await page.goto(host + "?from=ad")
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("Can I talk to a human?")
    await frame.locator("#ck-input").press("Enter")
    # Handed over: the conversation waits in the support queue.
    for _ in range(100):
        waiting = await chat.kit.store.list_conversations(statuses=["queued"], limit=5)  # type: ignore[list-item]
        if waiting:
            break
        await page.wait_for_timeout(50)
    assert waiting

    console = await page.context.new_page()
    console.on("pageerror", lambda error: page.errors.append(str(error)))
    await sign_in(console, chat, "duty@example.com")
    await inbox_view(console, "Queue")
    await console.locator("#conversation-list button").first.click()
    panel = console.locator("#crm-panel")
    await expect(panel).to_be_visible()
    await expect(panel.locator(".crm-name-text")).to_have_text(XSS_NAME)
    await expect(panel).to_contain_text("not verified")
    await expect(panel).to_contain_text(XSS_VALUE)
    await expect(panel).to_contain_text("Can I talk to a human?")
    await expect(panel).to_contain_text("the visitor asked for a person")
    await expect(panel.locator(".crm-page a")).to_have_text(host + "?from=ad")
    await expect(panel).to_contain_text("Chrome")  # the browser's user agent
    # The built-in CRM: chatkit's own contact, its attributes as the CRM's fields.
    await expect(panel.locator(".crm-section").nth(1)).to_contain_text("PlanPro")
    # Inert: no element was made of the markup, and nothing ran.
    assert await panel.locator("img, script, b").count() == 0
    assert await console.evaluate("window.__pwned") is None
    assert await page.evaluate("window.__pwned") is None
    await screenshot(console, "crm-panel")

    # A CRM that cannot answer: the panel says so, and why.
    async def down(identity: Any) -> None:
        from chatkit.crm import CRMUnavailable

        raise CRMUnavailable("the CRM did not answer within 2 s")

    chat.kit.crm.find_contact = down  # type: ignore[method-assign]
    await panel.locator(".crm-refresh").click()
    await expect(panel.locator(".crm-unavailable")).to_have_text("CRM unavailable")
    await expect(panel).to_contain_text("did not answer within 2 s")
    await expect(panel.locator(".crm-name-text")).to_have_text(XSS_NAME)  # the rest stays
