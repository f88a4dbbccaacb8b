"""The knowledge base: FAQ entries and the matcher that finds them."""

from chatkit.kb.base import KBEntry, KnowledgeBase, Match, load_kb

__all__ = ["KBEntry", "KnowledgeBase", "Match", "load_kb"]
