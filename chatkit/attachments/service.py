"""Attachments: who may upload, who may read, and the links messages carry.

A file is uploaded first (HTTP), pending: owned by its uploader and seen by no one else. A
message of the uploader's then carries it (`attachment_ids`, docs/protocol.md), which binds it
to that message and conversation, once and for good, in the transaction that stores the
message (Store.append_with_attachments). From then on whoever may read the conversation may
read the file: its visitor, and the agents who may see it (with routing, an agent only their
teams' conversations and their own: `agent_sees`).

An <img> cannot send an Authorization header, so every message sent to a client carries, for
each of its files, a link with a signed, expiring token naming that one file (`url`). Only a
client allowed to read the message gets it; it works for anyone holding it until it expires
(at least `attachment_url_ttl` seconds), like a pre-signed object-store URL. Links are made
when a message is sent out, not stored, so history always carries fresh ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatkit.attachments.files import FileType, clean_name
from chatkit.errors import Forbidden, InvalidToken, NotFound, TooManyAttachments
from chatkit.models import Agent, Attachment, Conversation, Message, SenderKind, now_ms
from chatkit.storage import Store
from chatkit.tokens import TokenSigner

LINK_TOKEN = "attachment"
#: Files an uploader may have waiting to be sent at once (a message carries at most 5).
MAX_PENDING = 20
#: Pending files are deleted after this long: the upload was abandoned.
PENDING_LIFETIME_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Party:
    """Who is asking: a visitor (`id` is their contact's) or an agent (`agent`)."""

    kind: SenderKind
    id: str
    agent: Agent | None = None


class AttachmentService:
    def __init__(self, store: Store, *, max_bytes: int, url_ttl: int, prefix: str) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.url_ttl = url_ttl
        #: Where chatkit is mounted; links are paths below it.
        self.prefix = prefix
        self._signer: TokenSigner | None = None
        #: Whether an agent may see a conversation (set by ChatKit to routing's rule);
        #: None: every agent sees every one.
        self.agent_sees: Callable[[Agent, Conversation], bool] | None = None

    def use_signer(self, signer: TokenSigner) -> None:
        self._signer = signer

    def _require_signer(self) -> TokenSigner:
        if self._signer is None:
            raise RuntimeError("chatkit has not started: no signing key yet")
        return self._signer

    # uploads

    async def save(self, uploader: Party, *, name: str | None, kind: FileType, data: bytes,
                   sha256: str) -> Attachment:
        """Keep an upload (checked by files.UploadBuffer) as a pending attachment."""
        if await self.store.count_pending_attachments(uploader.kind, uploader.id) >= MAX_PENDING:
            raise TooManyAttachments(
                f"{MAX_PENDING} files are waiting to be sent already; send or drop them first")
        return await self.store.create_attachment(
            uploader_kind=uploader.kind, uploader_id=uploader.id, name=clean_name(name, kind),
            content_type=kind.content_type, sha256=sha256, data=data)

    async def delete_abandoned(self) -> int:
        """Delete pending files older than a day; returns how many."""
        return await self.store.delete_pending_attachments(
            created_before=now_ms() - PENDING_LIFETIME_MS)

    # downloads

    async def readable(self, attachment_id: str, reader: Party) -> Attachment:
        """The attachment, if `reader` may read it: the uploader always; once it is in a
        message, also the conversation's visitor and the agents who may see the conversation
        (`agent_sees`; Forbidden for another team's). NotFound otherwise (whether it exists
        is not told)."""
        found = await self.store.get_attachments([attachment_id])
        attachment = found[0] if found else None
        if attachment is not None:
            if attachment.uploader_kind is reader.kind and attachment.uploader_id == reader.id:
                return attachment
            if attachment.conversation_id is not None:
                if reader.kind is SenderKind.AGENT and self.agent_sees is None:
                    return attachment
                conversation = await self.store.get_conversation(attachment.conversation_id)
                if conversation is None:
                    raise NotFound("no such attachment")
                if reader.kind is SenderKind.VISITOR and conversation.contact_id == reader.id:
                    return attachment
                if reader.kind is SenderKind.AGENT:
                    if reader.agent is None or self.agent_sees is None:
                        raise NotFound("no such attachment")
                    if self.agent_sees(reader.agent, conversation):
                        return attachment
                    raise Forbidden("the file is in another team's conversation; "
                                    "it is not for you to see")
        raise NotFound("no such attachment")

    async def linked(self, attachment_id: str, token: str) -> Attachment:
        """The attachment a link's token names. Raises InvalidToken (forged, expired, or for
        another file) or NotFound."""
        if self._require_signer().verify(LINK_TOKEN, token) != attachment_id:
            raise InvalidToken("the link is for another file")
        found = await self.store.get_attachments([attachment_id])
        if not found:
            raise NotFound("no such attachment")
        return found[0]

    async def data(self, attachment: Attachment) -> bytes:
        data = await self.store.attachment_data(attachment.id)
        if data is None:
            raise NotFound("no such attachment")
        return data

    # links

    def link(self, attachment_id: str) -> str:
        """The path of the file with a token that expires in url_ttl seconds or a little
        more: rounded up, so links made within a few minutes of each other are the same URL
        and the browser's cache serves them."""
        step = max(60, self.url_ttl // 4)
        expires = -(-(int(time.time()) + self.url_ttl) // step) * step
        token = self._require_signer().sign(LINK_TOKEN, attachment_id, expires=expires)
        return f"{self.prefix}/api/attachments/{attachment_id}?token={token}"

    def describe(self, attachment: Attachment) -> dict[str, Any]:
        """An attachment as clients see it: its meta and a link."""
        return {**attachment.to_meta(), "url": self.link(attachment.id)}

    def wire(self, message: Message) -> dict[str, Any]:
        """The message as sent to a client allowed to read it: with a fresh link for each of
        its attachments."""
        wire = message.to_wire()
        meta = message.meta
        files = meta.get("attachments") if meta else None
        if meta and isinstance(files, list) and files:
            wire["meta"] = {**meta, "attachments": [
                {**item, "url": self.link(item["id"])} for item in files
                if isinstance(item, dict) and isinstance(item.get("id"), str)]}
        return wire
