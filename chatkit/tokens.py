"""Signed tokens for visitors and agents: HMAC-SHA256 over a small JSON payload.

A visitor token names one contact and never expires (the widget keeps it, as a cookie would);
an agent token names one agent and expires; an attachment link's token names one attachment
and expires. The kind is part of what is signed, so a visitor
token can never pass as an agent token, and a token from another server (another secret) fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import orjson

from chatkit.errors import InvalidToken


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """>>> signer = TokenSigner("s" * 32)
    >>> signer.verify("visitor", signer.sign("visitor", "c123"))
    'c123'
    """

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the secret key must have at least 32 characters")
        self._key = hashlib.sha256(b"chatkit-token:" + secret.encode()).digest()

    def sign(self, kind: str, subject: str, *, ttl: int | None = None,
             expires: int | None = None) -> str:
        """A token for `subject`, valid for `ttl` seconds from now, or until `expires`
        (seconds since the epoch), or for ever when neither is given."""
        claims: dict[str, object] = {"k": kind, "s": subject}
        if ttl is not None and expires is not None:
            raise ValueError("give ttl or expires, not both")
        if ttl is not None:
            claims["e"] = int(time.time()) + ttl
        elif expires is not None:
            claims["e"] = expires
        payload = _b64(orjson.dumps(claims))
        return f"{payload}.{self._signature(payload)}"

    def verify(self, kind: str, token: object) -> str:
        """The token's subject, or InvalidToken."""
        if not isinstance(token, str) or len(token) > 1000 or token.count(".") != 1:
            raise InvalidToken("malformed token")
        payload, signature = token.split(".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise InvalidToken("bad token signature")
        try:
            claims = orjson.loads(_unb64(payload))
        except (binascii.Error, ValueError) as exc:
            raise InvalidToken("malformed token") from exc
        if not isinstance(claims, dict) or claims.get("k") != kind:
            raise InvalidToken(f"not a {kind} token")
        expires = claims.get("e")
        if isinstance(expires, int) and expires < time.time():
            raise InvalidToken("token expired")
        subject = claims.get("s")
        if not isinstance(subject, str):
            raise InvalidToken("malformed token")
        return subject

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())
