"""Group commit: messages arriving while a commit is in flight are stored together in the next
one. One transaction (and one fsync) per batch instead of per message, with no added latency
when the server is idle: the first message starts a commit at once."""

from __future__ import annotations

import asyncio
import logging

from chatkit.errors import Unavailable
from chatkit.models import AppendResult, NewMessage
from chatkit.storage import Store

log = logging.getLogger(__name__)


class GroupCommitter:
    def __init__(self, store: Store, *, max_batch: int = 5000) -> None:
        self._store = store
        self._max_batch = max_batch
        self._pending: list[tuple[NewMessage, asyncio.Future[AppendResult | None]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def append(self, message: NewMessage) -> AppendResult | None:
        """Store one message; returns once it is committed (see Store.append_messages)."""
        if self._closed:
            raise Unavailable("the server is shutting down")
        future: asyncio.Future[AppendResult | None] = (
            asyncio.get_running_loop().create_future())
        self._pending.append((message, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:self._max_batch]
                del self._pending[:self._max_batch]
                await self._commit(batch)
        finally:
            self._worker = None

    async def _commit(self, batch: list[tuple[NewMessage,
                                              asyncio.Future[AppendResult | None]]]) -> None:
        try:
            results = await self._store.append_messages([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:
                # One bad message must not fail the others: store them one by one.
                log.warning("storing %d messages together failed (%r); retrying one by one",
                            len(batch), exc)
                for item in batch:
                    await self._commit([item])
                return
            log.exception("storing a message failed")
            error = Unavailable("the message could not be stored; resend it")
            error.__cause__ = exc
            if not batch[0][1].done():
                batch[0][1].set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Refuse new messages and wait until those already received are committed."""
        self._closed = True
        if self._worker is not None:
            await asyncio.shield(self._worker)
