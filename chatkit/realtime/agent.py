"""The agent namespace: authenticated agents list, join, answer and resolve conversations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from chatkit.agents import AgentService
from chatkit.conversations import ConversationService
from chatkit.errors import ChatKitError, Conflict, InvalidToken
from chatkit.models import Agent, Conversation, ConversationStatus
from chatkit.realtime import schemas as s
from chatkit.realtime.dispatch import EventTable, Namespace, connection, refuse, validate

AGENT = "/agent"
AGENTS_ROOM = "agents"


def conversation_room(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


@dataclass(slots=True)
class AgentConnection:
    agent: Agent
    # Conversations this socket joined, as last seen: checked before each reply.
    joined: dict[str, Conversation] = field(default_factory=dict)


class AgentNamespace(Namespace):
    events: ClassVar[EventTable] = {
        "conversations": (s.ListConversations, "list_conversations"),
        "join": (s.Join, "join"),
        "message": (s.AgentMessage, "message"),
        "history": (s.History, "history"),
        "resolve": (s.Resolve, "resolve"),
        "typing": (s.AgentTyping, "typing"),
        "read": (s.AgentRead, "read"),
    }

    def __init__(self, conversations: ConversationService, agents: AgentService) -> None:
        super().__init__(AGENT)
        self.conversations = conversations
        self.agents = agents
        self.connections: dict[str, AgentConnection] = {}
        # conversation id -> the sockets here that joined it
        self._joined_by: dict[str, set[str]] = {}

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        try:
            token = validate(s.AgentAuth, auth).token
            agent = await self.agents.agent_for_token(token)
        except ChatKitError as exc:
            raise refuse(InvalidToken(exc.message)) from None
        self.connections[sid] = AgentConnection(agent)
        await self.enter_room(sid, AGENTS_ROOM)

    async def on_disconnect(self, sid: str) -> None:
        conn = self.connections.pop(sid, None)
        for conversation_id in conn.joined if conn is not None else ():
            self._forget(sid, conversation_id)

    def _forget(self, sid: str, conversation_id: str) -> None:
        sids = self._joined_by.get(conversation_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._joined_by[conversation_id]

    async def list_conversations(self, sid: str,
                                 payload: s.ListConversations) -> dict[str, Any]:
        found = await self.conversations.list_open(
            [ConversationStatus(status) for status in payload.status], payload.limit)
        return {"conversations": [c.to_wire() for c in found]}

    async def join(self, sid: str, payload: s.Join) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conversation, page = await self.conversations.join(
            conn.agent, payload.conversation_id, since_seq=payload.since_seq,
            limit=payload.limit)
        conn.joined[conversation.id] = conversation
        self._joined_by.setdefault(conversation.id, set()).add(sid)
        await self.enter_room(sid, conversation_room(conversation.id))
        return {"conversation": conversation.to_wire(),
                "messages": [m.to_wire() for m in page.messages], "has_more": page.has_more}

    def _joined(self, sid: str, conversation_id: str) -> tuple[AgentConnection, Conversation]:
        """This socket's connection and a conversation it has joined (else Conflict)."""
        conn = connection(self.connections, sid)
        conversation = conn.joined.get(conversation_id)
        if conversation is None:
            raise Conflict("join the conversation first")
        return conn, conversation

    async def message(self, sid: str, payload: s.AgentMessage) -> dict[str, Any]:
        conn, conversation = self._joined(sid, payload.conversation_id)
        message = await self.conversations.agent_message(
            conn.agent, conversation, client_id=payload.client_id, body=payload.body,
            origin=sid)
        return message.to_wire()

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
        page = await self.conversations.agent_history(
            payload.conversation_id, before_seq=payload.before_seq, limit=payload.limit)
        return {"messages": [m.to_wire() for m in page.messages], "has_more": page.has_more}

    async def resolve(self, sid: str, payload: s.Resolve) -> dict[str, Any]:
        conn = connection(self.connections, sid)
        conversation = await self.conversations.resolve(conn.agent, payload.conversation_id)
        if conn.joined.pop(conversation.id, None) is not None:
            self._forget(sid, conversation.id)
        return conversation.to_wire()

    def conversation_changed(self, conversation: Conversation) -> None:
        """Forget joined conversations that were resolved or went to someone else."""
        for sid in list(self._joined_by.get(conversation.id, ())):
            conn = self.connections[sid]
            if conversation.is_open and conversation.agent_id == conn.agent.id:
                conn.joined[conversation.id] = conversation
            else:
                del conn.joined[conversation.id]
                self._forget(sid, conversation.id)
