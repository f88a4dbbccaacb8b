"""Outbound and proactive triggers in the real widget: an agent's conversation shows on the
visitor's next visit (badge, then the message); a trigger opens the widget with its message,
which becomes the conversation's first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole, ChatKit, Settings
from tests.browser.agent import Agent
from tests.browser.conftest import (
    AGENT_EMAIL,
    AGENT_NAME,
    AGENT_PASSWORD,
    PREFIX,
    Chat,
    serve_host_page,
)

pytestmark = pytest.mark.browser

TRIGGERS = """
triggers:
  - id: pricing
    url: /pricing*
    seconds_on_page: 1
    message:
      en: Questions about our plans? Ask us here.
      es: ¿Preguntas sobre nuestros planes?
    open: true
  - id: docs-again
    url_regex: "/docs(/|$)"
    returning: true
    message: Welcome back to the docs! Stuck on something?
    open: false
"""


@pytest.fixture
async def chat(aiohttp_server: Callable[..., Awaitable[TestServer]], tmp_path: Path) -> Chat:
    """chatkit with the demo bot and the triggers above (overrides conftest's)."""
    path = tmp_path / "triggers.yaml"
    path.write_text(TRIGGERS, encoding="utf-8")
    kit = ChatKit(Settings(database_url=f"sqlite:///{tmp_path}/t.db", demo=True,
                           secret_key="x" * 32, prefix=PREFIX, triggers_path=path))
    server = await aiohttp_server(kit.create_app(), host="127.0.0.1")
    await kit.agents.create(email=AGENT_EMAIL, name=AGENT_NAME, password=AGENT_PASSWORD,
                            role=AgentRole.AGENT)
    return Chat(server, kit)


@pytest.fixture
async def site(aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat) -> str:
    """The host site, on another origin: every path serves the page with the widget."""
    return (await serve_host_page(aiohttp_server, chat, every_path=True)).rstrip("/")



def chat_frame(page: Any, chat: Chat) -> Any:
    return next(f for f in page.frames if f.url.startswith(chat.mount))


def track_requests(page: Any) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    return urls


async def test_a_returning_visitor_sees_the_conversation_an_agent_started(
        page: Any, site: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    # A first visit: the visitor opens the chat once (they get a token), and leaves.
    await page.goto(f"{site}/account")
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await expect(frame.locator("li.ck-msg--bot").first).to_be_visible()
    await chat_frame(page, chat).wait_for_function("localStorage.getItem('chatkit.token')")
    token = await chat_frame(page, chat).evaluate("localStorage.getItem('chatkit.token')")
    assert token
    assert chat.kit.visitors.signer is not None
    contact_id = chat.kit.visitors.signer.verify("visitor", token)
    await page.goto("about:blank")

    # The agent finds the contact and starts a conversation with them.
    found = await agent.ok("contacts", {"query": contact_id})
    assert [c["id"] for c in found["contacts"]] == [contact_id]
    started = await agent.ok("start", {"contact_id": contact_id, "client_id": "out-1",
                                       "body": "Hi! Your replacement part has arrived."})
    conversation_id = started["conversation"]["id"]

    # The next visit: the launcher's badge, from one HTTP request at load.
    requests = track_requests(page)
    await page.goto(f"{site}/account")
    launcher = page.locator("chatkit-widget button.launcher")
    badge = page.locator("chatkit-widget .badge")
    await expect(badge).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-label", "Open chat, 1 unread")
    assert sum("/api/widget/visitor" in url for url in requests) == 1
    await screenshot(page, "badge")

    # Opened: the agent's message, and the visitor's answer reaches the agent.
    await launcher.click()
    await expect(badge).to_be_hidden()
    reply = frame.locator("li.ck-msg--agent").last
    await expect(reply.locator(".ck-body")).to_have_text("Hi! Your replacement part has arrived.")
    await expect(reply.locator(".ck-author")).to_have_text(AGENT_NAME)
    await expect(frame.locator("#ck-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    await expect(frame.locator("li.ck-msg--bot")).to_have_count(0)  # no greeting over it
    await screenshot(page, "opened")
    await frame.locator("#ck-input").fill("Great, thanks!")
    await frame.locator("#ck-input").press("Enter")
    heard = await agent.messages.get()
    while heard["body"] != "Great, thanks!":
        heard = await agent.messages.get()
    assert heard["conversation_id"] == conversation_id


async def test_a_url_and_time_trigger_opens_the_widget_with_its_message(
        page: Any, site: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    requests = track_requests(page)
    launcher = page.locator("chatkit-widget button.launcher")
    frame = page.frame_locator("chatkit-widget iframe")
    # Another page: nothing happens, and no socket is opened.
    await page.goto(f"{site}/about")
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await page.wait_for_timeout(1500)
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    assert not [url for url in requests if "/socket.io/" in url]

    # The pricing page: after a second on it, the panel opens with the trigger's message.
    await page.goto(f"{site}/pricing/team?ref=ad")
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await expect(launcher).to_have_attribute("aria-expanded", "true", timeout=5000)
    shown = frame.locator("li.ck-msg--bot")
    await expect(shown).to_have_count(1)
    await expect(shown.locator(".ck-body")).to_have_text("Questions about our plans? Ask us here.")
    assert "open" in [e["name"] for e in await page.evaluate("window.__events")]
    await screenshot(page, "opened")

    # The visitor answers: the trigger's message is stored first, so the agent sees it.
    await frame.locator("#ck-input").fill("Which plan has SSO?")
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute("data-state",
                                                                              "sent")
    await expect(frame.locator("li.ck-msg--bot").first).to_have_attribute("data-seq", "1")
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    (conversation,) = listed["conversations"]
    history = await agent.ok("history", {"conversation_id": conversation["id"]})
    assert [(m["seq"], m["sender"], m["body"]) for m in history["messages"][:2]] == [
        (1, "bot", "Questions about our plans? Ask us here."),
        (2, "visitor", "Which plan has SSO?")]
    assert history["messages"][0]["meta"] == {"kind": "trigger", "trigger": "pricing"}

    # With a conversation going, the trigger does not fire again on the next page view.
    await page.goto(f"{site}/pricing")
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await page.wait_for_timeout(1800)
    await expect(launcher).to_have_attribute("aria-expanded", "false")


async def test_a_returning_visitor_trigger_shows_a_badge_then_its_message(
        page: Any, site: str, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    launcher = page.locator("chatkit-widget button.launcher")
    badge = page.locator("chatkit-widget .badge")
    # A first visit to the docs: not a returning visitor yet.
    await page.goto(f"{site}/docs/install")
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await page.wait_for_timeout(800)
    await expect(badge).to_be_hidden()
    visits = await chat_frame(page, chat).evaluate(
        "JSON.parse(localStorage.getItem('chatkit.visits'))")
    assert visits["n"] == 1
    # An hour later (the visit count is kept in the browser): a second visit.
    await chat_frame(page, chat).evaluate(
        "localStorage.setItem('chatkit.visits', JSON.stringify("
        "{n: 1, at: Date.now() - 3600 * 1000}))")
    await page.goto(f"{site}/docs/install")
    await expect(badge).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await screenshot(page, "badge")
    await launcher.click()
    frame = page.frame_locator("chatkit-widget iframe")
    shown = frame.locator("li.ck-msg--bot")
    await expect(shown).to_have_count(1)
    await expect(shown.locator(".ck-body")).to_have_text(
        "Welcome back to the docs! Stuck on something?")
    await screenshot(page, "opened")


async def test_the_console_starts_a_conversation_with_a_known_contact(
        page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    known = await chat.kit.store.create_contact(name="Grace Hopper", email="grace@example.com")
    busy = await chat.kit.store.create_contact(name="Grace Busy", email="busy@example.com")
    busy_conversation = await chat.kit.store.create_conversation(busy.id)

    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#agent-name")).to_have_text(AGENT_NAME)

    await page.click("#new-conversation")
    dialog = page.locator("#outbound")
    await expect(dialog).to_be_visible()
    await page.fill("#outbound-query", "grace")
    await page.press("#outbound-query", "Enter")
    rows = dialog.locator("#outbound-contacts li")
    await expect(rows).to_have_count(2)
    # The contact with a conversation going is offered that conversation instead.
    busy_row = dialog.locator(f"li[data-id='{busy.id}']")
    await expect(busy_row.locator("button")).to_have_text("Open their conversation")
    await expect(page.locator("#outbound-start")).to_be_disabled()
    await dialog.locator(f"li[data-id='{known.id}'] button").click()
    await page.fill("#outbound-body", "Hello Grace, about your order…")
    await screenshot(page, "dialog")
    await page.click("#outbound-start")

    await expect(dialog).to_be_hidden()
    await expect(page.locator("#thread-messages li").last).to_contain_text(
        "Hello Grace, about your order…")
    await expect(page.locator("#reply-form")).to_be_visible()
    started = await chat.kit.store.open_conversation_for(known.id)
    assert started is not None and started.agent_name == AGENT_NAME
    assert str(started.status) == "assigned"
    await screenshot(page, "started")

    # Choosing the busy contact's conversation opens it in the thread.
    await page.click("#new-conversation")
    await page.fill("#outbound-query", "busy@")
    await page.press("#outbound-query", "Enter")
    await dialog.locator(f"li[data-id='{busy.id}'] button").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#conversation-list button[aria-current=true]")).to_have_attribute(
        "data-id", busy_conversation.id)


async def test_a_single_page_app_navigation_is_a_new_page_view(
        page: Any, site: str, chat: Chat, screenshot: Any) -> None:
    """The host page changes its URL with history.pushState, without loading: the triggers
    are armed for the new URL, and the server records where the widget is now."""
    from playwright.async_api import expect

    launcher = page.locator("chatkit-widget button.launcher")
    frame = page.frame_locator("chatkit-widget iframe")
    await page.goto(f"{site}/about")
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await page.wait_for_timeout(1500)
    await expect(launcher).to_have_attribute("aria-expanded", "false")  # no trigger here

    # The app "navigates" to its pricing page: the pricing trigger fires a second later.
    await page.evaluate("history.pushState({}, '', '/pricing/team')")
    await expect(launcher).to_have_attribute("aria-expanded", "true", timeout=5000)
    shown = frame.locator("li.ck-msg--bot")
    await expect(shown.locator(".ck-body")).to_have_text("Questions about our plans? Ask us here.")
    await screenshot(page, "opened")

    # The panel is open (the widget is connected): the server hears of the next navigation.
    token = await chat_frame(page, chat).evaluate("localStorage.getItem('chatkit.token')")
    assert token and chat.kit.visitors.signer is not None
    contact_id = chat.kit.visitors.signer.verify("visitor", token)
    seen = await chat.kit.store.get_visitor_page(contact_id)
    # (It connected after the first navigation: its resume carried the new page.)
    assert seen is not None and seen.url == f"{site}/pricing/team"
    await page.evaluate("history.pushState({}, '', '/checkout?step=2#card')")
    for _ in range(50):
        seen = await chat.kit.store.get_visitor_page(contact_id)
        if seen is not None and seen.url != f"{site}/pricing/team":
            break
        await page.wait_for_timeout(100)
    assert seen is not None and seen.url == f"{site}/checkout?step=2"  # no fragment
