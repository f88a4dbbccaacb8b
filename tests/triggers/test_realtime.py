"""Triggers over the wire: served in the widget's config; the visitor's answer to one starts
a conversation whose first message is the trigger's (so the agent sees it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.clients import PREFIX, Visitor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "triggers.yaml"

Start = Callable[..., Awaitable[TestServer]]


async def widget_config(server: TestServer, query: str = "") -> dict[str, Any]:
    url = f"http://{server.host}:{server.port}{PREFIX}/api/widget/config{query}"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        found: dict[str, Any] = await response.json()
        return found


async def test_the_widget_config_carries_the_triggers_in_the_locale(start_server: Start) -> None:
    server = await start_server(triggers_path=EXAMPLE)
    english = await widget_config(server)
    assert [t["id"] for t in english["triggers"]] == ["pricing-help", "checkout-returning",
                                                      "welcome-back"]
    assert english["triggers"][0] == {
        "id": "pricing-help", "url": {"on": "path", "regex": "^/pricing.*$"},
        "seconds_on_page": 30, "min_visits": 1, "max_visits": None,
        "message": "Questions about our plans? Ask us here.", "open": True}
    spanish = await widget_config(server, "?locale=es-MX")
    assert spanish["triggers"][1]["message"] == "¡Hola de nuevo! ¿Te ayudamos a terminar tu pedido?"


async def test_no_triggers_file_serves_none(start_server: Start) -> None:
    assert (await widget_config(await start_server()))["triggers"] == []


async def test_a_broken_triggers_file_stops_the_start(start_server: Start,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "triggers.yaml"
    path.write_text("triggers: [{id: a, url: nope, message: Hi}]", encoding="utf-8")
    with pytest.raises(Exception, match=r"triggers\[0\]\.url"):
        await start_server(triggers_path=path)


@pytest.mark.parametrize("bot_enabled", [True, False])
async def test_answering_a_trigger_stores_its_message_first(start_server: Start,
                                                            bot_enabled: bool) -> None:
    server = await start_server(triggers_path=EXAMPLE, bot_enabled=bot_enabled)
    visitor = Visitor(server)
    await visitor.connect()
    await visitor.ok("resume", {"locale": "es"})
    sent = await visitor.ok("message", {"client_id": "v-1", "body": "Sí, una pregunta",
                                        "trigger": "pricing-help"})
    assert sent["seq"] == 2
    page = await visitor.ok("history", {"conversation_id": sent["conversation_id"]})
    first = page["messages"][0]
    assert (first["seq"], first["sender"], first["body"], first["meta"]) == (
        1, "bot", "¿Preguntas sobre nuestros planes? Pregúntanos aquí.",
        {"kind": "trigger", "trigger": "pricing-help"})
    # Once the conversation exists, a trigger named again stores nothing more.
    again = await visitor.ok("message", {"client_id": "v-2", "body": "Otra",
                                         "trigger": "pricing-help"})
    page = await visitor.ok("history", {"conversation_id": sent["conversation_id"]})
    assert [m["body"] for m in page["messages"]].count(first["body"]) == 1
    assert again["conversation_id"] == sent["conversation_id"]
    await visitor.close()


async def test_an_unknown_or_malformed_trigger_changes_nothing(start_server: Start) -> None:
    server = await start_server(triggers_path=EXAMPLE)
    visitor = Visitor(server)
    resumed = await visitor.start()
    refused = await visitor.call("message", {"client_id": "v-1", "body": "Hi",
                                             "trigger": "no-such"})
    assert refused["error"]["code"] == "not_found"
    for bad in ("", "a b", "x" * 65, 5):
        refused = await visitor.call("message", {"client_id": "v-1", "body": "Hi",
                                                 "trigger": bad})
        assert refused["error"]["code"] == "invalid_payload", bad
    refused = await visitor.call("message", {"client_id": "v-1", "trigger": "pricing-help",
                                             "reply_to": {"seq": 1, "choice": "billing"}})
    assert refused["error"]["code"] == "invalid_payload"
    store = server.kit.store  # type: ignore[attr-defined]
    assert await store.open_conversation_for(resumed["contact_id"]) is None
    await visitor.close()
