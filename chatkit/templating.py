"""The server-rendered pages' templates (help centre, console): read and compiled once."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import jinja2


def compile_templates(folder: Path, pages: Collection[str], owner: str) -> jinja2.Environment:
    """Every `*.html` in `folder`, read and compiled: autoescaped, strict about undefined
    names, and kept in memory, so rendering never touches the disk. Blocking (reads files):
    call it in a thread. A missing page is an error now, naming `owner` ("the console")."""
    sources = {path.name: path.read_text(encoding="utf-8")
               for path in sorted(folder.glob("*.html"))}
    missing = sorted(set(pages) - set(sources))
    if missing:  # a broken install: say so at start-up, not on the first request
        raise RuntimeError(f"{owner}'s templates {missing} are missing from {folder}")
    environment = jinja2.Environment(
        loader=jinja2.DictLoader(sources), autoescape=True, auto_reload=False,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    for name in sources:
        environment.get_template(name)  # compiled and cached now, not on the first request
    return environment
