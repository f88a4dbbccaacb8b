"""The conversation service: lifecycle, delivery and history, for visitors and agents.

No Socket.IO or HTTP here. The service tells the outside world what happened through the
Notifier port; the realtime layer implements it. `origin` arguments are the sending
connection's opaque id, passed back to the notifier so it can skip the sender (which already
has the message in its acknowledgement)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chatkit.bot import Bot, BotReply, BotState, Choice, Said
from chatkit.conversations.committer import GroupCommitter
from chatkit.errors import Conflict, Forbidden, InvalidChoice, NotFound
from chatkit.instruments import Instruments, NoInstruments, timed_message
from chatkit.models import (
    CSAT_WINDOW_MS,
    OPEN_STATUSES,
    Agent,
    AppendResult,
    Availability,
    Contact,
    Conversation,
    ConversationStatus,
    CsatRating,
    Handoff,
    HandoffReason,
    Message,
    NewMessage,
    ResolutionReason,
    SenderKind,
    Unread,
    now_ms,
)
from chatkit.storage import Store

log = logging.getLogger(__name__)

S = ConversationStatus


class Notifier(Protocol):
    async def message_stored(self, conversation: Conversation, message: Message,
                             origin: str | None) -> None: ...

    async def conversation_changed(self, conversation: Conversation, *,
                                   previous_agent_id: str | None = None) -> None:
        """The conversation changed; `previous_agent_id`: the agent it left, if any."""

    async def typing(self, conversation: Conversation, sender: SenderKind,
                     author_name: str | None, typing: bool, origin: str | None) -> None: ...

    async def read(self, conversation: Conversation, reader: SenderKind) -> None: ...

    async def csat_rated(self, conversation: Conversation, rating: CsatRating) -> None:
        """The visitor rated the conversation (the agents and supervisors hear it)."""


class Router(Protocol):
    """What the conversation service asks of routing (chatkit/routing/service.py)."""

    def queue_team(self, asked: str | None) -> str:
        """The team whose queue a chat asking for team `asked` waits in."""

    async def availability(self, asked: str | None) -> Availability:
        """Whether a person can take a chat for team `asked` now (else the visitor is offered
        the offline form)."""

    async def priority(self, conversation: Conversation) -> int: ...

    async def queued(self, conversation: Conversation) -> None:
        """It was queued: assign it if someone can take it."""

    async def take(self, agent: Agent, conversation: Conversation) -> Conversation:
        """The agent joins it: accept their offer or take it over, within capacity
        (Conflict otherwise)."""

    async def freed(self, agent: Agent) -> None:
        """The agent has room for another chat."""

    def capacity_of(self, agent: Agent) -> int:
        """The most chats the agent takes at once."""

    def home_team(self, agent: Agent) -> str:
        """The queue a chat the agent started goes back to if the agent leaves it."""

    def can_see(self, agent: Agent, conversation: Conversation) -> bool:
        """Whether the agent may see the conversation (its teams', or theirs)."""

    def visible_teams(self, agent: Agent) -> tuple[list[str], bool] | None:
        """The teams whose conversations the agent may list, and whether those in no queue
        count; None: every conversation."""


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[Message]
    has_more: bool


@dataclass(frozen=True, slots=True)
class VisitorStatus:
    """What a widget learns at page load over HTTP, with no socket: the visitor's open
    conversation and how many messages in it they have not read."""

    conversation: Conversation | None
    unread: int


@dataclass(frozen=True, slots=True)
class Opening:
    """A message the business's widget showed the visitor before the conversation existed
    (a proactive trigger's): stored first when the visitor's answer starts it."""

    body: str
    meta: dict[str, Any]
    author_name: str | None = None


#: The capacity used for agents' outbound conversations when nothing routes (no router).
NO_ROUTER_CAPACITY = 1_000_000


@dataclass(frozen=True, slots=True)
class ReplyTo:
    """A quick reply the visitor picked: `choice` among those offered by message `seq`."""

    seq: int
    choice: str


# How often a bot turn is thought again when someone spoke while the bot was thinking.
BOT_TURN_ATTEMPTS = 3


class ConversationService:
    def __init__(self, store: Store, notifier: Notifier, *, bot: Bot | None) -> None:
        self.store = store
        self.notifier = notifier
        self.bot = bot
        #: The process's metrics (messages, handoffs); none by default.
        self.instruments: Instruments = NoInstruments()
        #: Queues and assignment; None: agents take chats by joining them.
        self.router: Router | None = None
        self.committer = GroupCommitter(store)
        #: Told of each conversation handed over to the agents' queue, once it is queued
        #: (the CRM panel is assembled then: chatkit/crm/context.py). Must not block.
        self.handoff_listeners: list[Callable[[Conversation], None]] = []
        self._bot_turns: set[asyncio.Task[None]] = set()
        # conversation id -> its latest bot turn here: the next waits for it, so the bot
        # answers one conversation's messages in order.
        self._last_bot_turn: dict[str, asyncio.Task[None]] = {}

    async def close(self) -> None:
        """Finish bot turns and commit every message already received."""
        if self._bot_turns:
            await asyncio.gather(*self._bot_turns, return_exceptions=True)
        await self.committer.close()

    # visitors

    async def new_contact(self) -> Contact:
        return await self.store.create_contact()

    async def resume(self, contact_id: str, *, since_seq: int,
                     limit: int) -> tuple[Conversation | None, Page]:
        conversation = await self.store.open_conversation_for(contact_id)
        if conversation is None:
            return None, Page([], False)
        messages, has_more = await self.store.get_messages(conversation.id, after_seq=since_seq,
                                                           limit=limit, include_internal=False)
        return conversation, Page(messages, has_more)

    @timed_message("visitor")
    async def visitor_message(self, contact_id: str, *, client_id: str, body: str | None,
                              reply_to: ReplyTo | None = None,
                              attachment_ids: Sequence[str] = (), locale: str | None = None,
                              conversation: Conversation | None,
                              opening: Opening | None = None,
                              origin: str | None) -> tuple[Message, Conversation]:
        """Store a visitor's message in their open conversation (started if there is none,
        in `locale`). `conversation` is the caller's idea of the open one, saving a lookup; it
        may be stale. With `reply_to`, the message is that quick reply: its body is the label
        offered (InvalidChoice when the message did not offer that choice). With
        `attachment_ids`, it carries those files, which the visitor uploaded and no message
        carries yet (NotFound, Conflict); its body may then be empty. With `opening` (the
        proactive message the visitor answers), a conversation this message starts begins
        with it instead of the bot's greeting."""
        if conversation is None or conversation.contact_id != contact_id:
            conversation = await self.store.open_conversation_for(contact_id)
        files = await self._files(SenderKind.VISITOR, contact_id, client_id, attachment_ids)
        for _ in range(2):
            text, choice = body or "", None
            meta: dict[str, Any] | None = {"attachments": files} if files else None
            if reply_to is not None:
                # Checked before a conversation is started: bad input changes nothing.
                text, choice = await self._offered(conversation, reply_to, locale)
                meta = {"reply_to": {"seq": reply_to.seq, "choice": reply_to.choice}}
            if conversation is None:
                conversation = await self._start(contact_id, locale, opening)
            result = await self._append(NewMessage(
                conversation.id, SenderKind.VISITOR, text, client_id, contact_id, meta=meta),
                attachment_ids)
            if result is not None:
                break
            # The conversation was resolved meanwhile: this message starts the next one.
            conversation = await self.store.open_conversation_for(contact_id)
        else:
            raise Conflict("the conversation was closed; send the message again")
        if result.duplicate:
            return result.message, conversation
        await self.notifier.message_stored(conversation, result.message, origin)
        # Files alone are nothing the bot could answer; words with them are.
        if conversation.status is S.BOT and self.bot is not None and (text or choice):
            self._start_bot_turn(conversation.id, Said(text, choice))
        return result.message, conversation

    async def _append(self, message: NewMessage,
                      attachment_ids: Sequence[str]) -> AppendResult | None:
        if not attachment_ids:
            return await self.committer.append(message)
        # Rare enough to go without group commit: the files are bound to the message in the
        # transaction that stores it.
        return await self.store.append_with_attachments(message, attachment_ids)

    async def _files(self, sender: SenderKind, author_id: str, client_id: str,
                     attachment_ids: Sequence[str]) -> list[dict[str, Any]]:
        """What the message's meta says of its files, checked before anything is stored or
        started: each must be the sender's own, and in no message yet, unless in this very
        message (a resend with the same client_id, which gets the stored original). The
        store checks again, atomically, when it binds them."""
        if not attachment_ids:  # nearly every message: nothing to look up
            return []
        found = {a.id: a for a in await self.store.get_attachments(attachment_ids)}
        for attachment_id in attachment_ids:
            attachment = found.get(attachment_id)
            if (attachment is None or attachment.uploader_kind is not sender
                    or attachment.uploader_id != author_id):
                raise NotFound(f"attachment_ids: no attachment {attachment_id!r} of yours "
                               "waits to be sent")
            if attachment.conversation_id is not None and attachment.message_seq is not None:
                carried, _ = await self.store.get_messages(
                    attachment.conversation_id, after_seq=attachment.message_seq - 1, limit=1)
                if not carried or carried[0].client_id != client_id:
                    raise Conflict(f"attachment_ids: {attachment_id!r} is in a message already")
        return [found[attachment_id].to_meta() for attachment_id in attachment_ids]

    async def _offered(self, conversation: Conversation | None, reply_to: ReplyTo,
                       locale: str | None) -> tuple[str, Choice]:
        """The label of the quick reply `reply_to` picked, and the choice for the bot."""
        if conversation is None:
            # No conversation yet: the widget showed the greeting that will be message 1.
            offered = (self.bot.greeting(self.bot.locale(locale)).meta
                       if self.bot is not None and reply_to.seq == 1 else None)
        else:
            found, _ = await self.store.get_messages(conversation.id,
                                                     after_seq=reply_to.seq - 1, limit=1)
            message = found[0] if found and found[0].seq == reply_to.seq else None
            offered = message.meta if message and message.sender is SenderKind.BOT else None
        labels = {q["id"]: q["label"] for q in (offered or {}).get("quick_replies", ())}
        if offered is None or reply_to.choice not in labels:
            raise InvalidChoice(f"reply_to: message {reply_to.seq} did not offer the choice "
                                f"{reply_to.choice!r}")
        return labels[reply_to.choice], Choice(offered["kind"], reply_to.choice, reply_to.seq)

    async def visitor_typing(self, contact_id: str, conversation: Conversation | None, *,
                             typing: bool, origin: str | None) -> None:
        """Tell the agents in the visitor's open conversation; nothing is stored."""
        if conversation is not None and conversation.contact_id == contact_id:
            await self.notifier.typing(conversation, SenderKind.VISITOR, None, typing, origin)

    async def visitor_read(self, contact_id: str, conversation: Conversation | None, *,
                           seq: int) -> Conversation:
        """The visitor has seen their open conversation up to `seq`. `conversation` is the
        caller's idea of it, saving a lookup (marking a stale one read is harmless)."""
        if conversation is None or conversation.contact_id != contact_id:
            conversation = await self.store.open_conversation_for(contact_id)
        if conversation is None:
            raise NotFound("there is no open conversation")
        return await self._mark_read(conversation, SenderKind.VISITOR, seq)

    async def _mark_read(self, conversation: Conversation, reader: SenderKind,
                         seq: int) -> Conversation:
        marked = await self.store.mark_read(conversation.id, reader, seq)
        if marked is None:
            raise NotFound("no such conversation")
        updated, moved = marked
        if moved:
            await self.notifier.read(updated, reader)
        return updated

    async def handoff(self, contact_id: str, *, note: str | None) -> Conversation:
        """The visitor asks for a person ("Talk to a person"); `note` is their own words,
        kept in the event log."""
        conversation = await self.store.open_conversation_for(contact_id)
        if conversation is None:
            raise NotFound("there is no open conversation to hand over")
        team = None
        handoff = Handoff(HandoffReason.VISITOR_ASKED)
        if conversation.status is S.BOT:
            # The topic of the bot's last answer says which team to ask.
            found = await self.store.get_bot_state(conversation.id)
            team = None if found is None else BotState.load(found[1]).team
            handoff = Handoff(HandoffReason.VISITOR_ASKED, team)
            if await self._offer_away(conversation.id, handoff):
                return await self.store.get_conversation(conversation.id) or conversation
        return await self._queue(conversation, handoff,
                                 actor_kind="visitor", actor_id=contact_id, note=note)

    async def rate(self, contact_id: str, conversation_id: str, *, rating: int,
                   comment: str | None) -> CsatRating:
        """The visitor rates a conversation of theirs that an agent resolved (CSAT), within
        CSAT_WINDOW_MS of its resolution. A second rating replaces the first (a visitor who
        mis-clicked can correct it, as Chatwoot's survey allows); the event log keeps both.
        NotFound when it is not theirs; Conflict when it is open, ended without an agent
        (the bot's, or abandoned in the queue), or resolved too long ago."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None or conversation.contact_id != contact_id:
            raise NotFound("no such conversation of yours")
        if conversation.status is not S.RESOLVED:
            raise Conflict("the conversation is not resolved yet")
        if conversation.agent_id is None:
            raise Conflict("only a conversation an agent resolved can be rated")
        comment = (comment or "").strip() or None
        now = now_ms()
        stored = await self.store.rate_conversation(
            conversation_id, contact_id=contact_id, rating=rating, comment=comment, now=now,
            window_ms=CSAT_WINDOW_MS)
        if stored is None:
            # Resolved long ago (or changed meanwhile, which a resolved one does not).
            raise Conflict("the conversation can no longer be rated")
        await self.notifier.csat_rated(conversation, stored[0])
        return stored[0]

    async def csat_pending(self, contact_id: str) -> Conversation | None:
        """The visitor's last conversation when an agent resolved it recently and it awaits
        their rating (the widget asks again after a reload, until answered)."""
        return await self.store.csat_pending(contact_id, since=now_ms() - CSAT_WINDOW_MS)

    async def csat_of(self, agent: Agent, conversation_id: str) -> CsatRating | None:
        """The visitor's rating of a conversation the agent may see (None: not rated)."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        self._check_sees(agent, conversation)
        return await self.store.get_csat(conversation_id)

    async def leave_message(self, contact_id: str, *, client_id: str, email: str, body: str,
                            locale: str | None, origin: str | None) -> tuple[Message, Conversation]:
        """The offline form: the visitor leaves `email` (validated by the caller's schema) and
        a message when nobody is available. The email goes on the contact, the message into
        the conversation (meta kind "offline_message", with the email, for the agents), and a
        conversation the bot has is queued (reason offline) for the team asked for, where the
        next shift finds it. A resend with the same `client_id` changes nothing more."""
        conversation = await self.store.open_conversation_for(contact_id)
        # Already queued or assigned (another tab, or a resend after it was): the message and
        # the email are stored all the same, where the agent will see them.
        if await self.store.set_contact_email(contact_id, email) is None:
            raise NotFound("no such contact")
        if conversation is None:
            conversation = await self._start(contact_id, locale)
        result = await self._append(NewMessage(
            conversation.id, SenderKind.VISITOR, body, client_id, contact_id,
            meta={"kind": "offline_message", "email": email}), ())
        if result is None:
            raise Conflict("the conversation was closed; send the message again")
        if not result.duplicate:
            await self.notifier.message_stored(conversation, result.message, origin)
        # Queued even for a resend: the first attempt may have stored the message and failed
        # before queueing (the transition happens once, from bot only).
        found = await self.store.get_bot_state(conversation.id)
        if found is not None and found[0].status is S.BOT:
            state = BotState.load(found[1])
            team = state.away_team if state.away else state.team
            conversation = await self._queue(found[0], Handoff(HandoffReason.OFFLINE, team),
                                             actor_kind="visitor", actor_id=contact_id,
                                             data={"email": email})
        elif found is not None:
            conversation = found[0]
        return result.message, conversation

    async def _offer_away(self, conversation_id: str, handoff: Handoff) -> bool:
        """When no person can take the handoff now, the bot says so and offers the offline
        form instead of queueing. Returns whether it did."""
        bot, router = self.bot, self.router
        if bot is None or router is None:
            return False
        availability = await router.availability(handoff.team)
        if availability.available:
            return False
        for _ in range(BOT_TURN_ATTEMPTS):
            found = await self.store.get_bot_state(conversation_id)
            if found is None or found[0].status is not S.BOT:
                return False
            conversation, raw = found
            turn = bot.away(BotState.load(raw), handoff, availability)
            stored = await self.store.save_bot_turn(
                conversation_id, expected_seq=conversation.last_seq, state=turn.state.dump(),
                messages=[_bot_says(bot, conversation_id, reply, turn.state.locale)
                          for reply in turn.replies])
            if stored is None:
                continue  # someone spoke meanwhile: look again
            for message in stored:
                await self.notifier.message_stored(conversation, message, None)
            return True
        return False

    async def visitor_history(self, contact_id: str, conversation_id: str, *,
                              before_seq: int | None, limit: int) -> Page:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None or conversation.contact_id != contact_id:
            raise NotFound("no such conversation")
        return await self._page(conversation_id, limit=limit,
                                before_seq=before_seq or conversation.last_seq + 1,
                                include_internal=False)

    async def _start(self, contact_id: str, locale: str | None,
                     first: Opening | None = None) -> Conversation:
        """Start the contact's conversation: with the bot's greeting as message 1 (or the
        proactive message `first` the visitor answered), or straight into the agents' queue
        when there is no bot."""
        bot_state, opening = None, []
        if self.bot is not None:
            state, greeting = self.bot.start(self.bot.locale(locale))
            bot_state, opening = state.dump(), [_bot_says(self.bot, "", greeting, state.locale)]
        if first is not None:
            # What the visitor saw and answered, so the agent sees it too.
            opening = [NewMessage("", SenderKind.BOT, first.body, author_name=first.author_name,
                                  meta=first.meta)]
        try:
            conversation = await self.store.create_conversation(
                contact_id, bot_state=bot_state, opening=opening)
        except Conflict:
            # Another tab (or process) started it a moment ago: join that one.
            found = await self.store.open_conversation_for(contact_id)
            if found is None:
                raise
            return found
        if self.bot is None:
            # Without a bot every conversation goes straight to the agents' queue.
            return await self._queue(conversation, Handoff(HandoffReason.NO_BOT),
                                     actor_kind="system", actor_id=None)
        await self.notifier.conversation_changed(conversation)
        stored, _ = await self.store.get_messages(conversation.id, limit=len(opening))
        for message in stored:
            await self.notifier.message_stored(conversation, message, None)
        return conversation

    async def _queue(self, conversation: Conversation, handoff: Handoff, *, actor_kind: str,
                     actor_id: str | None, note: str | None = None,
                     data: dict[str, Any] | None = None) -> Conversation:
        router = self.router
        if note is not None:
            data = {**(data or {}), "note": note}
        queued = await self.store.transition(
            conversation.id, S.QUEUED, allowed_from={S.BOT}, agent_id=None,
            actor_kind=actor_kind, actor_id=actor_id, handoff=handoff, data=data,
            queue_team=None if router is None else router.queue_team(handoff.team),
            priority=None if router is None else await router.priority(conversation))
        if queued is None:
            # Already queued, assigned or resolved: report how it stands now.
            current = await self.store.get_conversation(conversation.id)
            if current is None:
                raise NotFound("no such conversation")
            return current
        self.instruments.handoff(str(handoff.reason))
        for listener in self.handoff_listeners:
            listener(queued)
        await self.notifier.conversation_changed(queued)
        if router is not None:
            await router.queued(queued)
            # Report how it stands now: it may have been assigned at once.
            return await self.store.get_conversation(queued.id) or queued
        return queued

    # the bot

    def _start_bot_turn(self, conversation_id: str, said: Said) -> None:
        previous = self._last_bot_turn.get(conversation_id)
        task = asyncio.create_task(self._bot_turn(conversation_id, said, after=previous))
        self._last_bot_turn[conversation_id] = task
        self._bot_turns.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._bot_turns.discard(task)
            if self._last_bot_turn.get(conversation_id) is task:
                del self._last_bot_turn[conversation_id]

        task.add_done_callback(done)

    async def _bot_turn(self, conversation_id: str, said: Said, *,
                        after: asyncio.Task[None] | None) -> None:
        bot = self.bot
        if bot is None:
            return
        if after is not None:
            await asyncio.wait([after])
        try:
            for _ in range(BOT_TURN_ATTEMPTS):
                # Re-read each time: a person may have taken over while the bot was thinking.
                found = await self.store.get_bot_state(conversation_id)
                if found is None or found[0].status is not S.BOT:
                    return
                conversation, raw = found
                state = BotState.load(raw)
                turn = await bot.turn(state, said, first_seq=conversation.last_seq + 1,
                                      conversation_id=conversation_id)
                if turn.handoff is not None and self.router is not None:
                    # Nobody can take it now: the offline form instead of a wait for no one.
                    availability = await self.router.availability(turn.handoff.team)
                    if not availability.available:
                        turn = bot.away(state, turn.handoff, availability)
                stored = await self.store.save_bot_turn(
                    conversation_id, expected_seq=conversation.last_seq, state=turn.state.dump(),
                    messages=[_bot_says(bot, conversation_id, reply, turn.state.locale)
                              for reply in turn.replies])
                if stored is None:
                    continue  # someone spoke while the bot was thinking: think again
                for message in stored:
                    await self.notifier.message_stored(conversation, message, None)
                if turn.handoff is not None:
                    await self._queue(conversation, turn.handoff, actor_kind="bot",
                                      actor_id=None)
                return
            log.warning("the bot gave up a turn in conversation %s: it kept changing",
                        conversation_id)
        except Exception:
            log.exception("the bot failed to answer in conversation %s", conversation_id)

    async def visitor_status(self, contact_id: str) -> VisitorStatus:
        """The visitor's open conversation and how many messages of the others (agent, bot,
        system) in it they have not read: what the widget shows on its launcher at page
        load, before it opens a socket."""
        conversation = await self.store.open_conversation_for(contact_id)
        if conversation is None:
            return VisitorStatus(None, 0)
        unread, _ = await self.store.get_messages(
            conversation.id, after_seq=conversation.visitor_read_seq, limit=100,
            include_internal=False)
        return VisitorStatus(conversation,
                             sum(1 for m in unread if m.sender is not SenderKind.VISITOR))

    # agents

    async def find_contacts(self, query: str, *,
                            limit: int) -> list[tuple[Contact, Conversation | None]]:
        """Contacts matching `query` (an id, an email or its start, part of a name), each
        with their open conversation, if any: whom an agent may start a conversation with."""
        found = await self.store.find_contacts(query, limit=limit)
        return [(contact, await self.store.open_conversation_for(contact.id))
                for contact in found]

    async def start_outbound(self, agent: Agent, contact_id: str, *, client_id: str,
                             body: str, origin: str | None) -> tuple[Conversation, Message]:
        """The agent starts a conversation with a known contact: assigned to them at once
        (atomically, within their capacity), their `body` its first message. The visitor
        sees it (the launcher's badge, then the message) on their next visit, or at once if
        the widget is open. Raises NotFound (no such contact), Conflict (the contact has an
        open conversation, named in `details.conversation_id`; or the agent is at capacity).
        A resend with the same `client_id` returns what the first one started."""
        router = self.router
        capacity = NO_ROUTER_CAPACITY if router is None else router.capacity_of(agent)
        started = await self.store.start_outbound(
            contact_id, agent.id, capacity=capacity,
            queue_team=None if router is None else router.home_team(agent),
            message=NewMessage("", SenderKind.AGENT, body, client_id, agent.id, agent.name),
            now=now_ms())
        if started is None:
            raise Conflict(f"you are at your capacity ({capacity} chats)")
        conversation, message, resent = started
        if not resent:
            await self.notifier.conversation_changed(conversation)
            await self.notifier.message_stored(conversation, message, origin)
        return conversation, message

    async def list_open(self, agent: Agent, statuses: Collection[ConversationStatus],
                        limit: int, *, tag: str | None = None) -> list[Conversation]:
        """The open conversations the agent may see (with routing: their teams' and their
        own; supervisors and admins every one); with `tag`, those tagged with it."""
        scope = None if self.router is None else self.router.visible_teams(agent)
        if scope is None:
            return await self.store.list_conversations(statuses=statuses, limit=limit,
                                                       tag=tag)
        teams, unqueued = scope
        return await self.store.list_conversations(statuses=statuses, limit=limit,
                                                   queue_teams=teams, unqueued=unqueued,
                                                   agent_id=agent.id, tag=tag)

    def _check_sees(self, agent: Agent, conversation: Conversation) -> None:
        if self.router is not None and not self.router.can_see(agent, conversation):
            raise Forbidden("the conversation belongs to another team's queue; "
                            "it is not for you to see")

    async def conversations_moved(self, contact_id: str) -> None:
        """The contact's open conversation may have just become theirs (a verified identify
        moved it from the device's contact): its agents, and the contact's other tabs, hear
        of it with its new contact_id."""
        conversation = await self.store.open_conversation_for(contact_id)
        if conversation is not None:
            await self.notifier.conversation_changed(conversation)

    async def unread(self, conversations: Collection[Conversation]) -> dict[str, Unread]:
        """Per conversation with any: the visitor's messages no agent has read yet."""
        return await self.store.unread([c.id for c in conversations])

    async def contacts_of(self, conversations: Collection[Conversation]) -> dict[str, Contact]:
        """The contacts of these conversations, by id: who they are in an agent's list (the
        email a visitor left with the offline form, say)."""
        return await self.store.get_contacts({c.contact_id for c in conversations})

    async def join(self, agent: Agent, conversation_id: str, *, since_seq: int, limit: int,
                   before_reading: Callable[[Conversation], Awaitable[None]] | None = None,
                   ) -> tuple[Conversation, Page]:
        """Assign the conversation to the agent, atomically; joining one's own is allowed.
        Forbidden when it is another team's (Router.can_see). `before_reading` runs once the
        agent has it, before its messages are read (the socket enters its room there, so a
        message stored meanwhile reaches it live or in the page, never neither)."""
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        self._check_sees(agent, conversation)
        if self.router is not None:
            conversation = await self.router.take(agent, conversation)
        elif conversation.status is not S.ASSIGNED or conversation.agent_id != agent.id:
            assigned = await self.store.transition(
                conversation_id, S.ASSIGNED, allowed_from=OPEN_STATUSES, agent_id=agent.id,
                expected_agents={None, agent.id}, actor_kind="agent", actor_id=agent.id)
            if assigned is None:
                current = await self.store.get_conversation(conversation_id)
                if current is None or current.status is S.RESOLVED:
                    raise Conflict("the conversation is resolved")
                raise Conflict("the conversation is assigned to "
                               f"{current.agent_name or 'another agent'}")
            conversation = assigned
            await self.notifier.conversation_changed(conversation)
        if before_reading is not None:
            await before_reading(conversation)
        page = await self._page(conversation_id, after_seq=since_seq, limit=limit)
        return conversation, page

    @timed_message("agent")
    async def agent_message(self, agent: Agent, conversation: Conversation, *, client_id: str,
                            body: str | None, attachment_ids: Sequence[str] = (),
                            origin: str | None) -> Message:
        """Store an agent's reply. `conversation` must be one the agent joined (the caller
        checks); a conversation resolved meanwhile is refused. With `attachment_ids`, it
        carries those files, as a visitor's message would (visitor_message)."""
        if conversation.agent_id != agent.id:
            raise Conflict("the conversation is not assigned to you")
        files = await self._files(SenderKind.AGENT, agent.id, client_id, attachment_ids)
        result = await self._append(NewMessage(
            conversation.id, SenderKind.AGENT, body or "", client_id, agent.id, agent.name,
            meta={"attachments": files} if files else None), attachment_ids)
        if result is None:
            raise Conflict("the conversation is resolved")
        if not result.duplicate:
            await self.notifier.message_stored(conversation, result.message, origin)
        return result.message

    async def agent_read(self, agent: Agent, conversation: Conversation, *,
                         seq: int) -> Conversation:
        """The assigned agent has seen the conversation up to `seq`."""
        if conversation.agent_id != agent.id:
            raise Conflict("the conversation is not assigned to you")
        return await self._mark_read(conversation, SenderKind.AGENT, seq)

    async def agent_typing(self, agent: Agent, conversation: Conversation, *, typing: bool,
                           origin: str | None) -> None:
        if conversation.agent_id != agent.id:
            raise Conflict("the conversation is not assigned to you")
        await self.notifier.typing(conversation, SenderKind.AGENT, agent.name, typing, origin)

    async def resolve(self, agent: Agent, conversation_id: str, *,
                      reason: ResolutionReason | None = None) -> Conversation:
        """The assigned agent resolves the conversation, with an optional reason, logged in
        the `conversation.resolved` event's data as `reason` (null when none was given)."""
        conversation = await self.store.transition(
            conversation_id, S.RESOLVED, allowed_from=OPEN_STATUSES, agent_id=agent.id,
            expected_agents={agent.id}, actor_kind="agent", actor_id=agent.id,
            data={"reason": None if reason is None else str(reason)})
        if conversation is None:
            if await self.store.get_conversation(conversation_id) is None:
                raise NotFound("no such conversation")
            raise Conflict("only the assigned agent can resolve an open conversation")
        await self.notifier.conversation_changed(conversation)
        if self.router is not None:
            await self.router.freed(agent)
        return conversation

    async def agent_history(self, agent: Agent, conversation_id: str, *,
                            before_seq: int | None, limit: int) -> Page:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        self._check_sees(agent, conversation)
        return await self._page(conversation_id, limit=limit,
                                before_seq=before_seq or conversation.last_seq + 1)

    async def _page(self, conversation_id: str, *, before_seq: int | None = None,
                    after_seq: int = 0, limit: int, include_internal: bool = True) -> Page:
        messages, has_more = await self.store.get_messages(
            conversation_id, after_seq=after_seq, before_seq=before_seq, limit=limit,
            include_internal=include_internal)
        return Page(messages, has_more)


def _bot_says(bot: Bot, conversation_id: str, reply: BotReply, locale: str) -> NewMessage:
    return NewMessage(conversation_id, SenderKind.BOT, reply.body,
                      author_name=bot.name(locale), meta=reply.meta)
