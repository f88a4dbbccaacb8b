"""The bot's turn: given a visitor's message, answer it, or hand the conversation over.

The answerer is a port: the default answers from the knowledge base; a developer can pass
their own (an LLM, a search service) with the same one-method interface."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Protocol

from chatkit.kb import DecisionKind, KnowledgeBase

# Words that ask for a person, matched as whole words.
_HANDOFF = re.compile(r"\b(agent|human|person|representative|operator|someone real)\b",
                      re.IGNORECASE)


class Answerer(Protocol):
    async def answer(self, text: str) -> str | None:
        """An answer in Markdown, or None when this answerer does not know."""


class KBAnswerer:
    """Answers from a knowledge base; the matching runs in a thread, off the event loop."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    async def answer(self, text: str) -> str | None:
        decision = await asyncio.to_thread(self.kb.answer, text)
        best = decision.best
        return best.entry.answer if decision.kind is DecisionKind.ANSWER and best else None


@dataclass(frozen=True, slots=True)
class BotReply:
    body: str
    handoff: bool


class Bot:
    def __init__(self, answerer: Answerer, *, name: str = "Bot") -> None:
        self.answerer = answerer
        self.name = name

    async def reply(self, text: str) -> BotReply:
        if _HANDOFF.search(text):
            return BotReply("Connecting you with a person. Someone will be with you shortly.",
                            handoff=True)
        answer = await self.answerer.answer(text)
        if answer is None:
            return BotReply("Sorry, I don't know that one yet. Ask me another way, or choose "
                            "\"Talk to a person\" to reach our team.", handoff=False)
        return BotReply(answer, handoff=False)
