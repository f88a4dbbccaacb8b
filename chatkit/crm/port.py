"""The CRM port: one small Protocol a CRM adapter implements, and the data it exchanges.

chatkit asks a CRM three things: who a contact is (by the host site's id or an email), what
it knows of them (their context, shown to agents beside the chat), and it tells the CRM how a
conversation ended (its outcome). The built-in adapter answers from chatkit's own contacts
(crm/builtin.py); HttpCRMAdapter calls a CRM over HTTP (crm/http.py); a developer may pass
their own (examples/custom_crm.py):

    class MyCRM:
        async def find_contact(self, identity: CRMIdentity) -> CRMContact | None: ...
        async def fetch_context(self, contact: CRMContact) -> CRMContext: ...
        async def write_outcome(self, outcome: Outcome) -> None: ...

    ChatKit(settings, crm=MyCRM())

An adapter that cannot answer raises CRMUnavailable (saying why) or any other exception; the
chat goes on either way, and the agents' panel says the CRM is unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

#: What a custom field of a CRM's context may hold: JSON scalars (rendered as text).
Scalar = Annotated[str, Field(max_length=1000)] | int | float | bool | None
#: A link an agent may open: http(s) only (never javascript: or data:).
WebUrl = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$")]


class CRMUnavailable(Exception):
    """The CRM cannot answer now; `reason` says why, for the agents' panel ("timed out after
    2 s", "circuit open after 5 failures in a row")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True, frozen=True)
class CRMIdentity:
    """Who chatkit knows the visitor to be: its own contact id, and what the host site said
    (its user id, `verified` when signed; name and email, from the page or the offline
    form)."""

    contact_id: str | None = None
    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    verified: bool = False


class _Strict(BaseModel):
    # Extra keys are ignored (a CRM says more than chatkit shows), wrong types refused.
    model_config = ConfigDict(extra="ignore", frozen=True)


class CRMContact(_Strict):
    """A contact as the CRM knows it: its id there, and a link to its record."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(max_length=200)] | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    url: WebUrl | None = None


class CRMLink(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=100)]
    url: WebUrl


class CRMContext(_Strict):
    """What the CRM knows of a contact, for the agent: a few typed fields every CRM has, and
    free-form `fields` (at most 50) for the rest."""

    plan: Annotated[str, Field(max_length=100)] | None = None
    company: Annotated[str, Field(max_length=200)] | None = None
    lifetime_value: Annotated[float, Field(ge=0)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    links: Annotated[list[CRMLink], Field(max_length=10)] = []
    fields: Annotated[dict[Annotated[str, Field(min_length=1, max_length=100)], Scalar],
                      Field(max_length=50)] = {}

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass(slots=True, frozen=True)
class Outcome:
    """How a conversation ended, written back to the CRM when it is resolved (and again when
    its visitor rates it). `reason`: the resolved event's (e.g. "abandoned"), if any;
    `csat`: the visitor's rating 1..5, if any."""

    conversation_id: str
    contact: CRMIdentity
    status: str
    agent_id: str | None
    agent_name: str | None
    team: str | None
    reason: str | None
    resolved_at: int | None
    csat: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_wire(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id,
                "contact": {"id": self.contact.contact_id,
                            "external_id": self.contact.external_id,
                            "email": self.contact.email, "name": self.contact.name,
                            "verified": self.contact.verified},
                "status": self.status, "agent": None if self.agent_id is None else {
                    "id": self.agent_id, "name": self.agent_name},
                "team": self.team, "reason": self.reason, "resolved_at": self.resolved_at,
                "csat": self.csat, "tags": list(self.tags)}


@runtime_checkable
class CRMAdapter(Protocol):
    """The CRM port. Each call may raise CRMUnavailable (or anything else): the caller
    carries on without the CRM."""

    async def find_contact(self, identity: CRMIdentity) -> CRMContact | None:
        """The CRM's contact for this identity (by external id, else email); None: unknown."""

    async def fetch_context(self, contact: CRMContact) -> CRMContext:
        """What the CRM knows of the contact, for the agents' panel."""

    async def write_outcome(self, outcome: Outcome) -> None:
        """Record how a conversation ended (called in the background; may be called again
        for one conversation, e.g. when its visitor rates it: treat it as an upsert)."""


@runtime_checkable
class Refreshable(Protocol):
    """An adapter that caches may forget what it knows of an identity (an agent's refresh)."""

    def forget(self, identity: CRMIdentity) -> None: ...
