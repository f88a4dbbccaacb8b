"""The help centre's JSON API: search for the typeahead, and "was this helpful?" votes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from chatkit.helpcentre.api import VOTER_COOKIE
from chatkit.helpcentre.articles import MIN_CONFIDENCE
from chatkit.kb import load_kb
from chatkit.models import ARTICLE_VOTE, ArticleVotes, Event

SEARCH = "/chat/api/kb/search"


def votes_url(entry_id: str) -> str:
    return f"/chat/api/kb/articles/{entry_id}/votes"


async def get_json(client: TestClient, path: str, status: int = 200,
                   **params: str) -> dict[str, Any]:
    async with client.get(path, params=params) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == status, body
        return body


async def test_search_returns_the_best_articles_first(client: TestClient,
                                                      kb_path: Path) -> None:
    async with client.get(SEARCH, params={"q": "  how long does shipping take "}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = await response.json()
    assert body["locale"] == "en"
    first = body["results"][0]
    assert first == {
        "id": "shipping-time", "question": "How long does shipping take?",
        "snippet": "Orders ship within one business day. Tracking Follow your parcel in My "
                   "orders.",
        "url": "/chat/help/articles/shipping-time?locale=en",
        "confidence": first["confidence"], "category": "Shipping"}
    # The matcher's order, with its noise (the weakest guesses) left out.
    kb = load_kb(kb_path)
    for query in ["how long does shipping take", "shipping cost", "return an item",
                  "refund"]:
        results = (await get_json(client, SEARCH, q=query, limit="10"))["results"]
        expected = [m for m in kb.search(query, limit=10, locale="en")
                    if m.confidence >= MIN_CONFIDENCE]
        assert [r["id"] for r in results] == [m.entry.id for m in expected], query
        confidences = [r["confidence"] for r in results]
        assert confidences == sorted(confidences, reverse=True)
        assert all(MIN_CONFIDENCE <= c <= 1 for c in confidences)
    results = (await get_json(client, SEARCH, q="return an item"))["results"]
    assert results[0]["id"] == "returns" and results[0]["category"] == "Returns"
    assert (await get_json(client, SEARCH, q="xyzzy plugh"))["results"] == []


async def test_search_as_you_type_completes_the_last_word(client: TestClient) -> None:
    # "shipp" is no word the KB knows; as the start of one being typed, it is "shipping".
    typed = await get_json(client, SEARCH, q="how long does shipp", prefix="1")
    assert typed["results"][0]["id"] == "shipping-time"
    assert (await get_json(client, SEARCH, q="refu", prefix="true"))["results"][0]["id"] == \
        "returns"
    await get_json(client, SEARCH, 400, q="refu", prefix="maybe")


async def test_search_in_a_locale_and_its_urls_lead_to_the_articles(
        client: TestClient) -> None:
    body = await get_json(client, SEARCH, q="devolver un artículo", locale="es-MX")
    assert body["locale"] == "es"
    assert body["results"][0]["id"] == "returns"
    assert body["results"][0]["category"] == "Devoluciones"
    url = body["results"][0]["url"]
    assert url == "/chat/help/articles/returns?locale=es"
    async with client.get(url) as response:
        assert response.status == 200
        assert "¿Cómo devuelvo un artículo?" in await response.text()
    # A locale the knowledge base lacks searches the default one.
    assert (await get_json(client, SEARCH, q="refund", locale="fr"))["locale"] == "en"


async def test_search_takes_at_most_limit_results(client: TestClient) -> None:
    many = await get_json(client, SEARCH, q="gift card", limit="10")
    assert len(many["results"]) >= 2
    one = await get_json(client, SEARCH, q="gift card", limit="1")
    assert one["results"] == many["results"][:1]


@pytest.mark.parametrize(("query", "field"), [
    ({}, "q"),
    ({"q": ""}, "q"),
    ({"q": "   "}, "q"),
    ({"q": "x" * 201}, "q"),
    ({"q": "a\x00b"}, "q"),
    ({"q": "ok", "limit": "0"}, "limit"),
    ({"q": "ok", "limit": "11"}, "limit"),
    ({"q": "ok", "limit": "five"}, "limit"),
    ({"q": "ok", "locale": "<script>"}, "locale"),
    ({"q": "ok", "locale": "e"}, "locale"),
    ({"q": "ok", "page": "2"}, "page"),
])
async def test_search_refuses_bad_queries(client: TestClient, query: dict[str, str],
                                          field: str) -> None:
    body = await get_json(client, SEARCH, status=400, **query)
    assert body["error"]["code"] == "invalid_payload"
    assert body["error"]["message"].startswith(f"{field}: "), body


async def test_search_refuses_a_repeated_parameter(client: TestClient) -> None:
    async with client.get(SEARCH + "?q=one&q=two") as response:
        assert response.status == 400
        assert (await response.json())["error"]["message"] == "q: give it once"


async def test_a_query_of_200_characters_is_accepted(client: TestClient) -> None:
    await get_json(client, SEARCH, q="shipping " + "x" * 191)


async def vote(client: TestClient, entry_id: str, body: Any, status: int,
               **headers: str) -> dict[str, Any]:
    async with client.post(votes_url(entry_id), json=body, headers=headers) as response:
        answer: dict[str, Any] = await response.json()
        assert response.status == status, answer
        return answer


async def test_a_browser_votes_once_per_article(client: TestClient,
                                                help_server: TestServer) -> None:
    async with client.post(votes_url("returns"),
                           json={"helpful": True, "locale": "en"}) as response:
        assert response.status == 201
        assert await response.json() == {
            "entry_id": "returns", "locale": "en", "helpful": 1, "not_helpful": 0,
            "your_vote": True, "recorded": True}
        cookie = response.cookies[VOTER_COOKIE]
    assert cookie["path"] == "/chat/api/kb/" and cookie["httponly"]
    assert cookie["samesite"] == "Strict" and int(cookie["max-age"]) > 30 * 24 * 3600

    # The same browser again (its cookie goes along): counted once, nothing stored.
    again = await vote(client, "returns", {"helpful": False, "locale": "en"}, 200)
    assert again == {"entry_id": "returns", "locale": "en", "helpful": 1, "not_helpful": 0,
                     "your_vote": True, "recorded": False}
    # It may still vote on another article, or on this one in another locale.
    await vote(client, "shipping-time", {"helpful": False, "locale": "en"}, 201)
    spanish = await vote(client, "returns", {"helpful": False, "locale": "es"}, 201)
    assert (spanish["helpful"], spanish["not_helpful"]) == (0, 1)

    # Another browser, without the cookie.
    async with aiohttp.ClientSession() as other:
        url = help_server.make_url(votes_url("returns"))
        async with other.post(url, json={"helpful": False, "locale": "en"}) as response:
            assert response.status == 201
            assert (await response.json())["not_helpful"] == 1

    store = help_server.kit.store  # type: ignore[attr-defined]
    assert await store.article_votes("returns", "en") == ArticleVotes(1, 1)
    events = [e for e in await store.list_events() if e.kind == ARTICLE_VOTE]
    assert [(e.data["entry_id"], e.data["locale"], e.data["helpful"]) for e in events] == [
        ("returns", "en", True), ("shipping-time", "en", False), ("returns", "es", False),
        ("returns", "en", False)]
    assert {e.actor_kind for e in events} == {"browser"}
    assert len({e.actor_id for e in events}) == 2  # two browsers
    assert events[0].actor_id == cookie.value


async def test_a_vote_in_a_regional_locale_counts_for_the_kb_locale(
        client: TestClient) -> None:
    body = await vote(client, "shipping-time", {"helpful": True, "locale": "es-MX"}, 201)
    assert body["locale"] == "es"


async def test_a_forged_voter_cookie_is_replaced(client: TestClient) -> None:
    client.session.cookie_jar.update_cookies({VOTER_COOKIE: "not-hex; or worse"})
    async with client.post(votes_url("returns"),
                           json={"helpful": True, "locale": "en"}) as response:
        assert response.status == 201
        issued = response.cookies[VOTER_COOKIE].value
    assert len(issued) == 32 and int(issued, 16) >= 0


@pytest.mark.parametrize(("body", "message"), [
    ({"locale": "en"}, "helpful: Field required"),
    ({"helpful": "yes", "locale": "en"}, "helpful: Input should be a valid boolean"),
    ({"helpful": 1, "locale": "en"}, "helpful: Input should be a valid boolean"),
    ({"helpful": True}, "locale: Field required"),
    ({"helpful": True, "locale": "english please"}, "locale: String should match pattern"),
    ({"helpful": True, "locale": "en", "stars": 5}, "stars: Extra inputs are not permitted"),
    ([True, "en"], "the body must be a JSON object"),
])
async def test_bad_votes_are_refused_and_change_nothing(
        client: TestClient, help_server: TestServer, body: Any, message: str) -> None:
    answer = await vote(client, "returns", body, 400)
    assert answer["error"]["code"] == "invalid_payload"
    assert answer["error"]["message"].startswith(message), answer
    assert await votes(help_server) == []


async def test_votes_for_missing_articles_are_not_found(client: TestClient,
                                                        help_server: TestServer) -> None:
    for entry_id, locale in [("no-such-entry", "en"), ("opening-hours", "es")]:
        answer = await vote(client, entry_id, {"helpful": True, "locale": locale}, 404)
        assert answer["error"]["code"] == "not_found"
    assert await votes(help_server) == []


async def test_only_same_origin_json_votes_count(client: TestClient,
                                                 help_server: TestServer) -> None:
    # What a form on another site can send: not JSON.
    async with client.post(votes_url("returns"), data={"helpful": "true", "locale": "en"}) \
            as response:
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "invalid_payload"
    async with client.post(votes_url("returns"), data='{"helpful": true, "locale": "en"}',
                           headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 415
    async with client.post(votes_url("returns"), data="{not json",
                           headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["message"] == "the body must be JSON"
    # A browser that says the request comes from another site.
    for site in ["cross-site", "same-site"]:
        answer = await vote(client, "returns", {"helpful": True, "locale": "en"}, 403,
                            **{"Sec-Fetch-Site": site})
        assert answer["error"]["code"] == "forbidden"
    assert await votes(help_server) == []
    await vote(client, "returns", {"helpful": True, "locale": "en"}, 201,
               **{"Sec-Fetch-Site": "same-origin"})


async def votes(server: TestServer) -> list[Event]:
    """The votes stored (other events, such as the routing seeded at start, aside)."""
    return [e for e in await server.kit.store.list_events()  # type: ignore[attr-defined]
            if e.kind == ARTICLE_VOTE]
