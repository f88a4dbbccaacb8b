"""Signing in to the console and out again, in Chromium: the server's form, the console with
the signed-in agent, and the session cookie out of the script's reach."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat, sign_in

pytestmark = pytest.mark.browser


async def test_an_agent_signs_in_and_out(page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(f"{chat.mount}/console/")
    await expect(page).to_have_url(f"{chat.mount}/console/login?next=/chat/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", "wrong password")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    await expect(page.locator("#login-email")).to_have_value(AGENT_EMAIL)
    await screenshot(page, "sign-in")
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("#login-form button[type=submit]")

    await expect(page).to_have_url(f"{chat.mount}/console/")
    await expect(page.locator("#agent-name")).to_have_text(AGENT_NAME)
    await expect(page.locator("#conn")).to_have_text("Online")  # the socket, by cookie
    await expect(page.locator("#admin-open")).to_be_hidden()  # not an admin
    # The session is HttpOnly: nothing the page runs can read it; no token is kept.
    assert "chatkit_session" not in await page.evaluate("document.cookie")
    assert await page.evaluate("sessionStorage.length + localStorage.length") <= 1  # presence
    await screenshot(page, "signed-in")

    await page.click("#logout")
    await expect(page).to_have_url(f"{chat.mount}/console/login")
    await expect(page.locator("#login-form")).to_be_visible()
    await page.goto(f"{chat.mount}/console/")
    await expect(page).to_have_url(f"{chat.mount}/console/login?next=/chat/console/")


async def test_signing_out_in_one_tab_signs_out_the_other(page: Any, chat: Chat) -> None:
    from playwright.async_api import expect

    await sign_in(page, chat)
    other = await page.context.new_page()
    await other.goto(f"{chat.mount}/console/")
    await expect(other.locator("#conn")).to_have_text("Online")
    await page.click("#logout")
    await expect(other).to_have_url(
        f"{chat.mount}/console/login?expired=1&next=%2Fchat%2Fconsole%2F")
    await expect(other.locator("#login-error")).to_have_text(
        "Your session has ended. Please sign in again.")
