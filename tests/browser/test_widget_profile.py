""""Your details" in Chromium: a verified visitor corrects their own email from the widget and
sees it saved (the server's validation errors beside the field first); a visitor the host
site did not verify gets no such view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit.identity import identity_hash
from tests.browser.conftest import Chat, serve_host_page

pytestmark = pytest.mark.browser

IDENTITY_SECRET = "the host site's shared secret"
USER = {"id": "customer-2002", "name": "Hedy Lamarr", "email": "hedy@exmaple.com"}


async def page_identifying(aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat,
                           user: dict[str, str]) -> str:
    """A host page on another origin that identifies `user` before widget.js has loaded."""
    return await serve_host_page(aiohttp_server, chat, identify=user)


async def test_a_verified_visitor_corrects_their_email(
        page: Any, aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat,
        screenshot: Any) -> None:
    from playwright.async_api import expect

    chat.kit.identity.secret = IDENTITY_SECRET
    signed = {**USER, "hash": identity_hash(IDENTITY_SECRET, USER["id"])}
    await page.goto(await page_identifying(aiohttp_server, chat, signed))
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    toggle = frame.locator("#ck-profile-toggle")
    await expect(toggle).to_be_visible()
    await expect(toggle).to_have_attribute("aria-label", "Your details")
    await toggle.click()
    form = frame.locator("#ck-profile")
    await expect(form).to_be_visible()
    await expect(frame.locator("#ck-composer")).to_be_hidden()
    email = frame.locator("#ck-profile-email")
    await expect(frame.locator("#ck-profile-name")).to_have_value(USER["name"])
    await expect(email).to_have_value(USER["email"])

    # A typo the server refuses: shown beside the field, and nothing is saved.
    await email.fill("hedy at example.com")
    await frame.locator("#ck-profile button[type=submit]").click()
    problem = frame.locator("#ck-profile-email-error")
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text("valid email address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_be_focused()
    await screenshot(page, "refused")
    store = chat.kit.store
    contact = (await store.find_contacts(USER["email"]))[0]
    assert contact.email == USER["email"]

    # The correction, with a phone and a preference, is saved and confirmed.
    await email.fill("hedy@example.com")
    await frame.locator("#ck-profile-phone").fill("+1 555 010 0199")
    await frame.locator("#ck-profile-transcript").check()
    await frame.locator("#ck-profile button[type=submit]").click()
    saved = frame.locator("#ck-profile-saved")
    await expect(saved).to_have_text("Saved. Your details are up to date.")
    await expect(problem).to_be_hidden()
    await expect(email).to_have_attribute("aria-invalid", "false")
    await screenshot(page, "saved")
    contact = await store.get_contact(contact.id)
    assert contact is not None
    assert (contact.email, contact.phone) == ("hedy@example.com", "+1 555 010 0199")
    # The form sends every preference; "same as this site" is no language stored.
    assert contact.preferences == {"transcript_by_email": True, "replies_by_email": False}
    history, _ = await store.contact_history(contact.id)
    assert {(c.field, c.old, c.new, c.actor_kind) for c in history if c.via == "profile"} == {
        ("email", USER["email"], "hedy@example.com", "visitor"),
        ("phone", None, "+1 555 010 0199", "visitor"),
        ("preferences.transcript_by_email", None, True, "visitor"),
        ("preferences.replies_by_email", None, False, "visitor")}

    # Reopened later, it shows what was saved; "Back to chat" returns to the transcript.
    await frame.locator("#ck-profile-back").click()
    await expect(form).to_be_hidden()
    await expect(frame.locator("#ck-composer")).to_be_visible()
    await toggle.click()
    await expect(email).to_have_value("hedy@example.com")
    await expect(frame.locator("#ck-profile-transcript")).to_be_checked()


async def test_an_unverified_visitor_gets_no_details_view(
        page: Any, aiohttp_server: Callable[..., Awaitable[TestServer]], chat: Chat) -> None:
    from playwright.async_api import expect

    chat.kit.identity.secret = IDENTITY_SECRET
    # The page claims a user, but its signature is not the site's.
    forged = {**USER, "hash": identity_hash("another secret", USER["id"])}
    await page.goto(await page_identifying(aiohttp_server, chat, forged))
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    # The message is sent after identify was answered (identify goes before resume).
    await frame.locator("#ck-input").fill("Hello")
    await frame.locator("#ck-input").press("Enter")
    await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute(
        "data-state", "sent")
    await expect(frame.locator("#ck-profile-toggle")).to_be_hidden()
    await expect(frame.locator("#ck-profile")).to_be_hidden()


async def test_the_console_shows_the_details_a_visitor_corrected(page: Any, chat: Chat) -> None:
    from playwright.async_api import expect

    from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD
    from tests.clients import Visitor

    chat.kit.identity.secret = IDENTITY_SECRET
    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#agent-name")).to_have_text(AGENT_NAME)
    agent = await chat.kit.store.get_agent_by_email(AGENT_EMAIL)
    assert agent is not None
    for _ in range(100):  # online in the store before the visitor asks for a person
        if str((await chat.kit.store.get_presence([agent.id]))[agent.id].presence) == "online":
            break
        await page.wait_for_timeout(50)

    visitor = Visitor(chat.server)
    await visitor.start()
    await visitor.ok("identify", {**USER, "hash": identity_hash(IDENTITY_SECRET, USER["id"])})
    await visitor.say("I need a person please", "p-1")
    listed = page.locator("#conversation-list button .who").first
    await expect(listed).to_be_visible()
    # The `contact` event brings the corrected details to the list at once.
    await visitor.ok("update_profile", {"name": "Hedy Kiesler"})
    await expect(listed).to_have_text("Hedy Kiesler (verified)")
    await visitor.close()
