"""The knowledge base in use, reloaded when its files change or when an admin asks.

A reload builds the new knowledge base in a thread and swaps it in one assignment: a lookup
already running finishes on the old one, the next uses the new one, and no chat is dropped. A
reload that fails (a typo in a file) keeps the old knowledge base and reports the problems.

Watching polls the files' sizes and modification times every couple of seconds, in a thread: a
knowledge base is a handful of files, and polling works the same on every platform and
filesystem (network mounts and containers included), where change notifications do not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from chatkit.kb.knowledge import DEMO_KB, KnowledgeBase, load_kb
from chatkit.kb.loaders import SETTINGS_FILE, KBLoadError, kb_files

log = logging.getLogger("chatkit.kb")

Fingerprint = tuple[tuple[str, int, int], ...]


class KBSource:
    """Holds the current KnowledgeBase for `path` (a file or a folder; the demo KB when None).

        source = KBSource(Path("kb/"))
        await source.load()
        source.kb.answer("where is my order?")
        await source.reload()          # the admin action
        task = asyncio.create_task(source.watch())
    """

    def __init__(self, path: Path | None = None, *, default_locale: str = "en",
                 poll_interval: float = 2.0) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.path = path or DEMO_KB
        self.default_locale = default_locale
        self.poll_interval = poll_interval
        self.version = 0
        self._kb: KnowledgeBase | None = None
        self._fingerprint: Fingerprint = ()
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[KnowledgeBase], None]] = []

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            raise RuntimeError("the knowledge base is not loaded yet: await load() first")
        return self._kb

    def __call__(self) -> KnowledgeBase:
        """The current knowledge base (so a KBSource can be passed as a provider)."""
        return self.kb

    def on_reload(self, listener: Callable[[KnowledgeBase], None]) -> None:
        self._listeners.append(listener)

    async def load(self) -> KnowledgeBase:
        """Load (or reload) now; raises KBLoadError and keeps the old KB on problems."""
        async with self._lock:
            fingerprint, kb = await asyncio.to_thread(self._read)
            self._kb, self._fingerprint = kb, fingerprint
            self.version += 1
        for listener in self._listeners:
            listener(kb)
        log.info("knowledge base loaded from %s: %d entries in %s (version %d)", self.path,
                 len(kb.entries), ", ".join(sorted(kb.locales)), self.version)
        return kb

    reload = load

    def _read(self) -> tuple[Fingerprint, KnowledgeBase]:
        # The fingerprint is taken before reading: a change during the read triggers another.
        fingerprint = self._stat()
        return fingerprint, load_kb(self.path, default_locale=self.default_locale)

    def _stat(self) -> Fingerprint:
        folder = self.path if self.path.is_dir() else self.path.parent
        files = [*kb_files(self.path), folder / SETTINGS_FILE]
        stamps = []
        for file in files:
            try:
                st = file.stat()
            except OSError:
                continue
            stamps.append((str(file), st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    async def changed(self) -> bool:
        return await asyncio.to_thread(self._stat) != self._fingerprint

    async def watch(self) -> None:
        """Reload whenever the files change; runs until cancelled."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                if not await self.changed():
                    continue
                await self.load()
            except KBLoadError as exc:
                # Keep answering from the old KB; say once per change what is wrong.
                self._fingerprint = await asyncio.to_thread(self._stat)
                log.error("the knowledge base was not reloaded: %s", exc)
            except Exception:
                log.exception("watching the knowledge base failed; trying again")
