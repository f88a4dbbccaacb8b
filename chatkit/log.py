"""Logging set-up for `chatkit serve`; a host app that mounts chatkit keeps its own."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # engine.io and socket.io are chatty at INFO.
    for noisy in ("engineio", "socketio", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
