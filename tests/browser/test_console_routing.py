"""The console's status: an available agent is offered handed-over conversations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat

pytestmark = pytest.mark.browser


async def test_an_available_console_agent_is_assigned_a_handoff(page: Any, chat: Chat) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#agent-name")).to_have_text(AGENT_NAME)
    await expect(page.locator("#presence")).to_have_value("online")
    agent = await chat.kit.store.get_agent_by_email(AGENT_EMAIL)
    assert agent is not None
    # Online in the store before the visitor asks (else nobody is available: the offline form).
    for _ in range(100):
        presence = await chat.kit.store.get_presence([agent.id])
        if str(presence[agent.id].presence) == "online":
            break
        await page.wait_for_timeout(50)

    visitor = Visitor(chat.server)
    await visitor.start()
    first = await visitor.say("I need a person please", "c-route-1")
    # The bot hands over; routing offers the conversation to the one available agent.
    await expect(page.locator("#conn")).to_have_text("New conversation assigned to you")
    opened = await chat.kit.store.get_conversation(first["conversation_id"])
    assert opened is not None and opened.agent_id == agent.id
    await expect(page.locator("#conversation-list button").first).to_be_visible()

    # Away, and nobody else online: the next visitor who asks is offered the offline form
    # (an email and a message for the next shift) instead of a wait for no one.
    await page.select_option("#presence", "away")
    for _ in range(100):
        presence = await chat.kit.store.get_presence([agent.id])
        if str(presence[agent.id].presence) == "away":
            break
        await page.wait_for_timeout(50)
    second = Visitor(chat.server)
    await second.start()
    sent = await second.say("agent please", "c-route-2")
    while (reply := await second.next("message"))["sender"] != "bot" or reply["seq"] == 1:
        pass
    assert reply["meta"]["kind"] == "offline"
    waiting = await chat.kit.store.get_conversation(sent["conversation_id"])
    assert waiting is not None and str(waiting.status) == "bot" and waiting.agent_id is None
    await visitor.close()
    await second.close()
