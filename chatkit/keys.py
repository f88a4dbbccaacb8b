"""Typed keys for the state chatkit keeps on its aiohttp sub-app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from chatkit.app import ChatKit

KIT: web.AppKey[ChatKit] = web.AppKey("chatkit")
