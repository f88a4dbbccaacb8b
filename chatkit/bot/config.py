"""The bot's flow, configured in YAML (`bot.yaml`): the greeting's menu, when to hand over to
a person, and the bot's texts per locale. The built-in flow is chatkit/demo/bot.yaml.

    name: {en: Assistant, es: Asistente}    # optional: shown as the bot's name
    locale: en                               # the default locale
    menu:                                    # quick replies under the greeting
      - id: billing
        label: {en: Billing, es: Facturación}
        action: handoff                      # a person takes over...
        team: billing                        # ...from this team (optional)
      - id: question
        label: {en: Ask a question, es: Hacer una pregunta}
        action: faq                          # the bot asks for the question
    handoff:
      after_misses: 2                        # turns in a row the bot could not answer
      after_noes: 2                          # answers the visitor said did not help
      phrases:                               # go to a person at once on these words
        - cancel my account
        - {text: cancelar mi cuenta, team: billing}
    texts:                                   # override the catalogue (chatkit/bot/texts.py)
      en: {greeting: "Hi, I'm Acme's assistant. How can I help?"}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chatkit.bot.texts import PLACEHOLDERS, TEXTS
from chatkit.configfile import load_config_file
from chatkit.locales import Locale, locale_keys, one_for_all, resolve_locale

DEFAULT_FLOW = Path(__file__).resolve().parent.parent / "demo" / "bot.yaml"

_PLACEHOLDER = re.compile(r"\{(\w*)\}")

Team = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(min_length=1, max_length=100)]


#: A text per locale; "*" (a plain string in the YAML) serves every locale.
Localized = Annotated[dict[str, Label], BeforeValidator(one_for_all),
                      AfterValidator(locale_keys), Field(min_length=1)]


def pick(texts: dict[str, str], locale: str, default: str) -> str | None:
    """The text for `locale`: its own, its language's ("es-MX" -> "es"), the default
    locale's, or the one for every locale."""
    language = locale.split("-")[0]
    for key in (locale, language, default, default.split("-")[0], "*"):
        if key in texts:
            return texts[key]
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MenuItem(_Strict):
    """One quick reply under the greeting."""

    id: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    label: Localized
    action: Literal["handoff", "faq"]
    team: Team | None = None

    @model_validator(mode="after")
    def _team_only_for_handoff(self) -> MenuItem:
        if self.team is not None and self.action != "handoff":
            raise ValueError("team goes with action: handoff")
        return self


class Phrase(_Strict):
    """Words that send the conversation to a person at once, matched as whole words in any
    case ("cancel my account" matches "I want to CANCEL my account!")."""

    text: str = Field(min_length=1, max_length=200)
    team: Team | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        words = r"\s+".join(re.escape(word) for word in self.text.split())
        return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def _phrase(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


class HandoffRules(_Strict):
    after_misses: int = Field(2, ge=1, le=10)
    after_noes: int = Field(2, ge=1, le=10)
    phrases: list[Annotated[Phrase, BeforeValidator(_phrase)]] = Field(
        default_factory=list, max_length=200)


class BotConfig(_Strict):
    name: Localized | None = None
    locale: Locale = "en"
    menu: list[MenuItem] = Field(default_factory=list, max_length=10)
    handoff: HandoffRules = HandoffRules()
    texts: dict[Locale, dict[str, str]] = Field(default_factory=dict)

    @field_validator("menu")
    @classmethod
    def _check_menu(cls, menu: list[MenuItem], info: ValidationInfo) -> list[MenuItem]:
        ids = [item.id for item in menu]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the ids must be unique, got {ids}")
        default = info.data.get("locale", "en")
        for n, item in enumerate(menu):
            if pick(item.label, default, default) is None:
                raise ValueError(f"[{n}].label needs a label in the default locale {default!r}")
        return menu

    @field_validator("texts")
    @classmethod
    def _check_texts(cls, texts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for locale, table in texts.items():
            for key, text in table.items():
                if key not in PLACEHOLDERS:
                    raise ValueError(f"{locale}.{key}: no such text (known: "
                                     f"{', '.join(sorted(PLACEHOLDERS))})")
                if not text.strip() or len(text) > 2000:
                    raise ValueError(f"{locale}.{key}: must have 1 to 2000 characters")
                unknown = set(_PLACEHOLDER.findall(text)) - PLACEHOLDERS[key]
                if unknown:
                    allowed = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS[key]))
                    raise ValueError(f"{locale}.{key}: unknown placeholder "
                                     f"{{{sorted(unknown)[0]}}} (allowed: {allowed or 'none'})")
        return texts

    @property
    def locales(self) -> frozenset[str]:
        """The locales the bot has texts in."""
        return frozenset(TEXTS) | frozenset(self.texts)

    def text(self, key: str, locale: str, **values: str) -> str:
        """The text `key` in `locale`, from the YAML's overrides, else the catalogue."""
        for table in (self.texts, TEXTS):
            language = locale.split("-")[0]
            for candidate in (locale, language, self.locale, self.locale.split("-")[0], "en"):
                found = table.get(candidate, {}).get(key)
                if found is not None:
                    return found.format(**values) if values else found
        raise KeyError(key)

    def resolve_locale(self, requested: str | None) -> str:
        """The locale a conversation is held in: the visitor's, if it is valid, else the
        default. (Texts and the knowledge base each fall back from it on their own.)"""
        return resolve_locale(requested, self.locale)


def load_bot_config(path: Path | None = None) -> BotConfig:
    """Read and validate a bot.yaml (the built-in flow when `path` is None). Blocking: call it
    in a thread from async code. Raises ConfigError naming the file and each field at fault."""
    return load_config_file(path or DEFAULT_FLOW, BotConfig, what="bot flow",
                            missing="no such bot flow file", shape="name:, menu:, ...")
