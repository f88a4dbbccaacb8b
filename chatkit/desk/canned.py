"""Canned responses' variables: `{{contact.first_name}}` and the like, filled in for one
conversation by a small, safe substitution.

Nothing here evaluates a template: a body from the database is only searched for
`{{ name.part }}` and each KNOWN name is replaced by its value, in one pass (a value that
itself looks like `{{...}}`, say a visitor who calls themselves "{{agent.name}}", stays as
it is). An unknown variable stays as written, so a typo shows in the reply box before it is
sent; a known one with no value becomes its fallback ("there" for a name: "Hi there,").
The result is plain text: the console shows it with textContent and sends it as a message,
so a contact named `<b>Ada</b>` is those nine characters, never markup."""

from __future__ import annotations

import re
from collections.abc import Mapping

from chatkit.models import Agent, Contact, Conversation

VARIABLE = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)+)\s*\}\}")

#: What a variable with no value becomes (docs/protocol.md, "Canned responses").
FALLBACKS: Mapping[str, str] = {
    "contact.name": "there",
    "contact.first_name": "there",
    "contact.email": "your email address",
    "agent.name": "our team",
    "agent.first_name": "our team",
    "agent.email": "",
    "conversation.id": "",
    "conversation.team": "our team",
}


def first_name(name: str | None) -> str | None:
    """The first word of a name ("Grace Hopper" -> "Grace"), None without one."""
    words = (name or "").split()
    return words[0] if words else None


def variables(*, contact: Contact | None, agent: Agent,
              conversation: Conversation) -> dict[str, str | None]:
    """Every known variable's value for this conversation (None: not known)."""
    return {
        "contact.name": contact.name if contact else None,
        "contact.first_name": first_name(contact.name) if contact else None,
        "contact.email": contact.email if contact else None,
        "agent.name": agent.name,
        "agent.first_name": first_name(agent.name),
        "agent.email": agent.email,
        "conversation.id": conversation.id,
        "conversation.team": conversation.queue_team or conversation.team,
    }


def expand(body: str, values: Mapping[str, str | None]) -> str:
    """`body` with each known variable replaced by its value (or its fallback)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in FALLBACKS:
            return match.group(0)
        value = values.get(name)
        return value if value else FALLBACKS[name]

    return VARIABLE.sub(fill, body)
