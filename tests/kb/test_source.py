"""Reloading the knowledge base: on file changes, on demand, and keeping the old one on errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from chatkit.kb import KBLoadError
from chatkit.kb.source import KBSource

ONE = "- {id: hours, question: 'When are you open?', answer: 9 to 5}\n"
TWO = ONE + "- {id: refund, question: 'How do I get a refund?', answer: Within 30 days}\n"


def write(path: Path, text: str, *, bump: int) -> None:
    """Write and move the mtime on, so that a change is visible however coarse the clock."""
    path.write_text(text, encoding="utf-8")
    stamp = path.stat().st_mtime_ns + bump * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


@contextlib.asynccontextmanager
async def watching(source: KBSource) -> AsyncIterator[None]:
    task = asyncio.create_task(source.watch())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true within 5 s")


async def wait_for_version(source: KBSource, version: int) -> None:
    await eventually(lambda: source.version >= version)


async def test_not_loaded_yet_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not loaded"):
        KBSource(tmp_path / "kb.yaml").kb  # noqa: B018
    with pytest.raises(ValueError):
        KBSource(poll_interval=0)


async def test_a_changed_file_is_reloaded_and_a_broken_one_keeps_the_old_kb(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "kb.yaml"
    write(path, ONE, bump=0)
    source = KBSource(path, poll_interval=0.02)
    seen: list[int] = []
    source.on_reload(lambda kb: seen.append(len(kb.entries)))
    await source.load()
    assert [e.id for e in source.kb.entries] == ["hours"]
    async with watching(source):
        write(path, TWO, bump=1)
        await wait_for_version(source, 2)
        assert source().get("refund") is not None
        with caplog.at_level(logging.ERROR, logger="chatkit.kb"):
            write(path, TWO + "- {id: broken\n", bump=2)
            await eventually(lambda: "was not reloaded" in caplog.text)
        assert source.version == 2 and source.kb.get("refund") is not None
        # Fixing the file brings the watcher back.
        write(path, ONE, bump=3)
        await wait_for_version(source, 3)
    assert source.kb.get("refund") is None
    assert seen == [1, 2, 1]


async def test_matcher_settings_changes_count(tmp_path: Path) -> None:
    write(tmp_path / "kb.yaml", ONE, bump=0)
    source = KBSource(tmp_path, poll_interval=0.02)
    await source.load()
    assert source.kb.config.answer_threshold == 0.5
    async with watching(source):
        write(tmp_path / "matcher.yaml", "answer_threshold: 0.7\n", bump=1)
        await wait_for_version(source, 2)
    assert source.kb.config.answer_threshold == 0.7


async def test_reload_on_demand_reports_problems(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    write(path, ONE, bump=0)
    source = KBSource(path)
    old = await source.load()
    write(path, "- {id: x, question: q}\n", bump=1)
    with pytest.raises(KBLoadError, match="answer"):
        await source.reload()
    assert source.kb is old
    write(path, TWO, bump=2)
    assert len((await source.reload()).entries) == 2


async def test_lookups_during_reloads_always_see_a_whole_kb(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    write(path, TWO, bump=0)
    source = KBSource(path)
    await source.load()

    async def ask() -> None:
        for _ in range(200):
            kb = source()
            decision = await asyncio.to_thread(kb.answer, "when are you open")
            assert decision.best is not None and decision.best.entry.id == "hours"

    async def reload() -> None:
        for _ in range(20):
            await source.reload()

    await asyncio.gather(ask(), reload())
    assert source.version == 21
