"""The knowledge base: FAQ entries, their loaders, and the matcher that finds them."""

from chatkit.kb.entries import KBEntry, Link
from chatkit.kb.knowledge import (
    Decision,
    DecisionKind,
    KnowledgeBase,
    Match,
    MatcherConfig,
    load_kb,
    load_matcher_config,
)
from chatkit.kb.loaders import KBLoadError, kb_files, load_entries

__all__ = [
    "Decision",
    "DecisionKind",
    "KBEntry",
    "KBLoadError",
    "KnowledgeBase",
    "Link",
    "Match",
    "MatcherConfig",
    "kb_files",
    "load_entries",
    "load_kb",
    "load_matcher_config",
]
