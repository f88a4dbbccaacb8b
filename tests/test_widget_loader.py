"""The widget loader carries the server's look; the look settings are validated."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from pydantic import ValidationError

from chatkit import Settings
from tests.conftest import StartServer


async def test_the_loader_carries_the_server_look(start_server: StartServer) -> None:
    server = await start_server(widget_color="#0F766E", widget_position="left",
                                widget_launcher_text="Questions? \u2028 Ask")
    async with aiohttp.ClientSession() as http, \
            http.get(server.make_url("/chat/widget.js")) as response:
        assert response.status == 200
        assert response.content_type == "application/javascript"
        assert response.headers["Cache-Control"] == "public, max-age=300"
        source = await response.text()
    assert "__CHATKIT_CONFIG__" not in source
    found = re.search(r'typeof (\{"color".*?\})=="object"', source)
    assert found is not None
    assert "\u2028" not in found.group(1)  # escaped, for older JavaScript parsers
    assert json.loads(found.group(1)) == {"color": "#0F766E", "position": "left",
                                          "launcherText": "Questions? \u2028 Ask",
                                          "triggers": False}


async def test_the_loader_knows_whether_there_are_triggers(start_server: StartServer) -> None:
    from tests.triggers.test_config import EXAMPLE

    server = await start_server(triggers_path=EXAMPLE)
    async with aiohttp.ClientSession() as http, \
            http.get(server.make_url("/chat/widget.js")) as response:
        source = await response.text()
    found = re.search(r'typeof (\{"color".*?\})=="object"', source)
    assert found is not None and json.loads(found.group(1))["triggers"] is True


@pytest.mark.parametrize("values", [
    {"widget_color": "red"}, {"widget_color": "#12345"}, {"widget_color": "#1234567"},
    {"widget_position": "top"}, {"widget_launcher_text": ""},
    {"widget_launcher_text": "x" * 41}, {"widget_launcher_text": "two\nlines"},
])
def test_look_settings_are_checked(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)  # type: ignore[arg-type]
