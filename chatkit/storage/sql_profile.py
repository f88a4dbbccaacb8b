"""The profile part of SqlStore (storage/profile.py): contact edits and the contact history.

`contact_fields` flattens a contact row into the fields the history names ("email",
"attributes.plan", "preferences.language", ...) and `log_changes` writes one entry per field
that differs between two such snapshots. The other writers of contacts in sql.py (identify,
verify, attributes, the offline form's email) take the snapshots around their UPDATE and call
`log_changes` in the same transaction, so the history is complete whoever changed what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit.errors import NotFound
from chatkit.models import Contact, ContactChange
from chatkit.storage import schema as t
from chatkit.storage.profile import DETAILS, ConversationOwner, PreferenceValue

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy import Row

_k, _h = t.contacts.c, t.contact_changes.c

#: A contact that did not exist yet, as the history sees it (a verified contact created by
#: identify logs each of its fields as set from nothing).
NO_CONTACT: dict[str, Any] = {"verified": False}


def contact_fields(row: Row[Any]) -> dict[str, Any]:
    """The contact's details as the history names them; a field not set is absent."""
    fields: dict[str, Any] = {name: getattr(row, name)
                              for name in ("name", "email", "phone", "external_id")}
    fields["verified"] = bool(row.verified)
    for key, value in (row.attributes or {}).items():
        fields[f"attributes.{key}"] = value
    for key, value in (row.preferences or {}).items():
        fields[f"preferences.{key}"] = value
    return {name: value for name, value in fields.items() if value is not None}


async def log_changes(conn: AsyncConnection, contact_id: str, before: Mapping[str, Any],
                      after: Mapping[str, Any], *, actor_kind: str, actor_id: str | None,
                      via: str, at: int) -> list[ContactChange]:
    """One history entry per field whose value differs between the two snapshots (a field
    absent from one is None there), in field order."""
    logged = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        # 1 == True in Python; a change between them is still a change.
        if old == new and type(old) is type(new):
            continue
        result = await conn.execute(insert(t.contact_changes).values(
            contact_id=contact_id, field=name, old_value=_encode(old), new_value=_encode(new),
            actor_kind=actor_kind, actor_id=actor_id, via=via, created_at=at))
        key = result.inserted_primary_key
        assert key is not None
        logged.append(ContactChange(int(key[0]), contact_id, name, old, new, actor_kind,
                                    actor_id, via, at))
    return logged


class ProfileSql:
    """Mixed into SqlStore, which provides the connections and the shared row helpers."""

    if TYPE_CHECKING:
        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    async def update_contact(self, contact_id: str, *, details: Mapping[str, str | None],
                             preferences: Mapping[str, PreferenceValue], actor_kind: str,
                             actor_id: str | None, via: str,
                             now: int) -> tuple[Contact, list[ContactChange]]:
        from chatkit.storage.sql import _contact

        unknown = set(details) - set(DETAILS)
        if unknown:
            raise ValueError(f"not a contact detail: {sorted(unknown)}")
        async with self._write() as conn:
            # The write transaction holds the row (SQLite's one writer; FOR UPDATE on
            # PostgreSQL), so two edits at once both land, each logged against the other's.
            row = (await conn.execute(
                select(t.contacts).where(_k.id == contact_id).with_for_update())).first()
            if row is None:
                raise NotFound("no such contact")
            merged = dict(row.preferences or {})
            for key, value in preferences.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            values: dict[str, Any] = dict(details)
            if preferences:
                values["preferences"] = merged or None
            if values:
                await conn.execute(update(t.contacts).where(_k.id == contact_id).values(**values))
            after = (await conn.execute(select(t.contacts).where(_k.id == contact_id))).one()
            changes = await log_changes(conn, contact_id, contact_fields(row),
                                        contact_fields(after), actor_kind=actor_kind,
                                        actor_id=actor_id, via=via, at=now)
        return _contact(after), changes

    async def contact_history(self, contact_id: str, *, before_id: int | None = None,
                              limit: int = 50) -> tuple[list[ContactChange], bool]:
        query = select(t.contact_changes).where(_h.contact_id == contact_id)
        if before_id is not None:
            query = query.where(_h.id < before_id)
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(_h.id.desc()).limit(limit + 1))).all()
        return [_change(row) for row in rows[:limit]], len(rows) > limit

    async def conversation_owners(self, contact_id: str) -> list[ConversationOwner]:
        c = t.conversations.c
        async with self._read() as conn:
            rows = (await conn.execute(select(c.queue_team, c.agent_id)
                                       .where(c.contact_id == contact_id).distinct())).all()
        return [ConversationOwner(row.queue_team, row.agent_id) for row in rows]


def _encode(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _decode(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _change(row: Row[Any]) -> ContactChange:
    return ContactChange(int(row.id), row.contact_id, row.field, _decode(row.old_value),
                         _decode(row.new_value), row.actor_kind, row.actor_id, row.via,
                         row.created_at)
