"""The agent's desk: notes, whispers, watch and barge, tags, canned responses."""

from chatkit.desk.service import MAX_TAGS, DeskService

__all__ = ["MAX_TAGS", "DeskService"]
