"""Uploading and downloading attachments over HTTP, against a real server: types from the bytes,
the size limit while streaming, who may read what, and the links messages carry."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from chatkit.attachments.service import LINK_TOKEN, MAX_PENDING
from tests.attachments import samples
from tests.attachments.http import download, request, upload
from tests.clients import PREFIX, Visitor
from tests.conftest import AGENT_EMAIL, StartServer

KIB = 1024


async def visitor_token(server: TestServer) -> str:
    visitor = Visitor(server)
    token: str = (await visitor.start())["token"]
    await visitor.close()
    return token


async def agent_token(server: TestServer) -> str:
    kit: Any = server.kit  # type: ignore[attr-defined]
    agent = await kit.store.get_agent_by_email(AGENT_EMAIL)
    token: str = kit.agents.issue_token(agent)
    return token


async def send(server: TestServer, token: str, attachment_ids: list[str],
               body: str | None = None) -> dict[str, Any]:
    """The visitor (by token) sends a message carrying the files; returns it."""
    visitor = Visitor(server)
    await visitor.start(token)
    payload: dict[str, Any] = {"client_id": f"c-{time.monotonic_ns()}",
                               "attachment_ids": attachment_ids}
    if body is not None:
        payload["body"] = body
    message: dict[str, Any] = await visitor.ok("message", payload)
    await visitor.close()
    return message


@pytest.mark.parametrize(("name", "data", "content_type", "disposition"), [
    ("photo.png", samples.png(), "image/png", "inline"),
    ("photo.jpg", samples.JPEG, "image/jpeg", "inline"),
    ("animation.gif", samples.GIF, "image/gif", "inline"),
    ("picture.webp", samples.WEBP, "image/webp", "inline"),
    ("invoice.pdf", samples.PDF, "application/pdf", "attachment"),
])
async def test_each_accepted_type_goes_up_and_comes_back_byte_for_byte(
        server: TestServer, name: str, data: bytes, content_type: str,
        disposition: str) -> None:
    token = await visitor_token(server)
    # The client's content type is ignored: the bytes say what the file is.
    uploaded = await upload(server, token, data, name, "application/octet-stream")
    assert uploaded.status == 201, uploaded.body
    described = uploaded.json()
    assert set(described) == {"id", "name", "content_type", "size", "url"}
    assert re.fullmatch(r"[0-9a-f]{32}", described["id"])
    assert (described["name"], described["content_type"], described["size"]) == (
        name, content_type, len(data))
    assert described["url"].startswith(f"{PREFIX}/api/attachments/{described['id']}?token=")
    assert uploaded.headers["Cache-Control"] == "no-store"

    for got in (await download(server, described["url"]),
                await download(server, described["id"], token)):
        assert got.status == 200 and got.body == data
        assert got.headers["Content-Type"] == content_type
        assert got.headers["Content-Disposition"] == (
            f"{disposition}; filename=\"{name}\"; filename*=UTF-8''{name}")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert got.headers["Cache-Control"].startswith("private")
    stored = await server.kit.store.get_attachments([described["id"]])  # type: ignore[attr-defined]
    assert stored[0].sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("data", "name", "content_type"), [
    (samples.EXE, "photo.png", "image/png"),  # a program renamed as a picture
    (samples.EXE, "setup.exe", "application/octet-stream"),
    (samples.HTML, "page.pdf", "application/pdf"),
    (samples.SVG, "logo.svg", "image/svg+xml"),  # an image that can carry script
    (b"just some text", "notes.txt", "text/plain"),
    (b"", "empty.png", "image/png"),
])
async def test_anything_else_is_refused_by_its_bytes(
        server: TestServer, data: bytes, name: str, content_type: str) -> None:
    token = await visitor_token(server)
    refused = await upload(server, token, data, name, content_type)
    assert refused.status == 415 and refused.error == "unsupported_type"
    assert "PNG, JPEG, GIF, WebP" in refused.json()["error"]["message"] or not data
    assert await server.kit.store.count_pending_attachments(  # type: ignore[attr-defined]
        "visitor", (await _contact(server, token))) == 0


async def _contact(server: TestServer, token: str) -> str:
    contact_id: str = server.kit.visitors.signer.verify("visitor", token)  # type: ignore[attr-defined]
    return contact_id


async def test_the_name_is_kept_for_display_only_and_sanitised(server: TestServer) -> None:
    token = await visitor_token(server)
    uploaded = await upload(server, token, samples.PDF, "../../..\\evil\u202efdp.exe", "x/y")
    assert uploaded.json()["name"] == "evilfdp.exe.pdf"
    got = await download(server, uploaded.json()["url"])
    assert got.headers["Content-Disposition"].startswith(
        'attachment; filename="evilfdp.exe.pdf"')


async def test_size_limit(start_server: StartServer) -> None:
    server = await start_server(attachment_max_bytes=64 * KIB)
    token = await visitor_token(server)
    exactly = samples.PDF + b"\n" * (64 * KIB - len(samples.PDF))
    assert (await upload(server, token, exactly, "big.pdf")).status == 201
    over = await upload(server, token, exactly + b"\n", "bigger.pdf")
    assert over.status == 413 and over.error == "file_too_large"
    assert "64 KiB" in over.json()["error"]["message"]
    # A body declared far too long is refused before any of it is read (none is sent).
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"POST {PREFIX}/api/attachments HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: Bearer {token}\r\n"
                 "Content-Type: multipart/form-data; boundary=b\r\n"
                 f"Content-Length: {1024 * 1024 * 1024}\r\n\r\n".encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    assert status.startswith(b"HTTP/1.1 413"), status
    writer.close()


async def test_the_cap_is_enforced_while_streaming(start_server: StartServer) -> None:
    """A chunked upload (no length given) is refused as soon as it passes the limit: the
    answer comes while the client is still sending, having sent a small part of the whole."""
    server = await start_server(attachment_max_bytes=64 * KIB)
    token = await visitor_token(server)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"POST {PREFIX}/api/attachments HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: Bearer {token}\r\n"
                 "Content-Type: multipart/form-data; boundary=BOUNDARY\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    writer.write(chunk(b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; "
                       b"filename=\"huge.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n"))
    answer = asyncio.ensure_future(reader.readline())
    sent, whole, piece = 0, 512 * 1024 * KIB, b"\n" * (64 * KIB)
    while not answer.done() and sent < whole:
        writer.write(chunk(piece))
        sent += len(piece)
        try:
            await asyncio.wait_for(writer.drain(), 2)
        except (ConnectionError, TimeoutError):
            break
        await asyncio.sleep(0)
    status = await asyncio.wait_for(answer, 5)
    writer.close()
    assert status.startswith(b"HTTP/1.1 413"), status
    # The server answered having read about the limit; what the client got to send meanwhile
    # is what the socket buffers held, nowhere near the half gigabyte it offered.
    assert sent < 32 * 1024 * KIB, sent


async def test_malformed_uploads_are_refused(server: TestServer) -> None:
    token = await visitor_token(server)
    path = f"{PREFIX}/api/attachments"
    as_json = await request(server, "POST", path, token, json={"file": "x"})
    assert as_json.status == 415 and as_json.error == "invalid_payload"

    def multipart(*parts: bytes) -> dict[str, Any]:
        body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"
        return {"data": body, "headers": {"Content-Type": "multipart/form-data; boundary=b"}}

    png = samples.png()
    file_part = (b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
                 b"Content-Type: image/png\r\n\r\n" + png)
    cases = {
        "a field first": multipart(b'Content-Disposition: form-data; name="note"\r\n\r\nhi',
                                   file_part),
        "no filename": multipart(b'Content-Disposition: form-data; name="file"\r\n\r\n' + png),
        "two files": multipart(file_part, file_part),
        "base64": multipart(b'Content-Disposition: form-data; name="file"; filename="a.png"'
                            b"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo="),
        "no parts": multipart(),
        "no end": {"data": b"--b\r\n" + file_part,
                   "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
    }
    for case, options in cases.items():
        refused = await request(server, "POST", path, token, **options)
        assert (refused.status, refused.error) == (400, "invalid_payload"), case
    assert (await request(server, "POST", path, token, **multipart(file_part))).status == 201


async def test_only_visitors_and_agents_may_upload(server: TestServer) -> None:
    png = samples.png()
    assert (await upload(server, None, png)).status == 401
    forged = await upload(server, "e30.c2lnbmF0dXJl", png)
    assert (forged.status, forged.error) == (401, "invalid_token")
    assert forged.headers["WWW-Authenticate"] == "Bearer"
    # A link's token is no key to anything else.
    kit: Any = server.kit  # type: ignore[attr-defined]
    link_token = kit.attachments._require_signer().sign(LINK_TOKEN, "c" * 32)
    assert (await upload(server, link_token, png)).status == 401
    assert (await upload(server, await agent_token(server), png)).status == 201


async def test_a_pending_file_is_its_uploaders_alone(server: TestServer) -> None:
    owner, stranger = await visitor_token(server), await visitor_token(server)
    uploaded = (await upload(server, owner, samples.png())).json()
    assert (await download(server, uploaded["id"], owner)).status == 200
    for token in (stranger, await agent_token(server)):
        refused = await download(server, uploaded["id"], token)
        assert (refused.status, refused.error) == (404, "not_found")
    assert (await download(server, uploaded["id"])).status == 401
    assert (await download(server, "f" * 32, owner)).status == 404
    assert (await download(server, "not-an-id", owner)).status == 404


async def test_a_sent_file_is_for_that_conversation_only(server: TestServer) -> None:
    owner, stranger = await visitor_token(server), await visitor_token(server)
    uploaded = (await upload(server, owner, samples.png())).json()
    message = await send(server, owner, [uploaded["id"]])
    (carried,) = message["meta"]["attachments"]
    assert carried["id"] == uploaded["id"]
    assert (await download(server, uploaded["id"], owner)).status == 200
    assert (await download(server, uploaded["id"], await agent_token(server))).status == 200
    refused = await download(server, uploaded["id"], stranger)
    assert (refused.status, refused.error) == (404, "not_found")
    # The stranger's own conversation changes nothing.
    await send(server, stranger, [(await upload(server, stranger, samples.GIF)).json()["id"]])
    assert (await download(server, uploaded["id"], stranger)).status == 404


async def test_links_work_without_a_token_until_they_expire(server: TestServer) -> None:
    token = await visitor_token(server)
    uploaded = (await upload(server, token, samples.png())).json()
    other = (await upload(server, token, samples.GIF)).json()
    url = uploaded["url"]
    assert (await download(server, url)).status == 200

    kit: Any = server.kit  # type: ignore[attr-defined]
    signer = kit.attachments._require_signer()
    path = f"{PREFIX}/api/attachments/{uploaded['id']}?token="
    expired = signer.sign(LINK_TOKEN, uploaded["id"], expires=int(time.time()) - 1)
    payload, signature = url.split("token=")[1].split(".")
    forged = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    visitor_as_link = token  # a visitor token is no link
    for bad in (expired, forged, visitor_as_link, other["url"].split("token=")[1], "x"):
        refused = await download(server, path + bad)
        assert (refused.status, refused.error) == (403, "invalid_token"), bad
    assert "fresh" in refused.json()["error"]["message"]
    assert (await download(server, url + "&download=1")).status == 400
    # Links made close together are one URL, which the browser's cache can keep.
    assert kit.attachments.link(uploaded["id"]) == url


async def test_too_many_files_waiting_to_be_sent(start_server: StartServer) -> None:
    server = await start_server()
    token = await visitor_token(server)
    for _ in range(MAX_PENDING):
        assert (await upload(server, token, samples.GIF, "a.gif")).status == 201
    refused = await upload(server, token, samples.GIF, "a.gif")
    assert (refused.status, refused.error) == (429, "too_many_attachments")
    assert (await upload(server, await visitor_token(server), samples.GIF)).status == 201
