"""An agent's day in the console, end to end in Chromium: sign in through the form; a handoff
arrives with its CRM context; the agent takes it, answers with a canned response, adds a note
the visitor never sees; a supervisor whispers; the agent transfers it to another team with a
note, after which it is that team's (the agent can no longer open it); the new agent
resolves it. Markup in the visitor's text, name and attributes stays inert text throughout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from tests.browser.conftest import (
    AGENT_EMAIL,
    AGENT_NAME,
    AGENT_PASSWORD,
    PREFIX,
    Chat,
    inbox_view,
    serve_host_page,
    sign_in,
)
from tests.browser.test_console_inbox import until_online

pytestmark = pytest.mark.browser

XSS_NAME = "<img src=x onerror=\"window.__pwned=1\">Eve"
XSS_PLAN = "<script>window.__pwned=2</script><b>Gold</b>"
XSS_TEXT = "<b>not bold</b><img src=x onerror=\"window.__pwned=3\"> I need a person please"
NOTE = "Asked twice already, be quick"
WHISPER = "Offer the refund"
TRANSFER_NOTE = "Refund question: billing knows"


async def test_handoff_canned_note_whisper_transfer_and_resolve(
        page: Any, browser: Any, aiohttp_server: Callable[..., Awaitable[TestServer]],
        chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    from chatkit.routing import Routing, RoutingConfig
    from tests.browser.agent import Agent

    # Grace answers support; Bob, billing (chats there wait to be picked); Sam supervises.
    chat.kit.routing.routing = Routing(RoutingConfig.model_validate({
        "teams": [{"id": "support"}, {"id": "billing", "name": "Billing", "strategy": "manual"}],
        "agents": {AGENT_EMAIL: {"teams": ["support"]}, "bob@example.com": {"teams": ["billing"]},
                   "sam@example.com": {"teams": ["support", "billing"]}}}))
    await chat.kit.agents.create(email="bob@example.com", name="Bob", password=AGENT_PASSWORD,
                                 role=AgentRole.AGENT)
    await chat.kit.agents.create(email="sam@example.com", name="Sam", password=AGENT_PASSWORD,
                                 role=AgentRole.SUPERVISOR)
    bob = Agent(chat)
    await bob.login("bob@example.com", AGENT_PASSWORD)
    await bob.ok("presence", {"status": "online"})

    contexts = []
    errors: list[str] = []

    async def console_for(email: str) -> Any:
        context = await browser.new_context(viewport={"width": 1280, "height": 820})
        contexts.append(context)
        console = await context.new_page()
        console.set_default_timeout(10_000)
        console.on("pageerror", lambda error: errors.append(str(error)))
        await sign_in(console, chat, email)
        await expect(console.locator("#presence")).to_have_value("online")
        return console

    try:
        grace = await console_for(AGENT_EMAIL)
        await until_online(chat, AGENT_EMAIL, grace)

        # The visitor, on the host site, who says who they are (unsigned) with markup in it.
        host = await serve_host_page(aiohttp_server, chat,
                                     identify={"id": "eve-1", "name": XSS_NAME},
                                     attributes={"plan": XSS_PLAN})
        await page.goto(host)
        await page.evaluate("ChatKit('open')")
        widget = page.frame_locator("chatkit-widget iframe")
        await widget.locator("#ck-input").fill(XSS_TEXT)
        await widget.locator("#ck-input").press("Enter")

        # Handed over to support and assigned to Grace: in her inbox, with the CRM panel.
        await expect(grace.locator("#conn")).to_have_text("New conversation assigned to you")
        await grace.locator("#conversation-list button").first.click()
        theirs = grace.locator("#thread-messages li.from-visitor .body").first
        await expect(theirs).to_have_text(XSS_TEXT)
        panel = grace.locator("#crm-panel")
        await expect(panel.locator(".crm-name-text")).to_have_text(XSS_NAME)
        await expect(panel).to_contain_text(XSS_PLAN)
        await expect(panel).to_contain_text("What the bot tried")
        await screenshot(grace, "conversation")

        # A canned response, then a note only agents see.
        reply = grace.locator("#reply-input")
        await reply.type("/hel")
        await expect(grace.locator("#canned-list li b")).to_have_text(["/hello"])
        await reply.press("Enter")
        # Filled in with the visitor's first name, markup and all, as text.
        greeting = f"Hi <img, I'm {AGENT_NAME}. How can I help you today?"
        await expect(reply).to_have_value(greeting)
        await reply.press("Enter")
        await expect(widget.locator("li.ck-msg--agent .ck-body")).to_have_text([greeting])
        await grace.locator(".modes [data-mode=note]").click()
        await reply.fill(NOTE)
        await reply.press("Enter")
        await expect(grace.locator("#thread-messages li.note")).to_contain_text(NOTE)
        await grace.locator(".modes [data-mode=reply]").click()

        # The supervisor finds it among all open chats and whispers to Grace.
        sam = await console_for("sam@example.com")
        await inbox_view(sam, "All open")
        await sam.locator("#conversation-list button").first.click()
        await expect(sam.locator("#thread-messages li.note")).to_contain_text(NOTE)
        await sam.locator(".modes [data-mode=whisper]").click()
        await sam.locator("#reply-input").fill(WHISPER)
        await sam.locator("#reply-input").press("Enter")
        whisper = grace.locator("#thread-messages li.note", has_text=WHISPER)
        await expect(whisper.locator(".note-label")).to_have_text("Whisper from Sam")
        await screenshot(sam, "supervisor")

        # Grace transfers it to billing with a note; it leaves her, for billing's queue.
        await grace.select_option("#transfer-to", "team:billing")
        await grace.fill("#transfer-note", TRANSFER_NOTE)
        await screenshot(grace, "transfer")
        await grace.click("#transfer-form button[type=submit]")
        await expect(grace.locator("#supervise-status")).to_have_text("Transferred to Billing.")
        conversation_id = (await chat.kit.store.list_conversations(
            statuses=["queued"], limit=5))[0].id  # type: ignore[list-item]
        await inbox_view(grace, "All open")
        await expect(grace.locator("#conversation-list li")).to_have_count(0)

        # Nor can she open it, with her own session, from a client of her own making.
        cookies = {c["name"]: c["value"] for c in await contexts[0].cookies()}
        sneaky = socketio.AsyncClient(reconnection=False)
        await sneaky.connect(chat.origin, namespaces=["/agent"],
                             socketio_path=f"{PREFIX}/socket.io", transports=["websocket"],
                             headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                                      "Origin": chat.origin}, wait_timeout=5)
        refused = await sneaky.call("join", {"conversation_id": conversation_id},
                                    namespace="/agent", timeout=10)
        await sneaky.disconnect()
        assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused

        # Bob picks it in billing: the whole history is his, the transfer note with it.
        picked = await bob.ok("pick", {"conversation_id": conversation_id, "limit": 200})
        internal = [m["body"] for m in picked["messages"] if m["internal"]]
        assert NOTE in internal and WHISPER in internal
        assert any(TRANSFER_NOTE in body for body in internal)
        resolved = await bob.ok("resolve", {"conversation_id": conversation_id,
                                            "reason": "solved"})
        assert resolved["status"] == "resolved"

        # The visitor saw the answers, never a note, whisper or transfer note.
        await expect(widget.locator("#ck-csat")).to_be_visible()
        shown = await widget.locator("body").inner_text()
        for secret in (NOTE, WHISPER, TRANSFER_NOTE):
            assert secret not in shown
        for console in (grace, sam):
            assert await console.evaluate("window.__pwned") is None
        assert await page.evaluate("window.__pwned") is None
        assert not errors, errors
    finally:
        await bob.close()
        for context in contexts:
            await context.close()
