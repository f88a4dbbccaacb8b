"""A small knowledge base and bot flow for the bot's tests. Tests state what the knowledge
base decides before relying on it, so a change of matcher shows up as such."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from chatkit.bot import BotConfig
from chatkit.kb import DecisionKind, KBEntry, KnowledgeBase, Link

ENTRIES = [
    KBEntry(id="shipping", question="How long does shipping take?",
            alternates=("When will my order arrive?",),
            answer="Orders arrive in **2-4 business days**.", team="support",
            links=(Link(title="Carrier tracking", url="https://track.example.com/"),)),
    KBEntry(id="cancel-booking", question="How do I cancel my booking?",
            answer="Open **My bookings** and choose *Cancel*.", team="sales"),
    KBEntry(id="cancel-subscription", question="How do I cancel my subscription?",
            answer="Open **Plan** and choose *Cancel subscription*.", team="billing"),
    KBEntry(id="reset-password", question="How do I reset my password?",
            answer="Use **Forgot password** on the sign-in page."),
    KBEntry(id="shipping", question="¿Cuánto tarda el envío?", locale="es",
            answer="Los pedidos llegan en **2-4 días laborables**.", team="support"),
]
ANSWERED = "How long does shipping take?"
CLOSE = "How do I cancel?"
UNKNOWN = "Do you sell turtle food?"

FLOW = {
    "name": {"en": "Acme Assistant", "es": "Asistente de Acme"},
    "menu": [
        {"id": "billing", "label": {"en": "Billing", "es": "Facturación"}, "action": "handoff",
         "team": "billing"},
        {"id": "sales", "label": "Sales", "action": "handoff", "team": "sales"},
        {"id": "question", "label": {"en": "Ask a question", "es": "Hacer una pregunta"},
         "action": "faq"},
    ],
    "handoff": {"phrases": [{"text": "cancel my account", "team": "retention"},
                            "speak to a manager"]},
    "texts": {"es": {"greeting": "¡Hola! Soy el asistente de Acme."}},
}


def decides(kb: KnowledgeBase, text: str, locale: str = "en") -> DecisionKind:
    return kb.answer(text, locale=locale).kind


@pytest.fixture
def kb() -> KnowledgeBase:
    kb = KnowledgeBase(ENTRIES)
    # What the tests rely on the matcher for.
    assert decides(kb, ANSWERED) is DecisionKind.ANSWER
    assert decides(kb, CLOSE) is DecisionKind.CLARIFY
    assert decides(kb, UNKNOWN) is DecisionKind.NONE
    assert decides(kb, "¿Cuánto tarda el envío?", "es") is DecisionKind.ANSWER
    return kb


@pytest.fixture
def flow() -> BotConfig:
    return BotConfig.model_validate(FLOW)


def load_example(name: str) -> ModuleType:
    """A module from examples/ (they are scripts, not a package)."""
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
