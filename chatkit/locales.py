"""Locales in the configuration files (bot.yaml, triggers.yaml): a locale field, a text given
per locale ("*", a plain string in the YAML, serves every locale), and the locale a visitor's
request resolves to."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from chatkit.kb.entries import normalise_locale

Locale = Annotated[str, AfterValidator(normalise_locale)]


def one_for_all(value: Any) -> Any:
    """`label: Billing` is the same text in every locale."""
    return {"*": value} if isinstance(value, str) else value


def locale_keys(value: dict[str, str]) -> dict[str, str]:
    """The texts' locales, normalised ("pt_br" -> "pt-BR")."""
    return {key if key == "*" else normalise_locale(key): text for key, text in value.items()}


def resolve_locale(requested: str | None, default: str) -> str:
    """The visitor's locale, if it is a valid one, else `default`."""
    if requested:
        try:
            return normalise_locale(requested)
        except ValueError:
            pass
    return default
