"""The satisfaction survey (CSAT) in the widget, in Chromium: an agent resolves, the visitor
rates 4 stars with a comment by keyboard and is thanked; a reload asks again until answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser.agent import Agent
from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat, inbox_view

pytestmark = pytest.mark.browser

# Each text of the survey against its background, as test_widget.py's contrast test does.
CONTRAST = """(root) => {
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
  for (const el of [root, ...root.querySelectorAll('*')]) {
    if (!el.offsetParent) continue;
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    found.push([el.className || el.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
  return found;
}"""


async def test_the_visitor_rates_the_conversation_an_agent_resolved(
        page: Any, host_page: str, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    agent = Agent(chat)
    told: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.sio.on("csat", told.put_nowait, namespace="/agent")
    await agent.login(AGENT_EMAIL, AGENT_PASSWORD)
    try:
        await page.goto(host_page)
        await page.evaluate("ChatKit('open')")
        frame = page.frame_locator("chatkit-widget iframe")
        await frame.locator("#ck-input").fill("My invoice is wrong")
        await frame.locator("#ck-input").press("Enter")
        await expect(frame.locator("li.ck-msg--visitor").first).to_have_attribute(
            "data-state", "sent")
        listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
        conversation_id = listed["conversations"][0]["id"]
        await agent.ok("join", {"conversation_id": conversation_id})
        await agent.say(conversation_id, "Fixed, sorry about that.")
        survey = frame.locator("#ck-csat")
        await expect(survey).to_be_hidden()
        await agent.ok("resolve", {"conversation_id": conversation_id})

        await expect(survey).to_be_visible()
        await expect(frame.locator("#ck-csat-question")).to_have_text(
            f"How would you rate your conversation with {AGENT_NAME}?")
        stars = frame.locator(".ck-star")
        await expect(stars).to_have_count(5)
        await expect(stars.nth(0)).to_have_attribute("aria-label", "1 of 5 stars: Very bad")

        # Not answered: a reload asks again (once the panel opens and the widget connects).
        await page.reload()
        await page.evaluate("ChatKit('open')")
        await expect(survey).to_be_visible()
        await screenshot(page, "asked")

        # Keyboard only: Tab to the fourth star, Enter, then the comment and Send.
        four = frame.locator('.ck-star[aria-label="4 of 5 stars: Good"]')
        await frame.locator(".ck-star").first.focus()
        for _ in range(3):
            await page.keyboard.press("Tab")
        await expect(four).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(four).to_have_attribute("aria-pressed", "true")
        await expect(frame.locator(".ck-star[data-on]")).to_have_count(4)
        comment = frame.locator("#ck-csat-comment")
        await expect(comment).to_be_visible()
        await comment.fill("Quick and kind <b>thanks</b>")
        await screenshot(page, "chosen")
        low = [(name, ratio) for name, ratio in await survey.evaluate(CONTRAST) if ratio < 4.5]
        assert low == []
        await frame.locator("#ck-csat-more button[type=submit]").click()

        thanks = frame.locator("#ck-csat-thanks")
        await expect(thanks).to_have_text("Thanks for your feedback!")
        await expect(survey).to_be_hidden()
        await screenshot(page, "thanked")

        rated = await asyncio.wait_for(told.get(), 5)
        assert (rated["conversation_id"], rated["rating"], rated["comment"]) == (
            conversation_id, 4, "Quick and kind <b>thanks</b>")
        stored = await chat.kit.store.get_csat(conversation_id)
        assert stored is not None and (stored.rating, stored.comment) == (
            4, "Quick and kind <b>thanks</b>")
        assert [e.data["rating"] for e in await chat.kit.store.list_events(
            conversation_id=conversation_id) if e.kind == "csat.rated"] == [4]

        # Answered: a reload does not ask again.
        await page.reload()
        await page.evaluate("ChatKit('open')")
        await expect(frame.locator("#ck-input")).to_be_visible()
        await page.wait_for_timeout(500)
        await expect(survey).to_be_hidden()
    finally:
        await agent.close()


async def test_the_console_shows_the_visitors_rating(
        page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    visitor = Visitor(chat.server)
    try:
        await visitor.start()
        conversation_id = (await visitor.say("Hello", "c-1"))["conversation_id"]
        await page.goto(f"{chat.mount}/console/")
        await page.fill("#login-email", AGENT_EMAIL)
        await page.fill("#login-password", AGENT_PASSWORD)
        await page.click("button[type=submit]")
        await inbox_view(page, "All open")
        await page.locator("#conversation-list button").first.click()
        await expect(page.locator("#thread-messages .from-visitor .body").first).to_have_text(
            "Hello")
        await page.fill("#reply-input", "Done!")
        await page.press("#reply-input", "Enter")
        await page.click("#resolve")
        await expect(page.locator("#thread-status")).to_contain_text("resolved")
        rating = page.locator("#thread-csat")
        await expect(rating).to_be_hidden()

        await visitor.ok("rate", {"conversation_id": conversation_id, "rating": 4,
                                  "comment": "Nice <b>work</b>"})
        await expect(rating).to_have_text("Visitor's rating: 4/5 ★★★★☆ · “Nice <b>work</b>”")
        assert await page.locator("#thread-csat b").count() == 0
        await screenshot(page, "console-rating")
    finally:
        await visitor.close()
