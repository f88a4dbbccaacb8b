"""A knowledge-base entry: one question the business answers, in one locale."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# BCP 47 as businesses write it: "en", "es", "pt-BR", "zh-Hant".
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def normalise_locale(value: str) -> str:
    """"pt_br" and "PT-br" are both "pt-BR"; raises ValueError on anything else."""
    parts = value.strip().replace("_", "-").split("-")
    tag = "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])
    if not _LOCALE.match(tag):
        raise ValueError(f"{value!r} is not a locale such as 'en' or 'pt-BR'")
    return tag


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000, pattern=r"^(https?://|/)")


class KBEntry(BaseModel):
    """One FAQ entry. `question` and `alternates` are the phrasings the matcher knows;
    `answer` is Markdown. `team` routes a handoff that starts from this entry; `category`
    groups it in the help centre."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=100, pattern=_ID.pattern)
    question: str = Field(min_length=1, max_length=500)
    alternates: tuple[str, ...] = ()
    answer: str = Field(min_length=1, max_length=20_000)
    tags: tuple[str, ...] = ()
    team: str | None = Field(default=None, min_length=1, max_length=100)
    category: str | None = Field(default=None, min_length=1, max_length=100)
    links: tuple[Link, ...] = ()
    locale: str = "en"

    @field_validator("alternates", "tags")
    @classmethod
    def _no_blank_items(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(item.strip() for item in items)
        if any(not item for item in cleaned):
            raise ValueError("items must not be empty")
        if any(len(item) > 500 for item in cleaned):
            raise ValueError("items must be at most 500 characters")
        return cleaned

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return normalise_locale(value)

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.alternates)
