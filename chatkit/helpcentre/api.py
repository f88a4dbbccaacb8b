"""The help centre's JSON API: search (the typeahead's source) and "was this helpful?" votes.

    GET  {prefix}/api/kb/search?q=...&locale=es&limit=5&prefix=1  (prefix: as you type)
         -> {"locale": "es", "results": [{"id", "question", "snippet", "url", "confidence",
                                          "category"}]}
    POST {prefix}/api/kb/articles/{id}/votes   {"helpful": true, "locale": "es"}
         -> 201 {"entry_id", "locale", "helpful": 3, "not_helpful": 1, "your_vote": true,
                 "recorded": true}   (200 and "recorded": false when this browser had voted)

One vote per browser per article: the first vote gives the browser a random voter id in a
cookie, kept as the vote's actor_id; a browser whose id already voted on the article is told
the counts and nothing is stored. That stops double clicks, reloads and casual repeats without
accounts or IP addresses (which would also merge everyone behind one office's NAT). Whoever
clears cookies, or scripts requests without them, can vote again: votes are a signal for the
KB's authors, not a ballot, and the voter ids in the event log let a report discount floods.
Rate limiting by address belongs in the proxy in front of chatkit.

Votes are made from the article page's script only. A cross-site page cannot make a visitor's
browser vote: the body must be `application/json` (which a form cannot send, and which a
cross-origin fetch may send only after a CORS preflight that chatkit never grants), a browser
that says the request came from another site (Sec-Fetch-Site) is refused, and the voter
cookie is SameSite=Strict."""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from chatkit.errors import Unavailable
from chatkit.helpcentre import articles
from chatkit.helpcentre.i18n import ui_strings
from chatkit.helpcentre.pages import article_url
from chatkit.keys import KB_PROVIDER, KIT
from chatkit.models import ARTICLE_VOTE, ArticleVotes
from chatkit.realtime.dispatch import describe
from chatkit.routes import error_response, json_body

VOTER_COOKIE = "chatkit_voter"
VOTER_COOKIE_AGE = 365 * 24 * 3600
_VOTER_ID = re.compile(r"^[0-9a-f]{32}$")
LOCALE_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"

routes = web.RouteTableDef()


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Locale = Annotated[str, Field(max_length=35, pattern=LOCALE_PATTERN)]


class SearchQuery(BaseModel):
    # Query strings are text: "5" is read as 5 (lax), but nothing unknown is accepted.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    q: Annotated[str, Field(min_length=1, max_length=articles.MAX_QUERY),
                 AfterValidator(_no_nul)]
    limit: int = Field(5, ge=1, le=10)
    locale: Locale | None = None
    prefix: bool = False  # the last word may be unfinished (the typeahead sets it)


class Vote(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    helpful: bool
    locale: Locale


@routes.get("/api/kb/search", name="help.api.search")
async def search(request: web.Request) -> web.Response:
    repeated = sorted({key for key in request.query if len(request.query.getall(key)) > 1})
    if repeated:
        return error_response(400, "invalid_payload", f"{repeated[0]}: give it once")
    try:
        params = SearchQuery.model_validate(dict(request.query))
    except ValidationError as exc:
        return error_response(400, "invalid_payload", describe(exc))
    kb = request.config_dict[KB_PROVIDER]()
    locale = kb.resolve_locale(params.locale)
    hits = await asyncio.to_thread(articles.search, kb, params.q, limit=params.limit,
                                   locale=locale, general=ui_strings(locale).general,
                                   prefix=params.prefix)
    return web.json_response({"locale": locale, "results": [{
        "id": hit.entry.id, "question": hit.entry.question, "snippet": hit.snippet,
        "url": article_url(request, hit.entry), "confidence": round(hit.confidence, 3),
        "category": hit.category} for hit in hits]},
        headers={"Cache-Control": "no-store"})


@routes.post("/api/kb/articles/{entry_id}/votes", name="help.api.votes")
async def vote(request: web.Request) -> web.Response:
    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
        return error_response(403, "forbidden", "votes come from the help centre's own pages")
    if request.content_type != "application/json":
        return error_response(415, "invalid_payload",
                              "send the vote as JSON (Content-Type: application/json)")
    ballot = await json_body(request, Vote)

    kb = request.config_dict[KB_PROVIDER]()
    entry = kb.get(request.match_info["entry_id"], ballot.locale)
    if entry is None:
        return error_response(404, "not_found", "no such article in that locale")

    store = request.config_dict[KIT].store
    voter = request.cookies.get(VOTER_COOKIE, "")
    new_voter = not _VOTER_ID.match(voter)
    if new_voter:
        voter = secrets.token_hex(16)
    try:
        votes = await store.article_votes(entry.id, entry.locale,
                                          voter_id=None if new_voter else voter)
        recorded = votes.voter_said is None
        if recorded:
            await store.record_event(ARTICLE_VOTE, actor_kind="browser", actor_id=voter, data={
                "entry_id": entry.id, "locale": entry.locale, "helpful": ballot.helpful})
            votes = ArticleVotes(votes.helpful + int(ballot.helpful),
                                 votes.not_helpful + int(not ballot.helpful), ballot.helpful)
    except Unavailable as exc:
        return error_response(503, exc.code, exc.message)

    response = web.json_response({
        "entry_id": entry.id, "locale": entry.locale, "helpful": votes.helpful,
        "not_helpful": votes.not_helpful, "your_vote": votes.voter_said, "recorded": recorded,
    }, status=201 if recorded else 200, headers={"Cache-Control": "no-store"})
    if new_voter:
        # Sent back only to the knowledge base's API, {prefix}/api/kb/.
        path = str(request.app.router["help.api.search"].url_for()).rpartition("/")[0] + "/"
        response.set_cookie(VOTER_COOKIE, voter, max_age=VOTER_COOKIE_AGE, path=path,
                            httponly=True, samesite="Strict", secure=request.secure)
    return response
