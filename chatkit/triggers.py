"""Proactive triggers: the business's rules for opening the widget with a message, configured
in YAML (`triggers.yaml`, setting `triggers_path`; examples/triggers.yaml). Each has
conditions, all of which must hold, and a message per locale:

    locale: en                           # the default locale of the messages
    triggers:
      - id: pricing-help                 # letters, digits, - _ . (unique)
        url: /pricing*                   # glob on the page's path: * is any characters
        seconds_on_page: 20              # after this long on the page (0: at once)
        message:
          en: Questions about our plans? We're here to help.
          es: ¿Preguntas sobre nuestros planes? Estamos aquí para ayudarte.
        open: true                       # open the panel; false: the launcher's badge only
      - id: welcome-back
        url_regex: "^https://shop\\.example\\.com/(cart|checkout)"   # on the whole URL
        returning: true                  # seen before (at least 2 visits); false: first visit
        min_visits: 3                    # or: at least this many visits
        message: Welcome back! Need a hand with your order?

The widget evaluates them (the page's URL comes from the loader, visits are counted in the
browser), so they cost the server nothing; `GET {prefix}/api/widget/config` serves them in
the visitor's locale. A trigger fires at most once per page view, never while the visitor
has an open conversation; when the visitor answers, its message is stored as the first of
the conversation (docs/protocol.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from chatkit.bot.config import pick
from chatkit.configfile import load_config_file
from chatkit.locales import Locale, locale_keys, one_for_all, resolve_locale

Text = Annotated[str, Field(min_length=1, max_length=1000)]


def _not_blank(value: dict[str, str]) -> dict[str, str]:
    for text in value.values():
        if not text.strip():
            raise ValueError("a message must not be only whitespace")
    return value


Localized = Annotated[dict[str, Text], BeforeValidator(one_for_all),
                      AfterValidator(_not_blank), AfterValidator(locale_keys), Field(min_length=1)]

# Python's re syntax that JavaScript's RegExp (where the widget runs the pattern) lacks or
# reads differently.
_NOT_IN_JAVASCRIPT = re.compile(r"\(\?P|\(\?#|\(\?[aiLmsux]+[):]|\\[AZ]")


def glob_to_regex(glob: str) -> str:
    """A URL path glob (`/pricing*`, `/docs/*/install`) as a regular expression matching the
    whole path: `*` stands for any characters, everything else for itself."""
    return "^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$"


def _check_glob(value: str) -> str:
    if not value.startswith(("/", "*")):
        raise ValueError("a path glob starts with / (or *), e.g. /pricing*")
    if any(ch.isspace() for ch in value):
        raise ValueError("a path glob has no spaces")
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    if _NOT_IN_JAVASCRIPT.search(value):
        raise ValueError("uses Python-only syntax ((?P<...>), inline flags, \\A, \\Z); the "
                         "widget runs it as a JavaScript RegExp")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Trigger(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    #: A glob on the page's path (no query): `*` is any characters.
    url: Annotated[str, Field(min_length=1, max_length=500),
                   AfterValidator(_check_glob)] | None = None
    #: Or a regular expression searched in the page's whole URL.
    url_regex: Annotated[str, Field(min_length=1, max_length=500),
                         AfterValidator(_check_regex)] | None = None
    seconds_on_page: int = Field(0, ge=0, le=3600)
    #: True: only visitors seen before (2 visits or more); False: only first visits.
    returning: bool | None = None
    #: Only from this visit on (a visit: page views less than 30 minutes apart).
    min_visits: int | None = Field(None, ge=1, le=10_000)
    message: Localized
    #: Open the panel with the message; False: show the launcher's badge, the message when
    #: the visitor opens it.
    open: bool = True

    @model_validator(mode="after")
    def _check(self) -> Trigger:
        if self.url is not None and self.url_regex is not None:
            raise ValueError("give url (a glob) or url_regex, not both")
        if self.returning is False and self.min_visits is not None and self.min_visits > 1:
            raise ValueError("returning: false (first visits) cannot go with min_visits > 1")
        return self

    def to_widget(self, locale: str, default: str) -> dict[str, Any]:
        """What the widget needs to evaluate it, with the message in `locale`."""
        min_visits = self.min_visits or (2 if self.returning else 1)
        return {
            "id": self.id,
            # The widget tests one pattern: on the path (a glob, as a regex) or the URL.
            "url": None if self.url is None and self.url_regex is None else {
                "on": "path" if self.url is not None else "href",
                "regex": glob_to_regex(self.url) if self.url is not None else self.url_regex},
            "seconds_on_page": self.seconds_on_page,
            "min_visits": min_visits,
            "max_visits": 1 if self.returning is False else None,
            "message": pick(self.message, locale, default) or next(iter(self.message.values())),
            "open": self.open,
        }


class TriggersConfig(_Strict):
    locale: Locale = "en"
    triggers: list[Trigger] = Field(default_factory=list, max_length=50)

    @field_validator("triggers")
    @classmethod
    def _unique(cls, triggers: list[Trigger]) -> list[Trigger]:
        ids = [trigger.id for trigger in triggers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the ids must be unique, got {ids}")
        return triggers

    def get(self, trigger_id: str) -> Trigger | None:
        return next((t for t in self.triggers if t.id == trigger_id), None)

    def message(self, trigger: Trigger, locale: str | None) -> str:
        chosen = self.resolve_locale(locale)
        return (pick(trigger.message, chosen, self.locale)
                or next(iter(trigger.message.values())))

    def resolve_locale(self, requested: str | None) -> str:
        return resolve_locale(requested, self.locale)

    def for_widget(self, locale: str | None) -> list[dict[str, Any]]:
        chosen = self.resolve_locale(locale)
        return [trigger.to_widget(chosen, self.locale) for trigger in self.triggers]


def load_triggers(path: Path | None) -> TriggersConfig:
    """Read and validate a triggers.yaml (None: no triggers). Blocking: call it in a thread
    from async code. Raises ConfigError naming the file and each field at fault."""
    if path is None:
        return TriggersConfig()
    return load_config_file(path, TriggersConfig, what="triggers file",
                            missing="no such triggers file", shape="triggers: [...]")
