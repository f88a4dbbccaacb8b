"""The console's reports and quality views in Chromium, over a seeded data set whose figures
the test computes from the plan (tests/reports/dataset.py): the metric cards and the
breakdown show them, the volume chart is drawn, a report's CSV and the conversations export
(with its progress) download and parse; a supervisor reviews the day's sampled chat against
the scorecard and its agent then reads that review, while the reports stay closed to them."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

import chatkit.storage.sql as sql_store
from chatkit import AgentRole
from chatkit.models import ConversationStatus, Handoff, HandoffReason, NewMessage, SenderKind
from chatkit.storage import SqlStore
from tests.browser.conftest import AGENT_EMAIL, AGENT_PASSWORD, Chat, sign_in
from tests.reports.dataset import (
    DAY,
    START,
    Clock,
    Dataset,
    Planned,
    expected_metrics,
    generate,
)

pytestmark = pytest.mark.browser

S = ConversationStatus
SUPERVISOR = "sam@example.com"
# A visitor's words with markup, and a newline: the export's transcript field spans lines.
VISITOR_TEXT = "<img src=x onerror=\"window.__pwned=1\">My parcel\nnever came"


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()


def _rate(part: Any, whole: Any) -> float | None:
    return part / whole if whole else None


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _duration(ms: float | None) -> str:
    """The console's formatDuration (reports.js)."""
    if ms is None:
        return "–"
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m {seconds % 60:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


async def _seed(chat: Chat, monkeypatch: pytest.MonkeyPatch,
                agent_id: str) -> tuple[Dataset, Planned]:
    """The generated conversations, then (two days on, alone on its day) one that the
    signed-in agent handled: the only chat in the next day's QA sample."""
    store = chat.kit.store
    assert isinstance(store, SqlStore)
    data = await generate(store, monkeypatch, count=30)
    clock = sql_store.now_ms  # type: ignore[attr-defined]  # the generator's, still in place
    assert isinstance(clock, Clock)
    clock.now += 2 * DAY
    contact = (await store.create_contact()).id
    created = await store.create_conversation(contact)
    plan = Planned(created.id, contact, "handled", clock.now)
    clock.now += 30_000
    assert await store.transition(plan.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
                                  actor_kind="visitor", actor_id=contact,
                                  handoff=Handoff(HandoffReason.MENU, "sales"),
                                  queue_team="sales") is not None
    plan.team = plan.topic = "sales"
    plan.handoff = clock.now
    clock.now += 95_000
    assert await store.transition(plan.id, S.ASSIGNED, allowed_from={S.QUEUED},
                                  agent_id=agent_id, actor_kind="agent",
                                  actor_id=agent_id) is not None
    plan.agent, plan.assigned = agent_id, clock.now
    clock.now += 10_000
    await store.append_messages([NewMessage(plan.id, SenderKind.VISITOR, VISITOR_TEXT,
                                            author_id=contact)])
    clock.now += 20_000
    await store.append_messages([NewMessage(plan.id, SenderKind.AGENT, "Sorry! Sending another.",
                                            author_id=agent_id, author_name="Grace")])
    plan.reply = clock.now
    clock.now += 60_000
    assert await store.transition(plan.id, S.RESOLVED, allowed_from={S.ASSIGNED},
                                  agent_id=agent_id, actor_kind="agent",
                                  actor_id=agent_id) is not None
    plan.resolved = clock.now
    data.conversations.append(plan)
    monkeypatch.undo()  # the app runs on real time again
    return data, plan


async def _card(page: Any, metric: str) -> tuple[str, str]:
    card = page.locator(f".report-card[data-metric={metric}]")
    return (await card.get_attribute("data-value") or "",
            await card.locator(".report-card-value").inner_text())


def _csv_rows(path: Any) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(io.StringIO(file.read())))


async def test_reports_and_a_qa_review_from_supervisor_to_agent(
        page: Any, browser: Any, chat: Chat, monkeypatch: pytest.MonkeyPatch,
        screenshot: Any) -> None:
    from playwright.async_api import expect

    from chatkit.routing import Routing, RoutingConfig

    kit = chat.kit
    # The data set's teams, where chats wait to be picked: the three it leaves queued are not
    # given to the agents who sign in below (their wait would change the figures).
    kit.routing.routing = Routing(RoutingConfig.model_validate({"teams": [
        {"id": "billing", "name": "Billing desk", "strategy": "manual"},
        {"id": "sales", "name": "Sales", "strategy": "manual"}]}))
    await kit.agents.create(email=SUPERVISOR, name="Sam", password=AGENT_PASSWORD,
                            role=AgentRole.SUPERVISOR)
    grace = await kit.store.get_agent_by_email(AGENT_EMAIL)
    assert grace is not None
    data, graces = await _seed(chat, monkeypatch, grace.id)
    first, last = _day(START), _day(graces.created)
    start = int(datetime.fromisoformat(f"{first}T00:00:00+00:00").timestamp() * 1000)
    end = int(datetime.fromisoformat(f"{last}T00:00:00+00:00").timestamp() * 1000) + DAY
    fcr_window = kit.reports.fcr_days * DAY
    chosen = [c for c in data.conversations if start <= c.created < end]
    assert len(chosen) == len(data.conversations) == 31

    # ---- the reports, as a supervisor ----
    await sign_in(page, chat, SUPERVISOR)
    await expect(page.locator("#conn")).to_have_text("Online")  # the directory names agents
    await page.click("#reports-open")
    await expect(page.locator("#reports-status")).to_contain_text("UTC")  # the last 7 days
    # What the server refuses is said, in its words.
    await page.fill("#reports-from", last)
    await page.fill("#reports-to", first)
    await page.click("#reports-apply")
    await expect(page.locator("#reports-status.error")).to_contain_text(
        "Could not load the reports: ")
    await expect(page.locator("#reports-status")).to_contain_text("`to` must be after `from`")
    await page.fill("#reports-from", first)
    await page.fill("#reports-to", last)
    await page.click("#reports-apply")
    await expect(page.locator("#reports-status")).to_contain_text(f"{first} 00:00 to")

    want = expected_metrics(data, start, end, key=lambda c: None, fcr_window=fcr_window)[None]
    inbound_resolved = sum(c.channel == "widget" and c.resolved is not None for c in chosen)
    rates = {
        "handoff": _rate(want["handed_off"], want["inbound"]),
        "containment": _rate(want["bot_resolved"], inbound_resolved),
        "abandonment": _rate(want["abandoned"], want["handed_off"]),
        "fcr": _rate(want["fcr_resolved"], want["fcr_eligible"]),
        "csat": _rate(want["csat_satisfied"], want["csat_ratings"]),
    }
    assert await _card(page, "conversations") == (str(len(chosen)), str(len(chosen)))
    for metric, rate in rates.items():
        value, shown = await _card(page, metric)
        assert shown == _percent(rate), metric
        assert (value == "" if rate is None else float(value) == pytest.approx(rate)), metric
    stats = {name: cast(tuple[float | None, int | None, int | None], want[name])
             for name in ("wait_ms", "wait_open_ms", "first_response_ms", "handle_ms",
                          "resolution_ms")}  # (mean, p50, p90)
    durations = {"wait_p50": stats["wait_ms"][1], "wait_p90": stats["wait_ms"][2],
                 "first_response": stats["first_response_ms"][1],
                 "handle": stats["handle_ms"][1], "resolution": stats["resolution_ms"][1]}
    for metric, ms in durations.items():
        assert await _card(page, metric) == (str(ms), _duration(ms)), metric
    # Business hours: billing's waits count its open half-hours only.
    await page.check("#reports-open-hours")
    assert (await _card(page, "wait_p90"))[0] == str(stats["wait_open_ms"][2])
    assert stats["wait_open_ms"] != stats["wait_ms"]
    await page.uncheck("#reports-open-hours")

    # The volume chart is drawn, and its CSV says what the plan says, day by day.
    box = await page.locator("#reports-chart canvas").first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    async with page.expect_download() as download_info:
        await page.click("#reports-csv-volume")
    download = await download_info.value
    assert download.suggested_filename == "volume.csv"
    volume = _csv_rows(await download.path())
    per_day = Counter(c.created - c.created % DAY for c in chosen)
    assert {int(row["start"]): int(row["conversations"]) for row in volume} == per_day

    # The breakdown by team.
    by_team = expected_metrics(data, start, end, key=lambda c: c.team, fcr_window=fcr_window)
    rows = page.locator("#reports-breakdown tbody tr")
    await expect(rows).to_have_count(len(by_team))
    for team, row in by_team.items():
        line = page.locator(f"#reports-breakdown tr[data-key='{team or ''}']")
        await expect(line.locator(".bar-value")).to_have_text(str(row["conversations"]))
    await expect(page.locator("#reports-breakdown tr[data-key=billing] th")).to_have_text(
        "Billing desk")  # named as the routing names it
    # A team filter narrows every figure.
    await page.select_option("#reports-team", "billing")
    await page.click("#reports-apply")
    await expect(page.locator(".report-card[data-metric=conversations] .report-card-value")
                 ).to_have_text(str(by_team["billing"]["conversations"]))
    await screenshot(page, "reports")
    await page.select_option("#reports-team", "")
    await page.click("#reports-apply")
    await expect(page.locator(".report-card[data-metric=conversations] .report-card-value")
                 ).to_have_text(str(len(chosen)))
    # So does a channel filter: the conversations agents began.
    await page.select_option("#reports-channel", "outbound")
    await page.click("#reports-apply")
    outbound = sum(c.channel == "outbound" for c in chosen)
    assert outbound > 0
    await expect(page.locator(".report-card[data-metric=conversations] .report-card-value")
                 ).to_have_text(str(outbound))
    await page.select_option("#reports-channel", "")
    await page.click("#reports-apply")
    await expect(page.locator(".report-card[data-metric=conversations] .report-card-value")
                 ).to_have_text(str(len(chosen)))

    # An export held up on its way can be cancelled.
    held: list[Any] = []
    await page.route("**/api/reports/conversations.csv*", lambda route: held.append(route))
    await page.click("#reports-export")
    await expect(page.locator("#reports-export-cancel")).to_be_visible()
    await expect(page.locator("#reports-export")).to_be_disabled()
    await page.click("#reports-export-cancel")
    await expect(page.locator("#reports-export-status")).to_have_text("Export cancelled.")
    await expect(page.locator("#reports-export-cancel")).to_be_hidden()
    assert len(held) == 1
    await page.unroute("**/api/reports/conversations.csv*")
    # The conversations with transcripts: the progress bar runs to the end, the file has
    # every conversation once (a transcript's newlines are inside its quoted field).
    async with page.expect_download() as download_info:
        await page.click("#reports-export")
    download = await download_info.value
    await expect(page.locator("#reports-export-status")).to_contain_text(
        f"Exported {len(chosen)} conversations")
    progress = page.locator("#reports-export-progress")
    assert await progress.evaluate("p => [p.value, p.max]") == [len(chosen), len(chosen)]
    exported = _csv_rows(await download.path())
    assert sorted(row["conversation_id"] for row in exported) == sorted(c.id for c in chosen)
    transcript = next(r["transcript"] for r in exported if r["conversation_id"] == graces.id)
    assert "My parcel\nnever came" in transcript and transcript.count("\n") >= 2
    await screenshot(page, "export")

    # ---- QA: the supervisor reviews the day's sample ----
    await page.click("#qa-open")
    await expect(page.locator("#reports-view")).to_be_hidden()
    assert graces.resolved is not None
    sample_day = (datetime.fromtimestamp(graces.resolved / 1000, UTC) + timedelta(days=1)).date()
    await page.fill("#qa-sample-date", sample_day.isoformat())
    await page.click("#qa-sample-form button[type=submit]")
    sampled = page.locator("#qa-sample li")
    await expect(sampled).to_have_count(1)
    await expect(sampled).to_have_attribute("data-id", graces.id)
    await sampled.locator("button").click()
    visitor_line = page.locator("#qa-transcript .from-visitor .body")
    await expect(visitor_line).to_have_text(VISITOR_TEXT)  # as text: the markup is inert
    criteria = kit.qa.scorecard.criteria
    scores = {c.id: c.points for c in criteria}
    scores["tone"] = 1
    for c in criteria:
        await page.select_option(f"#qa-criteria select[data-criterion={c.id}]", str(scores[c.id]))
    await page.fill("#qa-criteria input[data-comment=tone]", "<b>curt</b> at the end")
    await page.fill("#qa-comment", "Good fix, warmer words next time.")
    total = sum(c.weight * scores[c.id] / c.points for c in criteria) / sum(
        c.weight for c in criteria) * 100
    await expect(page.locator("#qa-total")).to_have_text(f"Weighted total: {total:.1f}%")
    await page.click("#qa-save")
    await expect(page.locator("#qa-saved")).to_have_text(f"Saved: {total:.1f}% for Grace.")
    await expect(page.locator(f"#qa-reviews tr[data-conversation='{graces.id}']")).to_be_visible()
    await screenshot(page, "qa-review")
    stored = await kit.store.list_reviews(agent_id=grace.id)
    assert len(stored) == 1 and stored[0].comment == "Good fix, warmer words next time."
    assert await page.evaluate("window.__pwned") is None

    # ---- the agent reads the review, and has no reports ----
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        mine = await context.new_page()
        errors: list[str] = []
        mine.on("pageerror", lambda error: errors.append(str(error)))
        await sign_in(mine, chat, AGENT_EMAIL)
        await expect(mine.locator("#reports-open")).to_be_hidden()
        refused = await mine.request.get(f"{chat.mount}/api/reports/metrics")
        assert refused.status == 403
        await mine.click("#qa-open")
        await expect(mine.locator("#qa-sample-section")).to_be_hidden()
        reviewed = mine.locator("#qa-reviews tr")
        await expect(reviewed).to_have_count(1)
        await expect(reviewed.locator(".qa-total-cell")).to_have_text(f"{total:.1f}%")
        await expect(reviewed.get_by_role("button", name="Edit")).to_have_count(0)
        await reviewed.get_by_role("button", name="Details").click()
        await expect(mine.locator("#qa-detail tr[data-criterion=tone] td").last).to_have_text(
            "<b>curt</b> at the end")
        await expect(mine.locator("#qa-detail")).to_contain_text("reviewed by Sam")
        await screenshot(mine, "agent-reviews")
        assert not errors, errors
    finally:
        await context.close()
