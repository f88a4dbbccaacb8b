"""The CRM context service: what the agents' panel shows beside a conversation.

At handoff it assembles who the visitor is (their contact), their past conversations and how
each ended, the page and browser their widget is open in, what the bot tried (the visitor's
questions, the bot's answers, why it handed over), and what the CRM knows of them; then keeps
it in the store, so agents get it at once, from any process, after restarts. An agent may ask
for it afresh (the CRM part is then fetched past any cache).

When a conversation is resolved (and again when its visitor rates it), its outcome is written
back to the CRM in the background: the resolve never waits for the CRM.

The CRM never holds the chat up: each adapter call is bounded by `crm_deadline`, and any
failure (CRMUnavailable, a timeout, an adapter's bug) leaves the panel saying the CRM is
unavailable, and why. Plain async Python: no Socket.IO or HTTP types."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from chatkit.crm.port import CRMAdapter, CRMIdentity, CRMUnavailable, Outcome, Refreshable
from chatkit.models import (
    Contact,
    Conversation,
    ConversationStatus,
    CsatRating,
    Message,
    SenderKind,
    now_ms,
)
from chatkit.storage import Store

log = logging.getLogger(__name__)

#: Past conversations the panel lists (newest first).
HISTORY_LIMIT = 10
#: Messages of the bot's part read to tell what it tried; the panel keeps the last of each.
BOT_MESSAGES = 200
BOT_ITEMS = 30
#: Longest text of a question or an answer in the panel (the transcript has the rest).
SNIPPET = 300
#: Longest write-backs wait for at shutdown, seconds.
CLOSE_WAIT = 5.0

RESOLVED_EVENT = f"conversation.{ConversationStatus.RESOLVED}"
QUEUED_EVENT = f"conversation.{ConversationStatus.QUEUED}"


class ContextService:
    """`adapter`: the CRM port; `crm_deadline`: the longest any one adapter call may take,
    whatever the adapter's own timeouts (a developer's adapter may have none)."""

    def __init__(self, store: Store, adapter: CRMAdapter, *, crm_deadline: float = 5.0,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.adapter = adapter
        self.crm_deadline = crm_deadline
        self.clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Panels being assembled since a handoff, by conversation: an agent who opens the
        #: chat meanwhile waits for that one rather than asking the CRM a second time.
        self._building: dict[str, asyncio.Task[dict[str, Any]]] = {}

    # the panel

    async def panel(self, conversation: Conversation, *, refresh: bool = False) -> dict[str, Any]:
        """The conversation's panel: the one kept since handoff (or being assembled since),
        or (when none was kept, or with `refresh`) assembled now and kept."""
        if not refresh:
            building = self._building.get(conversation.id)
            if building is not None:
                try:  # shielded: an agent who leaves stops only their own wait
                    return await asyncio.shield(building)
                except Exception:  # logged by _built; assembled afresh below
                    pass
            kept = await self.store.get_conversation_context(conversation.id)
            if kept is not None:
                return kept[0]
        return await self.compute(conversation, refresh=refresh)

    async def compute(self, conversation: Conversation, *,
                      refresh: bool = False) -> dict[str, Any]:
        """Assemble the panel now and keep it."""
        contact = await self.store.get_contact(conversation.contact_id)
        page = await self.store.get_visitor_page(conversation.contact_id)
        past = await self.store.past_conversations(
            conversation.contact_id, before=None, limit=HISTORY_LIMIT + 1)
        now = self.clock()
        data: dict[str, Any] = {
            "conversation_id": conversation.id,
            "computed_at": now,
            "contact": None if contact is None else _contact_wire(contact),
            "page": None if page is None else {"url": page.url, "user_agent": page.user_agent,
                                               "seen_at": page.seen_at},
            "bot": await self._bot_tried(conversation),
            "history": [{
                "id": p.conversation.id, "status": str(p.conversation.status),
                "created_at": p.conversation.created_at,
                "resolved_at": p.conversation.resolved_at, "reason": p.reason,
                "agent_name": p.conversation.agent_name,
                "team": p.conversation.queue_team or p.conversation.team, "csat": p.csat}
                for p in past if p.conversation.id != conversation.id][:HISTORY_LIMIT],
            "crm": await self._crm(contact, refresh=refresh),
        }
        await self.store.save_conversation_context(conversation.id, data, now=now)
        return data

    async def _bot_tried(self, conversation: Conversation) -> dict[str, Any]:
        """What the bot tried before it handed over: the visitor's questions (and quick
        replies picked), its answers (knowledge-base entry and confidence), clarifications
        and misses, and why it handed over (with the visitor's own words, if they gave
        any)."""
        messages, _ = await self.store.get_messages(conversation.id, limit=BOT_MESSAGES,
                                                    include_internal=False)
        handed_at = conversation.queued_at
        questions: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        for message in messages:
            if handed_at is not None and message.created_at > handed_at:
                break
            if message.sender is SenderKind.VISITOR and message.body:
                picked = (message.meta or {}).get("reply_to")
                questions.append({"seq": message.seq, "text": message.body[:SNIPPET],
                                  "choice": picked.get("choice") if isinstance(picked, dict)
                                  else None})
            elif message.sender is SenderKind.BOT:
                tried = _bot_attempt(message)
                if tried is not None:
                    answers.append(tried)
        handoff = None
        if conversation.handoff_reason is not None:
            note = None
            for event in await self.store.list_events(conversation_id=conversation.id,
                                                      limit=200):
                if event.kind == QUEUED_EVENT and event.data.get("reason") is not None:
                    found = event.data.get("note")
                    note = found[:SNIPPET] if isinstance(found, str) else None
                    break
            handoff = {"reason": str(conversation.handoff_reason), "team": conversation.team,
                       "note": note, "at": conversation.queued_at}
        return {"questions": questions[-BOT_ITEMS:], "answers": answers[-BOT_ITEMS:],
                "handoff": handoff}

    async def _crm(self, contact: Contact | None, *, refresh: bool) -> dict[str, Any]:
        """The CRM's part: {status: ok | not_found | unavailable, reason, contact, context}."""
        fetched_at = self.clock()
        if contact is None:
            return {"status": "not_found", "reason": None, "contact": None, "context": None,
                    "fetched_at": fetched_at}
        identity = identity_of(contact)
        if refresh and isinstance(self.adapter, Refreshable):
            self.adapter.forget(identity)
        try:
            async with asyncio.timeout(self.crm_deadline):
                found = await self.adapter.find_contact(identity)
                context = None if found is None else await self.adapter.fetch_context(found)
        except CRMUnavailable as exc:
            return _unavailable(exc.reason, fetched_at)
        except TimeoutError:
            return _unavailable(f"the CRM did not answer within {self.crm_deadline:g} s",
                                fetched_at)
        except Exception as exc:
            log.exception("the CRM adapter failed")
            return _unavailable(f"the CRM adapter failed ({type(exc).__name__})", fetched_at)
        if found is None or context is None:
            return {"status": "not_found", "reason": None, "contact": None, "context": None,
                    "fetched_at": fetched_at}
        return {"status": "ok", "reason": None, "contact": found.model_dump(mode="json"),
                "context": context.to_wire(), "fetched_at": fetched_at}

    # what the widget says of the visitor

    async def visitor_seen(self, contact_id: str, *, url: str | None,
                           user_agent: str | None) -> None:
        """The contact's widget is open on `url` in `user_agent` (the panel shows both)."""
        await self.store.set_visitor_page(contact_id, url=url, user_agent=user_agent,
                                          now=self.clock())

    # background work: listeners of the conversation service and the notifier

    def handed_over(self, conversation: Conversation) -> None:
        """A conversation went to the agents' queue: assemble its panel now, in the
        background (the CRM may be slow; the handoff does not wait for it)."""
        task = asyncio.create_task(self.compute(conversation),
                                   name=f"chatkit-crm-context-{conversation.id}")
        self._tasks.add(task)
        self._building[conversation.id] = task
        task.add_done_callback(lambda done: self._built(conversation.id, done))

    def _built(self, conversation_id: str, task: asyncio.Task[dict[str, Any]]) -> None:
        self._tasks.discard(task)
        if self._building.get(conversation_id) is task:
            del self._building[conversation_id]
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("assembling the CRM panel of conversation %s failed", conversation_id,
                      exc_info=error)

    def resolved(self, conversation: Conversation) -> None:
        """A conversation was resolved: write its outcome back, in the background."""
        self._spawn(self._write_outcome(conversation, None),
                    f"chatkit-crm-outcome-{conversation.id}")

    def rated(self, conversation: Conversation, rating: CsatRating) -> None:
        """The visitor rated a resolved conversation: write its outcome again, with CSAT."""
        self._spawn(self._write_outcome(conversation, rating.rating),
                    f"chatkit-crm-outcome-{conversation.id}")

    async def outcome(self, conversation: Conversation, csat: int | None = None) -> Outcome:
        """A resolved conversation's outcome: the reason its resolved event gives."""
        contact = await self.store.get_contact(conversation.contact_id)
        reason = None
        for event in await self.store.list_events(conversation_id=conversation.id, limit=1000):
            if event.kind == RESOLVED_EVENT:
                found = event.data.get("reason")
                reason = found if isinstance(found, str) else None
        if csat is None:
            rated = await self.store.get_csat(conversation.id)
            csat = None if rated is None else rated.rating
        return Outcome(
            conversation_id=conversation.id,
            contact=(CRMIdentity(contact_id=conversation.contact_id) if contact is None
                     else identity_of(contact)),
            status=str(conversation.status), agent_id=conversation.agent_id,
            agent_name=conversation.agent_name,
            team=conversation.queue_team or conversation.team, reason=reason,
            resolved_at=conversation.resolved_at, csat=csat)

    async def close(self) -> None:
        """Let pending write-backs finish (for a while), then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=CLOSE_WAIT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_outcome(self, conversation: Conversation, csat: int | None) -> None:
        try:
            outcome = await self.outcome(conversation, csat)
            async with asyncio.timeout(self.crm_deadline):
                await self.adapter.write_outcome(outcome)
        except CRMUnavailable as exc:
            log.warning("the outcome of conversation %s was not written to the CRM: %s",
                        conversation.id, exc.reason)
        except TimeoutError:
            log.warning("the outcome of conversation %s was not written to the CRM: no "
                        "answer within %g s", conversation.id, self.crm_deadline)
        except Exception:
            log.exception("writing the outcome of conversation %s to the CRM failed",
                          conversation.id)


def identity_of(contact: Contact) -> CRMIdentity:
    return CRMIdentity(contact_id=contact.id, external_id=contact.external_id,
                       email=contact.email, name=contact.name, verified=contact.verified)


def _contact_wire(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "email": contact.email,
            "external_id": contact.external_id, "verified": contact.verified,
            "attributes": contact.attributes, "created_at": contact.created_at}


def _unavailable(reason: str, fetched_at: int) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason, "contact": None, "context": None,
            "fetched_at": fetched_at}


def _bot_attempt(message: Message) -> dict[str, Any] | None:
    """What one bot message tried: an answer (entry, confidence), a clarification, or a miss
    (the fallback: it could not answer). None for the rest (greeting, feedback, handoff)."""
    meta = message.meta or {}
    kind = meta.get("kind")
    if kind not in {"answer", "clarify", "fallback"}:
        return None
    confidence = meta.get("confidence")
    entry_id = meta.get("entry_id")
    return {"seq": message.seq, "kind": kind,
            "entry_id": entry_id if isinstance(entry_id, str) else None,
            "confidence": confidence if isinstance(confidence, int | float) else None,
            "text": message.body[:SNIPPET]}
