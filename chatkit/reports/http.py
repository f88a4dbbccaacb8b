"""The reports, QA and Prometheus routes (docs/protocol.md, "Reports and QA")."""

from __future__ import annotations

import hmac
from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from chatkit.console.auth import bearer_token, require_agent, require_role
from chatkit.errors import ChatKitError, Forbidden, InvalidPayload, NotFound
from chatkit.keys import KIT
from chatkit.models import AgentRole, now_ms
from chatkit.reports.metrics import ReportQuery, report_csv
from chatkit.reports.prometheus import CONTENT_TYPE
from chatkit.reports.qa import ReviewIn, day_bounds
from chatkit.routes import error_response, json_body, query_params

routes = web.RouteTableDef()
MANAGERS = (AgentRole.SUPERVISOR, AgentRole.ADMIN)
_NO_STORE = {"Cache-Control": "no-store"}
_STATUS = {NotFound: 404, Forbidden: 403, InvalidPayload: 422}


def _error(exc: ChatKitError) -> web.Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 409)
    return error_response(status, exc.code, exc.message)


def _csv(body: bytes, name: str) -> web.Response:
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"', **_NO_STORE})


# reports

@routes.get("/api/reports/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Metrics of the conversations begun in the range, grouped by `group`."""
    await require_role(request, *MANAGERS)
    query: ReportQuery = query_params(request, ReportQuery)
    kit = request.config_dict[KIT]
    rows = await kit.reports.metrics(query)
    if query.format == "csv":
        return _csv(report_csv(rows), "metrics")
    start, end = query.range_ms()
    return web.json_response({"from": start, "to": end, "group": str(query.group),
                              "fcr_days": query.fcr_days or kit.reports.fcr_days,
                              "rows": rows}, headers=_NO_STORE)


@routes.get("/api/reports/volume")
async def volume(request: web.Request) -> web.Response:
    """Conversations begun per hour, day or week (UTC) in the range."""
    await require_role(request, *MANAGERS)
    query: ReportQuery = query_params(request, ReportQuery)
    rows = await request.config_dict[KIT].reports.volume(query)
    if query.format == "csv":
        return _csv(report_csv(rows), "volume")
    start, end = query.range_ms()
    return web.json_response({"from": start, "to": end, "granularity": str(query.granularity),
                              "rows": rows}, headers=_NO_STORE)


@routes.get("/api/reports/conversations/count")
async def count_conversations(request: web.Request) -> web.Response:
    """How many rows the export of the same query will have (for a progress bar)."""
    await require_role(request, *MANAGERS)
    query: ReportQuery = query_params(request, ReportQuery)
    count = await request.config_dict[KIT].reports.count_conversations(query)
    return web.json_response({"count": count}, headers=_NO_STORE)


@routes.get("/api/reports/conversations.csv")
async def export_conversations(request: web.Request) -> web.StreamResponse:
    """The conversations begun in the range with their transcripts, as CSV, streamed a page
    at a time. X-Total-Count says how many rows follow the header (the length in bytes is
    not known in advance)."""
    await require_role(request, *MANAGERS)
    query: ReportQuery = query_params(request, ReportQuery)
    reports = request.config_dict[KIT].reports
    total = await reports.count_conversations(query)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "X-Total-Count": str(total),
        "Content-Disposition": 'attachment; filename="conversations.csv"', **_NO_STORE})
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for chunk in reports.export_conversations(query):
        await response.write(chunk)  # waits while the client's side is full: flat memory
    await response.write_eof()
    return response


# QA

class SampleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    day: date | None = Field(None, alias="date")


class ReviewsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    agent: str | None = Field(None, min_length=1, max_length=32)
    conversation: str | None = Field(None, min_length=1, max_length=32)
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")
    limit: int = Field(100, ge=1, le=1000)


@routes.get("/api/qa/scorecard")
async def scorecard(request: web.Request) -> web.Response:
    await require_agent(request)
    return web.json_response(request.config_dict[KIT].qa.scorecard.to_wire())


@routes.get("/api/qa/sample")
async def sample(request: web.Request) -> web.Response:
    """The conversations offered for review on `date` (default: today, UTC): a sample of
    those agents resolved the day before, the same in every process."""
    await require_role(request, *MANAGERS)
    query: SampleQuery = query_params(request, SampleQuery)
    day = query.day or date.fromtimestamp(now_ms() / 1000)
    ids = await request.config_dict[KIT].qa.sample(day)
    return web.json_response({"date": day.isoformat(), "conversations": ids},
                             headers=_NO_STORE)


@routes.get("/api/qa/conversations/{conversation_id}/transcript")
async def transcript(request: web.Request) -> web.Response:
    """Everything said in a conversation, notes included, for its reviewer."""
    await require_role(request, *MANAGERS)
    store = request.config_dict[KIT].store
    conversation = await store.get_conversation(request.match_info["conversation_id"])
    if conversation is None:
        return error_response(404, "not_found", "no such conversation")
    messages, more = await store.get_messages(conversation.id, limit=1000)
    return web.json_response({"conversation": conversation.to_wire(),
                              "messages": [m.to_wire() for m in messages], "truncated": more},
                             headers=_NO_STORE)


@routes.put("/api/qa/reviews/{conversation_id}")
async def put_review(request: web.Request) -> web.Response:
    """The supervisor's review of a resolved conversation (theirs replaced if there was
    one): a score for every criterion of the scorecard, and comments."""
    reviewer = await require_role(request, *MANAGERS)
    body = await json_body(request, ReviewIn)
    try:
        review = await request.config_dict[KIT].qa.review(
            reviewer, request.match_info["conversation_id"], body)
    except ChatKitError as exc:
        return _error(exc)
    return web.json_response(review.to_wire())


@routes.get("/api/qa/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    """Reviews, newest first: supervisors and admins see all, an agent their own."""
    viewer = await require_agent(request)
    query: ReviewsQuery = query_params(request, ReviewsQuery)
    try:
        found = await request.config_dict[KIT].qa.reviews(
            viewer, agent_id=query.agent, conversation_id=query.conversation,
            start=None if query.start is None else day_bounds(query.start)[0],
            end=None if query.end is None else day_bounds(query.end)[0], limit=query.limit)
    except ChatKitError as exc:
        return _error(exc)
    return web.json_response({"reviews": [r.to_wire() for r in found]}, headers=_NO_STORE)


@routes.get("/api/qa/reviews/{review_id}")
async def get_review(request: web.Request) -> web.Response:
    viewer = await require_agent(request)
    try:
        review = await request.config_dict[KIT].qa.get(viewer, request.match_info["review_id"])
    except ChatKitError as exc:
        return _error(exc)
    return web.json_response(review.to_wire(), headers=_NO_STORE)


# Prometheus

@routes.get("/metrics")
async def prometheus(request: web.Request) -> web.Response:
    """Off (404) unless the metrics_token setting is set; then Prometheus sends it as a
    bearer token."""
    kit = request.config_dict[KIT]
    expected = kit.settings.metrics_token
    if expected is None:
        raise web.HTTPNotFound()
    given = bearer_token(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return web.Response(status=401, text="metrics need the bearer token\n",
                            headers={"WWW-Authenticate": "Bearer"})
    body = await kit.prometheus.scrape()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, **_NO_STORE})


def add_reports_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
