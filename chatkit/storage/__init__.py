"""The storage port and its SQL implementation (SQLite by default, PostgreSQL to scale out)."""

from chatkit.storage.base import Store
from chatkit.storage.sql import SqlStore

__all__ = ["SqlStore", "Store"]
