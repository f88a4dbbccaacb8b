"""The default CRM adapter: chatkit's own contact store, which needs nothing else.

It knows the contacts the host site identified (ChatKit('identify')) and their custom
attributes (ChatKit('setAttributes')); outcomes go into chatkit's event log as `crm.outcome`
events, the contact's timeline of how their conversations ended."""

from __future__ import annotations

from chatkit.crm.port import CRMContact, CRMContext, CRMIdentity, Outcome
from chatkit.storage import Store

#: The event kind of an outcome written back to the built-in contacts (data: Outcome's wire).
CRM_OUTCOME = "crm.outcome"


class ContactsCRM:
    """The CRM port over chatkit's contacts.

    >>> ChatKit(settings)            # doctest: +SKIP  (the default: ContactsCRM(kit.store))
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def find_contact(self, identity: CRMIdentity) -> CRMContact | None:
        contact = None
        if identity.contact_id is not None:
            contact = await self.store.get_contact(identity.contact_id)
        if contact is None and (identity.external_id is not None or identity.email is not None):
            contact = await self.store.find_contact_by_identity(
                external_id=identity.external_id, email=identity.email)
        if contact is None:
            return None
        return CRMContact(id=contact.id, name=contact.name, email=contact.email)

    async def fetch_context(self, contact: CRMContact) -> CRMContext:
        """The contact's custom attributes, as the context's fields; `plan` and `company`
        when attributes of those names hold text."""
        found = await self.store.get_contact(contact.id)
        attributes = {} if found is None else found.attributes
        # Attributes were validated when set (chatkit/identity.py: at most 50, text up to
        # 1000 characters), which the context's fields allow; plan and company are shorter.
        plan, company = attributes.get("plan"), attributes.get("company")
        return CRMContext(
            fields=attributes,
            plan=plan if isinstance(plan, str) and len(plan) <= 100 else None,
            company=company if isinstance(company, str) and len(company) <= 200 else None)

    async def write_outcome(self, outcome: Outcome) -> None:
        await self.store.record_event(CRM_OUTCOME, conversation_id=outcome.conversation_id,
                                      actor_kind="system", data=outcome.to_wire())
