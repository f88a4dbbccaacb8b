"""Agent accounts with argon2 password hashes.

Hashing and verifying take tens of milliseconds of CPU by design, so they run in a thread,
never on the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatkit.errors import InvalidCredentials, InvalidToken
from chatkit.models import Agent, AgentRole
from chatkit.storage import Store
from chatkit.tokens import TokenSigner

AGENT_TOKEN = "agent"


class AgentService:
    def __init__(self, store: Store, *, token_ttl: int,
                 hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._token_ttl = token_ttl
        self._hasher = hasher or PasswordHasher()
        self._signer: TokenSigner | None = None
        # Verified against when the email is unknown, so a miss costs as long as a hit.
        self._dummy_hash: str | None = None

    def use_signer(self, signer: TokenSigner) -> None:
        self._signer = signer

    async def create(self, *, email: str, name: str, password: str,
                     role: AgentRole = AgentRole.AGENT) -> Agent:
        """Raises chatkit.errors.Conflict when the email is taken."""
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        return await self._store.create_agent(email=email, name=name, role=role,
                                              password_hash=password_hash)

    async def authenticate(self, email: str, password: str) -> Agent:
        agent = await self._store.get_agent_by_email(email)
        if agent is None:
            if self._dummy_hash is None:
                self._dummy_hash = await asyncio.to_thread(self._hasher.hash, "x" * 16)
            await asyncio.to_thread(self._verify, self._dummy_hash, password)
            raise InvalidCredentials("wrong email or password")
        if not await asyncio.to_thread(self._verify, agent.password_hash, password):
            raise InvalidCredentials("wrong email or password")
        return agent

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def issue_token(self, agent: Agent) -> str:
        return self._require_signer().sign(AGENT_TOKEN, agent.id, ttl=self._token_ttl)

    async def agent_for_token(self, token: object) -> Agent:
        agent_id = self._require_signer().verify(AGENT_TOKEN, token)
        agent = await self._store.get_agent(agent_id)
        if agent is None:
            raise InvalidToken("the agent no longer exists")
        return agent

    def _require_signer(self) -> TokenSigner:
        if self._signer is None:
            raise RuntimeError("chatkit has not started: no signing key yet")
        return self._signer
