"""The CRM: the CRMAdapter port, the built-in contacts, the HTTP adapter, and the context
service that fills the agents' CRM panel at handoff and writes outcomes back."""

from chatkit.crm.breaker import BreakerState, CircuitBreaker
from chatkit.crm.builtin import CRM_OUTCOME, ContactsCRM
from chatkit.crm.context import ContextService
from chatkit.crm.http import HttpCRMAdapter
from chatkit.crm.port import (
    CRMAdapter,
    CRMContact,
    CRMContext,
    CRMIdentity,
    CRMLink,
    CRMUnavailable,
    Outcome,
)

__all__ = [
    "CRM_OUTCOME",
    "BreakerState",
    "CRMAdapter",
    "CRMContact",
    "CRMContext",
    "CRMIdentity",
    "CRMLink",
    "CRMUnavailable",
    "CircuitBreaker",
    "ContactsCRM",
    "ContextService",
    "HttpCRMAdapter",
    "Outcome",
]
