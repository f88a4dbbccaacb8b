"""The help centre in Chromium: suggestions as you type, picked with the keyboard, then a vote;
and the plain search form when JavaScript is off."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit import ChatKit, Settings
from chatkit.models import ArticleVotes
from tests.browser.conftest import PREFIX, Chat

pytestmark = pytest.mark.browser

KB = """
entries:
  - id: gift-card-buy
    question: How do I buy a gift card?
    category: Gift cards
    answer: |
      Gift cards are sold in **any amount** from 10 euros, in the shop or online.

      <script>window.__xss = 1</script> [Not a link](javascript:window.__xss=2)
  - id: gift-card-balance
    question: How do I check my gift card balance?
    category: Gift cards
    answer: |
      Your gift card's balance is shown in *My account*, under **Gift cards**.

      <script>window.__xss = 1</script> [Not a link](javascript:window.__xss=2)
  - id: gift-card-use
    question: How do I use a gift card?
    category: Gift cards
    answer: |
      Enter the gift card's code at **checkout**.

      <script>window.__xss = 1</script> [Not a link](javascript:window.__xss=2)
  - id: returns
    question: How do I return an item?
    category: Returns
    answer: You can return any item within 30 days.
"""

@pytest.fixture
async def chat(aiohttp_server: Callable[..., Awaitable[TestServer]],
               tmp_path: Path) -> Chat:
    """chatkit with a knowledge base of its own (overrides conftest's `chat`, which the
    `browser` fixture waits for)."""
    kb = tmp_path / "kb.yaml"
    kb.write_text(KB, encoding="utf-8")
    kit = ChatKit(Settings(database_url=f"sqlite:///{tmp_path}/t.db", secret_key="x" * 32,
                           prefix=PREFIX, kb_path=kb, bot_enabled=False))
    server = await aiohttp_server(kit.create_app(), host="127.0.0.1")
    return Chat(server, kit)


def track_console_errors(page: Any) -> list[str]:
    """Console errors, such as a Content-Security-Policy violation (not page errors); but
    not the browser's own request for /favicon.ico, which the test server does not have."""
    errors: list[str] = []

    def seen(message: Any) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not where.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({where})")

    page.on("console", seen)
    return errors


async def test_search_pick_a_suggestion_with_the_keyboard_and_vote(
        page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    console_errors = track_console_errors(page)
    await page.goto(f"{chat.mount}/help/")
    await expect(page.locator("h1")).to_have_text("Help centre")
    box = page.get_by_role("combobox", name="Search the help centre")
    await expect(box).to_have_attribute("aria-expanded", "false")

    await box.press_sequentially("gift card", delay=40)
    listbox = page.get_by_role("listbox", name="Suggested articles")
    await expect(listbox).to_be_visible()
    await expect(box).to_have_attribute("aria-expanded", "true")
    options = listbox.get_by_role("option")
    await expect(options.nth(1)).to_be_visible()  # the matcher ranks them; two at least
    count = await options.count()
    questions = [re.sub(r"Gift cards$", "", text).strip()
                 for text in await options.all_inner_texts()]
    assert all(question.startswith("How do I") and "gift card" in question
               for question in questions), questions
    await expect(page.get_by_role("status").first).to_contain_text(f"Suggestions: {count}")
    await screenshot(page, "suggestions")

    # Arrows move the highlight (the focus stays in the box), wrapping at the ends.
    await box.press("ArrowUp")  # from the top: the last one
    await expect(options.nth(count - 1)).to_have_attribute("aria-selected", "true")
    await box.press("ArrowDown")  # and round to the first
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await expect(options.nth(count - 1)).to_have_attribute("aria-selected", "false")
    await box.press("ArrowDown")
    chosen = options.nth(1)
    await expect(chosen).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant",
                                        await chosen.get_attribute("id"))
    await expect(box).to_be_focused()
    # Escape closes the list; ArrowDown opens it again.
    await box.press("Escape")
    await expect(listbox).to_be_hidden()
    await expect(box).to_have_attribute("aria-expanded", "false")
    await box.press("ArrowDown")
    await box.press("ArrowDown")
    await expect(chosen).to_have_attribute("aria-selected", "true")

    await box.press("Enter")
    await expect(page).to_have_url(
        re.compile(re.escape(chat.mount) + r"/help/articles/gift-card-[a-z]+\?locale=en$"))
    entry_id = page.url.rsplit("/", 1)[1].split("?")[0]
    await expect(page).to_have_title(f"{questions[1]} · Help centre")
    await expect(page.locator("h1")).to_have_text(questions[1])
    await expect(page.locator(".hc-answer strong").first).to_be_visible()
    # The answer's markup stayed text, and nothing in it ran.
    await expect(page.locator(".hc-answer")).to_contain_text("<script>window.__xss = 1</script>")
    assert await page.locator(".hc-answer a").count() == 0
    assert await page.evaluate("window.__xss") is None

    # The vote, by keyboard too.
    vote = page.get_by_role("region", name="Was this article helpful?")
    await expect(vote).to_be_visible()  # the script shows it
    await vote.get_by_role("button", name="Yes").focus()
    await page.keyboard.press("Enter")
    status = vote.get_by_role("status")
    await expect(status).to_have_text(
        "Thank you for your feedback. Helpful: 1 · Not helpful: 0")
    await expect(status).to_be_focused()
    await expect(vote.get_by_role("button", name="Yes")).to_be_hidden()
    assert await chat.kit.store.article_votes(entry_id, "en") == ArticleVotes(1, 0)
    await screenshot(page, "voted")

    # The same browser after a reload: its cookie says it voted already.
    await page.reload()
    await page.get_by_role("button", name="No").click()
    await expect(status).to_have_text(
        "You have already voted on this article. Helpful: 1 · Not helpful: 0")
    assert await chat.kit.store.article_votes(entry_id, "en") == ArticleVotes(1, 0)

    # Readable on a phone: nothing wider than the screen.
    await page.set_viewport_size({"width": 375, "height": 740})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await screenshot(page, "mobile")
    assert console_errors == []


async def test_without_javascript_the_form_shows_results(
        browser: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        page.set_default_timeout(10_000)
        await page.goto(f"{chat.mount}/help/")
        box = page.get_by_label("Search the help centre")
        await box.fill("return an item")
        await box.press("Enter")
        await expect(page.locator("h1")).to_have_text("Results for “return an item”")
        await page.get_by_role("link", name="How do I return an item?").click()
        await expect(page.locator("h1")).to_have_text("How do I return an item?")
        # The vote needs the script: without it, it is not offered.
        await expect(page.locator(".hc-vote")).to_be_hidden()
        await screenshot(page, "no-script")
    finally:
        await context.close()
