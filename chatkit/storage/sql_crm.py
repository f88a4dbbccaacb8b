"""The CRM part of SqlStore (storage/crm.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select

from chatkit.models import Contact, ConversationStatus
from chatkit.storage import schema as t
from chatkit.storage.crm import PastConversation, VisitorPage
from chatkit.storage.sql_routing import _upsert

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sqlalchemy.ext.asyncio import AsyncConnection

# The row helpers shared with sql.py are imported where used (sql.py imports this module).

_p, _x = t.contact_pages.c, t.conversation_contexts.c
RESOLVED_EVENT = f"conversation.{ConversationStatus.RESOLVED}"


class CrmSql:
    """Mixed into SqlStore, which provides the connections and the shared row helpers."""

    if TYPE_CHECKING:
        is_sqlite: bool

        def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...
        def _read(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    async def set_visitor_page(self, contact_id: str, *, url: str | None,
                               user_agent: str | None, now: int) -> None:
        values = {"url": url, "user_agent": user_agent, "seen_at": now}
        async with self._write() as conn:
            if await conn.scalar(select(t.contacts.c.id).where(
                    t.contacts.c.id == contact_id)) is None:
                return
            statement = _upsert(self.is_sqlite, t.contact_pages).values(
                contact_id=contact_id, **values)
            await conn.execute(statement.on_conflict_do_update(
                index_elements=[_p.contact_id], set_=values))

    async def get_visitor_page(self, contact_id: str) -> VisitorPage | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.contact_pages).where(
                _p.contact_id == contact_id))).first()
        return None if row is None else VisitorPage(row.url, row.user_agent, row.seen_at)

    async def find_contact_by_identity(self, *, external_id: str | None,
                                       email: str | None) -> Contact | None:
        from chatkit.storage.sql import _contact

        k = t.contacts.c
        async with self._read() as conn:
            if external_id is not None:
                row = (await conn.execute(
                    select(t.contacts).where(k.external_id == external_id)
                    .order_by(k.verified.desc(), k.created_at.desc(), k.id).limit(1))).first()
                if row is not None:
                    return _contact(row)
            if email is not None:
                row = (await conn.execute(
                    select(t.contacts).where(func.lower(k.email) == email.strip().lower())
                    .order_by(k.verified.desc(), k.created_at.desc(), k.id).limit(1))).first()
                if row is not None:
                    return _contact(row)
        return None

    async def past_conversations(self, contact_id: str, *, before: int | None,
                                 limit: int) -> list[PastConversation]:
        from chatkit.storage.sql import _CONVERSATION_SELECT, _to_conversation

        c, r, e = t.conversations.c, t.csat_ratings.c, t.events.c
        query = _CONVERSATION_SELECT.add_columns(r.rating.label("csat")).outerjoin(
            t.csat_ratings, r.conversation_id == c.id).where(c.contact_id == contact_id)
        if before is not None:
            query = query.where(c.created_at < before)
        async with self._read() as conn:
            rows = (await conn.execute(
                query.order_by(c.created_at.desc(), c.id.desc()).limit(limit))).all()
            resolved = [row.id for row in rows if row.status == str(ConversationStatus.RESOLVED)]
            reasons: dict[str, str | None] = {}
            if resolved:
                # The last resolved event of each (ix_events_conversation serves it).
                events = (await conn.execute(
                    select(e.conversation_id, e.data)
                    .where(e.conversation_id.in_(resolved), e.kind == RESOLVED_EVENT)
                    .order_by(e.id))).all()
                for event in events:
                    reason = orjson.loads(event.data).get("reason")
                    reasons[event.conversation_id] = reason if isinstance(reason, str) else None
        return [PastConversation(_to_conversation(row), reasons.get(row.id), row.csat)
                for row in rows]

    async def save_conversation_context(self, conversation_id: str, data: dict[str, Any], *,
                                        now: int) -> None:
        values = {"data": data, "computed_at": now}
        async with self._write() as conn:
            statement = _upsert(self.is_sqlite, t.conversation_contexts).values(
                conversation_id=conversation_id, **values)
            await conn.execute(statement.on_conflict_do_update(
                index_elements=[_x.conversation_id], set_=values))

    async def get_conversation_context(
            self, conversation_id: str) -> tuple[dict[str, Any], int] | None:
        async with self._read() as conn:
            row = (await conn.execute(select(_x.data, _x.computed_at).where(
                _x.conversation_id == conversation_id))).first()
        return None if row is None else (dict(row.data), int(row.computed_at))
