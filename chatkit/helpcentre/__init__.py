"""The help centre: the knowledge base as articles on server-rendered pages, under chatkit's
prefix (e.g. /chat/help/), with search, suggestions as you type, and "was this helpful?" votes.

    {prefix}/help/                        the categories and their articles
    {prefix}/help/categories/{slug}       one category
    {prefix}/help/articles/{id}           one article: a stable URL per knowledge-base entry
    {prefix}/help/search?q=...            search results (no JavaScript needed)
    {prefix}/api/kb/search?q=...          the same as JSON, for the suggestions
    {prefix}/api/kb/articles/{id}/votes   POST a vote (chatkit.helpcentre.api)

Every page takes ?locale=; without it, the browser's Accept-Language picks among the knowledge
base's locales. The knowledge base is read per request from KB_PROVIDER, so a reload shows at
once; votes go to the store's event log."""

from __future__ import annotations

import asyncio

from aiohttp import web

from chatkit.helpcentre import api, pages
from chatkit.helpcentre.rendering import load_templates


def add_helpcentre(app: web.Application) -> None:
    """Add the help centre to chatkit's sub-app, which provides KIT and KB_PROVIDER."""
    app.router.add_routes(pages.routes)
    app.router.add_routes(api.routes)
    app.on_startup.append(_load_templates)


async def _load_templates(app: web.Application) -> None:
    app[pages.TEMPLATES] = await asyncio.to_thread(load_templates)


__all__ = ["add_helpcentre"]
