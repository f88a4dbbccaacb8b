"""The export, page by page: every conversation once, in order, whatever the page size."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from chatkit.reports.metrics import EXPORT_COLUMNS, ReportQuery, Reports
from chatkit.storage import SqlStore
from tests.reports.dataset import DAY, START, generate


async def test_the_export_pages_through_every_conversation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/export.db")
    await store.open()
    try:
        data = await generate(store, monkeypatch, count=23)
        query = ReportQuery.model_validate({"from": START, "to": START + 30 * DAY})
        chunks = [chunk async for chunk in Reports(store).export_conversations(query, page=5)]
    finally:
        await store.close()
    assert len(chunks) == 1 + 5  # the header, then 5 + 5 + 5 + 5 + 3
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == EXPORT_COLUMNS
    assert [row[0] for row in rows[1:]] == [
        c.id for c in sorted(data.conversations, key=lambda c: (c.created, c.id))]
