"""The visitor namespace: one socket per widget tab, reaching only its own contact's data."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from chatkit.attachments import AttachmentService
from chatkit.conversations import ConversationService, Opening, ReplyTo
from chatkit.crm import ContextService
from chatkit.errors import ChatKitError, Conflict, InvalidToken, NotFound
from chatkit.identity import Identity, IdentityService
from chatkit.models import Contact, Conversation
from chatkit.profile import ProfileService, profile_wire
from chatkit.realtime import schemas as s
from chatkit.realtime.dispatch import EventTable, Namespace, connection, refuse, validate
from chatkit.routing.service import RoutingService
from chatkit.routing.wait import Wait
from chatkit.tokens import TokenSigner
from chatkit.triggers import TriggersConfig

VISITOR = "/visitor"
VISITOR_TOKEN = "visitor"


def contact_room(contact_id: str) -> str:
    return f"contact:{contact_id}"


@dataclass(slots=True)
class VisitorConnection:
    contact_id: str | None
    # The open conversation as last seen here; the service copes when it is stale.
    conversation: Conversation | None = None
    # The widget's language (from `resume`): a conversation started here is held in it.
    locale: str | None = None
    # Whether the contact is verified, once known (None: not looked up). A verified contact
    # stays verified, so this never goes stale.
    verified: bool | None = None
    # The browser, from the connection's User-Agent header (bounded), for the CRM panel.
    user_agent: str | None = None
    # The page and browser last recorded for this connection's contact: not again unless
    # they change.
    recorded: tuple[str, str | None, str | None] | None = None
    # The language a verified visitor chose in their profile: it wins over the widget's.
    preferred_locale: str | None = None

    def reply_locale(self) -> str | None:
        return self.preferred_locale or self.locale

    def knows(self, contact: Contact) -> None:
        """Remember what this connection needs of its (verified) contact."""
        language = contact.preferences.get("language") if contact.verified else None
        self.preferred_locale = language if isinstance(language, str) else None


class VisitorNamespace(Namespace):
    events: ClassVar[EventTable] = {
        "resume": (s.Resume, "resume"),
        "page": (s.PageView, "page_view"),
        "message": (s.VisitorMessage, "message"),
        "history": (s.History, "history"),
        "handoff": (s.Handoff, "handoff"),
        "leave_message": (s.LeaveMessage, "leave_message"),
        "typing": (s.VisitorTyping, "typing"),
        "read": (s.VisitorRead, "read"),
        "leave": (s.Leave, "leave"),
        "rate": (s.Rate, "rate"),
        "identify": (s.Identify, "identify"),
        "attributes": (s.SetAttributes, "set_attributes"),
        "profile": (s.GetProfile, "profile"),
        "update_profile": (s.UpdateProfile, "update_profile"),
    }
    #: Queues and the visitor's wait (set by ChatKit); None: no positions, no leaving.
    routing: RoutingService | None = None
    #: Identity verification (set by ChatKit); None: identify is refused.
    identity: IdentityService | None = None
    #: The CRM context (set by ChatKit): where the widget is open is recorded for the panel.
    crm: ContextService | None = None
    #: The verified visitor's own details (set by ChatKit); None: profile is refused.
    profiles: ProfileService | None = None

    def __init__(self, conversations: ConversationService,
                 attachments: AttachmentService) -> None:
        super().__init__(VISITOR)
        self.conversations = conversations
        self.attachments = attachments
        self.signer: TokenSigner | None = None
        #: The business's proactive triggers (set by ChatKit at start-up).
        self.triggers = TriggersConfig()
        self.connections: dict[str, VisitorConnection] = {}
        self._by_contact: dict[str, set[str]] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if self.signer is None:
            raise refuse(ChatKitError("the server is starting"))
        try:
            token = validate(s.VisitorAuth, auth).token
            contact_id = None if token is None else self.signer.verify(VISITOR_TOKEN, token)
        except ChatKitError as exc:
            raise refuse(InvalidToken(exc.message)) from None
        self.connections[sid] = VisitorConnection(contact_id,
                                                  user_agent=_user_agent(environ))
        if contact_id is not None:
            await self._attach(sid, contact_id)

    async def on_disconnect(self, sid: str) -> None:
        if self.routing is not None:
            self.routing.visitor_disconnected(sid)
        conn = self.connections.pop(sid, None)
        if conn is not None and conn.contact_id is not None:
            self._forget(sid, conn.contact_id)

    def _forget(self, sid: str, contact_id: str) -> None:
        sids = self._by_contact.get(contact_id, set())
        sids.discard(sid)
        if not sids:
            self._by_contact.pop(contact_id, None)

    def connections_of(self, contact_id: str) -> Collection[str]:
        """The contact's connections to this process (routing/wait.py's Watchers)."""
        return self._by_contact.get(contact_id, ())

    async def _attach(self, sid: str, contact_id: str) -> None:
        self._by_contact.setdefault(contact_id, set()).add(sid)
        await self.enter_room(sid, contact_room(contact_id))

    async def _contact(self, sid: str) -> tuple[VisitorConnection, str]:
        """The connection's contact, created on first use by a visitor who had no token."""
        conn = connection(self.connections, sid)
        if conn.contact_id is None:
            conn.contact_id = (await self.conversations.new_contact()).id
            await self._attach(sid, conn.contact_id)
        return conn, conn.contact_id

    def _token(self, contact_id: str) -> str:
        assert self.signer is not None
        return self.signer.sign(VISITOR_TOKEN, contact_id)

    async def resume(self, sid: str, payload: s.Resume) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        if payload.locale is not None:
            conn.locale = payload.locale
        await self._seen(conn, contact_id, payload.page)
        conversation, page = await self.conversations.resume(
            contact_id, since_seq=payload.since_seq, limit=payload.limit)
        conn.conversation = conversation
        wait = await self._watch(sid, contact_id, conversation)
        # No open conversation: the last one may await the visitor's rating (CSAT).
        pending = (None if conversation is not None
                   else await self.conversations.csat_pending(contact_id))
        return {
            "token": self._token(contact_id), "contact_id": contact_id,
            "conversation": None if conversation is None else conversation.to_wire(),
            "messages": [self.attachments.wire(m) for m in page.messages],
            "has_more": page.has_more,
            "queue": None if wait is None else wait.to_wire(),
            "csat": None if pending is None else {"conversation_id": pending.id,
                                                  "agent_name": pending.agent_name},
        }

    async def page_view(self, sid: str, payload: s.PageView) -> dict[str, Any]:
        """A single-page app's navigation: the page the contact's widget is now on. Before
        `resume` there is no contact yet; the resume that follows carries the page."""
        conn = connection(self.connections, sid)
        if conn.contact_id is not None:
            await self._seen(conn, conn.contact_id, payload.page)
        return {}

    async def _seen(self, conn: VisitorConnection, contact_id: str, url: str | None) -> None:
        """Record the page and browser the contact's widget is open in (the CRM panel), once
        per connection unless they change."""
        seen = (contact_id, url, conn.user_agent)
        if self.crm is None or conn.recorded == seen or (url is None and conn.user_agent is None):
            return
        await self.crm.visitor_seen(contact_id, url=url, user_agent=conn.user_agent)
        conn.recorded = seen

    async def _watch(self, sid: str, contact_id: str,
                     conversation: Conversation | None) -> Wait | None:
        """While the conversation waits: track this connection (abandonment) and say where
        it stands, without waiting for the queue to change."""
        if self.routing is None:
            return None
        return await self.routing.watch(sid, contact_id, conversation)

    async def _may_send(self, conn: VisitorConnection, contact_id: str) -> None:
        """With require_verified_identity, only a verified visitor sends (IdentityRequired)."""
        if self.identity is not None and self.identity.required:
            conn.verified = await self.identity.check_may_send(contact_id, conn.verified)

    async def identify(self, sid: str, payload: s.Identify) -> dict[str, Any]:
        """The host site's user (ChatKit('identify')). A verified identity may name another
        contact than the token did: this connection then becomes that contact's, and the
        reply's token names it (the widget resumes with it)."""
        if self.identity is None:
            raise Conflict("this server does not take identities")
        conn, contact_id = await self._contact(sid)
        contact = await self.identity.identify(
            contact_id, Identity(payload.id, payload.name, payload.email, payload.hash))
        conn.verified = contact.verified
        conn.knows(contact)
        if contact.id != contact_id:
            await self.leave_room(sid, contact_room(contact_id))
            self._forget(sid, contact_id)
            conn.contact_id = contact.id
            conn.conversation = None  # resume (or the next event) looks it up afresh
            await self._attach(sid, contact.id)
            await self.conversations.conversations_moved(contact.id)
        return {"token": self._token(contact.id), "contact_id": contact.id,
                "verified": contact.verified, "changed": contact.id != contact_id}

    async def set_attributes(self, sid: str, payload: s.SetAttributes) -> dict[str, Any]:
        if self.identity is None:
            raise Conflict("this server does not take attributes")
        _, contact_id = await self._contact(sid)
        contact = await self.identity.set_attributes(contact_id, dict(payload.attributes))
        return {"attributes": contact.attributes}

    def _profiles(self) -> ProfileService:
        if self.profiles is None:
            raise Conflict("this server keeps no profiles")
        return self.profiles

    async def profile(self, sid: str, payload: s.GetProfile) -> dict[str, Any]:
        """The verified visitor's own details and preferences (forbidden when unverified)."""
        conn, contact_id = await self._contact(sid)
        contact = await self._profiles().profile(contact_id)
        conn.knows(contact)
        return profile_wire(contact)

    async def update_profile(self, sid: str, payload: s.UpdateProfile) -> dict[str, Any]:
        """The verified visitor corrects their details: all or nothing, logged in the
        contact's history; the agents who may see their open conversation are told."""
        conn, contact_id = await self._contact(sid)
        contact = await self._profiles().update_own(
            contact_id, payload.details(), payload.preferences_given(), origin=sid)
        conn.knows(contact)
        return profile_wire(contact)

    async def message(self, sid: str, payload: s.VisitorMessage) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        await self._may_send(conn, contact_id)
        reply_to = payload.reply_to
        message, conn.conversation = await self.conversations.visitor_message(
            contact_id, client_id=payload.client_id, body=payload.body,
            reply_to=None if reply_to is None else ReplyTo(reply_to.seq, reply_to.choice),
            attachment_ids=payload.attachment_ids or (), locale=conn.reply_locale(),
            conversation=conn.conversation,
            opening=self._opening(payload.trigger, conn.reply_locale()),
            origin=sid)
        return self.attachments.wire(message)

    def _opening(self, trigger_id: str | None, locale: str | None) -> Opening | None:
        """The proactive message the visitor answers, from the server's own config (the
        widget names the trigger; its text is never taken from the client)."""
        if trigger_id is None:
            return None
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise NotFound(f"trigger: no trigger {trigger_id!r}")
        bot = self.conversations.bot
        return Opening(self.triggers.message(trigger, locale),
                       {"kind": "trigger", "trigger": trigger.id},
                       author_name=None if bot is None else bot.name(bot.locale(locale)))

    async def history(self, sid: str, payload: s.History) -> dict[str, Any]:
        _, contact_id = await self._contact(sid)
        page = await self.conversations.visitor_history(
            contact_id, payload.conversation_id, before_seq=payload.before_seq,
            limit=payload.limit)
        return {"messages": [self.attachments.wire(m) for m in page.messages],
                "has_more": page.has_more}

    async def typing(self, sid: str, payload: s.VisitorTyping) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        await self.conversations.visitor_typing(contact_id, conn.conversation,
                                                typing=payload.typing, origin=sid)
        return {}

    async def read(self, sid: str, payload: s.VisitorRead) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        conn.conversation = await self.conversations.visitor_read(
            contact_id, conn.conversation, seq=payload.seq)
        return conn.conversation.to_wire()

    async def handoff(self, sid: str, payload: s.Handoff) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        conn.conversation = await self.conversations.handoff(contact_id, note=payload.reason)
        wait = await self._watch(sid, contact_id, conn.conversation)
        if wait is not None:
            # Before the ack: the widget learns where it stands as it learns it waits.
            await self.emit("queue_position", wait.to_wire(), to=sid, ignore_queue=True)
        return conn.conversation.to_wire()

    async def leave(self, sid: str, payload: s.Leave) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        if self.routing is None:
            raise Conflict("this server has no queues to leave")
        left = await self.routing.leave(contact_id, payload.conversation_id)
        conn.conversation = None
        return left.to_wire()

    async def leave_message(self, sid: str, payload: s.LeaveMessage) -> dict[str, Any]:
        conn, contact_id = await self._contact(sid)
        await self._may_send(conn, contact_id)
        message, conn.conversation = await self.conversations.leave_message(
            contact_id, client_id=payload.client_id, email=payload.email, body=payload.body,
            locale=conn.reply_locale(), origin=sid)
        return {"message": self.attachments.wire(message),
                "conversation": conn.conversation.to_wire()}

    async def rate(self, sid: str, payload: s.Rate) -> dict[str, Any]:
        _, contact_id = await self._contact(sid)
        rated = await self.conversations.rate(contact_id, payload.conversation_id,
                                              rating=payload.rating, comment=payload.comment)
        return {"conversation_id": rated.conversation_id, "rating": rated.rating,
                "comment": rated.comment, "rated_at": rated.rated_at}

    def conversation_changed(self, conversation: Conversation) -> None:
        """Keep this process's view of the contact's open conversation current."""
        for sid in self._by_contact.get(conversation.contact_id, ()):
            self.connections[sid].conversation = conversation if conversation.is_open else None

    def changed_elsewhere(self, wire: dict[str, Any]) -> None:
        """A conversation changed in another process (its `conversation` event, as sent):
        this process's view of it is dropped, and the contact's connections here read it
        afresh at their next event."""
        contact_id = wire.get("contact_id")
        if isinstance(contact_id, str):
            for sid in self._by_contact.get(contact_id, ()):
                self.connections[sid].conversation = None


#: The longest User-Agent kept (real ones are a few hundred characters).
MAX_USER_AGENT = 500


def _user_agent(environ: dict[str, Any]) -> str | None:
    """The connection's User-Agent header, as printable text of bounded length, or None."""
    raw = environ.get("HTTP_USER_AGENT")
    if not isinstance(raw, str):
        return None
    # Printable characters only, and valid Unicode (the database stores it as text).
    text = "".join(ch for ch in raw if ch.isprintable()).encode(errors="ignore").decode()
    text = text.strip()[:MAX_USER_AGENT]
    return text or None
