"""The bot in the real widget: the greeting's menu before any conversation, quick replies,
an answer with its article card and "Did this help?", and the way to a person."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.agent import Agent
from tests.browser.conftest import Chat

pytestmark = pytest.mark.browser



async def test_menu_answer_and_quick_replies(page: Any, host_page: str, chat: Chat,
                                             agent: Agent, on_duty: None,
                                             screenshot: Any) -> None:
    from playwright.async_api import expect

    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame = page.frame_locator("chatkit-widget iframe")

    # The greeting and its menu, before any conversation exists.
    greeting = frame.locator("li.ck-msg--bot").first
    await expect(greeting.locator(".ck-body")).to_have_text(
        "Hi! I'm the virtual assistant. What can I help you with?")
    menu = greeting.locator("button.ck-choice")
    await expect(menu).to_have_text(["Billing", "Technical support", "Sales", "Ask a question"])
    await expect(frame.locator("#ck-welcome")).to_be_hidden()
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    assert listed["conversations"] == []
    await screenshot(page, "menu")

    # Picked with the keyboard: the choice is the visitor's message, the bot asks for the
    # question, and the menu is done with.
    await menu.nth(3).focus()
    await page.keyboard.press("Enter")
    mine = frame.locator("li.ck-msg--visitor").first
    await expect(mine.locator(".ck-body")).to_have_text("Ask a question")
    await expect(mine).to_have_attribute("data-state", "sent")
    prompt = frame.locator("li.ck-msg--bot").nth(1)
    await expect(prompt.locator(".ck-body")).to_have_text(re.compile("What's your question"))
    menu = frame.locator("li.ck-msg--bot").first.locator("button.ck-choice")
    for n in range(4):
        await expect(menu.nth(n)).to_be_disabled()
    await expect(menu.nth(3)).to_have_class(re.compile("ck-choice--chosen"))
    await expect(frame.locator("#ck-input")).to_be_focused()

    # A question: the answer with its article card, then "Did this help?".
    await frame.locator("#ck-input").fill("How long does shipping take?")
    await frame.locator("#ck-input").press("Enter")
    answer = frame.locator("li.ck-msg--bot").nth(2)
    await expect(answer.locator(".ck-body")).to_contain_text("business days")
    card = answer.locator("a.ck-card")
    await expect(card.locator(".ck-card-title")).to_have_text("How long does shipping take?")
    assert await card.get_attribute("href") == f"{chat.mount}/help/articles/shipping-time"
    assert await card.get_attribute("target") == "_blank"
    feedback = frame.locator("li.ck-msg--bot").nth(3)
    await expect(feedback.locator(".ck-body")).to_have_text("Did this help?")
    yes_no = feedback.locator("button.ck-choice")
    await expect(yes_no).to_have_text(["Yes", "No"])
    await expect(yes_no.nth(1)).to_be_enabled()
    await screenshot(page, "answer")

    # "No": the bot offers a person; clicking it hands the conversation over.
    await yes_no.nth(1).click()
    await expect(frame.locator("li.ck-msg--visitor").nth(2).locator(".ck-body")).to_have_text("No")
    await expect(yes_no.nth(0)).to_be_disabled()
    fallback = frame.locator("li.ck-msg--bot").nth(4)
    person = fallback.locator("button.ck-choice")
    await expect(person).to_have_text("Talk to a person")
    await person.click()
    await expect(frame.locator("#ck-status")).to_have_text(
        re.compile("Waiting for a person|You're number 1 in line"))
    await expect(frame.locator("li.ck-msg--bot").nth(5).locator(".ck-body")).to_have_text(
        re.compile("Connecting you with a person"))
    await expect(frame.locator("#ck-handoff")).to_be_hidden()
    await screenshot(page, "handoff")

    # The agent sees the whole transcript, and why it was handed over.
    listed = await agent.ok("conversations", {"status": ["queued"]})
    (conversation,) = listed["conversations"]
    assert conversation["handoff_reason"] == "visitor_asked"
    joined = await agent.ok("join", {"conversation_id": conversation["id"]})
    assert [(m["sender"], m["body"]) for m in joined["messages"]][:4] == [
        ("bot", "Hi! I'm the virtual assistant. What can I help you with?"),
        ("visitor", "Ask a question"),
        ("bot", "Sure. What's your question? Type it below."),
        ("visitor", "How long does shipping take?")]
    assert [m["sender"] for m in joined["messages"]][4:] == [
        "bot", "bot", "visitor", "bot", "visitor", "bot"]


async def test_the_greeting_speaks_the_visitors_language(page: Any, host_page: str,
                                                        on_duty: None) -> None:
    from playwright.async_api import expect

    await page.add_init_script("window.ChatKitSettings = {locale: 'es'}")
    await page.goto(host_page)
    await page.locator("chatkit-widget button.launcher").click()
    frame = page.frame_locator("chatkit-widget iframe")
    greeting = frame.locator("li.ck-msg--bot").first
    await expect(greeting.locator(".ck-body")).to_have_text(
        "¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?")
    await expect(greeting.locator("button.ck-choice").first).to_have_text("Facturación")
    await greeting.locator("button.ck-choice").first.click()
    await expect(frame.locator("li.ck-msg--visitor .ck-body")).to_have_text("Facturación")
    await expect(frame.locator("li.ck-msg--bot").nth(1).locator(".ck-body")).to_have_text(
        re.compile("equipo de Facturación"))
    # Waiting, in Spanish: "Esperando…" until the place in line arrives, then the line.
    await expect(frame.locator("#ck-status")).to_have_text(
        re.compile("Esperando|Eres el número 1 en la fila"))
