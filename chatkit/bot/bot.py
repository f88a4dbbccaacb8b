"""The bot's turn, the IVR of the chat: a greeting with a menu that routes to a team or to the
FAQ; answers from the answerers, each followed by "Did this help?"; a choice between close
answers; and a handoff to a person when the visitor asks, when the bot cannot answer or its
answers do not help, or on words configured to go to a person at once.

The bot keeps no state of its own: the service loads a conversation's BotState from the
store, the bot returns the replies and the next state, and the service saves both in one
transaction. So any server process can take any turn."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from chatkit.bot.answerers import Answer, Answerer, Clarify, Question
from chatkit.bot.config import BotConfig, MenuItem, pick
from chatkit.bot.texts import opening_time
from chatkit.models import Availability, Handoff, HandoffReason

log = logging.getLogger(__name__)

# Words that ask for a person, matched as whole words, in the languages of the bot's texts
# (English, Spanish); bot.yaml's handoff phrases add more.
_HANDOFF = re.compile(r"\b(agent|human|person|representative|operator|someone real"
                      r"|agente|humano|persona|representante|operador|operadora)\b",
                      re.IGNORECASE)
# What a typed reply is compared by, against the labels on offer ("yes!" picks "Yes").
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")

# Choice ids of the quick replies the bot itself adds (menu ids come from the bot.yaml).
YES, NO, NONE_OF_THESE, PERSON = "yes", "no", "none", "person"


def default_article_url(entry_id: str) -> str:
    return f"help/articles/{quote(entry_id, safe='')}"


@dataclass(frozen=True, slots=True)
class Choice:
    """A quick reply the visitor picked: its id, and the kind and seq of the message that
    offered it."""

    kind: str
    id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Said:
    """A visitor's message as the bot hears it."""

    text: str
    choice: Choice | None = None


@dataclass(frozen=True, slots=True)
class BotReply:
    """A message the bot says: Markdown, and the structured part (quick replies, articles)."""

    body: str
    meta: dict[str, Any] | None = None


class Offer(BaseModel):
    """The quick replies of the bot's latest message that has any."""

    model_config = ConfigDict(frozen=True)

    seq: int
    kind: str
    choices: dict[str, str]  # id -> label


class BotState(BaseModel):
    """What the bot remembers of one conversation (stored with it, as JSON)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    locale: str = "en"
    misses: int = 0               # turns in a row without an answer
    noes: int = 0                 # "No"s to "Did this help?" since the last "Yes"
    team: str | None = None       # the team of the last answer: a handoff after it goes there
    offer: Offer | None = None
    options: dict[str, Answer] = {}   # the latest clarification's answers, by choice id
    options_seq: int = 0              # ... and the seq of the message that offered them
    # Set when the visitor asked for a person and nobody was available: the offline form is
    # offered, and a message left there is queued for this handoff's team.
    away: bool = False
    away_team: str | None = None

    @classmethod
    def load(cls, raw: Any) -> BotState:
        """The stored state; a fresh one when there is none or it cannot be read (a state
        from an incompatible version must not wedge the conversation)."""
        if raw is None:
            return cls()
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            log.warning("unreadable bot state, starting afresh: %s", exc)
            return cls()

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)


@dataclass(frozen=True, slots=True)
class Turn:
    replies: list[BotReply]
    state: BotState
    handoff: Handoff | None = None


class Bot:
    """The flow of `config` (a flow with no menu when not given; load_bot_config() reads a
    bot.yaml), answering through `answerer` (an AnswererChain to ask several). `article_url`
    turns a help-centre article id into the link on its card (ChatKit passes one under its
    mount prefix)."""

    def __init__(self, answerer: Answerer, config: BotConfig | None = None, *,
                 article_url: Callable[[str], str] = default_article_url) -> None:
        self.answerer = answerer
        self.config = config or BotConfig()
        self.article_url = article_url
        self._menu: dict[str, MenuItem] = {item.id: item for item in self.config.menu}
        self._phrases = [(phrase, phrase.pattern) for phrase in self.config.handoff.phrases]

    # the start

    def locale(self, requested: str | None) -> str:
        return self.config.resolve_locale(requested)

    def name(self, locale: str) -> str | None:
        """The bot's name in `locale` (its messages' author_name), or None."""
        names = self.config.name
        return None if names is None else pick(names, locale, self.config.locale)

    def text(self, key: str, locale: str, **values: str) -> str:
        return self.config.text(key, locale, **values)

    def greeting(self, locale: str) -> BotReply:
        """The first message of every conversation: the greeting with the menu."""
        menu = [{"id": item.id, "label": self._label(item, locale)} for item in self.config.menu]
        meta: dict[str, Any] = {"kind": "menu"}
        if menu:
            meta["quick_replies"] = menu
        return BotReply(self.text("greeting", locale), meta)

    def start(self, locale: str) -> tuple[BotState, BotReply]:
        """A new conversation's state and its greeting, which is message 1."""
        greeting = self.greeting(locale)
        return _with_offer(BotState(locale=locale), [greeting], first_seq=1), greeting

    # a turn

    async def turn(self, state: BotState, said: Said, *, first_seq: int,
                   conversation_id: str | None = None) -> Turn:
        """The bot's answer to what the visitor said. `first_seq` is the seq the first reply
        will have (the store saves the turn only if nothing was said meanwhile)."""
        choice = said.choice or _typed_choice(state, said.text)
        if choice is not None:
            turn = await self._choose(state, choice, said, conversation_id)
        else:
            turn = await self._question(state, said.text, conversation_id)
        return Turn(turn.replies, _with_offer(turn.state, turn.replies, first_seq=first_seq),
                    turn.handoff)

    async def _choose(self, state: BotState, choice: Choice, said: Said,
                      conversation_id: str | None) -> Turn:
        locale = state.locale
        if choice.kind == "menu" and choice.id in self._menu:
            item = self._menu[choice.id]
            if item.action == "handoff":
                text = self.text("handoff_team", locale, team=self._label(item, locale))
                return self._handoff(state, Handoff(HandoffReason.MENU, item.team), text)
            return Turn([BotReply(self.text("ask_question", locale))], state)
        if choice.kind == "feedback" and choice.id == YES:
            return Turn([BotReply(self.text("glad", locale))], _copy(state, noes=0))
        if choice.kind == "feedback" and choice.id == NO:
            noes = state.noes + 1
            if noes >= self.config.handoff.after_noes:
                return self._handoff(state, Handoff(HandoffReason.NOT_HELPFUL, state.team),
                                     self.text("handoff_not_helpful", locale))
            return Turn([self._fallback("not_helpful", locale)], _copy(state, noes=noes))
        if choice.kind == "clarify" and choice.id == NONE_OF_THESE:
            return self._miss(state)
        if choice.kind == "clarify":
            option = state.options.get(choice.id) if choice.seq == state.options_seq else None
            if option is None:
                return Turn([BotReply(self.text("choice_expired", locale))], state)
            return self._answered(state, option)
        if choice.kind == "fallback" and choice.id == PERSON:
            return self._handoff(state, Handoff(HandoffReason.VISITOR_ASKED, state.team),
                                 self.text("handoff", locale))
        # A choice this flow no longer has (the bot.yaml changed): take it as words.
        return await self._question(state, said.text, conversation_id)

    async def _question(self, state: BotState, text: str,
                        conversation_id: str | None) -> Turn:
        locale = state.locale
        if _HANDOFF.search(text):
            return self._handoff(state, Handoff(HandoffReason.VISITOR_ASKED, state.team),
                                 self.text("handoff", locale))
        for phrase, pattern in self._phrases:
            if pattern.search(text):
                return self._handoff(state, Handoff(HandoffReason.PHRASE,
                                                    phrase.team or state.team),
                                     self.text("handoff", locale))
        reply = await self.answerer.answer(Question(text, locale, conversation_id))
        if isinstance(reply, Answer):
            return self._answered(state, reply)
        if isinstance(reply, Clarify):
            return self._clarify(state, reply)
        return self._miss(state)

    def _answered(self, state: BotState, answer: Answer) -> Turn:
        locale = state.locale
        meta: dict[str, Any] = {"kind": "answer", "entry_id": answer.entry_id,
                                "confidence": round(answer.confidence, 3)}
        if answer.articles:
            meta["articles"] = [
                {"id": a.id, "title": a.title,
                 "url": a.url if a.url is not None else self.article_url(a.id or "")}
                for a in answer.articles]
        feedback = BotReply(self.text("feedback", locale), {
            "kind": "feedback", "quick_replies": [
                {"id": YES, "label": self.text("yes", locale)},
                {"id": NO, "label": self.text("no", locale)}]})
        return Turn([BotReply(answer.body, meta), feedback],
                    _copy(state, misses=0, team=answer.team))

    def _clarify(self, state: BotState, clarify: Clarify) -> Turn:
        locale = state.locale
        options = {str(n): option for n, option in enumerate(clarify.options, 1)}
        choices = [{"id": key, "label": option.title or ""} for key, option in options.items()]
        choices.append({"id": NONE_OF_THESE, "label": self.text("none_of_these", locale)})
        reply = BotReply(self.text("clarify", locale), {"kind": "clarify",
                                                          "quick_replies": choices})
        return Turn([reply], _copy(state, options=options))

    def _miss(self, state: BotState) -> Turn:
        misses = state.misses + 1
        if misses >= self.config.handoff.after_misses:
            return self._handoff(state, Handoff(HandoffReason.LOW_CONFIDENCE, state.team),
                                 self.text("handoff_low_confidence", state.locale))
        return Turn([self._fallback("not_found", state.locale)], _copy(state, misses=misses))

    def _fallback(self, key: str, locale: str) -> BotReply:
        return BotReply(self.text(key, locale), {"kind": "fallback", "quick_replies": [
            {"id": PERSON, "label": self.text("talk_to_person", locale)}]})

    def away(self, state: BotState, handoff: Handoff, availability: Availability) -> Turn:
        """Instead of a handoff when no person is available: say so, and when the team opens
        again, and offer the offline form (meta kind "offline", docs/protocol.md)."""
        locale = state.locale
        if availability.opens_at is not None and availability.time_zone is not None:
            when = opening_time(availability.opens_at, availability.at, availability.time_zone,
                                locale)
            text = self.text("away", locale, when=when)
        else:
            text = self.text("away_now", locale)
        meta = {"kind": "offline", "team": availability.team,
                "opens_at": availability.opens_at}
        return Turn([BotReply(text, meta)],
                    _copy(state, away=True, away_team=handoff.team, offer=None))

    @staticmethod
    def _handoff(state: BotState, handoff: Handoff, text: str) -> Turn:
        return Turn([BotReply(text, {"kind": "handoff"})], state, handoff)

    def _label(self, item: MenuItem, locale: str) -> str:
        # The config checks every label has the default locale, so this always finds one.
        return pick(item.label, locale, self.config.locale) or item.id


def _copy(state: BotState, **changes: Any) -> BotState:
    return state.model_copy(update=changes)


def _with_offer(state: BotState, replies: list[BotReply], *, first_seq: int) -> BotState:
    """Remember the quick replies of the turn's last message that has any (typed replies are
    matched against them), and the seq of a clarification's options."""
    offer: Offer | None = None
    for seq, reply in enumerate(replies, first_seq):
        quick = (reply.meta or {}).get("quick_replies")
        if quick:
            kind = (reply.meta or {})["kind"]
            offer = Offer(seq=seq, kind=kind, choices={q["id"]: q["label"] for q in quick})
    changes: dict[str, Any] = {"offer": offer}
    if offer is not None and offer.kind == "clarify":
        changes["options_seq"] = offer.seq
    return _copy(state, **changes)


def _typed_choice(state: BotState, text: str) -> Choice | None:
    """A reply typed instead of clicked: the text is one of the labels on offer."""
    if state.offer is None:
        return None
    typed = _TRIM.sub("", text).casefold()
    for choice_id, label in state.offer.choices.items():
        if typed and typed == _TRIM.sub("", label).casefold():
            return Choice(state.offer.kind, choice_id, state.offer.seq)
    return None
