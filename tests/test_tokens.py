from __future__ import annotations

import pytest

from chatkit.errors import InvalidToken
from chatkit.tokens import TokenSigner

SIGNER = TokenSigner("a" * 32)


def test_round_trip_and_kind() -> None:
    token = SIGNER.sign("visitor", "contact-1")
    assert SIGNER.verify("visitor", token) == "contact-1"
    with pytest.raises(InvalidToken, match="not a agent token"):
        SIGNER.verify("agent", token)


def test_other_secret_is_refused() -> None:
    token = TokenSigner("b" * 32).sign("visitor", "contact-1")
    with pytest.raises(InvalidToken, match="signature"):
        SIGNER.verify("visitor", token)


def test_expiry() -> None:
    assert SIGNER.verify("agent", SIGNER.sign("agent", "a-1", ttl=60)) == "a-1"
    with pytest.raises(InvalidToken, match="expired"):
        SIGNER.verify("agent", SIGNER.sign("agent", "a-1", ttl=-1))


def test_expiry_at_a_given_time() -> None:
    import time

    later = int(time.time()) + 60
    assert SIGNER.verify("attachment", SIGNER.sign("attachment", "f-1", expires=later)) == "f-1"
    with pytest.raises(InvalidToken, match="expired"):
        SIGNER.verify("attachment", SIGNER.sign("attachment", "f-1", expires=later - 120))
    with pytest.raises(ValueError, match="not both"):
        SIGNER.sign("attachment", "f-1", ttl=60, expires=later)


@pytest.mark.parametrize("token", [None, 5, "", "no-dot", "a.b.c", "!!!.???", "x" * 1001])
def test_malformed(token: object) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.verify("visitor", token)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        TokenSigner("short")
