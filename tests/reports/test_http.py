"""The reports, QA and Prometheus routes over a running chatkit: who may call them, their
validation, the streamed CSV export, the Prometheus text, QA permissions and the daily
sample."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chatkit import AgentRole
from chatkit.reports.qa import QualityAssurance, Scorecard
from tests.conftest import StartServer
from tests.reports.dataset import DAY, START, Dataset, generate

TOKEN = "prometheus-token-0123456789"


async def _token(server: TestServer, email: str, role: AgentRole) -> str:
    kit = server.kit  # type: ignore[attr-defined]
    agent = await kit.agents.create(email=email, name=email, password="pw-long-enough",
                                    role=role)
    return str(kit.agents.issue_token(agent))


@pytest.fixture
async def seeded(start_server: StartServer,
                 monkeypatch: pytest.MonkeyPatch) -> tuple[TestServer, Dataset, dict[str, str]]:
    server = await start_server(metrics_token=TOKEN)
    kit = server.kit  # type: ignore[attr-defined]
    data = await generate(kit.store, monkeypatch, count=30)
    monkeypatch.undo()  # the generator's clock: the app runs on real time again
    tokens = {"supervisor": await _token(server, "sup@example.com", AgentRole.SUPERVISOR),
              "agent": await _token(server, "agent@example.com", AgentRole.AGENT)}
    return server, data, tokens


async def _get(server: TestServer, path: str, token: str | None, **params: Any
               ) -> aiohttp.ClientResponse:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        response = await session.get(server.make_url(path), params=params, headers=headers)
        await response.read()
        return response


def _day(at: int) -> str:
    return datetime.fromtimestamp(at / 1000, UTC).date().isoformat()


async def test_reports_need_a_supervisor_and_valid_parameters(seeded: Any) -> None:
    server, data, tokens = seeded
    window = {"from": _day(START), "to": _day(START + 30 * DAY)}
    assert (await _get(server, "/chat/api/reports/metrics", None, **window)).status == 401
    assert (await _get(server, "/chat/api/reports/metrics", tokens["agent"],
                       **window)).status == 403
    ok = await _get(server, "/chat/api/reports/metrics", tokens["supervisor"], group="team",
                    **window)
    assert ok.status == 200
    body = await ok.json()
    assert sum(row["conversations"] for row in body["rows"]) == len(data.conversations)
    # (The app's routing adopts the open chats of teams it does not know into its own.)
    assert {"billing", "sales"} <= {row["key"] for row in body["rows"]}
    outbound = await _get(server, "/chat/api/reports/metrics", tokens["supervisor"],
                          channel="outbound", **window)
    assert sum(row["conversations"] for row in (await outbound.json())["rows"]) == sum(
        c.channel == "outbound" for c in data.conversations) > 0
    for bad in ({"from": "yesterday"}, {"group": "planet"}, {"granularity": "minute"},
                {"from": "2026-11-02", "to": "2026-11-01"}, {"fcr_days": "0"},
                {"from": "2020-01-01", "to": "2026-01-01"}, {"colour": "red"},
                {"channel": "fax"}):
        response = await _get(server, "/chat/api/reports/metrics", tokens["supervisor"], **bad)
        assert response.status == 422, bad
        assert (await response.json())["error"]["code"] == "invalid_query"
    volume = await _get(server, "/chat/api/reports/volume", tokens["supervisor"],
                        granularity="day", format="csv", **window)
    assert volume.status == 200 and volume.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await volume.text())))
    assert sum(int(r["conversations"]) for r in rows) == len(data.conversations)


async def test_the_export_streams_every_conversation_with_its_transcript(seeded: Any) -> None:
    server, data, tokens = seeded
    window = {"from": _day(START), "to": _day(START + 30 * DAY)}
    count = await _get(server, "/chat/api/reports/conversations/count", tokens["supervisor"],
                       **window)
    assert (await count.json()) == {"count": len(data.conversations)}
    headers = {"Authorization": f"Bearer {tokens['supervisor']}"}
    async with aiohttp.ClientSession() as session, session.get(
            server.make_url("/chat/api/reports/conversations.csv"), params=window,
            headers=headers) as response:
        assert response.status == 200
        assert response.headers["X-Total-Count"] == str(len(data.conversations))
        assert response.headers.get("Transfer-Encoding") == "chunked"
        text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["conversation_id"] for r in rows] == [
        c.id for c in sorted(data.conversations, key=lambda c: (c.created, c.id))]
    handled = next(c for c in data.conversations if c.kind == "handled")
    row = next(r for r in rows if r["conversation_id"] == handled.id)
    # Visitor text cannot become a spreadsheet formula; notes stay out.
    assert "agent (Ada): '=1+1 hi" not in row["transcript"]
    assert "agent (Ada): =1+1 hi" in row["transcript"] and "a note" not in row["transcript"]
    assert row["team"] == handled.team and row["agent_id"] == handled.agent


async def test_prometheus_needs_its_token_and_reads_the_queues(seeded: Any) -> None:
    server, data, _ = seeded
    assert (await _get(server, "/chat/metrics", None)).status == 401
    assert (await _get(server, "/chat/metrics", "wrong-token-0123456789")).status == 401
    response = await _get(server, "/chat/metrics", TOKEN)
    assert response.status == 200
    text = await response.text()
    # The open chats wait (in the queue of the team the app's routing adopted them into).
    lengths = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("chatkit_queue_length{")]
    assert sum(lengths) == sum(c.kind == "open" for c in data.conversations)
    assert 'chatkit_queue_oldest_wait_seconds{team="support"}' in text
    assert 'chatkit_agents_online{team="support"} 0.0' in text
    assert "chatkit_connected_visitors 0.0" in text
    assert "# TYPE chatkit_faq_match_seconds histogram" in text


async def test_prometheus_is_off_without_a_token(start_server: StartServer) -> None:
    server = await start_server()
    assert (await _get(server, "/chat/metrics", None)).status == 404


async def test_qa_reviews_supervisors_write_agents_read_their_own(seeded: Any) -> None:
    server, data, tokens = seeded
    kit = server.kit  # type: ignore[attr-defined]
    handled = next(c for c in data.conversations if c.kind == "handled")
    other = next(c for c in data.conversations
                 if c.kind == "handled" and c.agent != handled.agent)
    scores = {c.id: {"score": c.points} for c in kit.qa.scorecard.criteria}
    scores["tone"] = {"score": 1, "comment": "curt"}
    async with aiohttp.ClientSession() as session:
        def put(cid: str, token: str, body: Any) -> Any:
            return session.put(server.make_url(f"/chat/api/qa/reviews/{cid}"), json=body,
                               headers={"Authorization": f"Bearer {token}"})
        async with put(handled.id, tokens["agent"], {"scores": scores}) as r:
            assert r.status == 403
        async with put(handled.id, tokens["supervisor"], {"scores": {"tone": {"score": 1}}}) as r:
            assert r.status == 422 and "give a score" in (await r.json())["error"]["message"]
        async with put(handled.id, tokens["supervisor"],
                       {"scores": {**scores, "tone": {"score": 9}}}) as r:
            assert r.status == 422
        async with put(handled.id, tokens["supervisor"], {"scores": scores,
                                                          "comment": "fine"}) as r:
            assert r.status == 200
            review = await r.json()
        async with put(other.id, tokens["supervisor"], {"scores": scores}) as r:
            assert r.status == 200
    weights = {c.id: c.weight for c in kit.qa.scorecard.criteria}
    tone = next(c for c in kit.qa.scorecard.criteria if c.id == "tone")
    expected = (sum(weights.values()) - weights["tone"] * (1 - 1 / tone.points)) / sum(
        weights.values()) * 100
    assert review["total"] == pytest.approx(expected, abs=0.01)
    assert review["agent_id"] == handled.agent
    # The agent of `handled` sees that review and not the other.
    agent = await kit.store.get_agent(handled.agent)
    theirs = kit.agents.issue_token(agent)
    listed = await (await _get(server, "/chat/api/qa/reviews", theirs)).json()
    assert [r["conversation_id"] for r in listed["reviews"]] == [handled.id]
    assert (await _get(server, f"/chat/api/qa/reviews/{review['id']}", theirs)).status == 200
    mine_not = await _get(server, "/chat/api/qa/reviews", theirs, agent=other.agent)
    assert mine_not.status == 403
    everyone = await (await _get(server, "/chat/api/qa/reviews", tokens["supervisor"])).json()
    assert len(everyone["reviews"]) == 2


async def test_the_daily_sample_is_the_same_everywhere_and_from_the_day_before(
        seeded: Any) -> None:
    server, data, tokens = seeded
    kit = server.kit  # type: ignore[attr-defined]
    resolved_days = sorted({_day(c.resolved) for c in data.conversations
                            if c.agent is not None and c.resolved is not None})
    day = date.fromisoformat(resolved_days[0])
    following = date.fromordinal(day.toordinal() + 1).isoformat()
    response = await _get(server, "/chat/api/qa/sample", tokens["supervisor"], date=following)
    sample = (await response.json())["conversations"]
    pool = {c.id for c in data.conversations if c.agent is not None
            and c.resolved is not None and _day(c.resolved) == day.isoformat()}
    assert set(sample) <= pool and len(sample) == min(5, len(pool))
    # Another process (another service over the same store) offers the same sample.
    other = QualityAssurance(kit.store, Scorecard())
    assert await other.sample(date.fromisoformat(following)) == sample
    assert (await _get(server, "/chat/api/qa/sample", tokens["agent"])).status == 403
