"""The console's server-side sessions: a random token in an HttpOnly cookie, and in the store
only its SHA-256, with the agent, a CSRF token, and when it was made and last used.

A session ends after `idle_timeout` seconds unused or `lifetime` seconds after sign-in,
whichever is first, or when the agent signs out (deleted in the store, so at once and in every
process), or when the agent is deleted. Every sign-in makes a new session, so a token planted
before sign-in (session fixation) never becomes a signed-in one."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from chatkit.errors import InvalidToken
from chatkit.models import Agent, now_ms
from chatkit.storage import Store
from chatkit.storage.sessions import AgentSession
from chatkit.tokens import TokenSigner

#: Longest a token may be (the cookie's value): token_urlsafe(32) gives 43 characters.
MAX_TOKEN_LENGTH = 100
# Recording each use would be one write per request; a minute's precision is plenty.
TOUCH_EVERY_MS = 60_000
LOGIN_FORM = "login-form"
#: How long a sign-in form may be left open before it is sent (s).
LOGIN_FORM_TTL = 2 * 3600
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,64}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True, frozen=True)
class SignedIn:
    """A live session and its agent."""

    agent: Agent
    session: AgentSession


class Sessions:
    def __init__(self, store: Store, *, idle_timeout: float, lifetime: float,
                 clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self.idle_ms = int(idle_timeout * 1000)
        self.lifetime = lifetime
        #: Milliseconds since the epoch; tests give their own.
        self.clock = clock
        self._signer: TokenSigner | None = None

    def use_signer(self, signer: TokenSigner) -> None:
        self._signer = signer

    def login_form_tokens(self, cookie: str | None = None) -> tuple[str, str]:
        """The sign-in form's CSRF protection, before any session exists (a signed double
        submit): a random value for a cookie, and for the form a signed token naming it. A
        cross-site page can neither read the cookie nor sign a token for a value it planted.
        The browser's `cookie`, when it has one, is kept, so that two forms open in two tabs
        both work."""
        if self._signer is None:
            raise RuntimeError("chatkit has not started: no signing key yet")
        nonce = cookie if cookie and _NONCE.fullmatch(cookie) else secrets.token_urlsafe(16)
        return nonce, self._signer.sign(LOGIN_FORM, nonce, ttl=LOGIN_FORM_TTL)

    def login_form_valid(self, cookie: str | None, form_token: str | None) -> bool:
        if self._signer is None or not cookie or not form_token:
            return False
        try:
            named = self._signer.verify(LOGIN_FORM, form_token)
        except InvalidToken:
            return False
        return secrets.compare_digest(named.encode(), cookie.encode())

    async def open(self, agent: Agent) -> tuple[str, SignedIn]:
        """A new session for the agent: the token for their cookie, and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = AgentSession(token_hash=token_hash(token), agent_id=agent.id,
                               csrf_token=secrets.token_urlsafe(32), created_at=now,
                               last_seen_at=now, expires_at=now + int(self.lifetime * 1000))
        await self._store.create_agent_session(session)
        return token, SignedIn(agent, session)

    async def find(self, token: str) -> SignedIn | None:
        """The live session of this cookie token, marked as used; None when there is none
        (never was, signed out, expired)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self.find_by_hash(token_hash(token))

    async def alive(self, hashed: str) -> bool:
        """Whether the session with this token hash still lives, without recording a use
        (a socket that only listens must not keep its session from going idle)."""
        return await self._store.agent_session(hashed, now=self.clock(),
                                               idle_ms=self.idle_ms) is not None

    async def find_by_hash(self, hashed: str) -> SignedIn | None:
        """As find, by the token's hash (what a socket opened with the session keeps)."""
        now = self.clock()
        found = await self._store.agent_session(hashed, now=now, idle_ms=self.idle_ms)
        if found is None:
            return None
        session, agent = found
        if now - session.last_seen_at >= min(TOUCH_EVERY_MS, self.idle_ms // 10):
            await self._store.touch_agent_session(session.token_hash, now=now)
        return SignedIn(agent, session)

    async def close(self, token: str) -> None:
        """Sign out: the session ends everywhere."""
        if token and len(token) <= MAX_TOKEN_LENGTH:
            await self._store.delete_agent_session(token_hash(token))

    async def sweep(self) -> int:
        """Delete the sessions that ended; how many."""
        return await self._store.delete_expired_agent_sessions(now=self.clock(),
                                                               idle_ms=self.idle_ms)
