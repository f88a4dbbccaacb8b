"""The storage contract for reports: the conversation facts the store projects from its event
log, the metrics over them (each checked against the generated plan, computed in plain
Python), the export's pages, and QA reviews."""

from __future__ import annotations

import asyncio
import random

import pytest

from chatkit.errors import Conflict, NotFound
from chatkit.storage import SqlStore
from chatkit.storage.reports import DURATIONS, Group, Selection
from chatkit.storage.rollups import month_of, next_year, year_of
from tests.reports.dataset import DAY, HOUR, START, billing_open, expected_metrics, generate

WINDOW = 3 * DAY


def _actual(rows: list, group: Group) -> dict:  # type: ignore[type-arg]
    found = {}
    for m in rows:
        row = {name: getattr(m, name) for name in (
            "conversations", "inbound", "handed_off", "resolved", "bot_resolved", "abandoned",
            "fcr_eligible", "fcr_resolved", "csat_ratings", "csat_satisfied", "csat_total")}
        for name in DURATIONS:
            mean = m.means[name]
            row[name] = (None if mean is None else pytest.approx(mean),
                         m.percentiles[name][50], m.percentiles[name][90])
        found[m.key] = row
    return found


def _expected(rows: dict) -> dict:  # type: ignore[type-arg]
    for row in rows.values():
        for name in DURATIONS:
            mean, p50, p90 = row[name]
            row[name] = (None if mean is None else pytest.approx(mean), p50, p90)
    return rows


async def test_metrics_agree_with_the_plan(store: SqlStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = await generate(store, monkeypatch, count=70)
    end = max(c.created for c in data.conversations) + 1
    whole = Selection(START, end)
    groups = {Group.NONE: lambda c: None, Group.TEAM: lambda c: c.team,
              Group.AGENT: lambda c: c.agent, Group.CHANNEL: lambda c: c.channel}
    for group, key in groups.items():
        actual = _actual(await store.report_metrics(whole, group=group,
                                                    fcr_window_ms=WINDOW), group)
        expected = _expected(expected_metrics(data, START, end, key=key, fcr_window=WINDOW))
        assert actual.keys() == expected.keys()
        for g in expected:  # one field at a time: a failure names it
            assert {k: (k, v) for k, v in actual[g].items()} == {
                k: (k, v) for k, v in expected[g].items()}, (group, g)
    # A narrower range, one team, one agent, one channel; and another FCR window.
    middle = START + (end - START) // 3
    assert {c.channel for c in data.conversations} == {"widget", "outbound"}
    for team, agent, channel in (("billing", None, None), (None, data.agents[0], None),
                                 ("sales", data.agents[1], None), (None, None, "outbound"),
                                 ("billing", None, "widget")):
        actual = await store.report_metrics(
            Selection(middle, end, team=team, agent_id=agent, channel=channel),
            group=Group.NONE, fcr_window_ms=HOUR)
        assert _actual(actual, Group.NONE) == _expected(expected_metrics(
            data, middle, end, key=lambda c: None, fcr_window=HOUR, team=team, agent=agent,
            channel=channel))
    some = _actual(await store.report_metrics(whole, group=Group.NONE,
                                              fcr_window_ms=WINDOW), Group.NONE)[None]
    assert 0 < some["fcr_resolved"] < some["fcr_eligible"]  # the window matters in this data
    assert some["wait_open_ms"][0] != some["wait_ms"][0]  # and so do business hours


async def test_volume_per_hour_and_day(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = await generate(store, monkeypatch, count=30)
    end = max(c.created for c in data.conversations) + 1
    for bucket in (HOUR, DAY):
        expected: dict[int, list[int]] = {}
        for c in data.conversations:
            row = expected.setdefault(c.created - c.created % bucket, [0, 0, 0, 0])
            row[0] += 1
            row[1] += c.handoff is not None
            row[2] += c.kind == "bot"
            row[3] += c.kind == "abandoned"
        found = await store.report_volume(Selection(START, end), bucket_ms=bucket)
        assert {v.start: [v.conversations, v.handed_off, v.bot_resolved, v.abandoned]
                for v in found} == expected
        assert [v.start for v in found] == sorted(expected)


async def test_the_projection_equals_a_rebuild_from_the_log(
        store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    await generate(store, monkeypatch, count=40)
    projected = await store.all_facts()
    assert len(projected) == 40
    assert await store.rebuild_facts(billing_open) == 40
    assert await store.all_facts() == projected


async def test_export_pages_and_transcripts(store: SqlStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = await generate(store, monkeypatch, count=25)
    selection = Selection(START, START + 100 * DAY)
    assert await store.count_facts(selection) == 25
    seen: list[str] = []
    after = None
    while page := await store.facts_page(selection, after=after, limit=7):
        seen.extend(f.conversation_id for f in page)
        after = (page[-1].created_at, page[-1].conversation_id)
    assert seen == [c.id for c in sorted(data.conversations, key=lambda c: (c.created, c.id))]
    handled = next(c for c in data.conversations if c.kind == "handled")
    transcripts = await store.transcripts([handled.id])
    assert [m.body for m in transcripts[handled.id]] == ["=1+1 hi", "thanks"]  # no notes


async def test_qa_reviews_are_stored_per_reviewer(store: SqlStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = await generate(store, monkeypatch, count=20)
    handled = next(c for c in data.conversations if c.kind == "handled")
    bot = next(c for c in data.conversations if c.kind == "bot")
    reviewer = data.agents[2]
    scores = [{"criterion": "tone", "score": 4, "points": 5, "weight": 1, "comment": None}]
    first = await store.save_review(handled.id, reviewer_id=reviewer, scores=scores,
                                    total=8000, comment="good", now=START)
    assert (first.agent_id, first.team, first.total) == (handled.agent, handled.team, 8000)
    again = await store.save_review(handled.id, reviewer_id=reviewer, scores=scores,
                                    total=6000, comment=None, now=START + 1)
    assert (again.id, again.total, again.created_at, again.updated_at) == (
        first.id, 6000, START, START + 1)
    assert await store.get_review(first.id) == again
    assert await store.list_reviews(agent_id=handled.agent) == [again]
    assert await store.list_reviews(agent_id="nobody") == []
    with pytest.raises(Conflict):
        await store.save_review(bot.id, reviewer_id=reviewer, scores=scores, total=0,
                                comment=None, now=START)
    with pytest.raises(NotFound):
        await store.save_review("missing", reviewer_id=reviewer, scores=scores, total=0,
                                comment=None, now=START)
    resolved = await store.resolved_by_agents(START, START + 100 * DAY)
    assert resolved == sorted(c.id for c in data.conversations
                              if c.agent is not None and c.resolved is not None)


@pytest.mark.parametrize("seed", [3, 11])
async def test_the_rollups_kept_equal_a_rebuild(store: SqlStore, monkeypatch: pytest.MonkeyPatch,
                                                seed: int) -> None:
    """Every change of a fact row (each step of a conversation, a later conversation on the
    same topic, conversations moving to a verified contact) moves the roll-ups by the row's
    old and new contribution: what they hold then equals a rebuild from the facts."""
    rng = random.Random(seed)
    data = await generate(store, monkeypatch, seed=seed, count=45)
    contacts = sorted({c.contact for c in data.conversations})
    for n in range(4):  # two devices of one customer: the second's conversations move
        first, second = rng.sample(contacts, 2)
        await store.verify_contact(first, external_id=f"customer-{n}", name=None, email=None)
        await store.verify_contact(second, external_id=f"customer-{n}", name=None, email=None)
    kept = await store.all_rollups()
    assert kept[0] and kept[1]
    facts = await store.all_facts()
    assert await store.rebuild_rollups() == len(facts) == 45
    assert await store.all_rollups() == kept
    assert await store.rebuild_facts(billing_open) == 45  # rebuilds the roll-ups too
    assert await store.all_rollups() == kept


async def test_reports_over_months_agree_with_the_plan(store: SqlStore,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ranges of whole months (roll-ups only), of a month less a few days (a roll-up less
    facts), across months, of a year and most of one (its roll-up less the months and days
    outside): every figure as computed from the plan."""
    monkeypatch.setattr("tests.reports.dataset.spacing", (6 * HOUR, 30 * HOUR))
    data = await generate(store, monkeypatch, count=90)
    end = max(c.created for c in data.conversations) + 1
    months = sorted({month_of(c.created) for c in data.conversations})
    assert len(months) >= 3
    year = year_of(START)
    ranges = [(months[1], months[2]), (months[0], end), (months[1] + 2 * DAY, months[2]),
              (months[0] + 5 * DAY, months[2] - 3 * DAY + HOUR),
              (year, next_year(year)),  # the year's roll-up
              (year + 3 * DAY, months[2] + 9 * DAY)]  # the year's, less what is outside
    for start, stop in ranges:
        for group, key in ((Group.NONE, lambda c: None), (Group.AGENT, lambda c: c.agent),
                           (Group.TEAM, lambda c: c.team)):
            for team, channel in ((None, None), ("sales", None), (None, "widget")):
                actual = _actual(await store.report_metrics(
                    Selection(start, stop, team=team, channel=channel), group=group,
                    fcr_window_ms=WINDOW), group)
                expected = _expected(expected_metrics(data, start, stop, key=key,
                                                      fcr_window=WINDOW, team=team,
                                                      channel=channel))
                assert actual == expected, (start, stop, group, team, channel)


async def test_concurrent_changes_add_up_in_the_rollups(store: SqlStore) -> None:
    """Many transactions at once change facts of the same roll-up keys (same month, team,
    channel): their increments add up (PostgreSQL runs them side by side on the pool)."""
    from chatkit.models import ConversationStatus as S

    contacts = [(await store.create_contact()).id for _ in range(24)]

    async def one(contact: str) -> None:
        conversation = await store.create_conversation(contact)
        done = await store.transition(conversation.id, S.RESOLVED, allowed_from={S.BOT},
                                      agent_id=None, actor_kind="visitor", actor_id=contact)
        assert done is not None

    await asyncio.gather(*(one(contact) for contact in contacts))
    kept = await store.all_rollups()
    assert sum(row[6] for row in kept[0] if row[:2] == ("t", "m")) == 24  # conversations
    assert await store.rebuild_rollups() == 24
    assert await store.all_rollups() == kept
