"""HttpCRMAdapter: the CRM port over HTTP, for a CRM (or a bridge to one) that speaks the
small JSON contract in docs/architecture.md ("The CRM port").

Every call has a timeout; lookups are cached for a while (bounded); a circuit breaker stops
calling a CRM that keeps failing, so that a CRM that is down costs the chat nothing: each call
then fails at once with CRMUnavailable, and the panel says so. A response that is not the
expected JSON counts as a failure, as a timeout or an HTTP error does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from chatkit.crm.breaker import CircuitBreaker
from chatkit.crm.cache import TTLCache
from chatkit.crm.port import CRMContact, CRMContext, CRMIdentity, CRMUnavailable, Outcome

M = TypeVar("M", bound=BaseModel)

# A CRM's answers are small; a bigger one is a misconfigured endpoint, not a contact.
MAX_RESPONSE = 256 * 1024


class _Found(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    contact: CRMContact | None


class HttpCRMAdapter:
    """`url` is the CRM's base URL; `api_key`, when given, goes as `Authorization: Bearer`.

    >>> crm = HttpCRMAdapter("https://crm.example.com/chatkit", api_key="...", timeout=2)
    >>> ChatKit(settings, crm=crm)       # doctest: +SKIP  (or settings.crm_url)
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 2.0,
                 cache_ttl: float = 60.0, cache_size: int = 1000,
                 failure_threshold: int = 5, reset_after: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"crm url: {url!r} is not an http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout: seconds, more than 0")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.breaker = CircuitBreaker(failure_threshold=failure_threshold,
                                      reset_after=reset_after, clock=clock)
        self.contacts: TTLCache[CRMContact | None] = TTLCache(
            ttl=cache_ttl, max_size=cache_size, clock=clock)
        self.contexts: TTLCache[CRMContext] = TTLCache(ttl=cache_ttl, max_size=cache_size,
                                                       clock=clock)
        self._session: aiohttp.ClientSession | None = None

    async def find_contact(self, identity: CRMIdentity) -> CRMContact | None:
        if identity.external_id is None and identity.email is None:
            return None  # nothing the CRM could know them by
        key = _identity_key(identity)
        hit, cached = self.contacts.get(key)
        if hit:
            return cached
        found = await self._call("POST", "/contacts/find", _Found, json={
            "external_id": identity.external_id, "email": identity.email,
            "name": identity.name, "verified": identity.verified})
        self.contacts.put(key, found.contact)
        return found.contact

    async def fetch_context(self, contact: CRMContact) -> CRMContext:
        hit, cached = self.contexts.get(contact.id)
        if hit and cached is not None:
            return cached
        context = await self._call("GET", f"/contacts/{quote(contact.id, safe='')}/context",
                                   CRMContext)
        self.contexts.put(contact.id, context)
        return context

    async def write_outcome(self, outcome: Outcome) -> None:
        await self._call("POST", "/outcomes", None, json=outcome.to_wire())

    def forget(self, identity: CRMIdentity) -> None:
        """Drop what is cached of this identity (an agent asked for fresh context)."""
        key = _identity_key(identity)
        hit, contact = self.contacts.get(key)
        self.contacts.pop(key)
        if hit and contact is not None:
            self.contexts.pop(contact.id)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, model: type[M] | None, *,
                    json: dict[str, Any] | None = None) -> M:
        self.breaker.before_call()
        try:
            result = await self._request(method, path, model, json)
        except CRMUnavailable as exc:
            self.breaker.failed(exc.reason)
            raise
        except asyncio.CancelledError:
            self.breaker.failed("cancelled")
            raise
        self.breaker.succeeded()
        return result  # type: ignore[return-value]  # None only when model is None

    async def _request(self, method: str, path: str, model: type[M] | None,
                       json: dict[str, Any] | None) -> M | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        try:
            async with asyncio.timeout(self.timeout):
                async with self._session.request(method, self.url + path, json=json,
                                                 allow_redirects=False) as response:
                    if not 200 <= response.status < 300:
                        raise CRMUnavailable(f"the CRM answered HTTP {response.status}")
                    body = await response.content.read(MAX_RESPONSE + 1)
        except TimeoutError:
            raise CRMUnavailable(f"the CRM did not answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise CRMUnavailable(f"cannot reach the CRM ({type(exc).__name__})") from None
        if model is None:
            return None
        if len(body) > MAX_RESPONSE:
            raise CRMUnavailable("the CRM's answer is too large")
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise CRMUnavailable(f"the CRM's answer is not valid ({where}: "
                                 f"{first['msg']})") from None


def _identity_key(identity: CRMIdentity) -> tuple[str | None, str | None]:
    return identity.external_id, None if identity.email is None else identity.email.lower()
