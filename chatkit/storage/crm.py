"""The storage port's CRM part: where a contact's widget was last opened, a contact's past
conversations with their outcomes, and each conversation's CRM panel as computed at handoff.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_crm.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chatkit.models import Contact, Conversation


@dataclass(slots=True, frozen=True)
class VisitorPage:
    """The host page a contact's widget was last opened on, and the browser it ran in (each
    None when the widget did not say). `seen_at` in ms."""

    url: str | None
    user_agent: str | None
    seen_at: int


@dataclass(slots=True, frozen=True)
class PastConversation:
    """One of a contact's conversations with its outcome: the `reason` of its
    `conversation.resolved` event (e.g. "abandoned"; None when resolved without one, or
    open), and the visitor's CSAT rating, if any."""

    conversation: Conversation
    reason: str | None
    csat: int | None


class CrmStore(Protocol):
    async def set_visitor_page(self, contact_id: str, *, url: str | None,
                               user_agent: str | None, now: int) -> None:
        """Record where the contact's widget is open now (replacing what was recorded).
        Does nothing when there is no such contact."""

    async def get_visitor_page(self, contact_id: str) -> VisitorPage | None: ...

    async def find_contact_by_identity(self, *, external_id: str | None,
                                       email: str | None) -> Contact | None:
        """The contact the host site knows by `external_id` (the verified one first), else the
        newest with exactly this email (case-insensitive); None when neither finds one."""

    async def past_conversations(self, contact_id: str, *, before: int | None,
                                 limit: int) -> list[PastConversation]:
        """The contact's conversations created before `before` (ms; None: all), newest
        first, at most `limit`, each with its outcome."""

    async def save_conversation_context(self, conversation_id: str, data: dict[str, Any], *,
                                        now: int) -> None:
        """Keep the conversation's CRM panel (JSON), replacing an earlier one."""

    async def get_conversation_context(
            self, conversation_id: str) -> tuple[dict[str, Any], int] | None:
        """The kept panel and when it was computed (ms); None when none was kept."""
