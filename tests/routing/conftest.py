"""The routing tests that speak to the store directly use the storage contract's fixtures:
a fresh store on SQLite and, with CHATKIT_TEST_POSTGRES, on PostgreSQL."""

from tests.storage.conftest import store, store_url

__all__ = ["store", "store_url"]
