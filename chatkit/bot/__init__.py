"""The self-service bot: the greeting's menu, answers from a chain of answerers (the knowledge
base by default), and the handoff to a person."""

from chatkit.bot.answerers import (
    Answer,
    Answerer,
    AnswererChain,
    Article,
    Clarify,
    KBAnswerer,
    Question,
    Reply,
)
from chatkit.bot.bot import Bot, BotReply, BotState, Choice, Said, Turn
from chatkit.bot.config import BotConfig, load_bot_config

__all__ = [
    "Answer",
    "Answerer",
    "AnswererChain",
    "Article",
    "Bot",
    "BotConfig",
    "BotReply",
    "BotState",
    "Choice",
    "Clarify",
    "KBAnswerer",
    "Question",
    "Reply",
    "Said",
    "Turn",
    "load_bot_config",
]
