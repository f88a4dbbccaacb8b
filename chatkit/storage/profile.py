"""The storage port's profile part: a contact's details changed atomically, and its history.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_profile.py.
Every change to a contact's details (the visitor's profile, the host site's identify and
attributes, the offline form, an agent's edit) is logged in the contact's history in the
transaction that makes it, one entry per field whose value changed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from chatkit.models import Contact, ContactChange

#: The details a profile edit may set (None removes one).
DETAILS = ("name", "email", "phone")

PreferenceValue = str | bool | None


class ConversationOwner(NamedTuple):
    """Whose one of a contact's conversations is: its queue's team and its agent (either
    may be None), which is what decides which agents may see it (Routing.sees)."""

    queue_team: str | None
    agent_id: str | None


class ProfileStore(Protocol):
    async def update_contact(self, contact_id: str, *, details: Mapping[str, str | None],
                             preferences: Mapping[str, PreferenceValue], actor_kind: str,
                             actor_id: str | None, via: str,
                             now: int) -> tuple[Contact, list[ContactChange]]:
        """Set `details` (keys from DETAILS; None removes the value) and merge `preferences`
        (None removes a preference) on the contact, in one transaction that also logs a
        history entry per field whose value changed; returns the contact as it is now and
        those entries (none when nothing changed). chatkit.errors.NotFound when there is no
        such contact. Values are validated by the caller (realtime/schemas.py)."""

    async def contact_history(self, contact_id: str, *, before_id: int | None = None,
                              limit: int = 50) -> tuple[list[ContactChange], bool]:
        """The contact's history, newest first: up to `limit` entries older than `before_id`
        (None: from the newest), and whether there are more."""

    async def conversation_owners(self, contact_id: str) -> list[ConversationOwner]:
        """The distinct (queue_team, agent_id) of the contact's conversations, open or not:
        who may see one of them may see the contact's history."""
