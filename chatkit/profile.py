"""The visitor's self-service profile, and the contact history agents read.

A verified visitor (the host site signed who they are, chatkit/identity.py) may read and
correct their own name, email and phone, and choose their preferences, from the widget's
"Your details". An unverified visitor may not: anyone can claim to be anyone on the page, and
the details are the verified customer's. Every change, whoever makes it, is logged in the
contact's history in the same transaction (storage/profile.py); the agents who may see the
contact's open conversation are told, so the console shows fresh details.

No HTTP or Socket.IO here: the namespaces validate payloads (realtime/schemas.py) and call in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from chatkit.conversations.service import Router
from chatkit.errors import Forbidden, NotFound
from chatkit.models import Agent, AgentRole, Contact, ContactChange, Conversation, now_ms
from chatkit.storage.base import Store
from chatkit.storage.profile import PreferenceValue

#: The preferences a visitor may choose, and what each is when not chosen:
#: - `language`: the language they want the widget's replies in (a BCP 47 tag; None: the
#:   page's). The bot, transfer and trigger texts of their conversations follow it.
#: - `transcript_by_email`: email them a transcript when a conversation ends.
#: - `replies_by_email`: when an agent answers after they have left, email the reply.
#: chatkit stores and shows the two email wishes (to agents, to the CRM, in
#: `kit.store.get_contact`); it sends no email itself: a mailer of the developer's acts on them.
PREFERENCE_DEFAULTS: dict[str, PreferenceValue] = {
    "language": None, "transcript_by_email": False, "replies_by_email": False}


class NotVerified(Forbidden):
    """The visitor's identity is not signed by the host site: no self-service profile."""

    def __init__(self) -> None:
        super().__init__(
            "only a verified visitor may see or change their details: this visitor's "
            "identity is not signed by the site (ChatKit('identify') with its server's hash)",
            details={"reason": "unverified"})


class Actor(NamedTuple):
    """Who changes a contact, as the history records it."""

    kind: str          # visitor, host, agent
    id: str | None     # the contact, the host site's user id, the agent
    via: str           # profile, identify, attributes, offline_form, agent


class ContactNotifier(Protocol):
    async def contact_changed(self, contact: Contact, changes: list[ContactChange],
                              conversation: Conversation | None,
                              origin: str | None) -> None:
        """Tell the agents who may see `conversation` (the contact's open one, if any) and
        the supervisors that the contact's details changed."""


def profile_wire(contact: Contact) -> dict[str, Any]:
    """The visitor's own view of their details: every preference, chosen or default."""
    return {"name": contact.name, "email": contact.email, "phone": contact.phone,
            "preferences": preferences_of(contact)}


def preferences_of(contact: Contact) -> dict[str, PreferenceValue]:
    return {**PREFERENCE_DEFAULTS,
            **{k: v for k, v in contact.preferences.items() if k in PREFERENCE_DEFAULTS}}


class ProfileService:
    def __init__(self, store: Store, notifier: ContactNotifier) -> None:
        self.store = store
        self.notifier = notifier
        #: Who sees which conversation (set by ChatKit); None: every agent sees every one.
        self.router: Router | None = None

    async def _verified(self, contact_id: str) -> Contact:
        contact = await self.store.get_contact(contact_id)
        if contact is None:
            raise NotFound("no such contact")
        if not contact.verified:
            raise NotVerified()
        return contact

    async def profile(self, contact_id: str) -> Contact:
        """The verified visitor's own contact (NotVerified when not verified)."""
        return await self._verified(contact_id)

    async def update_own(self, contact_id: str, details: Mapping[str, str | None],
                         preferences: Mapping[str, PreferenceValue], *,
                         origin: str | None = None) -> Contact:
        """The verified visitor corrects their details (NotVerified when not verified; a
        verified contact never becomes unverified, so the check cannot go stale)."""
        await self._verified(contact_id)
        return await self._update(contact_id, details, preferences,
                                  Actor("visitor", contact_id, "profile"), origin)

    async def update_by_agent(self, agent: Agent, contact_id: str,
                              details: Mapping[str, str | None],
                              preferences: Mapping[str, PreferenceValue], *,
                              origin: str | None = None) -> Contact:
        """An agent corrects a contact they may see (as for its history)."""
        await self._check_sees(agent, contact_id)
        return await self._update(contact_id, details, preferences,
                                  Actor("agent", agent.id, "agent"), origin)

    async def _update(self, contact_id: str, details: Mapping[str, str | None],
                      preferences: Mapping[str, PreferenceValue], actor: Actor,
                      origin: str | None) -> Contact:
        contact, changes = await self.store.update_contact(
            contact_id, details=details, preferences=preferences, actor_kind=actor.kind,
            actor_id=actor.id, via=actor.via, now=now_ms())
        await self.announce(contact, changes, origin=origin)
        return contact

    async def announce(self, contact: Contact, changes: list[ContactChange], *,
                       origin: str | None = None, only_in_chat: bool = False) -> None:
        """Tell the agents who may see the contact's open conversation, and the supervisors,
        of `changes` (history entries just logged; nothing when there are none). Whoever
        made them (the socket `origin`) has them in their reply already. `only_in_chat`:
        not at all when the contact has no open conversation (the host site's identify and
        attributes run on every page view; agents hear of the chats they can act on)."""
        if not changes:
            return
        conversation = await self.store.open_conversation_for(contact.id)
        if conversation is not None or not only_in_chat:
            await self.notifier.contact_changed(contact, changes, conversation, origin)

    async def announce_host_changes(self, contact: Contact, changes: list[ContactChange]) -> None:
        """`announce` for the host site's identify and attributes."""
        await self.announce(contact, changes, only_in_chat=True)

    async def history(self, agent: Agent, contact_id: str, *, before_id: int | None,
                      limit: int) -> tuple[list[ContactChange], bool]:
        """The contact's history, newest first, for an agent who may see one of its
        conversations (supervisors and admins always)."""
        await self._check_sees(agent, contact_id)
        return await self.store.contact_history(contact_id, before_id=before_id, limit=limit)

    async def _check_sees(self, agent: Agent, contact_id: str) -> None:
        if await self.store.get_contact(contact_id) is None:
            raise NotFound("no such contact")
        if agent.role is not AgentRole.AGENT or self.router is None:
            return
        visible = self.router.visible_teams(agent)
        if visible is None:
            return
        teams, unqueued = visible
        # As Routing.sees: theirs, their teams' queues', or (unqueued) the default team's.
        for owner in await self.store.conversation_owners(contact_id):
            if (owner.agent_id == agent.id or owner.queue_team in teams
                    or (owner.queue_team is None and unqueued)):
                return
        raise Forbidden("none of this contact's conversations is for you to see")
