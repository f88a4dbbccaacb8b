"""The visitor's wait in the widget, in Chromium: the position line, live, read out
politely, and "End chat" while waiting."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Chat
from tests.clients import Visitor

pytestmark = pytest.mark.browser


async def test_the_widget_shows_the_place_in_line_live_and_can_leave(
        page: Any, host_page: str, chat: Chat, screenshot: Any, on_duty: None) -> None:
    from playwright.async_api import expect

    # Someone is already waiting (the agent on duty picks chats by hand, and has not; with
    # no history there is no estimate yet).
    ahead = Visitor(chat.server)
    try:
        await ahead.start()
        await ahead.say("hello", "a-1")
        ahead_id = (await ahead.ok("handoff", {}))["id"]

        await page.goto(host_page)
        await page.evaluate("ChatKit('open')")
        frame = page.frame_locator("chatkit-widget iframe")
        await frame.locator("#ck-input").fill("Where is my parcel?")
        await frame.locator("#ck-input").press("Enter")
        await frame.locator("#ck-handoff").click()
        status = frame.locator("#ck-status")
        await expect(status).to_have_text(
            "You're number 2 in line · we'll reply as soon as someone is free")
        await expect(frame.locator("#ck-live")).to_have_text(re.compile("number 2 in line"))
        leave = frame.locator("#ck-leave")
        await expect(leave).to_be_visible()
        await expect(leave).to_have_text("End chat")
        await screenshot(page, "queued")

        # The one ahead ends their chat: this visitor is next, at once, and hears so.
        await ahead.ok("leave", {"conversation_id": ahead_id})
        await expect(status).to_have_text(re.compile("^You're number 1 in line"))
        await expect(frame.locator("#ck-live")).to_have_text(re.compile("number 1 in line"))
        await screenshot(page, "next")

        await leave.click()
        await expect(status).to_have_text(re.compile("resolved"))
        await expect(leave).to_be_hidden()
        events = await chat.kit.store.list_events(limit=1000)
        abandoned = [e for e in events if e.kind == "conversation.resolved"
                     and e.data.get("reason") == "abandoned"]
        assert sorted(e.data["how"] for e in abandoned) == ["ended", "ended"]
        assert {e.actor_kind for e in abandoned} == {"visitor"}
    finally:
        await ahead.close()
