"""The agent namespace: authenticated agents list, join, answer and resolve conversations.

With routing, an agent (role `agent`) sees only their teams' conversations and their own
(Routing.sees): listing leaves the others out, joining or reading one is `forbidden`.
Supervisors and admins see every one. Sockets sit in their agent's team rooms, moved when an
admin changes the routing configuration."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chatkit.agents import AgentService
from chatkit.attachments import AttachmentService
from chatkit.console.auth import from_console, session_cookie_of
from chatkit.console.sessions import Sessions
from chatkit.conversations import ConversationService
from chatkit.crm import ContextService
from chatkit.desk import DeskService
from chatkit.errors import ChatKitError, Conflict, Forbidden, InvalidToken, NotFound
from chatkit.models import (
    Agent,
    AgentRole,
    Contact,
    Conversation,
    ConversationStatus,
    Presence,
    ResolutionReason,
    now_ms,
)
from chatkit.profile import ProfileService, preferences_of
from chatkit.realtime import schemas as s
from chatkit.realtime.dispatch import (
    EventTable,
    Namespace,
    connection,
    error_ack,
    refuse,
    validate,
)
from chatkit.routing.config import Routing
from chatkit.routing.service import RoutingService

AGENT = "/agent"
# Supervisors and admins hear of every conversation; agents of their teams' and their own.
SUPERVISORS_ROOM = "supervisors"


def conversation_room(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def agent_room(agent_id: str) -> str:
    """Every socket of one agent, in any process."""
    return f"agent:{agent_id}"


def session_room(token_hash: str) -> str:
    """The sockets opened with one console session: told when it ends."""
    return f"session:{token_hash}"


def team_room(team: str) -> str:
    """The agents of a team: they hear of its queue."""
    return f"team:{team}"


#: How often a socket opened with a console session checks, on its next event, that the
#: session still lives (and records its use, so a busy socket keeps it from going idle), ms.
SESSION_CHECK_MS = 60_000


@dataclass(slots=True)
class AgentConnection:
    agent: Agent
    # Conversations this socket joined, as last seen: checked before each reply.
    joined: dict[str, Conversation] = field(default_factory=dict)
    # The hash of the console session it was opened with (None: a bearer token), and when
    # that session was last seen alive (ms).
    session: str | None = None
    session_checked_at: int = 0
    # Conversations a supervisor's socket watches (hears, read-only unless barged into).
    watching: set[str] = field(default_factory=set)


class AgentNamespace(Namespace):
    events: ClassVar[EventTable] = {
        "conversations": (s.ListConversations, "list_conversations"),
        "join": (s.Join, "join"),
        "message": (s.AgentMessage, "message"),
        "history": (s.History, "history"),
        "resolve": (s.Resolve, "resolve"),
        "typing": (s.AgentTyping, "typing"),
        "read": (s.AgentRead, "read"),
        "presence": (s.SetPresence, "presence"),
        "pick": (s.Pick, "pick"),
        "transfer": (s.Transfer, "transfer"),
        "queue": (s.ListQueue, "queue"),
        "directory": (s.Directory, "directory"),
        "contacts": (s.FindContacts, "contacts"),
        "start": (s.StartConversation, "start"),
        "context": (s.Context, "context"),
        # the agent's desk (chatkit/desk)
        "note": (s.Note, "note"),
        "tags": (s.ChangeTags, "tags"),
        "canned": (s.ConversationRef, "canned"),
        "whisper": (s.Note, "whisper"),
        "watch": (s.Watch, "watch"),
        "unwatch": (s.ConversationRef, "unwatch"),
        "barge": (s.ConversationRef, "barge"),
        "reassign": (s.Reassign, "reassign"),
        "contact_history": (s.ContactHistoryQuery, "contact_history"),
        "update_contact": (s.UpdateContact, "update_contact"),
    }
    #: Queues and assignment (set by ChatKit); None: no routing events.
    routing: RoutingService | None = None
    #: The CRM panel's data (set by ChatKit); None: `context` is refused.
    crm: ContextService | None = None
    #: The console's sessions (set by ChatKit); None: tokens only.
    sessions: Sessions | None = None
    #: Notes, supervision, tags and canned responses (set by ChatKit).
    desk: DeskService | None = None
    #: Contacts' details and history (set by ChatKit); None: those events are refused.
    profiles: ProfileService | None = None

    def __init__(self, conversations: ConversationService, agents: AgentService,
                 attachments: AttachmentService) -> None:
        super().__init__(AGENT)
        self.conversations = conversations
        self.agents = agents
        self.attachments = attachments
        self.connections: dict[str, AgentConnection] = {}
        # conversation id -> the sockets here that joined it
        self._joined_by: dict[str, set[str]] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        """`auth.token` (a bearer token), or, with no auth, the console's session cookie."""
        session: str | None = None
        if auth is None or auth == {}:
            agent, session = await self._signed_in(environ)
        else:
            try:
                token = validate(s.AgentAuth, auth).token
                agent = await self.agents.agent_for_token(token)
            except ChatKitError as exc:
                raise refuse(InvalidToken(exc.message)) from None
        self.connections[sid] = AgentConnection(
            agent, session=session,
            session_checked_at=0 if self.sessions is None else self.sessions.clock())
        if session is not None:
            await self.enter_room(sid, session_room(session))
        await self.enter_room(sid, agent_room(agent.id))
        if agent.role is not AgentRole.AGENT:
            await self.enter_room(sid, SUPERVISORS_ROOM)
        if self.routing is not None:
            for team in self.routing.teams_of(agent):
                await self.enter_room(sid, team_room(team))
            await self.routing.connected(agent, sid)

    async def _signed_in(self, environ: dict[str, Any]) -> tuple[Agent, str]:
        """The agent of the handshake's session cookie, and the session's token hash. A
        browser sends the cookie whichever page opens the socket, so only the console's own
        origin may (cross-site WebSocket hijacking), even where engine.io lets the widget's
        sites open sockets."""
        cookie = session_cookie_of(environ)
        if cookie is None or self.sessions is None:
            raise refuse(InvalidToken("sign in to the console, or send auth.token"))
        if not from_console(environ):
            raise refuse(Forbidden("the console's session works only from the console's "
                                   "own pages (Origin)"))
        found = await self.sessions.find(cookie)
        if found is None:
            raise refuse(InvalidToken("your session has ended (signed out or expired): "
                                      "sign in again"))
        return found.agent, found.session.token_hash

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event not in {"connect", "disconnect"} and args:
            conn = self.connections.get(args[0])
            if conn is not None and conn.session is not None \
                    and not await self._session_lives(args[0], conn):
                return error_ack("invalid_token", "your session has ended (signed out or "
                                                  "expired): sign in again")
        return await super().trigger_event(event, *args)

    async def _session_lives(self, sid: str, conn: AgentConnection) -> bool:
        """Whether the console session of a socket still lives, asked of the store at most
        once a SESSION_CHECK_MS; a socket whose session ended is disconnected."""
        if conn.session is None or self.sessions is None:
            return True  # a bearer token: valid until it expires
        now = self.sessions.clock()
        if now - conn.session_checked_at < SESSION_CHECK_MS:
            return True
        if await self.sessions.find_by_hash(conn.session) is None:
            # It gets this event's error ack, then the disconnect (a disconnect first would
            # leave the ack unsent).
            await self._cut_off(sid)
            return False
        conn.session_checked_at = now
        return True

    async def _cut_off(self, sid: str) -> None:
        """A socket whose session ended hears nothing more from now on: it leaves every
        room, is told `signed_out`, and is disconnected a moment later."""
        for room in list(self.server.manager.get_rooms(sid, self.namespace)):
            if room != sid:
                self._leave(sid, room)
        await self.emit("signed_out", {}, to=sid)
        self.server.start_background_task(self._disconnect_later, sid)

    async def _disconnect_later(self, sid: str) -> None:
        await asyncio.sleep(1)
        await self.disconnect(sid)

    async def session_ended(self, token_hash: str) -> None:
        """A console session ended (signed out): its sockets, in any process, are told, so
        that every tab of it goes back to the sign-in form, and this process's are cut off
        at once. (Reconnecting is refused; other processes cut theirs off at their next
        check_sessions.)"""
        await self.emit("signed_out", {}, room=session_room(token_hash))
        for sid, conn in list(self.connections.items()):
            if conn.session == token_hash:
                await self._cut_off(sid)

    async def check_sessions(self) -> None:
        """Cut off this process's sockets whose console session has ended (signed out on
        another process, expired, idle), even those that only listen and so never reach
        _session_lives. The app runs it every SESSION_CHECK_MS."""
        if self.sessions is None:
            return
        by_session: dict[str, list[str]] = {}
        for sid, conn in list(self.connections.items()):
            if conn.session is not None:
                by_session.setdefault(conn.session, []).append(sid)
        for token_hash, sids in by_session.items():
            if not await self.sessions.alive(token_hash):
                for sid in sids:
                    if sid in self.connections:
                        await self._cut_off(sid)

    async def on_disconnect(self, sid: str) -> None:
        conn = self.connections.pop(sid, None)
        for conversation_id in conn.joined if conn is not None else ():
            self._forget(sid, conversation_id)
        if conn is not None and self.routing is not None:
            self.routing.disconnected(sid)

    def _forget(self, sid: str, conversation_id: str) -> None:
        sids = self._joined_by.get(conversation_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._joined_by[conversation_id]

    async def list_conversations(self, sid: str,
                                 payload: s.ListConversations) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        found = await self.conversations.list_open(
            conn.agent, [ConversationStatus(status) for status in payload.status],
            payload.limit, tag=payload.tag)
        return {"conversations": [c.to_wire() for c in found],
                "contacts": await self._contacts(found),
                "unread": await self._unread(found),
                "tags": await self._desk().tags([c.id for c in found])}

    async def _contacts(self, conversations: list[Conversation]) -> dict[str, Any]:
        """Who the visitors of a list are: name and email, when known, and the host site's
        identity and attributes (docs/protocol.md)."""
        return {contact.id: contact_wire(contact)
                for contact in (await self.conversations.contacts_of(conversations)).values()}

    async def _unread(self, conversations: list[Conversation]) -> dict[str, Any]:
        """The inbox's unread counts and how long each visitor has waited for an answer."""
        found = await self.conversations.unread(conversations)
        return {conversation_id: unread.to_wire() for conversation_id, unread in found.items()}

    async def join(self, sid: str, payload: s.Join) -> dict[str, Any]:
        conn = connection(self.connections, sid)

        async def enter(conversation: Conversation) -> None:
            # In the room before the transcript is read: nothing stored meanwhile is missed.
            conn.joined[conversation.id] = conversation
            self._joined_by.setdefault(conversation.id, set()).add(sid)
            await self.enter_room(sid, conversation_room(conversation.id))

        conversation, page = await self.conversations.join(
            conn.agent, payload.conversation_id, since_seq=payload.since_seq,
            limit=payload.limit, before_reading=enter)
        return {"conversation": conversation.to_wire(),
                "messages": [self.attachments.wire(m) for m in page.messages],
                "has_more": page.has_more, "tags": await self._tags_of(conversation.id)}

    def _joined(self, sid: str, conversation_id: str) -> tuple[AgentConnection, Conversation]:
        """This socket's connection and a conversation it has joined (else Conflict)."""
        conn = connection(self.connections, sid)
        conversation = conn.joined.get(conversation_id)
        if conversation is None:
            raise Conflict("join the conversation first")
        return conn, conversation

    async def message(self, sid: str, payload: s.AgentMessage) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        if (payload.conversation_id not in conn.joined
                and payload.conversation_id in conn.watching and payload.body is not None
                and payload.attachment_ids is None):
            # A supervisor who barged in (DeskService.barge_message checks they did).
            return self.attachments.wire(await self._desk().barge_message(
                conn.agent, payload.conversation_id, client_id=payload.client_id,
                body=payload.body, origin=sid))
        conn, conversation = self._joined(sid, payload.conversation_id)
        message = await self.conversations.agent_message(
            conn.agent, conversation, client_id=payload.client_id, body=payload.body,
            attachment_ids=payload.attachment_ids or (), origin=sid)
        return self.attachments.wire(message)

    async def read(self, sid: str, payload: s.AgentRead) -> dict[str, Any]:
        conn, conversation = self._joined(sid, payload.conversation_id)
        conversation = await self.conversations.agent_read(conn.agent, conversation,
                                                           seq=payload.seq)
        return conversation.to_wire()

    async def typing(self, sid: str, payload: s.AgentTyping) -> dict[str, Any]:
        conn, conversation = self._joined(sid, payload.conversation_id)
        await self.conversations.agent_typing(conn.agent, conversation, typing=payload.typing,
                                              origin=sid)
        return {}

    async def history(self, sid: str, payload: s.History) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        page = await self.conversations.agent_history(
            conn.agent, payload.conversation_id, before_seq=payload.before_seq, limit=payload.limit)
        # A resolved conversation's rating, for the console to show with it.
        csat = await self.conversations.csat_of(conn.agent, payload.conversation_id)
        return {"messages": [self.attachments.wire(m) for m in page.messages],
                "has_more": page.has_more, "csat": None if csat is None else csat.to_wire(),
                "tags": await self._tags_of(payload.conversation_id)}

    async def resolve(self, sid: str, payload: s.Resolve) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conversation = await self.conversations.resolve(
            conn.agent, payload.conversation_id,
            reason=None if payload.reason is None else ResolutionReason(payload.reason))
        if conn.joined.pop(conversation.id, None) is not None:
            self._forget(sid, conversation.id)
        return conversation.to_wire()

    def _routing(self) -> RoutingService:
        if self.routing is None:
            raise Conflict("routing is not running")
        return self.routing

    async def presence(self, sid: str, payload: s.SetPresence) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        changed = await self._routing().set_presence(conn.agent, Presence(payload.status))
        return {"agent_id": changed.agent_id, "presence": str(changed.presence),
                "teams": self._routing().teams_of(conn.agent)}

    async def pick(self, sid: str, payload: s.Pick) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        picked = await self._routing().pick(conn.agent, payload.conversation_id)
        # Now theirs: join it (subscribes this socket, returns the transcript).
        return await self.join(sid, s.Join(conversation_id=picked.id,
                                           since_seq=payload.since_seq, limit=payload.limit))

    async def transfer(self, sid: str, payload: s.Transfer) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        moved = await self._routing().transfer(
            conn.agent, payload.conversation_id, to_agent_id=payload.to_agent_id,
            to_team=payload.to_team, note=payload.note)
        return moved.to_wire()

    async def queue(self, sid: str, payload: s.ListQueue) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        routing = self._routing()
        teams = [payload.team] if payload.team is not None else routing.teams_of(conn.agent)
        if (payload.team is not None and conn.agent.role is AgentRole.AGENT
                and payload.team not in routing.teams_of(conn.agent)):
            raise Forbidden("you are not in that team")
        waiting = [c for team in teams
                   for c in await routing.store.queue(team, limit=payload.limit)]
        return {"teams": teams, "conversations": [c.to_wire() for c in waiting],
                "contacts": await self._contacts(waiting),
                "unread": await self._unread(waiting)}

    async def directory(self, sid: str, payload: s.Directory) -> dict[str, Any]:
        """The teams and agents a chat can be transferred (or reassigned) to, with each
        agent's teams and presence: every agent may see who their colleagues are."""
        connection(self.connections, sid)
        routing = self._routing()
        config = routing.routing
        agents = await self.conversations.store.list_agents()
        presence = await routing.store.get_presence([agent.id for agent in agents])
        return {
            "teams": [{"id": team.id, "name": team.title, "open": team.is_open(now_ms())}
                      for team in config.teams.values()],
            "agents": [{"id": agent.id, "name": agent.name, "role": str(agent.role),
                        "teams": config.teams_of(agent),
                        "presence": str(presence[agent.id].presence)
                        if agent.id in presence else "offline"}
                       for agent in sorted(agents, key=lambda a: (a.name.lower(), a.id))]}

    async def contacts(self, sid: str, payload: s.FindContacts) -> dict[str, Any]:
        connection(self.connections, sid)
        found = await self.conversations.find_contacts(payload.query, limit=payload.limit)
        return found_contacts_wire(found)

    async def start(self, sid: str, payload: s.StartConversation) -> dict[str, Any]:
        """Outbound: start a conversation with a known contact; this socket joins it."""
        conn = connection(self.connections, sid)
        conversation, message = await self.conversations.start_outbound(
            conn.agent, payload.contact_id, client_id=payload.client_id, body=payload.body,
            origin=sid)
        conn.joined[conversation.id] = conversation
        self._joined_by.setdefault(conversation.id, set()).add(sid)
        await self.enter_room(sid, conversation_room(conversation.id))
        return {"conversation": conversation.to_wire(),
                "messages": [self.attachments.wire(message)], "has_more": False}

    async def context(self, sid: str, payload: s.Context) -> dict[str, Any]:
        """The CRM panel of a conversation the agent may see (Routing.sees, as for join)."""
        conn = connection(self.connections, sid)
        if self.crm is None:
            raise Conflict("this server has no CRM context")
        conversation = await self.conversations.store.get_conversation(payload.conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        if self.routing is not None and not self.routing.can_see(conn.agent, conversation):
            raise Forbidden("the conversation belongs to another team's queue; "
                            "it is not for you to see")
        return await self.crm.panel(conversation, refresh=payload.refresh)

    # the agent's desk

    def _desk(self) -> DeskService:
        if self.desk is None:
            raise Conflict("the desk is not running")
        return self.desk

    async def _tags_of(self, conversation_id: str) -> list[str]:
        return (await self._desk().tags([conversation_id])).get(conversation_id, [])

    async def note(self, sid: str, payload: s.Note) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        return (await self._desk().note(conn.agent, payload.conversation_id,
                                        client_id=payload.client_id, body=payload.body,
                                        origin=sid)).to_wire()

    async def whisper(self, sid: str, payload: s.Note) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        return (await self._desk().whisper(conn.agent, payload.conversation_id,
                                           client_id=payload.client_id, body=payload.body,
                                           origin=sid)).to_wire()

    async def tags(self, sid: str, payload: s.ChangeTags) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        tags = await self._desk().change_tags(conn.agent, payload.conversation_id,
                                              add=payload.add, remove=payload.remove)
        return {"conversation_id": payload.conversation_id, "tags": tags}

    async def canned(self, sid: str, payload: s.ConversationRef) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        return {"canned": await self._desk().canned_for(conn.agent, payload.conversation_id)}

    async def watch(self, sid: str, payload: s.Watch) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conversation, page = await self._desk().watch(
            conn.agent, payload.conversation_id, since_seq=payload.since_seq,
            limit=payload.limit)
        conn.watching.add(conversation.id)
        await self.enter_room(sid, conversation_room(conversation.id))
        return {"conversation": conversation.to_wire(),
                "messages": [self.attachments.wire(m) for m in page.messages],
                "has_more": page.has_more, "tags": await self._tags_of(conversation.id),
                "barged": await self._desk().barged(conn.agent, conversation.id)}

    async def unwatch(self, sid: str, payload: s.ConversationRef) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conn.watching.discard(payload.conversation_id)
        if payload.conversation_id not in conn.joined:
            self._leave(sid, conversation_room(payload.conversation_id))
        return {}

    async def barge(self, sid: str, payload: s.ConversationRef) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conversation, message = await self._desk().barge(conn.agent, payload.conversation_id)
        conn.watching.add(conversation.id)
        await self.enter_room(sid, conversation_room(conversation.id))
        return {"conversation": conversation.to_wire(),
                "message": None if message is None else message.to_wire()}

    async def reassign(self, sid: str, payload: s.Reassign) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        DeskService.supervise(conn.agent)
        moved = await self._routing().transfer(
            conn.agent, payload.conversation_id, to_agent_id=payload.to_agent_id,
            to_team=payload.to_team, note=payload.note)
        return moved.to_wire()

    def _profiles(self) -> ProfileService:
        if self.profiles is None:
            raise Conflict("this server keeps no contact history")
        return self.profiles

    async def contact_history(self, sid: str, payload: s.ContactHistoryQuery) -> dict[str, Any]:
        """Every change to a contact's details, newest first (docs/protocol.md)."""
        conn = connection(self.connections, sid)
        entries, has_more = await self._profiles().history(
            conn.agent, payload.contact_id, before_id=payload.before_id, limit=payload.limit)
        return {"contact_id": payload.contact_id,
                "changes": [entry.to_wire() for entry in entries], "has_more": has_more}

    async def update_contact(self, sid: str, payload: s.UpdateContact) -> dict[str, Any]:
        """The agent corrects a contact's details (logged in its history as theirs)."""
        conn = connection(self.connections, sid)
        contact = await self._profiles().update_by_agent(
            conn.agent, payload.contact_id, payload.details(), payload.preferences_given(),
            origin=sid)
        return {"id": contact.id, **contact_wire(contact)}

    def conversation_changed(self, conversation: Conversation) -> None:
        """Forget joined conversations that were resolved or went to someone else; a socket
        that may no longer see one (moved to another team) stops hearing it too."""
        for sid in list(self._joined_by.get(conversation.id, ())):
            conn = self.connections[sid]
            if conversation.is_open and conversation.agent_id == conn.agent.id:
                conn.joined[conversation.id] = conversation
            else:
                del conn.joined[conversation.id]
                self._forget(sid, conversation.id)
                if self.routing is not None and not self.routing.can_see(conn.agent,
                                                                         conversation):
                    self._leave(sid, conversation_room(conversation.id))

    def changed_elsewhere(self, wire: dict[str, Any]) -> None:
        """A conversation changed in another process (its `conversation` event, as sent):
        sockets here that joined it let it go once it is resolved or another agent's, as
        conversation_changed does for changes made here; their next message is refused."""
        conversation_id = wire.get("id")
        if not isinstance(conversation_id, str):
            return
        for sid in list(self._joined_by.get(conversation_id, ())):
            conn = self.connections[sid]
            if wire.get("status") == "resolved" or wire.get("agent_id") != conn.agent.id:
                del conn.joined[conversation_id]
                self._forget(sid, conversation_id)

    def _leave(self, sid: str, room: str) -> None:
        # Rooms are this process's own bookkeeping (with Redis too): leaving is immediate.
        self.server.manager.basic_leave_room(sid, self.namespace, room)

    async def routing_changed(self, routing: Routing) -> None:
        """A new routing configuration is in use here: each socket moves to its agent's
        teams' rooms now, and stops hearing conversations it may no longer see (those it
        is assigned stay)."""
        for sid, conn in list(self.connections.items()):
            teams = {team_room(team) for team in routing.teams_of(conn.agent)}
            rooms = set(self.server.manager.get_rooms(sid, self.namespace))
            for room in rooms - teams:
                if room.startswith("team:"):
                    self._leave(sid, room)
            for room in teams - rooms:
                await self.enter_room(sid, room)
            for conversation in list(conn.joined.values()):
                if not routing.sees(conn.agent, conversation):
                    del conn.joined[conversation.id]
                    self._forget(sid, conversation.id)
                    self._leave(sid, conversation_room(conversation.id))


def found_contacts_wire(found: list[tuple[Contact, Conversation | None]]) -> dict[str, Any]:
    """`contacts`' answer (and GET /api/contacts'): each contact with its open conversation."""
    return {"contacts": [
        {"id": contact.id, **contact_wire(contact), "created_at": contact.created_at,
         "open_conversation": None if open_ is None else open_.to_wire()}
        for contact, open_ in found]}


def contact_wire(contact: Contact) -> dict[str, Any]:
    """A contact as agents see it: `verified` says whether the host site signed its
    external_id (an unverified one is only what the page claimed); the phone and
    preferences are the visitor's own (chatkit/profile.py)."""
    return {"name": contact.name, "email": contact.email, "external_id": contact.external_id,
            "verified": contact.verified, "attributes": contact.attributes,
            "phone": contact.phone, "preferences": preferences_of(contact)}
