"""chatkit: an embeddable customer-chat and self-service SDK for aiohttp.

>>> from chatkit import ChatKit, Settings
>>> app = ChatKit(Settings(demo=True)).create_app()
"""

from chatkit.app import ChatKit
from chatkit.bot import Answerer, Bot, KBAnswerer
from chatkit.conversations import ConversationService, Notifier
from chatkit.errors import ChatKitError
from chatkit.kb import KBEntry, KnowledgeBase, load_kb
from chatkit.models import (
    Agent,
    AgentRole,
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    SenderKind,
)
from chatkit.settings import Settings
from chatkit.storage import SqlStore, Store

__all__ = [
    "Agent",
    "AgentRole",
    "Answerer",
    "Bot",
    "ChatKit",
    "ChatKitError",
    "Contact",
    "Conversation",
    "ConversationService",
    "ConversationStatus",
    "KBAnswerer",
    "KBEntry",
    "KnowledgeBase",
    "Message",
    "Notifier",
    "SenderKind",
    "Settings",
    "SqlStore",
    "Store",
    "load_kb",
]
