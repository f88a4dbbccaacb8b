"""The storage port's sign-in part: agents' console sessions and the failed sign-ins that lock
an email out.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_sessions.py.
Both live in the store, not in a process's memory, so that a session opened through one
process works on every other, and a lockout holds whichever process the next attempt reaches.
Times are milliseconds since the epoch and are passed in, so the callers (and tests) own the
clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chatkit.models import Agent


@dataclass(slots=True, frozen=True)
class AgentSession:
    """One console sign-in. `token_hash` is the SHA-256 (hex) of the cookie's token, never the
    token itself; `csrf_token` is what the console must echo on every change it asks for."""

    token_hash: str
    agent_id: str
    csrf_token: str
    created_at: int
    last_seen_at: int
    expires_at: int


class SessionStore(Protocol):
    async def create_agent_session(self, session: AgentSession) -> None:
        """Keep a new session (its token hash is new: tokens are random)."""

    async def agent_session(self, token_hash: str, *, now: int,
                            idle_ms: int) -> tuple[AgentSession, Agent] | None:
        """The session with this token hash and its agent, while it lives: None when there is
        none, it is past `expires_at`, or it has not been seen for `idle_ms` or more."""

    async def touch_agent_session(self, token_hash: str, *, now: int) -> None:
        """The session was used at `now` (it stays alive for another idle timeout)."""

    async def delete_agent_session(self, token_hash: str) -> bool:
        """End the session (a sign-out); False when there was none."""

    async def delete_expired_agent_sessions(self, *, now: int, idle_ms: int) -> int:
        """Delete the sessions that no longer live (as agent_session judges); how many."""

    async def login_locked_until(self, email: str, *, now: int) -> int | None:
        """When the lockout of this email ends, if it is locked out at `now`."""

    async def record_login_failure(self, email: str, *, now: int, window_ms: int,
                                   max_failures: int, lockout_ms: int) -> int | None:
        """Count a failed sign-in for this email, atomically (every process counts in the same
        row). Failures count within `window_ms` of the first one; the `max_failures`-th locks
        the email for `lockout_ms` and starts the count again. Returns when the lockout ends
        if the email is now locked out, else None."""

    async def clear_login_failures(self, email: str) -> None:
        """A successful sign-in: forget the email's failures."""

    async def delete_stale_login_failures(self, *, now: int, window_ms: int) -> int:
        """Forget counts whose window and lockout are both over; how many."""
