"""The attachments' HTTP API (docs/protocol.md, "Attachments").

    POST {prefix}/api/attachments          multipart/form-data, one part "file"
         Authorization: Bearer <visitor token or agent token>, or the console's session
         cookie with X-CSRF-Token
         -> 201 {"id", "name", "content_type", "size", "url"}   (pending until sent)
    GET  {prefix}/api/attachments/{id}?token=...    the link a message carries
    GET  {prefix}/api/attachments/{id}              Authorization: Bearer <token> (or the
                                                    console's session cookie)

Uploads are read a chunk at a time and refused as soon as they pass the size limit or their
first bytes are not an accepted type. Nothing here can be triggered cross-site: uploads need
an Authorization header or, with the console's cookie, an X-CSRF-Token header (a cross-site
page can send neither without a CORS preflight, which chatkit never grants, and cannot read
the CSRF token), and downloads change nothing.
"""

from __future__ import annotations

import re

from aiohttp import BodyPartReader, hdrs, web

from chatkit.attachments.files import (
    BY_CONTENT_TYPE,
    FileType,
    UploadBuffer,
    content_disposition,
    describe_size,
)
from chatkit.attachments.service import Party
from chatkit.console.auth import SESSION_COOKIE, authenticated_agent, bearer_token
from chatkit.errors import (
    FileTooLarge,
    InvalidPayload,
    InvalidToken,
    NotFound,
    Unavailable,
)
from chatkit.keys import KIT
from chatkit.models import SenderKind
from chatkit.realtime.visitor import VISITOR_TOKEN
from chatkit.routes import error_response

routes = web.RouteTableDef()

CHUNK = 64 * 1024
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 16 * 1024
_ATTACHMENT_ID = re.compile(r"^[0-9a-f]{32}$")
# Images, PDFs: nothing in them may run, whoever opens the link and however.
_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
    "Referrer-Policy": "no-referrer",
}
async def _party(request: web.Request) -> Party:
    """The visitor or agent whose token is in `Authorization: Bearer ...` (InvalidToken), or
    the agent signed in to the console (its cookie; the CSRF header unless reading)."""
    token = bearer_token(request)
    if token is None and SESSION_COOKIE in request.cookies:
        agent = await authenticated_agent(request)  # a JSON 401 or 403 otherwise
        return Party(SenderKind.AGENT, agent.id, agent)
    if token is None:
        raise InvalidToken("send a visitor or agent token: Authorization: Bearer ...")
    kit = request.config_dict[KIT]
    signer = kit.visitors.signer
    if signer is None:
        raise Unavailable("the server is starting")
    try:
        return Party(SenderKind.VISITOR, signer.verify(VISITOR_TOKEN, token))
    except InvalidToken:
        agent = await kit.agents.agent_for_token(token)  # raises InvalidToken in turn
        return Party(SenderKind.AGENT, agent.id, agent)


@routes.post("/api/attachments")
async def upload(request: web.Request) -> web.Response:
    service = request.config_dict[KIT].attachments
    uploader = await _party(request)
    length = request.content_length
    if length is not None and length > service.max_bytes + MULTIPART_OVERHEAD:
        raise FileTooLarge(f"the file is larger than {describe_size(service.max_bytes)}")
    if request.content_type != "multipart/form-data":
        return error_response(415, "invalid_payload",
                              "send the file as multipart/form-data, in a part named file")
    name, kind, data, digest = await _read_file(request, UploadBuffer(service.max_bytes))
    attachment = await service.save(uploader, name=name, kind=kind, data=data,
                                    sha256=digest)
    return web.json_response(service.describe(attachment), status=201,
                             headers={"Cache-Control": "no-store"})


async def _read_file(request: web.Request,
                     buffer: UploadBuffer) -> tuple[str | None, FileType, bytes, str]:
    try:
        reader = await request.multipart()
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or part.name != "file" or part.filename is None:
            raise InvalidPayload("the first part must be the file, named file, with a filename")
        encoding = part.headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "binary").lower()
        if encoding not in {"binary", "8bit", "7bit"} or hdrs.CONTENT_ENCODING in part.headers:
            raise InvalidPayload("send the file's bytes as they are, not encoded")
        while chunk := await part.read_chunk(CHUNK):
            buffer.feed(chunk)
        kind, data, digest = buffer.finish()
        if await reader.next() is not None:
            raise InvalidPayload("send one file per request")
    except ValueError as exc:  # aiohttp's word for a malformed body
        raise InvalidPayload(f"the multipart body is malformed: {exc}") from None
    return _browser_filename(part.filename), kind, data, digest


def _browser_filename(name: str) -> str:
    # Browsers send the name in UTF-8 with only these three escaped (the HTML standard's
    # multipart/form-data encoding); any other % is the name's own.
    return name.replace("%22", '"').replace("%0A", "\n").replace("%0D", "\r")


@routes.get("/api/attachments/{attachment_id}")
async def download(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[KIT].attachments
    attachment_id = request.match_info["attachment_id"]
    unknown = sorted(set(request.query) - {"token"})
    if unknown:
        return error_response(400, "invalid_payload", f"{unknown[0]}: unknown parameter")
    if not _ATTACHMENT_ID.match(attachment_id):
        raise NotFound("no such attachment")
    token = request.query.get("token")
    if token is not None:
        try:
            attachment = await service.linked(attachment_id, token)
        except InvalidToken as exc:
            # A link, not a login: the client should ask for the message again.
            return error_response(403, exc.code, f"{exc.message}; links expire: "
                                  "load the conversation again for a fresh one")
    else:
        attachment = await service.readable(attachment_id, await _party(request))
    data = await service.data(attachment)
    kind = BY_CONTENT_TYPE.get(attachment.content_type)
    if kind is None:  # a type uploads never accept: not served, whatever put it there
        return error_response(404, "not_found", "no such attachment")
    return web.Response(body=data, content_type=kind.content_type, headers={
        **_DOWNLOAD_HEADERS,
        hdrs.CONTENT_DISPOSITION: content_disposition(kind, attachment.name)})


def add_attachment_routes(app: web.Application) -> None:
    app.router.add_routes(routes)
