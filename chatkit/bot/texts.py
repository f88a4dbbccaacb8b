"""Everything the bot says, in one catalogue: English and Spanish. A bot.yaml may override any
text per locale (`texts:`), or add a locale; a text missing in a locale falls back to the
flow's default locale, then to English. `{team}` and `{when}` are filled in where they
appear."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

TEXTS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "greeting": "Hi! I'm the virtual assistant. What can I help you with?",
        "ask_question": "Sure. What's your question? Type it below.",
        "feedback": "Did this help?",
        "yes": "Yes",
        "no": "No",
        "glad": "Great! Is there anything else I can help you with?",
        "not_helpful": "Sorry about that. Could you ask in other words? Or talk to a person.",
        "clarify": "I found a few answers. Which one do you mean?",
        "none_of_these": "None of these",
        "not_found": "Sorry, I don't know that one yet. Could you ask in other words?",
        "choice_expired": "That choice is no longer available. Could you type your question?",
        "talk_to_person": "Talk to a person",
        "handoff": "Connecting you with a person. Someone will be with you shortly.",
        "handoff_team": "Connecting you with our {team} team. Someone will be with you shortly.",
        "handoff_low_confidence": "I couldn't find an answer, so I'm connecting you with a "
                                  "person. Someone will be with you shortly.",
        "handoff_not_helpful": "Sorry I couldn't help. I'm connecting you with a person. "
                               "Someone will be with you shortly.",
        "away": "We're away right now; we open again {when}. Leave your email and message "
                "and we'll reply.",
        "away_now": "We're away right now. Leave your email and message and we'll reply.",
    },
    "es": {
        "greeting": "¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?",
        "ask_question": "Claro. ¿Cuál es tu pregunta? Escríbela abajo.",
        "feedback": "¿Te ha servido?",
        "yes": "Sí",
        "no": "No",
        "glad": "¡Genial! ¿Puedo ayudarte en algo más?",
        "not_helpful": "Lo siento. ¿Puedes preguntarlo con otras palabras? O habla con una "
                       "persona.",
        "clarify": "He encontrado varias respuestas. ¿Cuál buscas?",
        "none_of_these": "Ninguna de estas",
        "not_found": "Lo siento, todavía no sé responder a eso. ¿Puedes preguntarlo con otras "
                     "palabras?",
        "choice_expired": "Esa opción ya no está disponible. ¿Puedes escribir tu pregunta?",
        "talk_to_person": "Hablar con una persona",
        "handoff": "Te pongo en contacto con una persona. Enseguida te atenderán.",
        "handoff_team": "Te pongo en contacto con nuestro equipo de {team}. Enseguida te "
                        "atenderán.",
        "handoff_low_confidence": "No he encontrado una respuesta, así que te pongo en "
                                  "contacto con una persona. Enseguida te atenderán.",
        "handoff_not_helpful": "Siento no haberte ayudado. Te pongo en contacto con una "
                               "persona. Enseguida te atenderán.",
        "away": "Ahora no estamos; volvemos a abrir {when}. Déjanos tu correo y tu mensaje y "
                "te responderemos.",
        "away_now": "Ahora no estamos. Déjanos tu correo y tu mensaje y te responderemos.",
    },
}

#: The placeholders each text may use (an override may use fewer, never others).
PLACEHOLDERS: Final[dict[str, frozenset[str]]] = {
    key: frozenset(re.findall(r"\{(\w+)\}", text)) for key, text in TEXTS["en"].items()}

# When the team opens again, in words ("on Monday at 09:00 (Europe/Madrid)"): the bot speaks
# the team's own time, with its zone named, since the server does not know the visitor's.
_WHEN: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "en": ("on {day} at {time} ({zone})", "on {date} at {time} ({zone})",
           ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")),
    "es": ("el {day} a las {time} ({zone})", "el {date} a las {time} ({zone})",
           ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")),
}


def opening_time(at_ms: int, now_ms: int, time_zone: str, locale: str) -> str:
    """`at_ms` in words for "we open again {when}", in `time_zone`'s wall-clock time: the
    weekday within the coming week, else the date."""
    language = locale.split("-")[0]
    weekday_form, date_form, days = _WHEN.get(language, _WHEN["en"])
    zone = ZoneInfo(time_zone)
    moment = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(zone)
    within_week = at_ms - now_ms < 6 * 24 * 3600 * 1000
    return (weekday_form if within_week else date_form).format(
        day=days[moment.weekday()], date=moment.date().isoformat(),
        time=moment.strftime("%H:%M"), zone=time_zone)
