"""The answerer port: what the bot asks for an answer to a visitor's question.

An answerer returns an Answer, a Clarify (the question is close to several answers: the
visitor picks one), or None when it does not know. The bot asks a chain of them in order and
the first that answers wins, so a developer can put an LLM or a search service before the
built-in knowledge base (or after it, as a fallback):

    class MyLLM:
        async def answer(self, question: Question) -> Answer | None:
            text = await my_llm.complete(question.text)
            return Answer(text, confidence=0.6) if text else None

    ChatKit(settings, answerers=[MyLLM(), "kb"])     # "kb": the built-in KBAnswerer
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chatkit.instruments import Instruments, NoInstruments
from chatkit.kb import DecisionKind, KnowledgeBase, Match

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    #: The conversation's locale ("en", "es-MX"): answer in it when you can.
    locale: str
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A card under an answer. With `id`, a help-centre article (the bot links it to
    {prefix}/help/articles/{id}); otherwise `url` is where it leads."""

    title: str
    id: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("an article needs a title")
        if self.id is None and self.url is None:
            raise ValueError("an article needs an id (help centre) or a url")


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer: `body` in Markdown, the knowledge-base entry it came from (if any), how
    sure the answerer is (0..1), article cards, the team a handoff after it should go to,
    and a title for when it is offered among other answers (Clarify)."""

    body: str
    entry_id: str | None = None
    confidence: float = 1.0
    articles: tuple[Article, ...] = ()
    team: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if not self.body.strip():
            raise ValueError("an answer needs a body")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class Clarify:
    """Close to several answers: the bot offers their titles as choices."""

    options: tuple[Answer, ...]

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError("a clarification offers at least two answers")
        if any(not option.title for option in self.options):
            raise ValueError("every answer offered in a clarification needs a title")


Reply = Answer | Clarify


class Answerer(Protocol):
    async def answer(self, question: Question) -> Reply | None:
        """An Answer or a Clarify, or None when this answerer does not know."""


class AnswererChain:
    """Asks each answerer in turn; the first that answers wins. An answerer that fails is
    logged and skipped: a broken plug-in must not silence the bot."""

    def __init__(self, answerers: Sequence[Answerer]) -> None:
        if not answerers:
            raise ValueError("an answerer chain needs at least one answerer")
        self.answerers = tuple(answerers)

    async def answer(self, question: Question) -> Reply | None:
        for answerer in self.answerers:
            try:
                reply = await answerer.answer(question)
            except Exception:
                log.exception("answerer %r failed; asking the next one", answerer)
                continue
            if isinstance(reply, Answer | Clarify):
                return reply
            if reply is not None:
                log.error("answerer %r returned %r, not an Answer, Clarify or None; skipped",
                          answerer, type(reply).__name__)
        return None


class KBAnswerer:
    """Answers from the knowledge base. `kb` is a KnowledgeBase, or a callable returning the
    current one (chatkit's KBSource): it is called for every question, so a reload takes
    effect at the next one. The matching runs in a thread, off the event loop."""

    def __init__(self, kb: KnowledgeBase | Callable[[], KnowledgeBase]) -> None:
        self._kb: Callable[[], KnowledgeBase] = (
            (lambda: kb) if isinstance(kb, KnowledgeBase) else kb)
        #: The process's metrics (how long matching takes); none by default.
        self.instruments: Instruments = NoInstruments()

    async def answer(self, question: Question) -> Reply | None:
        kb = self._kb()
        started = time.perf_counter()
        decision = await asyncio.to_thread(kb.answer, question.text, locale=question.locale)
        self.instruments.faq_matched(time.perf_counter() - started)
        if decision.kind is DecisionKind.ANSWER and decision.best is not None:
            return _answer(decision.best)
        if decision.kind is DecisionKind.CLARIFY and len(decision.matches) > 1:
            return Clarify(tuple(_answer(match) for match in decision.matches))
        return None


def _answer(match: Match) -> Answer:
    entry = match.entry
    # The entry's own help-centre article first, then the pages it links to.
    articles = (Article(entry.question, id=entry.id),
                *(Article(link.title, url=link.url) for link in entry.links))
    return Answer(entry.answer, entry_id=entry.id, confidence=match.confidence,
                  articles=articles, team=entry.team, title=entry.question)
