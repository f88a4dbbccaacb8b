"""Identity verification: the host site vouches for its logged-in user.

The host site's server signs its user's id with the shared `identity_secret`:

    hash = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()

and its page passes it on: `ChatKit('identify', {id, name, email, hash})`. A valid hash binds
the visitor to the verified contact with that id (the same contact on every device, so its
history follows the user); anything else is kept as an unverified claim on the visitor's own
contact, never merged with a verified one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chatkit.errors import ChatKitError
from chatkit.models import Contact, ContactChange
from chatkit.storage.base import Store

log = logging.getLogger(__name__)

#: Custom attributes one contact may have.
MAX_ATTRIBUTES = 50


class IdentityRequired(ChatKitError):
    """`require_verified_identity` is on and this visitor has no verified identity."""

    code = "identity_required"


def identity_hash(secret: str, user_id: str) -> str:
    """What the host site computes: hex HMAC-SHA256 of the user id under the shared secret.

    >>> identity_hash("0123456789abcdef", "user-42")[:16]
    '101b5ab6a741733c'
    """
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(slots=True, frozen=True)
class Identity:
    """What the page said: the host site's user id, optionally name, email and signature."""

    id: str
    name: str | None = None
    email: str | None = None
    hash: str | None = None


class IdentityService:
    """Verifies identities and keeps them on contacts (no HTTP or Socket.IO here)."""

    def __init__(self, store: Store, *, secret: str | None, required: bool = False) -> None:
        self.store = store
        self.secret = secret
        #: Whether an unverified visitor is refused messages (IdentityRequired).
        self.required = required
        #: Told of the history entries each identify or attributes change logged (set by
        #: ChatKit: the profile service, which tells the agents who see the contact).
        self.announce: Callable[[Contact, list[ContactChange]], Awaitable[None]] | None = None

    def verifies(self, identity: Identity) -> bool:
        """Whether the identity's hash is the host site's signature of its id."""
        if self.secret is None or identity.hash is None:
            return False
        # Constant time: how much of a guess matched must not show in the reply's timing.
        return hmac.compare_digest(identity_hash(self.secret, identity.id).encode(),
                                   identity.hash.lower().encode())

    async def identify(self, contact_id: str, identity: Identity) -> Contact:
        """The contact this visitor is from now on: the verified contact with this id when
        the signature holds, else `contact_id` itself, marked with the unverified claim.
        chatkit.errors.Forbidden when an unsigned claim would change a verified contact."""
        if self.verifies(identity):
            contact, changes = await self.store.verify_contact(
                contact_id, external_id=identity.id, name=identity.name, email=identity.email)
        else:
            if identity.hash is not None:
                log.warning("identify: a bad signature for external id %r (contact %s)%s",
                            identity.id, contact_id,
                            "" if self.secret is not None else "; no identity_secret is set")
            contact, changes = await self.store.identify_contact(
                contact_id, external_id=identity.id, name=identity.name, email=identity.email)
        await self._announce(contact, changes)
        return contact

    async def set_attributes(self, contact_id: str,
                             attributes: dict[str, str | int | float | bool | None]) -> Contact:
        contact, changes = await self.store.set_contact_attributes(contact_id, attributes,
                                                                   max_keys=MAX_ATTRIBUTES)
        await self._announce(contact, changes)
        return contact

    async def _announce(self, contact: Contact, changes: list[ContactChange]) -> None:
        if changes and self.announce is not None:
            await self.announce(contact, changes)

    async def check_may_send(self, contact_id: str | None, verified: bool | None) -> bool:
        """Whether this visitor may send (raises IdentityRequired when not). `verified` is
        what the connection knows already (None: not looked up yet); returns the answer so
        the connection can remember it (a verified contact stays verified)."""
        if not self.required:
            return bool(verified)
        if verified is None and contact_id is not None:
            contact = await self.store.get_contact(contact_id)
            verified = contact is not None and contact.verified
        if not verified:
            raise IdentityRequired(
                "this site requires a verified identity to chat: the page must call "
                "ChatKit('identify', {id, hash}) with its server's signature")
        return True
