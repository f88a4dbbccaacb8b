"""The widget and the console, end to end: real server, real Chromium, hostile host page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from tests.browser.agent import Agent
from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat, inbox_view

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=window.__xss=1>"



async def socket_requests(page: Any) -> list[str]:
    return [url for url in page.socket_urls if "/socket.io/" in url]


def track_sockets(page: Any) -> None:
    page.socket_urls = []
    page.on("request", lambda request: page.socket_urls.append(request.url))
    page.on("websocket", lambda ws: page.socket_urls.append(ws.url))


async def open_and_send(page: Any, host_page: str, text: str) -> Any:
    """Opens the widget on the host page and sends `text`; returns the chat frame once the
    message is acknowledged."""
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill(text)
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute(
        "data-state", "sent")
    return frame


async def take_the_conversation(agent: Agent) -> dict[str, Any]:
    """The agent joins the one open conversation; returns the join's ack data."""
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    assert len(listed["conversations"]) == 1
    joined: dict[str, Any] = await agent.ok(
        "join", {"conversation_id": listed["conversations"][0]["id"]})
    return joined


async def test_visitor_and_agent_chat_through_the_widget(
        page: Any, host_page: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    track_sockets(page)
    await page.goto(host_page)
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_be_visible()
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")

    # Only ChatKit is added to the host page's globals, and no socket before the visitor acts.
    assert await page.evaluate("typeof window.ChatKit") == "function"
    assert await socket_requests(page) == []

    # The host page's CSS reaches neither the launcher nor the frame.
    box = await launcher.bounding_box()
    assert box is not None and (round(box["width"]), round(box["height"])) == (56, 56)
    frame_element = page.locator("chatkit-widget iframe")
    assert await frame_element.evaluate("el => getComputedStyle(el).borderTopWidth") == "0px"
    await expect(launcher.locator("svg.i-chat")).to_be_visible()
    await expect(launcher.locator("svg.i-close")).to_be_hidden()
    await screenshot(page, "closed")

    await launcher.click()
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await expect(composer).to_be_focused()
    assert (await frame_element.bounding_box())["width"] == 370
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    await expect(launcher.locator("svg.i-close")).to_be_visible()
    await expect(launcher.locator("svg.i-chat")).to_be_hidden()

    # Enter sends; Shift+Enter is a newline.
    await composer.type("Hello, I have a question")
    await composer.press("Shift+Enter")
    await composer.type("about my order")
    await composer.press("Enter")
    first = frame.locator("li.ck-msg--visitor").first
    await expect(first.locator(".ck-body")).to_have_text("Hello, I have a question\nabout my order")
    await expect(first).to_have_attribute("data-state", "sent")
    await expect(first.locator(".ck-author")).to_have_text("You")
    await expect(composer).to_have_value("")

    await composer.fill(f"visitor says {XSS}")
    await composer.press("Enter")
    mine = frame.locator("li.ck-msg--visitor").nth(1)
    await expect(mine).to_have_attribute("data-state", "sent")
    await expect(mine.locator(".ck-body")).to_have_text(f"visitor says {XSS}")

    # The agent takes the conversation and answers, with markup that must stay text.
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    assert len(listed["conversations"]) == 1
    conversation_id = listed["conversations"][0]["id"]
    joined = await agent.ok("join", {"conversation_id": conversation_id})
    bodies = [m["body"] for m in joined["messages"]]
    assert "Hello, I have a question\nabout my order" in bodies
    assert f"visitor says {XSS}" in bodies
    await agent.say(conversation_id, f"Hi! I'm here to help. {XSS}")

    reply = frame.locator("li.ck-msg--agent").last
    await expect(reply.locator(".ck-body")).to_have_text(f"Hi! I'm here to help. {XSS}")
    await expect(reply.locator(".ck-author")).to_have_text(AGENT_NAME)
    await expect(frame.locator("#ck-status")).to_have_text(f"You're chatting with {AGENT_NAME}")
    await expect(frame.locator("#ck-live")).to_contain_text(f"{AGENT_NAME}: Hi!")

    # Nothing was parsed as HTML, nothing ran.
    assert await frame.locator("#ck-messages img").count() == 0
    chat_frame = next(f for f in page.frames if f.url.startswith(chat.mount))
    assert await chat_frame.evaluate("window.__xss") is None
    assert await page.evaluate("window.__xss") is None

    # The host page heard about the messages through ChatKit('on', 'message').
    events = await page.evaluate("window.__events")
    names = [e["name"] for e in events]
    assert names[:2] == ["ready", "open"]
    heard = [e["data"]["body"] for e in events if e["name"] == "message"]
    assert f"Hi! I'm here to help. {XSS}" in heard
    await screenshot(page, "conversation")

    # Closed panel: a new reply shows as an unread badge on the launcher.
    await frame.locator("#ck-close").click()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    await expect(launcher).to_be_focused()
    await agent.say(conversation_id, "Are you still there?")
    badge = page.locator("chatkit-widget .badge")
    await expect(badge).to_have_text("1")
    await expect(launcher).to_have_attribute("aria-label", "Open chat, 1 unread")
    await screenshot(page, "unread")
    await page.evaluate("ChatKit('open')")
    await expect(badge).to_be_hidden()
    await expect(frame.locator("li.ck-msg--agent").last.locator(".ck-body")).to_have_text(
        "Are you still there?")


async def test_outbox_survives_going_offline_and_reloads(
        page: Any, host_page: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await composer.fill("first message")
    await composer.press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute("data-state", "sent")

    # Offline: a new message waits as "sending", in the outbox, under the offline banner.
    await page.context.set_offline(True)
    await expect(frame.locator("#ck-offline")).to_be_visible()
    await composer.fill("written while offline")
    await composer.press("Enter")
    waiting = frame.locator("li.ck-msg--visitor").nth(1)
    await expect(waiting).to_have_attribute("data-state", "sending")
    await screenshot(page, "offline")
    chat_frame = next(f for f in page.frames if f.url.startswith(chat.mount))
    outbox = await chat_frame.evaluate("JSON.parse(localStorage.getItem('chatkit.outbox'))")
    assert [item["body"] for item in outbox] == ["written while offline"]

    # Back online: socket.io-client reconnects by itself; resume, then the outbox is sent.
    await page.context.set_offline(False)
    await expect(waiting).to_have_attribute("data-state", "sent", timeout=20_000)
    await expect(frame.locator("#ck-offline")).to_be_hidden()
    assert await chat_frame.evaluate("localStorage.getItem('chatkit.outbox')") is None

    # A message left in the outbox by an earlier page (acked or not) is resent after a
    # reload with its own client_id, and stored once.
    joined = await agent.ok("join", {"conversation_id": outbox_conversation(
        await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]}))})
    stored = {m["client_id"]: m for m in joined["messages"] if m["sender"] == "visitor"}
    resend = [{"client_id": outbox[0]["client_id"], "body": "written while offline",
               "created_at": 0},
              {"client_id": "c-from-last-visit-1", "body": "left in the outbox",
               "created_at": 0}]
    await chat_frame.evaluate("items => localStorage.setItem('chatkit.outbox', "
                              "JSON.stringify(items))", resend)
    await page.reload()
    frame = page.frame_locator("chatkit-widget iframe")
    bodies = frame.locator("li.ck-msg--visitor .ck-body")
    await expect(bodies).to_have_text(
        ["first message", "written while offline", "left in the outbox"])
    await expect(frame.locator("li.ck-msg--visitor[data-state=sending]")).to_have_count(0)
    history = await agent.ok("history", {"conversation_id": joined["conversation"]["id"]})
    visitor_ids = [m["client_id"] for m in history["messages"] if m["sender"] == "visitor"]
    assert visitor_ids == [*stored, "c-from-last-visit-1"]


def outbox_conversation(listed: dict[str, Any]) -> str:
    (conversation,) = listed["conversations"]
    conversation_id: str = conversation["id"]
    return conversation_id


async def test_no_socket_until_the_visitor_opens_the_chat(page: Any, host_page: str) -> None:
    from playwright.async_api import expect

    track_sockets(page)
    await page.goto(host_page)
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    await page.wait_for_timeout(300)
    assert await socket_requests(page) == []
    await page.evaluate("ChatKit('open')")
    await expect(page.frame_locator("chatkit-widget iframe").locator("#ck-input")).to_be_focused()
    for _ in range(50):
        if await socket_requests(page):
            break
        await asyncio.sleep(0.1)
    assert await socket_requests(page) != []


async def test_talk_to_a_person_queues_the_conversation(
        page: Any, host_page: str, chat: Chat, on_duty: None) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("Where is my parcel?")
    await frame.locator("#ck-input").press("Enter")
    handoff = frame.locator("#ck-handoff")
    await expect(handoff).to_be_visible()
    await handoff.click()
    # Waiting, then (as soon as the server says) the place in line.
    await expect(frame.locator("#ck-status")).to_have_text(
        re.compile("Waiting for a person|You're number 1 in line"))
    await expect(handoff).to_be_hidden()


async def test_full_screen_on_small_screens(page: Any, host_page: str, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.set_viewport_size({"width": 375, "height": 700})
    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame_element = page.locator("chatkit-widget iframe")
    await expect(page.frame_locator("chatkit-widget iframe").locator("#ck-input")).to_be_focused()
    box = await frame_element.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 375, "height": 700}
    await screenshot(page, "mobile")
    await page.frame_locator("chatkit-widget iframe").locator("#ck-close").click()
    await expect(page.locator("chatkit-widget button.launcher")).to_be_visible()


async def test_bridge_ignores_messages_from_anyone_else(page: Any, host_page: str) -> None:
    """Both ends of the postMessage bridge check the sender's window and origin."""
    track_sockets(page)
    await page.goto(host_page)
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    # The loader: an 'unread' posted by the host page itself (not the frame) is ignored.
    await page.evaluate("window.postMessage({chatkit: 1, type: 'unread', count: 5}, '*')")
    # The frame: an 'open' from its own window (not its parent) opens no socket.
    frame = next(f for f in page.frames if "/widget/" in f.url)
    await frame.evaluate("window.postMessage({chatkit: 1, type: 'open'}, '*')")
    await page.wait_for_timeout(500)
    assert await page.locator("chatkit-widget .badge").is_hidden()
    assert await socket_requests(page) == []


async def test_demo_page_embeds_the_widget(page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(chat.origin + "/")
    await expect(page.locator("h1")).to_contain_text("Small-batch coffee")
    assert "__CHATKIT_PREFIX__" not in await page.content()
    await page.get_by_role("button", name="Chat with us").click()
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("Do you ship to Norway?")
    await frame.locator("#ck-input").press("Enter")
    sent = frame.locator("li.ck-msg--visitor").first
    await expect(sent).to_have_attribute("data-state", "sent")
    await screenshot(page, "demo")


async def test_console_agent_answers_a_visitor(
        page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    visitor = Visitor(chat.server)
    await visitor.start()
    await visitor.say("Hello from a visitor <b>bold?</b>", "c-test-1")

    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", "wrong password")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).not_to_be_empty()
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#agent-name")).to_have_text(AGENT_NAME)

    # Still with the bot: listed among all the open chats.
    await inbox_view(page, "All open")
    item = page.locator("#conversation-list button").first
    await expect(item).to_be_visible()
    await item.click()
    visitor_message = page.locator("#thread-messages .from-visitor .body").first
    await expect(visitor_message).to_have_text("Hello from a visitor <b>bold?</b>")
    assert await page.locator("#thread-messages b:text('bold?')").count() == 0

    await page.fill("#reply-input", "Hello! How can I help?")
    await page.press("#reply-input", "Enter")
    reply = await visitor.next("message")
    while reply["sender"] != "agent":
        reply = await visitor.next("message")
    assert reply["body"] == "Hello! How can I help?"
    assert reply["author_name"] == AGENT_NAME

    # Live: the visitor writes again and the console shows it without a reload.
    await visitor.say("Thanks!", "c-test-2")
    await expect(page.locator("#thread-messages .from-visitor .body").last).to_have_text("Thanks!")
    await screenshot(page, "console")

    await page.click("#resolve")
    await expect(page.locator("#thread-status")).to_contain_text("resolved")
    await expect(page.locator("#conversation-list button")).to_have_count(0)
    await visitor.close()


async def test_a_refused_token_is_dropped_and_the_visitor_starts_afresh(
        page: Any, host_page: str, chat: Chat) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    chat_frame = next(f for f in page.frames if f.url.startswith(chat.mount))
    await chat_frame.evaluate("""() => {
        localStorage.setItem('chatkit.token', 'forged.token.value');
        localStorage.setItem('chatkit.conversation', 'no-such-conversation');
    }""")
    await page.reload()
    frame = page.frame_locator("chatkit-widget iframe")
    await page.locator("chatkit-widget button.launcher").click()
    await frame.locator("#ck-input").fill("Hello again")
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute("data-state", "sent")
    chat_frame = next(f for f in page.frames if f.url.startswith(chat.mount))
    token = await chat_frame.evaluate("localStorage.getItem('chatkit.token')")
    assert token and token != "forged.token.value"


async def test_markdown_from_agents_is_rendered_safely_and_visitor_text_stays_plain(
        page: Any, host_page: str, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await composer.fill("**not bold** [click](javascript:alert(1))")
    await composer.press("Enter")
    mine = frame.locator("li.ck-msg--visitor").first
    await expect(mine).to_have_attribute("data-state", "sent")
    await expect(mine.locator(".ck-body")).to_have_text("**not bold** [click](javascript:alert(1))")
    assert await mine.locator("strong, a").count() == 0

    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    conversation_id = listed["conversations"][0]["id"]
    await agent.ok("join", {"conversation_id": conversation_id})
    await agent.say(conversation_id, (
        "Start a return from **My orders**, see [our policy](https://shop.example.com/returns)"
        " or `code 7`.\n\n- one *item*\n- two\n\n"
        f"[evil](javascript:window.__xss=1) [data](data:text/html,hi) {XSS} **{XSS}**"))
    reply = frame.locator("li.ck-msg--agent .ck-body").last
    await expect(reply.locator("strong").first).to_have_text("My orders")
    safe = reply.locator("a")
    await expect(safe).to_have_count(1)
    await expect(safe).to_have_attribute("href", "https://shop.example.com/returns")
    await expect(safe).to_have_attribute("rel", "noopener noreferrer nofollow")
    await expect(reply.locator("code")).to_have_text("code 7")
    await expect(reply.locator("ul > li")).to_have_count(2)
    await expect(reply.locator("ul em")).to_have_text("item")
    # Dangerous links are shown as text; HTML stays text, also inside Markdown.
    await expect(reply).to_contain_text("evil (javascript:window.__xss=1)")
    await expect(reply).to_contain_text(XSS)
    assert await reply.locator("img, script, iframe").count() == 0
    await screenshot(page, "markdown")
    await reply.locator("p").last.click()
    assert await page.evaluate("window.__xss") is None


async def test_typing_indicators_both_ways(page: Any, host_page: str, agent: Agent) -> None:
    from playwright.async_api import expect

    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.sio.on("typing", heard.put_nowait, namespace="/agent")
    frame = await open_and_send(page, host_page, "hello")
    composer = frame.locator("#ck-input")
    conversation_id = (await take_the_conversation(agent))["conversation"]["id"]

    # The visitor types: the agent hears it; sending says the typing stopped.
    await composer.type("I need")
    started = await asyncio.wait_for(heard.get(), 5)
    assert started == {"conversation_id": conversation_id, "sender": "visitor",
                       "author_name": None, "typing": True}
    await composer.press("Enter")
    stopped = await asyncio.wait_for(heard.get(), 5)
    assert stopped["typing"] is False

    # The agent types: the widget shows it until the reply lands.
    indicator = frame.locator("#ck-typing")
    await agent.ok("typing", {"conversation_id": conversation_id, "typing": True})
    await expect(indicator).to_have_text(f"{AGENT_NAME} is typing…")
    await agent.say(conversation_id, "Here to help")
    await expect(indicator).to_be_hidden()


async def test_spanish_from_the_host_settings_and_right_to_left_text(
        page: Any, host_page: str, agent: Agent, on_duty: None, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.add_init_script("window.ChatKitSettings = {locale: 'es-MX'}")
    await page.goto(host_page)
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_have_attribute("aria-label", "Abrir chat")
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await expect(frame.locator(".ck-title")).to_have_text("Chatea con nosotros")
    composer = frame.locator("#ck-input")
    await expect(composer).to_have_attribute("placeholder", "Escribe tu mensaje…")
    await expect(frame.locator("html")).to_have_attribute("lang", "es")
    await expect(launcher).to_have_attribute("aria-label", "Cerrar chat")

    arabic = "مرحبا، أين طلبي؟"
    await composer.fill(arabic)
    await composer.press("Enter")
    mine = frame.locator("li.ck-msg--visitor").first
    await expect(mine.locator(".ck-state")).to_have_text("Enviado")
    body = mine.locator(".ck-body")
    await expect(body).to_have_attribute("dir", "auto")
    assert await body.evaluate("el => getComputedStyle(el).direction") == "rtl"
    await expect(frame.locator("#ck-status")).to_have_text("Te responde nuestro asistente")
    await screenshot(page, "spanish")


async def test_reset_forgets_the_visitor(page: Any, host_page: str, agent: Agent) -> None:
    """ChatKit('reset') (the host site's logout): the next person on this browser starts as a
    new visitor and sees nothing of the previous conversation."""
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await composer.fill("my account number is 1234")
    await composer.press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute("data-state", "sent")

    await page.evaluate("ChatKit('reset')")
    # Nothing of the conversation is left; only the bot's greeting, for whoever comes next.
    await expect(frame.locator("li.ck-msg:not([data-greeting])")).to_have_count(0)
    await composer.fill("hello, I am someone else")
    await composer.press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute("data-state", "sent")
    await expect(frame.locator("li.ck-msg--visitor")).to_have_count(1)

    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    assert len({c["contact_id"] for c in listed["conversations"]}) == 2

    # A reload shows only the new visitor's conversation.
    await page.reload()
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await expect(frame.locator("li.ck-msg--visitor")).to_have_count(1)
    await expect(frame.locator("li.ck-msg--visitor .ck-body")).to_have_text(
        "hello, I am someone else")


async def test_server_restart_mid_conversation_loses_and_duplicates_nothing(
        page: Any, host_page: str, chat: Chat, agent: Agent,
        aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    from playwright.async_api import expect

    from chatkit import ChatKit

    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await composer.fill("before the restart")
    await composer.press("Enter")
    mine = frame.locator("li.ck-msg--visitor")
    await expect(mine.first).to_have_attribute("data-state", "sent")
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    conversation_id = listed["conversations"][0]["id"]
    await agent.ok("join", {"conversation_id": conversation_id})
    await agent.say(conversation_id, "reply before the restart")
    await expect(frame.locator("li.ck-msg--agent")).to_have_count(1)
    await agent.close()

    # The server goes away; the visitor writes on, offline.
    port = chat.server.port
    await chat.server.close()
    await expect(frame.locator("#ck-offline")).to_be_visible()
    await composer.fill("written while the server was down")
    await composer.press("Enter")
    await expect(mine.nth(1)).to_have_attribute("data-state", "sending")

    # A new process on the same database and port: the widget reconnects, resumes, resends.
    kit = ChatKit(chat.kit.settings)
    chat.server = await aiohttp_server(kit.create_app(), host="127.0.0.1", port=port)
    chat.kit = kit
    await expect(mine.nth(1)).to_have_attribute("data-state", "sent", timeout=20_000)
    await expect(frame.locator("#ck-offline")).to_be_hidden()

    back = Agent(chat)
    await back.login(AGENT_EMAIL, AGENT_PASSWORD)
    joined = await back.ok("join", {"conversation_id": conversation_id})
    assert [m["body"] for m in joined["messages"] if m["sender"] != "bot"] == [
        "before the restart", "reply before the restart", "written while the server was down"]
    await back.say(conversation_id, "reply after the restart")
    await expect(frame.locator("li.ck-msg--agent")).to_have_count(2)
    await expect(mine).to_have_count(2)  # nothing shown twice
    await back.close()


async def test_widget_works_under_a_strict_content_security_policy(
        page: Any, chat: Chat, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    """The host page allows scripts and frames from chatkit's origin and nothing else: no
    inline styles, no style sheets, no connections of its own."""
    from aiohttp import web
    from playwright.async_api import expect

    nonce = "host-page-nonce"
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}' {chat.origin}; "
              f"frame-src {chat.origin}; style-src 'none'; img-src 'none'; connect-src 'none'")
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strict</title>
      </head><body><p>A shop with a strict policy.</p>
      <script nonce="{nonce}">window.ChatKit = window.ChatKit
        || function () {{ (ChatKit.q = ChatKit.q || []).push(arguments); }};</script>
      <script src="{chat.mount}/widget.js" async></script></body></html>"""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html",
                            headers={"Content-Security-Policy": policy})

    app = web.Application()
    app.router.add_get("/", index)
    host = await aiohttp_server(app, host="127.0.0.1")
    violations: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text
            and violations.append(message.text))
    await page.goto(f"http://{host.host}:{host.port}/")
    launcher = page.locator("chatkit-widget button.launcher")
    await expect(launcher).to_be_visible()
    box = await launcher.bounding_box()
    assert box is not None and (round(box["width"]), round(box["height"])) == (56, 56)
    await launcher.click()
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("hello from a strict page")
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute(
        "data-state", "sent")
    assert violations == []


async def test_read_receipts_both_ways(page: Any, host_page: str, agent: Agent) -> None:
    from playwright.async_api import expect

    heard: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.sio.on("read", heard.put_nowait, namespace="/agent")
    frame = await open_and_send(page, host_page, "are you there?")
    composer = frame.locator("#ck-input")
    mine = frame.locator("li.ck-msg--visitor").first
    joined = await take_the_conversation(agent)
    conversation_id = joined["conversation"]["id"]

    # The agent reads: the visitor's message shows "Read".
    await agent.ok("read", {"conversation_id": conversation_id,
                            "seq": joined["conversation"]["last_seq"]})
    await expect(mine).to_have_attribute("data-state", "read")
    await expect(mine.locator(".ck-state")).to_have_text("Read")

    # The agent answers while the panel is open: the visitor has seen it, the agent hears so.
    reply = await agent.say(conversation_id, "yes, here")
    # (An earlier report, of the bot's answer, may come first.)
    while ((event := await asyncio.wait_for(heard.get(), 5))["reader"] != "visitor"
           or event["seq"] < reply["seq"]):
        pass
    assert event["seq"] >= reply["seq"]

    # After a reload the read state comes back with the conversation.
    await page.reload()
    await page.evaluate("ChatKit('open')")
    await composer.fill("one more")
    await composer.press("Enter")
    last = frame.locator("li.ck-msg--visitor").last
    await expect(last).to_have_attribute("data-state", "sent")
    await agent.ok("read", {"conversation_id": conversation_id, "seq": reply["seq"] + 1})
    await expect(last).to_have_attribute("data-state", "read")


async def test_keyboard_only(page: Any, host_page: str, agent: Agent) -> None:
    """Tab to the launcher, Enter opens with the composer focused, Enter sends, Tab reaches
    "Talk to a person", Escape closes and gives focus back to the launcher."""
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.wait_for_function("window.__events.some(e => e.name === 'ready')")
    launcher = page.locator("chatkit-widget button.launcher")
    for _ in range(10):  # the host page has no focusable element of its own before it
        await page.keyboard.press("Tab")
        if await launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        raise AssertionError("Tab never reached the launcher")
    await page.keyboard.press("Enter")
    frame = page.frame_locator("chatkit-widget iframe")
    composer = frame.locator("#ck-input")
    await expect(composer).to_be_focused()
    await page.keyboard.type("typed without a mouse")
    await page.keyboard.press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute(
        "data-state", "sent")
    # After the bot's answer the handoff button is offered; the keyboard reaches it.
    handoff = frame.locator("#ck-handoff")
    await expect(handoff).to_be_visible()
    await handoff.focus()
    await page.keyboard.press("Enter")
    await expect(handoff).to_be_hidden()
    await composer.focus()
    await page.keyboard.press("Escape")
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    assert await launcher.evaluate("el => el.getRootNode().activeElement === el")


async def test_text_contrast_meets_wcag_aa(page: Any, host_page: str, agent: Agent) -> None:
    """Every text of the panel against its background: at least 4.5:1 (WCAG 2.1 AA)."""
    frame = await open_and_send(page, host_page, "hello")
    joined = await take_the_conversation(agent)
    await agent.say(joined["conversation"]["id"], "an agent's answer")
    await frame.locator("li.ck-msg--agent").wait_for()
    chat_frame = next(f for f in page.frames if "/widget/" in f.url)
    ratios = await chat_frame.evaluate("""() => {
      const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
      const background = (el) => {
        for (; el; el = el.parentElement) {
          const c = rgb(getComputedStyle(el).backgroundColor);
          if (c.length < 4 || c[3] > 0) return c;
        }
        return [255, 255, 255];
      };
      const found = [];
      for (const el of document.querySelectorAll('body *')) {
        if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
        const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!text) continue;
        const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        found.push([el.className || el.tagName, Math.round(ratio * 100) / 100]);
      }
      return found;
    }""")
    assert ratios, "no text found"
    low = [(name, ratio) for name, ratio in ratios if ratio < 4.5]
    assert low == []
