"""The self-service bot: answers from the knowledge base, hands over to a person."""

from chatkit.bot.bot import Answerer, Bot, BotReply, KBAnswerer

__all__ = ["Answerer", "Bot", "BotReply", "KBAnswerer"]
