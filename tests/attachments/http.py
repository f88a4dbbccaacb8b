"""HTTP helpers for the attachment tests: upload and download against a real server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.clients import PREFIX


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        code: str = self.json()["error"]["code"]
        return code


def base(server: TestServer) -> str:
    return f"http://{server.host}:{server.port}"


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"Authorization": f"Bearer {token}"}


async def upload(server: TestServer, token: str | None, data: bytes,
                 name: str = "photo.png", content_type: str = "image/png") -> Reply:
    # As browsers send it: the file name in UTF-8, not percent-encoded.
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("file", data, filename=name, content_type=content_type)
    return await request(server, "POST", f"{PREFIX}/api/attachments", token, data=form)


async def request(server: TestServer, method: str, path: str, token: str | None = None,
                  **kwargs: Any) -> Reply:
    headers = {**bearer(token), **kwargs.pop("headers", {})}
    async with aiohttp.ClientSession() as http, http.request(
            method, base(server) + path, headers=headers, **kwargs) as response:
        return Reply(response.status, dict(response.headers), await response.read())


async def download(server: TestServer, url_or_id: str, token: str | None = None) -> Reply:
    path = url_or_id if url_or_id.startswith("/") else f"{PREFIX}/api/attachments/{url_or_id}"
    return await request(server, "GET", path, token)
