"""Text analysis for matching: normalise, expand contractions, map synonyms, drop stop words,
stem. One Analyzer per locale; the same analyzer reads the KB and the visitor's question."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import snowballstemmer

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPACES = re.compile(r"\s+")

# English contractions, after apostrophes are unified. "n't" covers can't/won't specially.
_CONTRACTIONS = [
    (re.compile(r"\bcan'?t\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\bain'?t\b"), "is not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(\w+)'re\b"), r"\1 are"),
    (re.compile(r"\b(\w+)'ve\b"), r"\1 have"),
    (re.compile(r"\b(\w+)'ll\b"), r"\1 will"),
    (re.compile(r"\b(\w+)'d\b"), r"\1 would"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(it|that|what|where|who|there|here|how|he|she)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
]

_STEMMERS = {
    "da": "danish", "de": "german", "en": "english", "es": "spanish", "fi": "finnish",
    "fr": "french", "hu": "hungarian", "it": "italian", "nl": "dutch", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish", "tr": "turkish",
}

# Words that carry no topic in a customer's question. Short on purpose: term weighting already
# discounts common words, and words like "my", "how" or "not" can decide between two entries.
DEFAULT_STOP_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset([
        "a", "an", "the", "please", "hi", "hello", "hey", "thanks", "thank", "you", "can",
        "could", "would", "will", "i", "me", "is", "are", "am", "be", "to", "of", "do", "does",
        "did", "just", "so", "um", "uh", "ok", "okay",
    ]),
    "es": frozenset([
        "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al", "por",
        "favor", "hola", "gracias", "y", "o", "que", "me", "mi", "se", "lo", "le", "es", "son",
        "estoy",
    ]),
}


def fold(text: str) -> str:
    """Lower case, accents removed, apostrophes unified; Unicode-aware."""
    if text.isascii():
        return text.lower().replace("`", "'")
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")


class Analyzer:
    """Turns text into the terms the matcher indexes.

    >>> Analyzer("en").terms("I can't log in!")
    ['not', 'log', 'in']
    """

    def __init__(self, locale: str, *, stop_words: Iterable[str] | None = None,
                 synonyms: Sequence[Sequence[str]] = ()) -> None:
        self.language = locale.split("-")[0]
        algorithm = _STEMMERS.get(self.language)
        self._stemmer = snowballstemmer.stemmer(algorithm) if algorithm else None
        words = DEFAULT_STOP_WORDS.get(self.language, frozenset()) if stop_words is None \
            else frozenset(stop_words)
        self.stop_words = frozenset(self.normalise(w) for w in words)
        self._stem_cache: dict[str, str] = {}
        # Each synonym group maps to its first phrase; longer phrases are replaced first.
        pairs: list[tuple[str, str]] = []
        for group in synonyms:
            phrases = [self.normalise(p) for p in group if self.normalise(p)]
            pairs.extend((p, phrases[0]) for p in phrases[1:] if p != phrases[0])
        pairs.sort(key=lambda pair: -len(pair[0]))
        self._synonyms = [(re.compile(rf"\b{re.escape(src)}\b"), dst) for src, dst in pairs]

    def normalise(self, text: str) -> str:
        """Folded, contractions expanded (English), punctuation gone, single spaces."""
        text = fold(text)
        if self.language == "en" and "'" in text:
            for pattern, replacement in _CONTRACTIONS:
                text = pattern.sub(replacement, text)
        return _SPACES.sub(" ", _NON_WORD.sub(" ", text.replace("_", " "))).strip()

    def words(self, text: str) -> list[str]:
        """Normalised words with synonyms mapped, stop words kept (for string similarity)."""
        text = self.normalise(text)
        for pattern, replacement in self._synonyms:
            text = pattern.sub(replacement, text)
        return text.split()

    def stem(self, word: str) -> str:
        stem = self._stem_cache.get(word)
        if stem is None:
            stem = self._stemmer.stemWord(word) if self._stemmer else word
            if len(self._stem_cache) < 200_000:
                self._stem_cache[word] = stem
        return stem

    def terms(self, text: str) -> list[str]:
        """Stemmed words without stop words, in order."""
        return [self.stem(w) for w in self.words(text) if w not in self.stop_words]
