"""How fast one socket may send events: a token bucket per socket.

A visitor is anyone on the internet: without a limit, one script could fill the store with
messages or keep the matcher busy. Each socket may send `burst` events at once and `rate` a
second after that; an event over the limit is refused with `rate_limited` (and a
`retry_after_ms`) before it is validated or handled, so it changes nothing, and the clients'
outboxes resend it later with the same client id (docs/protocol.md).

The buckets live in the process that holds the socket, which is where its events arrive:
a limit per connection needs nothing shared."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """`rate` events a second per key, after a first `burst` at once.

    >>> limit = RateLimit(rate=1, burst=2, clock=lambda: 0.0)
    >>> [limit.take("sid") for _ in range(3)]
    [None, None, 1.0]
    """

    def __init__(self, *, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float | None:
        """Spend one event of `key`'s: None when allowed, else the seconds until it would be."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def forget(self, key: str) -> None:
        """The socket is gone: its bucket with it."""
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)
