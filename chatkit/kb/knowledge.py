"""The knowledge base: entries in one or more locales, searched by a matcher per locale.

    kb = load_kb(Path("kb/"))
    kb.search("how long does shiping take", limit=3)   # ranked matches, confidence 0..1
    kb.answer("how long does shiping take")            # Decision: answer, clarify or none

Lookups are CPU work: from async code run them in a thread (the bot does)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatkit.configfile import load_config_file
from chatkit.errors import ConfigError
from chatkit.kb.embedding import VECTOR_LANGUAGES, StaticEmbedder, bundled_embedder
from chatkit.kb.entries import KBEntry, normalise_locale
from chatkit.kb.loaders import SETTINGS_FILE, KBLoadError, load_entries
from chatkit.kb.matcher import Matcher
from chatkit.kb.text import Analyzer

DEMO_KB = Path(__file__).resolve().parent.parent / "demo" / "kb.yaml"


class MatcherConfig(BaseModel):
    """How the matcher reads text and decides. Per locale: synonym groups (the first phrase of
    each group is the one the others become) and stop words (None keeps the built-in list).

    `word_vectors`: use the bundled static word vectors (English) so that the meaning of
    words counts, not only the words: "my card was stolen" finds "report a lost card".

    `answer_threshold`: answer when the best match is at least this confident and no other is
    close. `clarify_threshold`: otherwise, when the best is at least this confident, offer it
    and the close ones as choices. `clarify_margin`: matches whose ranking score is within this
    of the best one's are close (a gap of 0.06 is about one logit of confidence: the best is
    less than three times as likely as the other)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    synonyms: dict[str, list[list[str]]] = Field(default_factory=dict)
    stop_words: dict[str, list[str]] = Field(default_factory=dict)
    answer_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    clarify_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    clarify_margin: float = Field(default=0.06, ge=0.0, le=1.0)
    max_choices: int = Field(default=3, ge=2, le=5)
    word_vectors: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> MatcherConfig:
        if self.clarify_threshold > self.answer_threshold:
            raise ValueError("clarify_threshold must not be above answer_threshold")
        return self


@dataclass(frozen=True, slots=True)
class Match:
    entry: KBEntry
    confidence: float  # 0..1, calibrated: the same value means the same in every KB
    phrasing: str      # the entry's phrasing closest to the question
    score: float = 0.0  # the ranking score: compare it only within one search


class DecisionKind(StrEnum):
    ANSWER = "answer"    # matches[0] answers the question
    CLARIFY = "clarify"  # ask which of matches (one or more) the visitor means
    NONE = "none"        # the KB does not know; matches holds the best guesses, if any


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    matches: tuple[Match, ...] = field(default=())

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


class KnowledgeBase:
    def __init__(self, entries: Sequence[KBEntry], *, config: MatcherConfig | None = None,
                 default_locale: str = "en") -> None:
        self.config = config or MatcherConfig()
        self.default_locale = normalise_locale(default_locale)
        by_locale: dict[str, list[KBEntry]] = {}
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            if (entry.id, entry.locale) in seen:
                raise ConfigError(f"entry id {entry.id!r} ({entry.locale}) is used twice")
            seen.add((entry.id, entry.locale))
            by_locale.setdefault(entry.locale, []).append(entry)
        self.entries: tuple[KBEntry, ...] = tuple(entries)
        self._matchers: Mapping[str, Matcher] = {
            locale: Matcher(items, self._analyzer(locale), embedder=self._embedder(locale))
            for locale, items in by_locale.items()}
        self._by_id = {(e.id, e.locale): e for e in self.entries}

    def _embedder(self, locale: str) -> StaticEmbedder | None:
        if not self.config.word_vectors or locale.split("-")[0] not in VECTOR_LANGUAGES:
            return None
        return bundled_embedder()

    def _analyzer(self, locale: str) -> Analyzer:
        language = locale.split("-")[0]
        stop_words = self.config.stop_words.get(locale, self.config.stop_words.get(language))
        synonyms = self.config.synonyms.get(locale, self.config.synonyms.get(language, []))
        return Analyzer(locale, stop_words=stop_words, synonyms=synonyms)

    @property
    def locales(self) -> frozenset[str]:
        return frozenset(self._matchers)

    def resolve_locale(self, locale: str | None) -> str:
        """The KB locale that serves `locale`: itself, its language ("es-MX" -> "es"), or the
        default."""
        if locale:
            try:
                locale = normalise_locale(locale)
            except ValueError:
                return self.default_locale
            if locale in self._matchers:
                return locale
            language = locale.split("-")[0]
            if language in self._matchers:
                return language
            for known in sorted(self._matchers):
                if known.split("-")[0] == language:
                    return known
        return self.default_locale

    def matcher(self, locale: str | None = None) -> Matcher | None:
        """The matcher that serves `locale` (for tools that look at its candidates)."""
        return self._matchers.get(self.resolve_locale(locale))

    def get(self, entry_id: str, locale: str | None = None) -> KBEntry | None:
        return self._by_id.get((entry_id, self.resolve_locale(locale)))

    def entries_in(self, locale: str | None = None) -> list[KBEntry]:
        matcher = self._matchers.get(self.resolve_locale(locale))
        return [] if matcher is None else list(matcher.entries)

    def search(self, text: str, limit: int = 5, *, locale: str | None = None,
               prefix: bool = False) -> list[Match]:
        """The best entries for `text`, best first, one match per entry. `prefix`: the last
        word may be unfinished (search as you type)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        matcher = self._matchers.get(self.resolve_locale(locale))
        if matcher is None:
            return []
        return [Match(matcher.entries[s.entry], s.confidence,
                      matcher.entries[s.entry].phrasings[s.phrasing], s.score)
                for s in matcher.search(text, limit, prefix=prefix)]

    def answer(self, text: str, *, locale: str | None = None) -> Decision:
        """Answer, clarify between close entries, or decline."""
        config = self.config
        matches = self.search(text, limit=max(config.max_choices, 2), locale=locale)
        if not matches:
            return Decision(DecisionKind.NONE)
        best = matches[0]
        # Close: ranked nearly as high. (Confidence would not tell: a rival's confidence is
        # low precisely because the best one is ahead of it.)
        close = [m for m in matches if best.score - m.score <= config.clarify_margin]
        if best.confidence >= config.answer_threshold and len(close) == 1:
            return Decision(DecisionKind.ANSWER, (best,))
        if best.confidence >= config.clarify_threshold:
            # Close rivals, or one match not quite sure enough: "Did you mean ...?"
            return Decision(DecisionKind.CLARIFY, tuple(close[:config.max_choices]))
        return Decision(DecisionKind.NONE, tuple(matches))


def load_matcher_config(path: Path) -> MatcherConfig:
    """Read `matcher.yaml`; a missing file gives the defaults."""
    return load_config_file(path, MatcherConfig, what="matcher settings", missing=None)


def load_kb(path: Path | None = None, *, config: MatcherConfig | None = None,
            default_locale: str = "en") -> KnowledgeBase:
    """Load a knowledge base from a file or folder (see chatkit.kb.loaders); a folder may hold
    a `matcher.yaml` with MatcherConfig's fields. Blocking: call it in a thread from async
    code. Raises KBLoadError (a ConfigError) naming each problem's file and line."""
    path = path or DEMO_KB
    if config is None:
        folder = path if path.is_dir() else path.parent
        config = load_matcher_config(folder / SETTINGS_FILE)
    entries = load_entries(path)
    if not entries:
        raise KBLoadError([f"{path}: the knowledge base has no entries"])
    return KnowledgeBase(entries, config=config, default_locale=default_locale)
