"""chatkit: an embeddable customer-chat and self-service SDK for aiohttp.

>>> from chatkit import ChatKit, Settings
>>> app = ChatKit(Settings(demo=True)).create_app()
"""

from chatkit.app import ChatKit
from chatkit.bot import (
    Answer,
    Answerer,
    AnswererChain,
    Article,
    Bot,
    BotConfig,
    Clarify,
    KBAnswerer,
    Question,
)
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
    "Answer",
    "Answerer",
    "AnswererChain",
    "Article",
    "Bot",
    "BotConfig",
    "ChatKit",
    "ChatKitError",
    "Clarify",
    "Contact",
    "Conversation",
    "ConversationService",
    "ConversationStatus",
    "KBAnswerer",
    "KBEntry",
    "KnowledgeBase",
    "Message",
    "Notifier",
    "Question",
    "SenderKind",
    "Settings",
    "SqlStore",
    "Store",
    "load_kb",
]
