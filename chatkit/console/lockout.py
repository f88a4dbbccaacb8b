"""Signing in with a lockout: after `max_failures` failed sign-ins for one email within
`window` seconds, that email is refused for `lockout` seconds, even with the right password.

Unknown emails are counted and locked exactly like known ones, and a miss costs the same
password hashing as a hit (AgentService.authenticate), so neither the answers nor their timing
say whether an account exists. The counts live in the store: every process sees them."""

from __future__ import annotations

from collections.abc import Callable

from chatkit.agents import AgentService
from chatkit.errors import InvalidCredentials, TooManyAttempts
from chatkit.models import Agent, now_ms
from chatkit.storage import Store


class LoginGuard:
    def __init__(self, store: Store, agents: AgentService, *, max_failures: int,
                 window: float, lockout: float, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._agents = agents
        self.max_failures = max_failures
        self.window_ms = int(window * 1000)
        self.lockout_ms = int(lockout * 1000)
        #: Milliseconds since the epoch; tests give their own.
        self.clock = clock

    async def authenticate(self, email: str, password: str) -> Agent:
        """The agent with these credentials; InvalidCredentials, or TooManyAttempts while
        the email is locked out (its password is then not even looked at)."""
        email = email.strip().lower()
        locked_until = await self._store.login_locked_until(email, now=self.clock())
        if locked_until is not None:
            raise self._locked(locked_until)
        try:
            agent = await self._agents.authenticate(email, password)
        except InvalidCredentials:
            locked_until = await self._store.record_login_failure(
                email, now=self.clock(), window_ms=self.window_ms,
                max_failures=self.max_failures, lockout_ms=self.lockout_ms)
            if locked_until is not None:  # this failure was one too many
                raise self._locked(locked_until) from None
            raise
        await self._store.clear_login_failures(email)
        return agent

    def _locked(self, until: int) -> TooManyAttempts:
        return TooManyAttempts(max(1, -(-(until - self.clock()) // 1000)))

    async def sweep(self) -> int:
        """Forget failure counts that no longer matter; how many."""
        return await self._store.delete_stale_login_failures(now=self.clock(),
                                                             window_ms=self.window_ms)
