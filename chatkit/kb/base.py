"""FAQ entries loaded from YAML and matched with rapidfuzz.

This first matcher scores each phrasing with rapidfuzz's token_ratio (word order does not
matter; WRatio's partial matching scored unrelated questions high) and answers above a threshold.
It is deliberately simple; the knowledge-base issue replaces it with a normalising, indexed
matcher whose confidence means the same across knowledge bases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, process, utils

from chatkit.errors import ConfigError


class KBEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    question: str = Field(min_length=1)
    alternates: list[str] = Field(default_factory=list)
    answer: str = Field(min_length=1)


class _KBFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[KBEntry]


@dataclass(frozen=True, slots=True)
class Match:
    entry: KBEntry
    confidence: float  # 0..1
    phrasing: str


class KnowledgeBase:
    def __init__(self, entries: list[KBEntry], *, threshold: float = 0.62) -> None:
        ids = [entry.id for entry in entries]
        if len(ids) != len(set(ids)):
            raise ConfigError("knowledge base entry ids must be unique")
        self.entries = entries
        self.threshold = threshold
        self._phrasings: list[str] = []
        self._owners: list[KBEntry] = []
        for entry in entries:
            for phrasing in (entry.question, *entry.alternates):
                self._phrasings.append(utils.default_process(phrasing))
                self._owners.append(entry)

    def search(self, text: str, limit: int = 5) -> list[Match]:
        """Best matches first, at most one per entry."""
        query = utils.default_process(text)
        if not query:
            return []
        found: dict[str, Match] = {}
        for phrasing, score, index in process.extract(
                query, self._phrasings, scorer=fuzz.token_ratio, limit=limit * 4):
            entry = self._owners[index]
            if entry.id not in found:
                found[entry.id] = Match(entry, score / 100, phrasing)
        return sorted(found.values(), key=lambda m: m.confidence, reverse=True)[:limit]

    def answer(self, text: str) -> Match | None:
        """The best match when it is confident enough, else None."""
        matches = self.search(text, limit=1)
        if matches and matches[0].confidence >= self.threshold:
            return matches[0]
        return None


DEMO_KB = Path(__file__).resolve().parent.parent / "demo" / "kb.yaml"


def load_kb(path: Path | None = None) -> KnowledgeBase:
    """Load a YAML knowledge base (`entries: [{id, question, alternates, answer}]`).
    Blocking file I/O: call it in a thread from async code."""
    path = path or DEMO_KB
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the knowledge base: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        kb_file = _KBFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
    return KnowledgeBase(kb_file.entries)
