"""Attachments end to end: the visitor attaches a picture and a PDF in the widget, the agent
gets them and sends a picture back; the console shows files and attaches one too."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from tests.attachments import samples
from tests.browser.agent import Agent
from tests.browser.conftest import AGENT_EMAIL, AGENT_NAME, AGENT_PASSWORD, Chat, inbox_view

pytestmark = pytest.mark.browser

PICTURE = samples.png(40, 30, (30, 140, 60))
REPLY_PICTURE = samples.png(64, 48, (200, 60, 20))



async def loaded_width(img: Any) -> int:
    """The picture's natural width once it has loaded (0: it did not load in 5 s)."""
    for _ in range(50):
        width: int = await img.evaluate("img => img.complete ? img.naturalWidth : 0")
        if width:
            return width
        await asyncio.sleep(0.1)
    return 0


def file(name: str, mime: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": mime, "buffer": data}


async def fetch(chat: Chat, url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(chat.origin + url,
                                                         headers=headers) as response:
        return response.status, await response.read()


async def test_visitor_and_agent_send_files_both_ways(
        page: Any, host_page: str, chat: Chat, agent: Agent, screenshot: Any) -> None:
    from playwright.async_api import expect

    # Listening from the start: the browser intercepts the file picker well before it opens.
    choosers: asyncio.Queue[Any] = asyncio.Queue()
    page.on("filechooser", choosers.put_nowait)
    await page.goto(host_page)
    await page.evaluate("ChatKit('open')")
    frame = page.frame_locator("chatkit-widget iframe")
    attach = frame.locator("#ck-attach")
    await expect(attach).to_have_attribute("aria-label", "Attach a picture or PDF")

    # From the keyboard: the paperclip is a button; Enter opens the file picker. (The panel
    # focuses the composer as it opens: Shift+Tab goes back to the paperclip.)
    await expect(frame.locator("#ck-input")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(attach).to_be_focused()
    await page.keyboard.press("Enter")
    chooser = await asyncio.wait_for(choosers.get(), 10)
    await chooser.set_files([
        file("garden.png", "image/png", PICTURE),
        file("receipt.pdf", "application/pdf", samples.PDF)])
    mine = frame.locator("li.ck-msg--visitor").first
    await expect(mine).to_have_attribute("data-state", "sent")
    thumb = mine.locator("a.ck-thumb img")
    await expect(thumb).to_have_attribute("alt", "garden.png")
    assert await loaded_width(thumb) == 40
    chip = mine.locator("a.ck-chip")
    await expect(chip.locator(".ck-chip-name")).to_have_text("receipt.pdf")
    await expect(chip.locator(".ck-chip-size")).to_have_text(f"{len(samples.PDF)}B")
    await expect(mine.locator(".ck-body")).to_have_count(0)  # files alone: no empty bubble

    # The widget's own check: a program is refused before any upload, with the reason.
    await frame.locator("#ck-file").set_input_files([
        file("setup.exe", "application/x-msdownload", samples.EXE)])
    await expect(frame.locator("li.ck-msg--system").last).to_have_text(
        "setup.exe can't be sent: only pictures (PNG, JPEG, GIF, WebP) and PDF files.")
    # A program renamed as a picture passes the browser's guess; the server reads its bytes.
    await frame.locator("#ck-file").set_input_files([
        file("cat.png", "image/png", samples.EXE)])
    refused = frame.locator("li.ck-msg--visitor[data-state=failed]")
    await expect(refused.locator(".ck-state")).to_have_text(
        "cat.png can't be sent: only pictures (PNG, JPEG, GIF, WebP) and PDF files.")

    # The agent takes the conversation and sees both files, which its links fetch.
    listed = await agent.ok("conversations", {"status": ["bot", "queued", "assigned"]})
    (conversation,) = listed["conversations"]
    joined = await agent.ok("join", {"conversation_id": conversation["id"]})
    (sent,) = [m for m in joined["messages"] if m["sender"] == "visitor"]
    files = sent["meta"]["attachments"]
    assert [(f["name"], f["content_type"]) for f in files] == [
        ("garden.png", "image/png"), ("receipt.pdf", "application/pdf")]
    assert await fetch(chat, files[0]["url"]) == (200, PICTURE)
    assert await fetch(chat, files[1]["url"]) == (200, samples.PDF)

    # The agent sends a picture back: the widget shows it, full size a click away.
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("file", REPLY_PICTURE, filename="where-to-click.png",
                   content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(
            f"{chat.mount}/api/attachments", data=form,
            headers={"Authorization": f"Bearer {agent.token}"}) as response:
        assert response.status == 201, await response.text()
        uploaded = await response.json()
    await agent.ok("message", {
        "conversation_id": conversation["id"], "client_id": "a-files-1",
        "body": "Here is where to click", "attachment_ids": [uploaded["id"]]})
    theirs = frame.locator("li.ck-msg--agent").last
    await expect(theirs.locator(".ck-author")).to_have_text(AGENT_NAME)
    await expect(theirs.locator(".ck-body")).to_have_text("Here is where to click")
    reply_thumb = theirs.locator("a.ck-thumb img")
    assert await loaded_width(reply_thumb) == 64
    await expect(frame.locator("#ck-live")).to_contain_text("where-to-click.png")
    await screenshot(page, "files")

    async with page.context.expect_page() as opened:
        await theirs.locator("a.ck-thumb").click()
    full = await opened.value
    await full.wait_for_load_state()
    assert "/api/attachments/" in full.url and "token=" in full.url
    await full.close()

    # A link that expired while the chat stayed open is made fresh when clicked.
    expired = chat.kit.attachments._require_signer().sign(
        "attachment", uploaded["id"], expires=int(time.time()) - 5)
    link = theirs.locator("a.ck-thumb")
    await link.evaluate("(a, token) => { a.href = a.href.replace(/token=[^&]+/, "
                        "`token=${token}`); }", expired)
    href = await link.get_attribute("href")
    assert (await fetch(chat, href.removeprefix(chat.origin)))[0] == 403
    async with page.context.expect_page() as opened:
        await link.click()
    full = await opened.value
    await full.wait_for_load_state()
    assert expired not in full.url
    assert await fetch(chat, full.url.removeprefix(chat.origin)) == (200, REPLY_PICTURE)
    await full.close()

    # After a reload the files come back from history, with fresh links.
    await page.reload()
    await page.evaluate("ChatKit('open')")
    again = frame.locator("li.ck-msg--agent a.ck-thumb img")
    assert await loaded_width(again) == 64
    await expect(frame.locator("li.ck-msg--visitor a.ck-thumb img")).to_have_count(1)


async def test_the_console_shows_files_and_attaches_one(
        page: Any, chat: Chat, screenshot: Any) -> None:
    from playwright.async_api import expect

    from tests.clients import Visitor

    visitor = Visitor(chat.server)
    token = (await visitor.start())["token"]
    ids = []
    for name, data in (("broken-mug.png", PICTURE), ("order.pdf", samples.PDF)):
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
        async with aiohttp.ClientSession() as http, http.post(
                f"{chat.mount}/api/attachments", data=form,
                headers={"Authorization": f"Bearer {token}"}) as response:
            ids.append((await response.json())["id"])
    await visitor.ok("message", {"client_id": "v-files", "body": "It arrived broken",
                                 "attachment_ids": ids})

    await page.goto(f"{chat.mount}/console/")
    await page.fill("#login-email", AGENT_EMAIL)
    await page.fill("#login-password", AGENT_PASSWORD)
    await page.click("button[type=submit]")
    await inbox_view(page, "All open")
    await page.locator("#conversation-list button").first.click()
    theirs = page.locator("#thread-messages .from-visitor").last
    await expect(theirs.locator(".body")).to_have_text("It arrived broken")
    assert await loaded_width(theirs.locator("a.thumb img")) == 40
    await expect(theirs.locator("a.chip .chip-name")).to_have_text("order.pdf")

    await page.locator("#attach-file").set_input_files([
        file("replacement.png", "image/png", REPLY_PICTURE)])
    heard = await visitor.next("message")
    while heard["sender"] != "agent":
        heard = await visitor.next("message")
    (carried,) = heard["meta"]["attachments"]
    assert (carried["name"], carried["size"], heard["body"]) == (
        "replacement.png", len(REPLY_PICTURE), "")
    assert await fetch(chat, carried["url"]) == (200, REPLY_PICTURE)
    mine = page.locator("#thread-messages .from-agent").last
    await expect(mine).not_to_have_class("sending")
    assert await loaded_width(mine.locator("a.thumb img")) == 64
    await screenshot(page, "console")
    await visitor.close()
