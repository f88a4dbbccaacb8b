"""The desk part of SqlStore (storage/desk.py): conversation tags and canned responses."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from chatkit.errors import Conflict, InvalidPayload
from chatkit.models import CannedResponse
from chatkit.storage import schema as t

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy.ext.asyncio import AsyncConnection

_g, _n, _c = t.conversation_tags.c, t.canned_responses.c, t.conversations.c


class DeskSql:
    if TYPE_CHECKING:
        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    # tags

    async def get_tags(self, conversation_ids: Collection[str]) -> dict[str, list[str]]:
        if not conversation_ids:
            return {}
        query = (select(_g.conversation_id, _g.tag)
                 .where(_g.conversation_id.in_(list(conversation_ids)))
                 .order_by(_g.conversation_id, _g.tag))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.conversation_id, []).append(row.tag)
        return found

    async def change_tags(self, conversation_id: str, *, add: Collection[str],
                          remove: Collection[str], max_tags: int, actor_id: str | None,
                          now: int) -> tuple[list[str], list[str], list[str]] | None:
        async with self._write() as conn:
            # The conversation's row lock (SQLite: the write lock) puts two agents tagging it
            # at once in turn, so the bound holds.
            if await conn.scalar(select(_c.id).where(_c.id == conversation_id)
                                 .with_for_update()) is None:
                return None
            had = set((await conn.scalars(select(_g.tag).where(
                _g.conversation_id == conversation_id))).all())
            removed = sorted(had & set(remove))
            added = sorted(set(add) - had - set(removed))
            after = (had - set(removed)) | set(added)
            if len(after) > max_tags:
                raise InvalidPayload(f"tags: a conversation has at most {max_tags} tags")
            if removed:
                await conn.execute(delete(t.conversation_tags).where(
                    _g.conversation_id == conversation_id, _g.tag.in_(removed)))
            if added:
                await conn.execute(insert(t.conversation_tags), [
                    {"conversation_id": conversation_id, "tag": tag, "created_at": now,
                     "created_by": actor_id} for tag in added])
            events = ([("conversation.untagged", tag) for tag in removed]
                      + [("conversation.tagged", tag) for tag in added])
            if events:
                await conn.execute(insert(t.events), [
                    {"conversation_id": conversation_id, "kind": kind, "actor_kind": "agent",
                     "actor_id": actor_id, "data": orjson.dumps({"tag": tag}).decode(),
                     "created_at": now} for kind, tag in events])
        return sorted(after), added, removed

    # canned responses

    async def create_canned(self, *, owner_id: str | None, shortcut: str, title: str,
                            body: str, now: int) -> CannedResponse:
        canned = CannedResponse(uuid.uuid4().hex, owner_id, shortcut, title, body, now, now)
        try:
            async with self._write() as conn:
                await conn.execute(insert(t.canned_responses).values(
                    id=canned.id, owner_id=owner_id, shortcut=shortcut, title=title, body=body,
                    created_at=now, updated_at=now))
        except IntegrityError:
            raise _taken(shortcut) from None
        return canned

    async def get_canned(self, canned_id: str) -> CannedResponse | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.canned_responses)
                                      .where(_n.id == canned_id))).first()
        return None if row is None else _canned(row)

    async def list_canned(self, owner_id: str | None) -> list[CannedResponse]:
        mine: Any = _n.owner_id.is_(None)
        if owner_id is not None:
            mine = mine | (_n.owner_id == owner_id)
        query = (select(t.canned_responses).where(mine)
                 .order_by(_n.shortcut, _n.owner_id.is_not(None), _n.id))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_canned(row) for row in rows]

    async def update_canned(self, canned_id: str, *, shortcut: str | None = None,
                            title: str | None = None, body: str | None = None,
                            now: int) -> CannedResponse | None:
        values: dict[str, Any] = {name: value for name, value in
                                  (("shortcut", shortcut), ("title", title), ("body", body))
                                  if value is not None}
        try:
            async with self._write() as conn:
                result = await conn.execute(update(t.canned_responses)
                                            .where(_n.id == canned_id)
                                            .values(updated_at=now, **values))
                if result.rowcount != 1:
                    return None
                row = (await conn.execute(select(t.canned_responses)
                                          .where(_n.id == canned_id))).one()
        except IntegrityError:
            raise _taken(shortcut or "") from None
        return _canned(row)

    async def delete_canned(self, canned_id: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(t.canned_responses).where(_n.id == canned_id))
        return bool(result.rowcount == 1)


def _taken(shortcut: str) -> Conflict:
    return Conflict(f"shortcut: /{shortcut} is taken; choose another")


def _canned(row: Row[Any]) -> CannedResponse:
    return CannedResponse(row.id, row.owner_id, row.shortcut, row.title, row.body,
                          row.created_at, row.updated_at)
