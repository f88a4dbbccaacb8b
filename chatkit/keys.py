"""Typed keys for the state chatkit keeps on its aiohttp sub-app."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from chatkit.app import ChatKit
    from chatkit.kb import KnowledgeBase

KIT: web.AppKey[ChatKit] = web.AppKey("chatkit")

KB_PROVIDER: web.AppKey[Callable[[], KnowledgeBase]] = web.AppKey("chatkit.kb_provider")
"""The knowledge base in force. Call it per request and keep no reference: a reload swaps the
knowledge base it returns."""
