"""The agent console: sign-in with server-side sessions, CSRF protection and a lockout, the
role checks every agent-only route makes, and the console's pages.

    {prefix}/console/login      the sign-in form (GET) and its post (POST)
    {prefix}/console/logout     sign out (POST, with the CSRF token)
    {prefix}/console/           the console, for a signed-in agent

The console's script and style are built from widget/src/console/ into static/console/."""

from __future__ import annotations

import asyncio

from aiohttp import web

from chatkit.console import views
from chatkit.console.auth import require_agent, require_role
from chatkit.console.lockout import LoginGuard
from chatkit.console.sessions import Sessions, SignedIn


def add_console(app: web.Application) -> None:
    """Add the console's pages to chatkit's sub-app, which provides KIT."""
    app.router.add_routes(views.routes)
    app.on_startup.append(_load_pages)


async def _load_pages(app: web.Application) -> None:
    app[views.PAGES_KEY] = await asyncio.to_thread(views.load_pages)


__all__ = ["LoginGuard", "Sessions", "SignedIn", "add_console", "require_agent",
           "require_role"]
