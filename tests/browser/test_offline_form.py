"""The offline state in the real widget: nobody is online, so the header says so; asking for a
person brings the offline form instead of a wait; a bad email is refused in place; a good one
leaves the message for the next shift."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Chat

pytestmark = pytest.mark.browser


async def test_the_offline_form_leaves_a_message_for_the_next_shift(
        page: Any, host_page: str, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame = page.frame_locator("chatkit-widget iframe")
    status = frame.locator("#ck-status")
    # The widget config says no one can chat now: the header shows the offline state.
    await expect(status).to_have_text(re.compile("We're away right now"))

    await frame.locator("#ck-input").fill("I'd like to talk to a person")
    await frame.locator("#ck-input").press("Enter")
    prompt = frame.locator("li.ck-msg--bot").last
    await expect(prompt.locator(".ck-body")).to_have_text(re.compile(
        "We're away right now. Leave your email and message and we'll reply."))
    form = frame.locator("#ck-away")
    await expect(form).to_be_visible()
    await expect(frame.locator("#ck-handoff")).to_be_hidden()  # the form takes its place
    await expect(frame.locator("#ck-away-email")).to_be_focused()

    # A bad email: refused in place, nothing sent.
    await frame.locator("#ck-away-email").fill("ana@example")
    await frame.locator("#ck-away-message").fill("Please call me back tomorrow.")
    await frame.locator("#ck-away button[type=submit]").click()
    error = frame.locator("#ck-away-error")
    await expect(error).to_have_text(re.compile("valid email address"))
    assert await frame.locator("#ck-away-email").get_attribute("aria-invalid") == ""
    await screenshot(page, "bad-email")
    (conversation,) = await chat.kit.store.list_conversations(
        statuses={"bot", "queued", "assigned"}, limit=10)
    assert str(conversation.status) == "bot"

    await frame.locator("#ck-away-email").fill("ana@example.com")
    await frame.locator("#ck-away button[type=submit]").click()
    left = frame.locator("li.ck-msg--visitor").last
    await expect(left.locator(".ck-body")).to_have_text("Please call me back tomorrow.")
    await expect(frame.locator("li.ck-msg--system").last).to_have_text(
        "Thanks! We'll reply to ana@example.com.")
    await expect(form).to_be_hidden()
    await expect(status).to_have_text(re.compile("Waiting for a person"))
    await screenshot(page, "left")

    queued = await chat.kit.store.get_conversation(conversation.id)
    assert queued is not None
    assert (str(queued.status), str(queued.handoff_reason)) == ("queued", "offline")
    contact = await chat.kit.store.get_contact(queued.contact_id)
    assert contact is not None and contact.email == "ana@example.com"

    # The next shift: the agent signs in to the console; the chat is in their list under the
    # visitor's email, and the message shows it too.
    console = await page.context.new_page()
    await console.goto(f"{chat.mount}/console/")
    await console.fill("#login-email", AGENT_EMAIL)
    await console.fill("#login-password", AGENT_PASSWORD)
    await console.click("button[type=submit]")
    item = console.locator("#conversation-list button").first
    await expect(item.locator(".who")).to_have_text("ana@example.com")
    await expect(item.locator(".meta")).to_contain_text("left a message")
    await item.click()
    await expect(console.locator(".left-email a")).to_have_text("ana@example.com")
    await screenshot(console, "console")
