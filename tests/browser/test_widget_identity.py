"""Identity verification in Chromium: the host page identifies its logged-in user (signed by
its server) before the widget's script has loaded, and the agent sees a verified contact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit.identity import identity_hash
from tests.browser.agent import Agent
from tests.browser.conftest import Chat, serve_host_page

pytestmark = pytest.mark.browser

IDENTITY_SECRET = "the host site's shared secret"
USER = {"id": "customer-1001", "name": "Hedy Lamarr", "email": "hedy@example.com"}


@pytest.fixture
async def identified_page(aiohttp_server: Callable[..., Awaitable[TestServer]],
                          chat: Chat) -> str:
    """A host page whose server signed its user's id, and which identifies them (and sets
    attributes) through the queue stub, before widget.js has loaded."""
    # The host site's server side: it signs the id with the shared secret.
    signed = {**USER, "hash": identity_hash(IDENTITY_SECRET, USER["id"])}
    return await serve_host_page(aiohttp_server, chat, identify=signed,
                                 attributes={"plan": "pro", "seats": 12, "trial": False})



async def test_a_page_identifies_before_the_script_loads_and_the_agent_sees_it_verified(
        page: Any, identified_page: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    chat.kit.identity.secret = IDENTITY_SECRET
    # Only verified visitors may write: the message below proves identify came first.
    chat.kit.identity.required = True
    await page.goto(identified_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("Is my order on its way?")
    await frame.locator("#ck-input").press("Enter")
    sent = frame.locator("li.ck-msg--visitor").first
    await expect(sent).to_contain_text("Is my order")
    await expect(sent).to_have_attribute("data-state", "sent")

    found = (await agent.ok("contacts", {"query": USER["email"]}))["contacts"]
    assert len(found) == 1
    contact = found[0]
    assert contact["verified"] is True and contact["external_id"] == USER["id"]
    assert (contact["name"], contact["email"]) == (USER["name"], USER["email"])
    assert contact["attributes"] == {"plan": "pro", "seats": 12, "trial": False}
    assert contact["open_conversation"] is not None
    await screenshot(page, "identified")

    # ChatKit('reset') (the host site's logout) forgets the identity too: the next visitor
    # is anonymous, so (verified identities required) their message is refused and waits,
    # unsent, in the outbox...
    await page.evaluate("ChatKit('reset')")
    await page.evaluate("ChatKit('open')")
    await frame.locator("#ck-input").fill("Logged in again")
    await frame.locator("#ck-input").press("Enter")
    again = frame.locator("li.ck-msg--visitor", has_text="Logged in again")
    await expect(again).to_have_attribute("data-state", "sending")
    await page.wait_for_timeout(1000)
    await expect(again).to_have_attribute("data-state", "sending")
    await screenshot(page, "after-reset")
    # ...until the page identifies the user again (after the script loaded, this time):
    # the message goes to the verified contact's conversation, which this tab now shows.
    signed = {**USER, "hash": identity_hash(IDENTITY_SECRET, USER["id"])}
    await page.evaluate("(user) => ChatKit('identify', user)", signed)
    await expect(again).to_have_attribute("data-state", "sent", timeout=10_000)
    conversation = contact["open_conversation"]["id"]
    history = (await agent.ok("join", {"conversation_id": conversation}))["messages"]
    assert [m["body"] for m in history if m["sender"] == "visitor"] == [
        "Is my order on its way?", "Logged in again"]


async def test_a_tab_that_becomes_another_contact_shows_only_that_contacts_chat(
        page: Any, host_page: str, chat: Chat) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    chat.kit.identity.secret = IDENTITY_SECRET
    signed = {**USER, "hash": identity_hash(IDENTITY_SECRET, USER["id"])}
    # The user has a chat going on their phone...
    phone = Visitor(chat.server)
    await phone.start()
    await phone.ok("identify", signed)
    await phone.say("Asked from my phone", "p-1")
    # ...and, not signed in yet on this computer, starts another one.
    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    await frame.locator("#ck-input").fill("Asked before signing in")
    await frame.locator("#ck-input").press("Enter")
    anonymous = frame.locator("li.ck-msg--visitor", has_text="Asked before signing in")
    await expect(anonymous).to_have_attribute("data-state", "sent")
    # Signing in makes this tab the user's: it shows their chat, and only theirs (the
    # computer's own open chat stays with the computer's anonymous contact).
    await page.evaluate("(user) => ChatKit('identify', user)", signed)
    phone_message = frame.locator("li.ck-msg--visitor", has_text="Asked from my phone")
    await expect(phone_message).to_be_visible()
    await expect(anonymous).to_have_count(0)
    # What this tab sends now goes to that chat.
    await frame.locator("#ck-input").fill("Now signed in")
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor", has_text="Now signed in")).to_have_attribute(
        "data-state", "sent")
    while (received := await phone.next("message"))["sender"] != "visitor":
        pass  # the bot's replies to the phone's message
    assert received["body"] == "Now signed in"
    await phone.close()
