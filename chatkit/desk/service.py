"""The agent's desk: private notes, supervisors' whispers, watch and barge, tags, canned
responses (docs/protocol.md, "The agent's desk"; docs/architecture.md says why notes are
internal messages).

Plain async Python over the store and the conversation service; no Socket.IO here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chatkit.conversations import ConversationService
from chatkit.conversations.service import Page
from chatkit.desk.canned import expand, variables
from chatkit.errors import Conflict, Forbidden, NotFound
from chatkit.models import (
    NOTE_KIND,
    Agent,
    AgentRole,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Message,
    NewMessage,
    SenderKind,
    now_ms,
)

S = ConversationStatus

#: The most tags one conversation carries.
MAX_TAGS = 10
#: The event kind logged when a supervisor barges into a conversation.
BARGED = "conversation.barged"


class DeskNotifier(Protocol):
    async def tags_changed(self, conversation: Conversation, tags: list[str]) -> None:
        """The conversation's tags changed (the agents who hear of it are told)."""


class DeskService:
    def __init__(self, conversations: ConversationService, notifier: DeskNotifier) -> None:
        self.conversations = conversations
        self.store = conversations.store
        self.notifier = notifier

    # who may do what

    @staticmethod
    def supervise(agent: Agent) -> None:
        """Supervisors and admins watch, whisper, barge and reassign; agents may not."""
        if agent.role is AgentRole.AGENT:
            raise Forbidden("only supervisors and admins may do this")

    async def _visible(self, agent: Agent, conversation_id: str) -> Conversation:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        router = self.conversations.router
        if router is not None and not router.can_see(agent, conversation):
            raise Forbidden("the conversation belongs to another team's queue; "
                            "it is not for you to see")
        return conversation

    # notes and whispers

    async def note(self, agent: Agent, conversation_id: str, *, client_id: str, body: str,
                   origin: str | None) -> Message:
        """A private note on a conversation the agent may see: an internal message (only
        agents receive it, live or in history), stored once per client id."""
        conversation = await self._visible(agent, conversation_id)
        return await self._internal(conversation, agent, client_id, body,
                                    {"kind": NOTE_KIND}, origin)

    async def whisper(self, agent: Agent, conversation_id: str, *, client_id: str, body: str,
                      origin: str | None) -> Message:
        """A supervisor's note to the conversation's agent: a note marked as a whisper,
        naming who whispered (author) and to whom (the agent assigned now)."""
        self.supervise(agent)
        conversation = await self._visible(agent, conversation_id)
        return await self._internal(
            conversation, agent, client_id, body,
            {"kind": NOTE_KIND, "whisper": True, "to_agent_id": conversation.agent_id},
            origin)

    async def _internal(self, conversation: Conversation, agent: Agent, client_id: str,
                        body: str, meta: dict[str, object], origin: str | None) -> Message:
        result = await self.conversations.committer.append(NewMessage(
            conversation.id, SenderKind.AGENT, body, client_id, agent.id, agent.name,
            meta=meta, internal=True))
        if result is None:
            raise Conflict("the conversation is resolved")
        if not result.duplicate:
            await self.conversations.notifier.message_stored(conversation, result.message,
                                                             origin)
        return result.message

    # supervision

    async def watch(self, agent: Agent, conversation_id: str, *, since_seq: int,
                    limit: int) -> tuple[Conversation, Page]:
        """A supervisor opens an open conversation read-only: its transcript (notes
        included); the caller subscribes the socket to its live events."""
        self.supervise(agent)
        conversation = await self._visible(agent, conversation_id)
        if not conversation.is_open:
            raise Conflict("the conversation is resolved; read it with history")
        messages, has_more = await self.store.get_messages(conversation_id,
                                                           after_seq=since_seq, limit=limit)
        return conversation, Page(messages, has_more)

    async def barged(self, agent: Agent, conversation_id: str) -> bool:
        """Whether this supervisor barged into the conversation (the event log says, so it
        holds across reconnects and processes)."""
        return any(event.kind == BARGED and event.actor_id == agent.id
                   for event in await self.store.list_events(conversation_id=conversation_id))

    async def barge(self, agent: Agent, conversation_id: str) -> tuple[Conversation,
                                                                        Message | None]:
        """A supervisor joins an assigned conversation beside its agent, who stays assigned:
        logged (`conversation.barged`) and told to everyone with a system message the first
        time (None when they had barged in already)."""
        self.supervise(agent)
        conversation = await self._visible(agent, conversation_id)
        if conversation.status is not S.ASSIGNED:
            raise Conflict("only an assigned conversation can be barged into; "
                           "take a waiting one with join")
        if conversation.agent_id == agent.id:
            raise Conflict("the conversation is assigned to you already")
        if await self.barged(agent, conversation_id):
            return conversation, None
        await self.store.record_event(BARGED, conversation_id=conversation_id,
                                      actor_kind="agent", actor_id=agent.id,
                                      data={"agent_id": conversation.agent_id})
        stored = await self.store.append_messages([NewMessage(
            conversation_id, SenderKind.SYSTEM, f"{agent.name} joined the conversation.",
            author_id=agent.id, author_name=agent.name,
            meta={"kind": "barge", "by": agent.id})])
        message = stored[0].message if stored and stored[0] is not None else None
        if message is not None:
            await self.conversations.notifier.message_stored(conversation, message, None)
        return conversation, message

    async def barge_message(self, agent: Agent, conversation_id: str, *, client_id: str,
                            body: str, origin: str | None) -> Message:
        """A message from a supervisor who barged in: the visitor sees it, the assigned agent
        too (`meta.barge`)."""
        self.supervise(agent)
        conversation = await self._visible(agent, conversation_id)
        if not await self.barged(agent, conversation_id):
            raise Conflict("barge in first to send messages to the visitor")
        result = await self.conversations.committer.append(NewMessage(
            conversation.id, SenderKind.AGENT, body, client_id, agent.id, agent.name,
            meta={"barge": True}))
        if result is None:
            raise Conflict("the conversation is resolved")
        if not result.duplicate:
            await self.conversations.notifier.message_stored(conversation, result.message,
                                                             origin)
        return result.message

    # tags

    async def tags(self, conversation_ids: Sequence[str]) -> dict[str, list[str]]:
        return await self.store.get_tags(conversation_ids)

    async def change_tags(self, agent: Agent, conversation_id: str, *, add: Sequence[str],
                          remove: Sequence[str]) -> list[str]:
        """Tag or untag a conversation the agent may see (open or resolved); each change is
        logged, and the agents who hear of the conversation are told."""
        conversation = await self._visible(agent, conversation_id)
        changed = await self.store.change_tags(conversation_id, add=add, remove=remove,
                                               max_tags=MAX_TAGS, actor_id=agent.id,
                                               now=now_ms())
        if changed is None:
            raise NotFound("no such conversation")
        tags, added, removed = changed
        if added or removed:
            await self.notifier.tags_changed(conversation, tags)
        return tags

    # canned responses

    async def canned_for(self, agent: Agent, conversation_id: str) -> list[dict[str, object]]:
        """The canned responses the agent may use (shared, and their own: theirs replaces a
        shared one of the same shortcut), with the variables filled in for the
        conversation."""
        conversation = await self._visible(agent, conversation_id)
        contact = await self.store.get_contact(conversation.contact_id)
        values = variables(contact=contact, agent=agent, conversation=conversation)
        chosen: dict[str, CannedResponse] = {}
        for canned in await self.store.list_canned(agent.id):
            if canned.shortcut not in chosen or not canned.shared:
                chosen[canned.shortcut] = canned
        return [{"id": c.id, "shortcut": c.shortcut, "title": c.title,
                 "body": expand(c.body, values), "shared": c.shared}
                for c in sorted(chosen.values(), key=lambda c: c.shortcut)]

    async def list_canned(self, agent: Agent) -> list[CannedResponse]:
        return await self.store.list_canned(agent.id)

    async def create_canned(self, agent: Agent, *, shortcut: str, title: str, body: str,
                            shared: bool) -> CannedResponse:
        if shared and agent.role is not AgentRole.ADMIN:
            raise Forbidden("only admins manage shared canned responses")
        return await self.store.create_canned(owner_id=None if shared else agent.id,
                                              shortcut=shortcut, title=title, body=body,
                                              now=now_ms())

    async def _editable(self, agent: Agent, canned_id: str) -> CannedResponse:
        canned = await self.store.get_canned(canned_id)
        # Another agent's personal one is not told apart from none at all.
        if canned is None or (not canned.shared and canned.owner_id != agent.id):
            raise NotFound("no such canned response")
        if canned.shared and agent.role is not AgentRole.ADMIN:
            raise Forbidden("only admins manage shared canned responses")
        return canned

    async def update_canned(self, agent: Agent, canned_id: str, *, shortcut: str | None,
                            title: str | None, body: str | None) -> CannedResponse:
        await self._editable(agent, canned_id)
        updated = await self.store.update_canned(canned_id, shortcut=shortcut, title=title,
                                                 body=body, now=now_ms())
        if updated is None:
            raise NotFound("no such canned response")
        return updated

    async def delete_canned(self, agent: Agent, canned_id: str) -> None:
        await self._editable(agent, canned_id)
        if not await self.store.delete_canned(canned_id):
            raise NotFound("no such canned response")
