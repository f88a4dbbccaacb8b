"""The console's admin view: an admin edits routing (a team's strategy and business hours, an
agent's capacity); what the server refuses is shown next to the row it is about."""

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
    # Business hours as a form: a time zone, each day's hours, holidays one per line.
    await expect(team.locator("[data-field=time-zone]")).to_be_hidden()  # always open
    await team.locator("[data-field=hours-mode]").select_option("weekly")
    await team.locator("[data-field=time-zone]").fill("Europe/Madrid")
    await team.locator("[data-field=hours-mon]").fill("09:00-14:00, 15:00-18:00")
    await team.locator("[data-field=hours-fri]").fill("9 to 5")
    await team.locator("[data-field=holidays]").fill(
        "2026-12-25\n2026-12-24 09:00-13:00 Christmas Eve")
    await page.click("#admin-save")
    await expect(team.locator(".row-problems")).to_contain_text(
        "teams[0].hours.weekly.fri: write times as 09:00-18:00")
    assert (await chat.kit.routing.current_config()).version == 1
    await team.locator("[data-field=hours-fri]").fill("22:00-02:00")
    await page.click("#admin-save")
    await expect(page.locator("#admin-saved")).to_contain_text("Saved: version 2")
    await expect(team.locator("[data-field=hours-fri]")).to_have_value("22:00-02:00")
    await expect(team.locator("[data-field=holidays]")).to_have_value(
        "2026-12-25\n2026-12-24 09:00-13:00 Christmas Eve")
    await expect(grace.locator(".row-problems")).to_be_empty()
    await screenshot(page, "routing")

    stored = await chat.kit.routing.current_config()
    assert stored.version == 2 and stored.source == "admin"
    assert stored.document["teams"][0]["strategy"] == "least_busy"
    assert stored.document["agents"][AGENT_EMAIL]["capacity"] == 5
    assert stored.document["teams"][0]["hours"] == {  # as the server stores it
        "time_zone": "Europe/Madrid", "always": False,
        "weekly": {"mon": [["09:00", "14:00"], ["15:00", "18:00"]], "fri": [["22:00", "02:00"]]},
        "holidays": [{"date": "2026-12-25", "hours": [], "name": None},
                     {"date": "2026-12-24", "hours": [["09:00", "13:00"]],
                      "name": "Christmas Eve"}]}
    agent = await chat.kit.store.get_agent_by_email(AGENT_EMAIL)
    assert agent is not None and chat.kit.routing.routing.capacity_of(agent) == 5
    # The form shows the saved version; the admin's own name is on it.
    await expect(page.locator("#admin-version")).to_contain_text("Version 2")
    await expect(grace.locator("[data-field=capacity]")).to_have_value("5")
    await page.click("#admin-close")
    await expect(page.locator("#conversation-list")).to_be_attached()
    await expect(page.locator("#admin-view")).to_be_hidden()
