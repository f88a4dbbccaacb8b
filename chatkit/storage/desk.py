"""The storage port's desk part: conversation tags and canned responses.

Part of `Store` (storage/base.py); the contract suite is tests/storage/test_contract_desk.py.
Private notes and whispers are internal messages (`append_messages`), so they need nothing
here."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from chatkit.models import CannedResponse


class DeskStore(Protocol):
    # tags
    async def get_tags(self, conversation_ids: Collection[str]) -> dict[str, list[str]]:
        """The tags of these conversations, each list sorted; a conversation with none is
        left out."""

    async def change_tags(self, conversation_id: str, *, add: Collection[str],
                          remove: Collection[str], max_tags: int, actor_id: str | None,
                          now: int) -> tuple[list[str], list[str], list[str]] | None:
        """Add and remove tags, in one transaction under the conversation's lock, logging a
        `conversation.tagged` / `conversation.untagged` event (data `{"tag"}`) for each
        change (adding one it has, or removing one it lacks, changes nothing). Returns the
        conversation's tags after, those added and those removed; None when there is no such
        conversation. Raises chatkit.errors.InvalidPayload, changing nothing, when it would
        have more than `max_tags`."""

    # canned responses
    async def create_canned(self, *, owner_id: str | None, shortcut: str, title: str,
                            body: str, now: int) -> CannedResponse:
        """A new canned response (owner None: shared). Raises chatkit.errors.Conflict when the
        owner (or the shared ones) has that shortcut already."""

    async def get_canned(self, canned_id: str) -> CannedResponse | None: ...

    async def list_canned(self, owner_id: str | None) -> list[CannedResponse]:
        """The shared ones and, when given, `owner_id`'s own, by shortcut (shared first on a
        tie)."""

    async def update_canned(self, canned_id: str, *, shortcut: str | None = None,
                            title: str | None = None, body: str | None = None,
                            now: int) -> CannedResponse | None:
        """Change the fields given. None when there is no such canned response; raises
        chatkit.errors.Conflict when the new shortcut is taken (nothing changes)."""

    async def delete_canned(self, canned_id: str) -> bool:
        """Whether there was one to delete."""
