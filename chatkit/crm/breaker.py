"""A circuit breaker for calls to a remote service (the CRM).

Closed: calls go through; `failure_threshold` failures in a row open it. Open: calls are
refused at once (no waiting on a CRM that is down) until `reset_after` seconds have passed.
Half-open: one trial call goes through (the others are refused meanwhile); its success closes
the breaker, its failure opens it for another `reset_after`. The clock is injectable, so tests
need no sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from chatkit.crm.port import CRMUnavailable


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, reset_after: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold: at least 1")
        if reset_after < 0:
            raise ValueError("reset_after: seconds, at least 0")
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self.clock = clock
        self.failures = 0  # in a row
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight
        #: Why the last call failed (for the panel).
        self.last_error: str | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial or self.clock() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Let a call through, or raise CRMUnavailable when the breaker is open (or its one
        half-open trial is in flight)."""
        if self._opened_at is None:
            return
        waited = self.clock() - self._opened_at
        if self._trial or waited < self.reset_after:
            retry = max(0.0, self.reset_after - waited)
            raise CRMUnavailable(
                f"circuit open after {self.failures} failures in a row (last: "
                f"{self.last_error}); trying again in {retry:.0f} s" if not self._trial else
                f"circuit half-open: a trial call is in flight (last: {self.last_error})")
        self._trial = True  # this call is the trial

    def succeeded(self) -> None:
        self.failures = 0
        self._opened_at = None
        self._trial = False
        self.last_error = None

    def failed(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        if self._trial or self.failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._trial = False
