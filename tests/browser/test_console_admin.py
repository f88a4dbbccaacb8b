"""The console's admin view: an admin edits routing (a team's strategy, an agent's
capacity); what the server refuses is shown next to the row it is about."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import AGENT_EMAIL, Chat

pytestmark = pytest.mark.browser


async def test_an_admin_changes_a_strategy_and_a_capacity(page: Any, chat: Chat,
                                                          screenshot: Any) -> None:
    from playwright.async_api import expect

    assert chat.kit.demo_credentials is not None
    email, password = chat.kit.demo_credentials  # the demo agent is an admin
    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", email)
    await page.fill("#login-password", password)
    await page.click("#login-form button[type=submit]")
    await page.click("#admin-open")
    await expect(page.locator("#admin-version")).to_contain_text("Version 1")

    team = page.locator("fieldset.admin-team[data-team=support]")
    grace = page.locator(f"#admin-agents tr[data-agent='{AGENT_EMAIL}']")
    await expect(grace.locator("[data-field=capacity]")).to_have_value("")
    await team.locator("[data-field=strategy]").select_option("least_busy")
    # A capacity the server refuses: the problem shows next to her row, nothing is saved.
    await grace.locator("[data-field=capacity]").fill("0")
    await page.click("#admin-save")
    await expect(grace.locator(".row-problems")).to_contain_text("capacity")
    await expect(page.locator("#admin-saved")).to_have_text("Not saved: fix the problems shown.")
    assert (await chat.kit.routing.current_config()).version == 1

    await grace.locator("[data-field=capacity]").fill("5")
    await page.click("#admin-save")
    await expect(page.locator("#admin-saved")).to_contain_text("Saved: version 2")
    await expect(grace.locator(".row-problems")).to_be_empty()
    await screenshot(page, "routing")

    stored = await chat.kit.routing.current_config()
    assert stored.version == 2 and stored.source == "admin"
    assert stored.document["teams"][0]["strategy"] == "least_busy"
    assert stored.document["agents"][AGENT_EMAIL]["capacity"] == 5
    agent = await chat.kit.store.get_agent_by_email(AGENT_EMAIL)
    assert agent is not None and chat.kit.routing.routing.capacity_of(agent) == 5
    # The form shows the saved version; the admin's own name is on it.
    await expect(page.locator("#admin-version")).to_contain_text("Version 2")
    await expect(grace.locator("[data-field=capacity]")).to_have_value("5")
    await page.click("#admin-close")
    await expect(page.locator("#conversation-list")).to_be_attached()
    await expect(page.locator("#admin-view")).to_be_hidden()
