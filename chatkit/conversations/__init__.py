"""The conversation service: lifecycle, delivery and history."""

from chatkit.conversations.service import (
    ConversationService,
    Notifier,
    Opening,
    Page,
    ReplyTo,
    Router,
    VisitorStatus,
)

__all__ = ["ConversationService", "Notifier", "Opening", "Page", "ReplyTo", "Router",
           "VisitorStatus"]
