"""The agent's desk in the console: a canned response by /shortcut, a private note the
visitor's widget never shows, a tag, a supervisor's whisper, and resolving with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit import AgentRole
from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat, inbox_view
from tests.browser.conftest import sign_in as sign_in_as
from tests.browser.test_widget import open_and_send

pytestmark = pytest.mark.browser

NOTE = "VIP customer, handle with care"
WHISPER = "Offer the express refund"


async def sign_in(page: Any, chat: Chat, email: str, name: str) -> None:
    from playwright.async_api import expect

    await sign_in_as(page, chat, email)
    await expect(page.locator("#agent-name")).to_have_text(name)
    # The chat is still with the bot: among all the open ones.
    await inbox_view(page, "All open")


async def test_canned_note_tag_whisper_and_resolve(page: Any, browser: Any, host_page: str,
                                                   chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    await chat.kit.agents.create(email="sue@example.com", name="Sue", password=AGENT_PASSWORD,
                                 role=AgentRole.SUPERVISOR)
    widget = await open_and_send(page, host_page, "Hello, my parcel is lost")

    console_context = await browser.new_context(viewport={"width": 1200, "height": 800})
    console = await console_context.new_page()
    errors: list[str] = []
    console.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(console, chat, AGENT_EMAIL, AGENT_NAME)
    await console.locator("#conversation-list button").first.click()
    reply = console.locator("#reply-input")
    await expect(reply).to_be_visible()

    # A canned response (the demo's shared /hello), filled in for this conversation.
    await reply.type("/hel")
    await expect(console.locator("#canned-list li")).to_have_count(1)
    await expect(console.locator("#canned-list li b")).to_have_text("/hello")
    await reply.press("Enter")
    await expect(reply).to_have_value(f"Hi there, I'm {AGENT_NAME}. How can I help you today?")
    await reply.press("Enter")
    await expect(widget.locator("li.ck-msg--agent")).to_contain_text(["Hi there, I'm Grace"])

    # A private note: yellow in the console, never in the widget.
    await console.locator(".modes [data-mode=note]").click()
    await reply.fill(NOTE)
    await reply.press("Enter")
    note = console.locator("#thread-messages li.note")
    await expect(note).to_contain_text(NOTE)
    await expect(note.locator(".note-label")).to_have_text("Private note")
    await console.locator(".modes [data-mode=reply]").click()

    # A tag, shown on the conversation and in the list.
    await console.fill("#tag-input", "lost-parcel")
    await console.press("#tag-input", "Enter")
    await expect(console.locator("#thread-tags li span")).to_have_text(["lost-parcel"])
    await expect(console.locator("#conversation-list .tag")).to_have_text(["lost-parcel"])

    # A supervisor watches the chat in their console and whispers to the agent.
    sue_context = await browser.new_context(viewport={"width": 1200, "height": 800})
    sue = await sue_context.new_page()
    sue.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(sue, chat, "sue@example.com", "Sue")
    await sue.locator("#conversation-list button").first.click()
    await expect(sue.locator("#thread-messages li.note")).to_contain_text(NOTE)
    await expect(sue.locator("#barge")).to_be_visible()
    await expect(sue.locator(".modes [data-mode=reply]")).to_be_hidden()
    await sue.locator(".modes [data-mode=whisper]").click()
    await sue.locator("#reply-input").fill(WHISPER)
    await sue.locator("#reply-input").press("Enter")
    whisper = console.locator("#thread-messages li.note", has_text=WHISPER)
    await expect(whisper.locator(".note-label")).to_have_text("Whisper from Sue")
    await screenshot(console, "desk")

    # The agent replies again; the widget shows both replies and no note or whisper.
    await reply.fill("I have found your parcel.")
    await reply.press("Enter")
    await expect(widget.locator("li.ck-msg--agent")).to_have_count(2)
    text = await widget.locator("body").inner_text()
    assert NOTE not in text and WHISPER not in text

    # Resolved with a reason: shown in the console, kept in the event log.
    await console.select_option("#resolve-reason", "solved")
    await console.click("#resolve")
    await expect(console.locator("#thread-status")).to_have_text(
        f"resolved · {AGENT_NAME} · Solved")
    events = await chat.kit.store.list_events()
    assert [e.data.get("reason") for e in events if e.kind == "conversation.resolved"] == [
        "solved"]
    text = await widget.locator("body").inner_text()
    assert NOTE not in text and WHISPER not in text
    await sue_context.close()
    await console_context.close()
    assert not errors, errors
