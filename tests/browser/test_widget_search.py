"""Searching the help centre from inside the widget, in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


async def test_search_help_articles_from_the_widget(page: Any, host_page: str,
                                                     screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    toggle = frame.locator("#ck-search-toggle")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    search = frame.locator("#ck-search-input")
    await expect(search).to_be_focused()

    # An unfinished word is completed: "passw" finds the password article.
    await search.type("forgot my passw", delay=20)
    first = frame.locator("#ck-search-results a").first
    await expect(first).to_contain_text("How do I reset my password?")
    assert await first.get_attribute("target") == "_blank"
    href = await first.get_attribute("href")
    assert href is not None and href.endswith("/chat/help/articles/reset-password?locale=en")
    await screenshot(page, "widget-search")

    await search.fill("xyzzy plugh")
    await expect(frame.locator(".ck-search-empty")).to_contain_text("No articles found")

    # Escape closes the search first, then the panel.
    await search.press("Escape")
    await expect(frame.locator("#ck-search")).to_be_hidden()
    await expect(toggle).to_be_focused()
    await toggle.press("Escape")
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
