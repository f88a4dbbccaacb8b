"""What a file is (its first bytes, never its name), the name it is shown by, and an upload
refused as soon as it is too big or of the wrong kind."""

from __future__ import annotations

import hashlib

import pytest

from chatkit.attachments.files import (
    GIF,
    JPEG,
    PDF,
    PNG,
    SNIFF_BYTES,
    WEBP,
    UploadBuffer,
    clean_name,
    content_disposition,
    sniff,
)
from chatkit.errors import FileTooLarge, UnsupportedFileType
from tests.attachments import samples


@pytest.mark.parametrize(("data", "kind"), [
    (samples.png(), PNG), (samples.JPEG, JPEG), (samples.GIF, GIF), (b"GIF87a" + b"\x00" * 8, GIF),
    (samples.WEBP, WEBP), (samples.PDF, PDF)])
def test_accepted_types_by_their_first_bytes(data: bytes, kind: object) -> None:
    assert sniff(data[:SNIFF_BYTES]) is kind


@pytest.mark.parametrize("data", [
    samples.EXE, samples.HTML, samples.SVG, b"", b"\x89PNG", b"RIFF\x00\x00\x00\x00WAVE",
    b"PK\x03\x04 a zip, or a .docx", b" %PDF-1.4 not at the start", b"GIF88a......"])
def test_anything_else_is_unknown(data: bytes) -> None:
    assert sniff(data[:SNIFF_BYTES]) is None


@pytest.mark.parametrize(("raw", "kind", "shown"), [
    ("photo.png", PNG, "photo.png"),
    ("Foto del recibo.JPEG", JPEG, "Foto del recibo.JPEG"),
    ("C:\\Users\\ada\\Desktop\\scan.pdf", PDF, "scan.pdf"),
    ("../../etc/passwd", PDF, "passwd.pdf"),
    ("invoice.exe", PDF, "invoice.exe.pdf"),
    ("holiday.png", GIF, "holiday.png.gif"),
    ("\u202egnp.exe", PNG, "gnp.exe.png"),  # a right-to-left override to hide ".exe"
    ("a\x00b\r\nc\u200b.pdf", PDF, "ab c.pdf"),
    ("  ...  ", WEBP, "file.webp"),
    (None, PNG, "file.png"),
    ("e\u0301te\u0301.png", PNG, "\u00e9t\u00e9.png"),  # NFC
    ("x" * 500 + ".pdf", PDF, "x" * 196 + ".pdf"),
])
def test_names_are_for_display_and_sanitised(raw: str | None, kind: object,
                                             shown: str) -> None:
    assert clean_name(raw, kind) == shown  # type: ignore[arg-type]


def test_content_disposition_inline_for_images_a_download_for_pdf() -> None:
    assert content_disposition(PNG, "a.png") == (
        "inline; filename=\"a.png\"; filename*=UTF-8''a.png")
    assert content_disposition(PDF, 'Factura "año".pdf') == (
        "attachment; filename=\"Factura _a_o_.pdf\"; "
        "filename*=UTF-8''Factura%20%22a%C3%B1o%22.pdf")


def test_an_upload_is_refused_at_the_first_chunk_over_the_limit() -> None:
    buffer = UploadBuffer(max_bytes=100)
    data = samples.PDF[:60]
    buffer.feed(data[:30])
    buffer.feed(data[30:])
    with pytest.raises(FileTooLarge, match="100 bytes"):
        buffer.feed(b"x" * 41)
    exact = UploadBuffer(max_bytes=len(samples.PDF))
    exact.feed(samples.PDF)
    assert exact.finish() == (PDF, samples.PDF, hashlib.sha256(samples.PDF).hexdigest())


def test_an_upload_of_the_wrong_kind_is_refused_once_its_first_bytes_are_in() -> None:
    buffer = UploadBuffer(max_bytes=10_000)
    buffer.feed(samples.EXE[:5])  # not yet enough to tell
    with pytest.raises(UnsupportedFileType, match="from the file's contents"):
        buffer.feed(samples.EXE[5:])
    with pytest.raises(UnsupportedFileType, match="empty"):
        UploadBuffer(max_bytes=10).finish()
    short = UploadBuffer(max_bytes=10)
    short.feed(b"MZ")
    with pytest.raises(UnsupportedFileType):
        short.finish()
    tiny_gif = UploadBuffer(max_bytes=10)
    tiny_gif.feed(b"GIF89a")  # shorter than SNIFF_BYTES, still a GIF by its signature
    assert tiny_gif.finish()[0] is GIF
