"""The conversation service: lifecycle, delivery and history."""

from chatkit.conversations.service import ConversationService, Notifier, Page, ReplyTo, Router

__all__ = ["ConversationService", "Notifier", "Page", "ReplyTo", "Router"]
