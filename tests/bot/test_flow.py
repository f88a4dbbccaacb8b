"""The bot's flow, turn by turn: the menu, answers and feedback, clarifications, and every way
to a person. The bot is pure (state in, replies and state out), so these drive it directly
with the knowledge-base answerer, as the conversation service does."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit.bot import (
    AnswererChain,
    Bot,
    BotConfig,
    BotReply,
    BotState,
    Choice,
    KBAnswerer,
    Said,
    Turn,
)
from chatkit.kb import KnowledgeBase
from chatkit.models import Handoff, HandoffReason
from tests.bot.conftest import ANSWERED, CLOSE, UNKNOWN


class Chat:
    """One conversation with the bot, numbered as the store numbers it: the greeting is 1,
    each visitor message and each bot reply takes the next seq."""

    def __init__(self, bot: Bot, locale: str = "en") -> None:
        self.bot = bot
        self.state, greeting = bot.start(bot.locale(locale))
        self.messages: dict[int, BotReply] = {1: greeting}
        self.seq = 1

    async def say(self, text: str, choice: Choice | None = None) -> Turn:
        self.seq += 1
        turn = await self.bot.turn(self.state, Said(text, choice), first_seq=self.seq + 1,
                                   conversation_id="c1")
        for reply in turn.replies:
            self.seq += 1
            self.messages[self.seq] = reply
        self.state = turn.state
        return turn

    async def pick(self, label: str) -> Turn:
        """Click the quick reply with this label on the latest message that offers it."""
        for seq in sorted(self.messages, reverse=True):
            meta = self.messages[seq].meta or {}
            for quick in meta.get("quick_replies", ()):
                if quick["label"] == label:
                    return await self.say(label, Choice(meta["kind"], quick["id"], seq))
        raise AssertionError(f"no quick reply {label!r} on offer")


def kinds(turn: Turn) -> list[Any]:
    return [(reply.meta or {}).get("kind") for reply in turn.replies]


def labels(reply: BotReply) -> list[str]:
    return [q["label"] for q in (reply.meta or {}).get("quick_replies", ())]


@pytest.fixture
def bot(kb: KnowledgeBase, flow: BotConfig) -> Bot:
    return Bot(AnswererChain([KBAnswerer(kb)]), flow,
               article_url=lambda entry_id: f"/chat/help/articles/{entry_id}")


async def test_the_greeting_offers_the_menu_in_the_visitors_language(bot: Bot) -> None:
    english, spanish = Chat(bot, "en-GB"), Chat(bot, "es-MX")
    assert english.state.locale == "en-GB" and spanish.state.locale == "es-MX"
    assert english.messages[1].body == "Hi! I'm the virtual assistant. What can I help you with?"
    assert english.messages[1].meta == {"kind": "menu", "quick_replies": [
        {"id": "billing", "label": "Billing"}, {"id": "sales", "label": "Sales"},
        {"id": "question", "label": "Ask a question"}]}
    # The bot.yaml's text for Spanish, its labels, and the catalogue for the rest.
    assert spanish.messages[1].body == "¡Hola! Soy el asistente de Acme."
    assert labels(spanish.messages[1]) == ["Facturación", "Sales", "Hacer una pregunta"]
    assert bot.name("es-MX") == "Asistente de Acme" and bot.name("fr") == "Acme Assistant"
    # An unusable locale is the flow's default.
    assert Chat(bot, "not a locale!").state.locale == "en"
    assert english.state.offer is not None and english.state.offer.seq == 1


@pytest.mark.parametrize(("label", "team"), [("Billing", "billing"), ("Sales", "sales")])
async def test_a_team_in_the_menu_hands_over_to_that_team(bot: Bot, label: str,
                                                          team: str) -> None:
    chat = Chat(bot)
    turn = await chat.pick(label)
    assert turn.handoff == Handoff(HandoffReason.MENU, team)
    assert kinds(turn) == ["handoff"]
    assert turn.replies[0].body == (f"Connecting you with our {label} team. Someone will be "
                                    "with you shortly.")


async def test_faq_asks_for_the_question_and_answers_with_feedback(bot: Bot) -> None:
    chat = Chat(bot)
    turn = await chat.pick("Ask a question")
    assert turn.handoff is None and turn.replies[0].body.startswith("Sure. What's your question")
    turn = await chat.say(ANSWERED)
    assert kinds(turn) == ["answer", "feedback"]
    answer, feedback = turn.replies
    assert answer.body == "Orders arrive in **2-4 business days**."
    assert answer.meta is not None and answer.meta["entry_id"] == "shipping"
    assert 0.5 <= answer.meta["confidence"] <= 1
    assert answer.meta["articles"] == [
        {"id": "shipping", "title": "How long does shipping take?",
         "url": "/chat/help/articles/shipping"},
        {"id": None, "title": "Carrier tracking", "url": "https://track.example.com/"}]
    assert feedback.body == "Did this help?" and labels(feedback) == ["Yes", "No"]
    # The answer's team is remembered for a handoff that may follow.
    assert chat.state.team == "support" and chat.state.misses == 0


async def test_two_noes_hand_over_to_the_team_of_the_answer(bot: Bot) -> None:
    chat = Chat(bot)
    await chat.say(ANSWERED)
    turn = await chat.pick("No")
    assert turn.handoff is None and kinds(turn) == ["fallback"]
    assert labels(turn.replies[0]) == ["Talk to a person"] and chat.state.noes == 1
    await chat.say(ANSWERED)
    turn = await chat.pick("No")
    assert turn.handoff == Handoff(HandoffReason.NOT_HELPFUL, "support")
    assert turn.replies[0].body.startswith("Sorry I couldn't help.")


async def test_a_yes_starts_the_count_of_noes_again(bot: Bot) -> None:
    chat = Chat(bot)
    await chat.say(ANSWERED)
    await chat.pick("No")
    await chat.say(ANSWERED)
    turn = await chat.pick("Yes")
    assert turn.replies[0].body.startswith("Great!") and chat.state.noes == 0
    await chat.say(ANSWERED)
    assert (await chat.pick("No")).handoff is None


async def test_close_answers_are_offered_as_choices(bot: Bot) -> None:
    chat = Chat(bot)
    turn = await chat.say(CLOSE)
    assert kinds(turn) == ["clarify"] and turn.handoff is None
    offered = labels(turn.replies[0])
    assert set(offered[:-1]) == {"How do I cancel my booking?", "How do I cancel my subscription?"}
    assert offered[-1] == "None of these"
    turn = await chat.pick("How do I cancel my subscription?")
    assert kinds(turn) == ["answer", "feedback"]
    assert turn.replies[0].body.startswith("Open **Plan**")
    assert chat.state.team == "billing"


async def test_a_choice_from_an_older_clarification_has_expired(bot: Bot) -> None:
    chat = Chat(bot)
    await chat.say(CLOSE)
    first_clarification = chat.seq
    await chat.say(CLOSE)  # a second clarification replaces the first's options
    turn = await chat.say("How do I cancel my booking?",
                          Choice("clarify", "1", first_clarification))
    assert turn.replies[0].body.startswith("That choice is no longer available")
    assert turn.handoff is None


async def test_two_turns_without_an_answer_in_a_row_hand_over(bot: Bot) -> None:
    chat = Chat(bot)
    turn = await chat.say(UNKNOWN)
    assert turn.handoff is None and kinds(turn) == ["fallback"] and chat.state.misses == 1
    turn = await chat.say(UNKNOWN)
    assert turn.handoff == Handoff(HandoffReason.LOW_CONFIDENCE, None)
    assert turn.replies[0].body.startswith("I couldn't find an answer")


async def test_an_answer_between_misses_starts_the_count_again(bot: Bot) -> None:
    chat = Chat(bot)
    await chat.say(UNKNOWN)
    await chat.say(ANSWERED)
    turn = await chat.say(UNKNOWN)
    assert turn.handoff is None and chat.state.misses == 1
    # "None of these" is a miss too; the team of the last answer goes with the handoff.
    await chat.say(CLOSE)
    turn = await chat.pick("None of these")
    assert turn.handoff == Handoff(HandoffReason.LOW_CONFIDENCE, "support")


@pytest.mark.parametrize("text", ["Can I talk to a human?", "AGENT please", "a real person",
                                  "Quiero hablar con una persona", "¿Un agente, por favor?"])
async def test_asking_for_a_person_in_words_hands_over(bot: Bot, text: str) -> None:
    turn = await Chat(bot).say(text)
    assert turn.handoff == Handoff(HandoffReason.VISITOR_ASKED, None)
    assert turn.replies[0].body.startswith("Connecting you with a person")


async def test_talk_to_a_person_after_a_miss_hands_over(bot: Bot) -> None:
    chat = Chat(bot)
    await chat.say(UNKNOWN)
    turn = await chat.pick("Talk to a person")
    assert turn.handoff == Handoff(HandoffReason.VISITOR_ASKED, None)


@pytest.mark.parametrize(("text", "handoff"), [
    ("I want to CANCEL my   account!", Handoff(HandoffReason.PHRASE, "retention")),
    ("let me speak to a manager", Handoff(HandoffReason.PHRASE, None)),
    ("cancel my accounting plan", None),
])
async def test_configured_phrases_hand_over_at_once(bot: Bot, text: str,
                                                    handoff: Handoff | None) -> None:
    turn = await Chat(bot).say(text)
    assert turn.handoff == handoff


async def test_a_typed_label_is_taken_as_the_choice(bot: Bot) -> None:
    chat = Chat(bot)
    assert (await chat.say("billing")).handoff == Handoff(HandoffReason.MENU, "billing")
    chat = Chat(bot)
    await chat.say(ANSWERED)
    await chat.say("no.")
    assert chat.state.noes == 1


async def test_a_spanish_conversation_is_answered_in_spanish(bot: Bot) -> None:
    chat = Chat(bot, "es")
    turn = await chat.say("¿Cuánto tarda el envío?")
    answer, feedback = turn.replies
    assert answer.body.startswith("Los pedidos llegan")
    assert feedback.body == "¿Te ha servido?" and labels(feedback) == ["Sí", "No"]
    turn = await chat.pick("No")
    assert turn.replies[0].body.startswith("Lo siento.")
    assert labels(turn.replies[0]) == ["Hablar con una persona"]


async def test_a_menu_choice_the_flow_no_longer_has_is_taken_as_words(
        kb: KnowledgeBase) -> None:
    bot = Bot(KBAnswerer(kb), BotConfig())
    chat = Chat(bot)
    turn = await chat.say(ANSWERED, Choice("menu", "removed-item", 1))
    assert kinds(turn) == ["answer", "feedback"]


def test_an_unreadable_state_starts_afresh() -> None:
    assert BotState.load(None) == BotState()
    assert BotState.load({"misses": "many"}) == BotState()
    state = BotState(locale="es", misses=1)
    assert BotState.load(state.dump()) == state
    assert state.dump() == {"locale": "es", "misses": 1}
