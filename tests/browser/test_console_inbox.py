"""The console's inbox: views (mine, the queue, all open), unread counts kept by
the server, waiting times, and the chime and desktop notification of a new assignment."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit import AgentRole
from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Chat, sign_in

pytestmark = pytest.mark.browser

# Records the desktop notifications the console shows (the browser's own Notification still
# runs: permission is granted to the console's origin).
NOTIFICATION_SPY = """
(() => {
  const Real = window.Notification;
  window.__notes = [];
  class Spy extends Real {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title, body: options && options.body });
    }
  }
  Object.defineProperty(Spy, 'permission', { get: () => Real.permission });
  Spy.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Spy;
})();
"""


async def until_online(chat: Chat, email: str, page: Any) -> None:
    agent = await chat.kit.store.get_agent_by_email(email)
    assert agent is not None
    for _ in range(100):
        if str((await chat.kit.store.get_presence([agent.id]))[agent.id].presence) == "online":
            return
        await page.wait_for_timeout(50)
    raise AssertionError(f"{email} never came online")


async def test_a_new_chat_notifies_and_its_unread_count_is_the_servers(
        browser: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    await chat.kit.agents.create(email="sam@example.com", name="Sam", password=AGENT_PASSWORD,
                                 role=AgentRole.SUPERVISOR)
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    await context.grant_permissions(["notifications"], origin=chat.origin)
    await context.add_init_script(NOTIFICATION_SPY)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    visitor = Visitor(chat.server)
    try:
        await sign_in(page, chat, "sam@example.com")
        await expect(page.locator("#presence")).to_have_value("online")
        tabs = page.locator("#inbox-tabs button")
        await expect(tabs).to_have_count(3)
        await expect(tabs.nth(2)).to_contain_text("All open")
        await until_online(chat, "sam@example.com", page)

        await visitor.start()
        await visitor.say("I need a person please", "c-inbox-1")
        # Assigned to Sam (the only one online): the view turns to Mine, with the chat, its
        # unread message and how long the visitor has waited; a desktop notification says so.
        await expect(page.locator("#conn")).to_have_text("New conversation assigned to you")
        await expect(tabs.nth(0)).to_have_attribute("aria-selected", "true")
        item = page.locator("#conversation-list li")
        await expect(item).to_have_count(1)
        await expect(item.locator(".badge")).to_have_text("1")
        await expect(item.locator(".waited")).to_contain_text("waiting just now")
        notes = await page.evaluate("window.__notes")
        assert [n["title"] for n in notes] == ["New chat assigned to you"]

        await visitor.say("are you there?", "c-inbox-2")
        await expect(item.locator(".badge")).to_have_text("2")
        await expect(tabs.nth(0).locator(".badge")).to_have_text("2")
        await screenshot(page, "inbox")

        # Reloaded, the count is the server's, not the page's memory.
        await page.reload()
        await expect(page.locator("#conversation-list li .badge")).to_have_text("2")

        # Opened and read: no unread left, here and after another reload.
        await page.locator("#conversation-list li button").click()
        await expect(page.locator("#thread-messages li.from-visitor")).to_have_count(2)
        await expect(page.locator("#conversation-list li .badge")).to_have_count(0)
        for _ in range(100):
            if not await chat.kit.store.unread([(await visitor.ok("resume", {"since_seq": 0}))
                                                ["conversation"]["id"]]):
                break
            await page.wait_for_timeout(50)
        await page.reload()
        await expect(page.locator("#conversation-list li")).to_have_count(1)
        await expect(page.locator("#conversation-list li .badge")).to_have_count(0)
        assert not errors, errors
    finally:
        await visitor.close()
        await context.close()


async def test_the_queue_view_shows_who_waits_and_for_how_long(page: Any, chat: Chat,
                                                               on_duty: None) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    # A team whose chats wait to be picked: the visitor waits in the queue view.
    visitor = Visitor(chat.server)
    try:
        await sign_in(page, chat, AGENT_EMAIL)
        await expect(page.locator("#presence")).to_have_value("online")
        tabs = page.locator("#inbox-tabs button")
        await expect(tabs.nth(0)).to_contain_text("Mine")
        await expect(tabs.nth(1)).to_contain_text("Queue")
        await visitor.start()
        await visitor.say("agent please", "c-inbox-q")
        await tabs.nth(1).click()
        await expect(tabs.nth(1).locator(".count")).to_have_text("1")
        item = page.locator("#conversation-list li")
        await expect(item).to_have_count(1)
        await expect(item.locator(".status")).to_have_text("waiting")
        await expect(item.locator(".waited")).to_contain_text("waiting")
        await tabs.nth(0).click()
        await expect(page.locator("#list-empty")).to_have_text("No chats assigned to you.")
    finally:
        await visitor.close()
