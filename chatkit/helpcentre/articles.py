"""Knowledge-base entries as help-centre articles: grouped in categories, found by search."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from chatkit.helpcentre.rendering import snippet
from chatkit.kb import KBEntry, KnowledgeBase

MAX_QUERY = 200
# The matcher returns its best guesses, however weak; below this one is noise, not an answer
# (the bot's own threshold for offering choices is 0.3).
MIN_CONFIDENCE = 0.1

_NOT_SLUG = re.compile(r"[\W_]+")


def category_name(entry: KBEntry, general: str) -> str:
    """The entry's category; else its first tag; else `general` (the UI's word for it)."""
    return entry.category or (entry.tags[0] if entry.tags else general)


def slugify(name: str) -> str:
    """A category's name as a URL segment: "Orders & Returns" -> "orders-returns". Letters of
    every script are kept, so a category named in Greek or Japanese still has one."""
    return _NOT_SLUG.sub("-", name.casefold()).strip("-") or "topic"


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    entries: tuple[KBEntry, ...]


def categories(entries: Iterable[KBEntry], general: str) -> list[Category]:
    """The categories in the order the knowledge base first names them, each with its
    entries in knowledge-base order. Names that differ only in case or punctuation are one."""
    groups: dict[str, tuple[str, list[KBEntry]]] = {}
    for entry in entries:
        name = category_name(entry, general)
        groups.setdefault(slugify(name), (name, []))[1].append(entry)
    return [Category(slug, name, tuple(items)) for slug, (name, items) in groups.items()]


@dataclass(frozen=True, slots=True)
class Hit:
    entry: KBEntry
    confidence: float
    snippet: str
    category: str


def search(kb: KnowledgeBase, text: str, *, limit: int, locale: str, general: str,
           prefix: bool = False) -> list[Hit]:
    """The articles that answer `text`, best first (`prefix`: its last word may be
    unfinished, as in a typeahead). CPU work: run it in a thread."""
    return [Hit(m.entry, m.confidence, snippet(m.entry.answer), category_name(m.entry, general))
            for m in kb.search(text, limit=limit, locale=locale, prefix=prefix)
            if m.confidence >= MIN_CONFIDENCE]
