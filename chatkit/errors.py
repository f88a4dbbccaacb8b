"""Errors that cross layers. Each carries a stable code that clients can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class ChatKitError(Exception):
    """Base class: `code` is part of the protocol (docs/protocol.md). `http_status` is what
    a REST route answers when one escapes it (chatkit.routes.chatkit_middleware)."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: Extra fields for the client beside code and message (e.g. the conversation a
        #: conflict is about), sent in the error object.
        self.details: dict[str, Any] = details or {}


class InvalidPayload(ChatKitError):
    code = "invalid_payload"


class InvalidChoice(ChatKitError):
    """A quick-reply answer (`reply_to`) names a message that did not offer that choice."""

    code = "invalid_choice"


class NotFound(ChatKitError):
    code = "not_found"
    http_status = 404


class Conflict(ChatKitError):
    code = "conflict"
    http_status = 409


class Forbidden(ChatKitError):
    code = "forbidden"
    http_status = 403


class InvalidToken(ChatKitError):
    code = "invalid_token"
    http_status = 401


class InvalidCredentials(ChatKitError):
    code = "invalid_credentials"
    http_status = 401


class TooManyAttempts(ChatKitError):
    """Sign-ins for this email failed too often: it is locked out for `retry_after` seconds,
    whatever the password."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"too many attempts, try again in {minutes} minute"
                         f"{'' if minutes == 1 else 's'}", details={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(ChatKitError):
    code = "unavailable"
    http_status = 503


class ConfigError(ChatKitError):
    code = "config_error"


class FileTooLarge(ChatKitError):
    """An upload is larger than the `attachment_max_bytes` setting."""

    code = "file_too_large"
    http_status = 413


class UnsupportedFileType(ChatKitError):
    """An upload's contents are not an image or a PDF that chatkit accepts."""

    code = "unsupported_type"
    http_status = 415


class TooManyAttachments(ChatKitError):
    """An uploader has too many files waiting to be sent in a message."""

    code = "too_many_attachments"
    http_status = 429


def config_problems(exc: ValidationError) -> str:
    """A config file's validation errors as `teams[0].strategy: message; ...`, for a
    ConfigError that also names the file. A cross-field check (no location) names its fields
    in its message already."""
    return "; ".join(f"{_where(tuple(e['loc']))}{e['msg'].removeprefix('Value error, ')}"
                     for e in exc.errors(include_url=False))


def _where(loc: tuple[int | str, ...]) -> str:
    parts = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a mapping's key: the key is named already
            continue
        parts += f"[{part}]" if isinstance(part, int) else f".{part}" if parts else str(part)
    return f"{parts}: " if parts else ""
