"""What a file is, from its first bytes, and the name it is shown by.

The type is decided by the file's magic bytes alone: the client's content type and the name's
extension are whatever the client says, and a renamed program must not pass as a picture.
Only types a browser shows without running anything are accepted: PNG, JPEG, GIF and WebP
images, and PDF documents (which are offered for download, never shown inline). SVG is not
among them: it is a document that can carry script.
"""

from __future__ import annotations

import hashlib
import posixpath
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from chatkit.errors import FileTooLarge, UnsupportedFileType

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class FileType:
    content_type: str
    extensions: tuple[str, ...]  # the first is added to a name that has none of them
    inline: bool  # shown in the page (images), or offered as a download (PDF)


PNG = FileType("image/png", (".png",), inline=True)
JPEG = FileType("image/jpeg", (".jpg", ".jpeg", ".jpe"), inline=True)
GIF = FileType("image/gif", (".gif",), inline=True)
WEBP = FileType("image/webp", (".webp",), inline=True)
PDF = FileType("application/pdf", (".pdf",), inline=False)

FILE_TYPES = (PNG, JPEG, GIF, WEBP, PDF)
BY_CONTENT_TYPE = {kind.content_type: kind for kind in FILE_TYPES}

#: How many first bytes `sniff` needs to decide (fewer only when the file is that short).
SNIFF_BYTES = 12


def sniff(head: bytes) -> FileType | None:
    """The type of a file beginning with `head` (its first SNIFF_BYTES bytes or more), or
    None when it is not one chatkit accepts.

    >>> sniff(b"%PDF-1.7\\n%...").content_type
    'application/pdf'
    >>> sniff(b"MZ\\x90\\x00\\x03") is None
    True
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def clean_name(raw: str | None, kind: FileType) -> str:
    """The name to show for an uploaded file: its last path component only, without control,
    format (bidirectional overrides, zero-width) or separator characters, NFC, at most
    MAX_NAME characters, and ending with an extension of its real type ("invoice.exe"
    holding a PDF becomes "invoice.exe.pdf").

    >>> clean_name("../../etc/\\u202egnp.exe", PNG)
    'gnp.exe.png'
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = posixpath.basename(name.replace("\\", "/"))
    # Separators (tabs, line breaks, exotic spaces) become spaces; other control and format
    # characters (NUL, bidirectional overrides, zero-width joiners) go.
    name = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    stem, extension = posixpath.splitext(name)
    if extension.lower() not in kind.extensions:
        stem, extension = name, kind.extensions[0]
    stem = stem[:MAX_NAME - len(extension)].rstrip(" .") or "file"
    return stem + extension


def content_disposition(kind: FileType, name: str) -> str:
    """`inline` for images, `attachment` for the rest, with the name both as plain ASCII (for
    old clients) and in full (RFC 6266 `filename*`)."""
    fallback = "".join(ch if " " <= ch < "\x7f" and ch not in '"\\%' else "_" for ch in name)
    disposition = "inline" if kind.inline else "attachment"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class UploadBuffer:
    """An upload's bytes, collected as they arrive: refused as soon as they pass `max_bytes`
    or their first bytes are no accepted type, so a refused upload is never read whole (and
    an accepted one is held once, at most max_bytes). Hashed as it goes, a chunk at a time,
    so a large file does not hold the event loop for one long hash at the end."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data = bytearray()
        self._hash = hashlib.sha256()
        self._kind: FileType | None = None

    def feed(self, chunk: bytes) -> None:
        """Raises FileTooLarge or UnsupportedFileType."""
        if len(self._data) + len(chunk) > self.max_bytes:
            raise FileTooLarge(f"the file is larger than {describe_size(self.max_bytes)}")
        self._data += chunk
        self._hash.update(chunk)
        if self._kind is None and len(self._data) >= SNIFF_BYTES:
            self._kind = _accepted(bytes(self._data[:SNIFF_BYTES]))

    def finish(self) -> tuple[FileType, bytes, str]:
        """The file's type, bytes and SHA-256 (hex). Raises UnsupportedFileType, also for an
        empty file."""
        if not self._data:
            raise UnsupportedFileType("the file is empty")
        kind = self._kind or _accepted(bytes(self._data))
        return kind, bytes(self._data), self._hash.hexdigest()


def _accepted(head: bytes) -> FileType:
    kind = sniff(head)
    if kind is None:
        raise UnsupportedFileType(
            "only images (PNG, JPEG, GIF, WebP) and PDF documents can be attached; "
            "the type is read from the file's contents, not its name")
    return kind


def describe_size(size: int) -> str:
    """>>> describe_size(10 * 1024 * 1024)
    '10 MiB'
    """
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
