"""ChatKit: one settings object in, one aiohttp sub-app out.

>>> from aiohttp import web
>>> from chatkit import ChatKit, Settings
>>> app = web.Application()                      # the host's own app, routes, middlewares
>>> kit = ChatKit(Settings(database_url="sqlite:///support.db"))
>>> kit.setup(app, prefix="/support")            # doctest: +ELLIPSIS
<Application ...>
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from aiohttp import web

from chatkit.agents import AgentService
from chatkit.attachments import AttachmentService
from chatkit.attachments.http import add_attachment_routes
from chatkit.bot import Answerer, AnswererChain, Bot, KBAnswerer, load_bot_config
from chatkit.console import LoginGuard, Sessions, add_console
from chatkit.conversations import ConversationService
from chatkit.conversations.http import add_conversation_routes
from chatkit.crm import ContactsCRM, ContextService, CRMAdapter, HttpCRMAdapter
from chatkit.desk import DeskService
from chatkit.desk.http import add_desk_routes
from chatkit.errors import Conflict
from chatkit.helpcentre import add_helpcentre
from chatkit.identity import IdentityService
from chatkit.kb import KnowledgeBase
from chatkit.kb.source import KBSource
from chatkit.keys import KB_PROVIDER, KIT
from chatkit.loops import stop_if_cancelled
from chatkit.models import AgentRole, now_ms
from chatkit.profile import ProfileService
from chatkit.realtime.agent import SESSION_CHECK_MS
from chatkit.realtime.ratelimit import RateLimit
from chatkit.realtime.server import (
    RedisPing,
    SocketNotifier,
    close_socket_server,
    create_socket_server,
    register_namespaces,
)
from chatkit.reports import PrometheusMetrics, QualityAssurance, Reports, load_scorecard
from chatkit.reports.http import add_reports_routes
from chatkit.routes import STATIC, add_routes, chatkit_middleware, loader_with_config
from chatkit.routing.config import Routing, load_routing_config
from chatkit.routing.service import RoutingService
from chatkit.settings import Settings
from chatkit.storage import SqlStore, Store
from chatkit.tokens import TokenSigner
from chatkit.triggers import load_triggers

log = logging.getLogger("chatkit")

DEMO_PAGE = Path(__file__).resolve().parent / "demo" / "index.html"
DEMO_AGENT_EMAIL = "demo@chatkit.local"
#: Shared canned responses the demo starts with (shortcut, title, body; docs/protocol.md).
DEMO_CANNED = (
    ("hello", "Greeting", "Hi {{contact.first_name}}, I'm {{agent.first_name}}. "
                          "How can I help you today?"),
    ("wait", "One moment", "Thanks for waiting, {{contact.first_name}}. I'm looking into "
                           "it now and will be right back."),
    ("email", "Follow up by email", "I'll send the details to {{contact.email}} shortly."),
    ("bye", "Closing", "Is there anything else I can help you with? Have a great day, "
                       "{{contact.first_name}}!"),
)


class ChatKit:
    """The whole of chatkit, configured by one Settings object.

    `store`, `answerers` and `crm` are ports: pass your own implementation to replace the
    default (the SQL store for `settings.database_url`; the knowledge-base answerer; chatkit's
    own contacts, or the HTTP adapter for `settings.crm_url`). `answerers` are asked in
    order, the first that answers wins; "kb" stands for the built-in one:

        ChatKit(settings, answerers=[MyLLM(), "kb"], crm=MyCRM())
    """

    def __init__(self, settings: Settings | None = None, *, store: Store | None = None,
                 answerers: Sequence[Answerer | Literal["kb"]] = ("kb",),
                 crm: CRMAdapter | None = None) -> None:
        self.settings = settings or Settings()
        self.store: Store = store or SqlStore(
            self.settings.database_url, pool_size=self.settings.database_pool_size)
        self.agents = AgentService(self.store, token_ttl=self.settings.agent_token_ttl)
        #: The console's server-side sessions, and sign-in with a lockout (chatkit.console).
        self.sessions = Sessions(self.store, idle_timeout=self.settings.session_idle_timeout,
                                 lifetime=self.settings.session_lifetime)
        self.logins = LoginGuard(self.store, self.agents,
                                 max_failures=self.settings.login_max_failures,
                                 window=self.settings.login_failure_window,
                                 lockout=self.settings.login_lockout)
        self.attachments = AttachmentService(
            self.store, max_bytes=self.settings.attachment_max_bytes,
            url_ttl=self.settings.attachment_url_ttl, prefix=self.settings.prefix)
        self.sio = create_socket_server(self.settings)
        self.redis_ping = None if self.settings.redis_url is None else RedisPing(
            self.settings.redis_url)
        #: True from the end of start-up until shutdown begins (the readiness check).
        self.ready = False
        notifier = SocketNotifier(self.sio, self.attachments)
        self.conversations = ConversationService(self.store, notifier, bot=None)
        self.visitors, self.agent_namespace = register_namespaces(
            self.sio, notifier, self.conversations, self.agents, self.attachments)
        self.visitors.rate_limit = _rate_limit(self.settings.visitor_event_rate,
                                               self.settings.visitor_event_burst)
        self.agent_namespace.rate_limit = _rate_limit(self.settings.agent_event_rate,
                                                      self.settings.agent_event_burst)
        #: Queues, assignment, presence and transfer (the ACD); its configuration is kept in
        #: the store (seeded from routing.yaml at start-up, editable by admins).
        #: `kit.routing.priority_hook` may rank queued chats (e.g. VIPs from the CRM).
        self.routing = RoutingService(
            self.store, notifier, Routing(default_capacity=self.settings.agent_capacity),
            accept_timeout=self.settings.accept_timeout,
            disconnect_grace=self.settings.disconnect_grace,
            connection_ttl=self.settings.connection_ttl,
            abandon_grace=self.settings.abandon_grace,
            sweep_interval=self.settings.routing_sweep_interval,
            default_capacity=self.settings.agent_capacity)
        self.conversations.router = self.agent_namespace.routing = self.routing
        self.agent_namespace.sessions = self.sessions
        self.routing.listeners.append(self.agent_namespace.routing_changed)
        #: The agent's desk: notes, whispers, watch and barge, tags, canned responses.
        self.desk = self.agent_namespace.desk = DeskService(self.conversations, notifier)
        self.attachments.agent_sees = self.routing.can_see
        self.visitors.routing = self.routing
        #: Identity verification (the host site signs its users' ids) and custom attributes.
        self.identity = self.visitors.identity = IdentityService(
            self.store, secret=self.settings.identity_secret,
            required=self.settings.require_verified_identity)
        #: The verified visitor's own details and preferences, and every contact's history.
        self.profiles = ProfileService(self.store, notifier)
        self.profiles.router = self.routing
        self.visitors.profiles = self.agent_namespace.profiles = self.profiles
        self.identity.announce = self.profiles.announce_host_changes
        self.routing.waits.watchers = self.visitors
        if crm is not None and not isinstance(crm, CRMAdapter):
            raise TypeError(f"crm: {crm!r} lacks find_contact, fetch_context or write_outcome")
        #: The CRM port, and the context service that fills the agents' CRM panel at handoff
        #: and writes outcomes back (chatkit/crm/).
        self.crm: CRMAdapter = crm or self._default_crm()
        self.context = ContextService(self.store, self.crm)
        self.conversations.handoff_listeners.append(self.context.handed_over)
        notifier.crm = self.visitors.crm = self.agent_namespace.crm = self.context
        #: Reports over the conversation facts; QA reviews (the scorecard is read at start).
        self.reports = Reports(self.store, fcr_days=self.settings.fcr_days)
        self.qa = QualityAssurance(self.store)
        #: The Prometheus metrics, this instance's own registry; also the services'
        #: instruments.
        self.prometheus = PrometheusMetrics(
            self.store, teams_of=lambda agent: self.routing.routing.teams_of(agent),
            visitors_connected=lambda: len(self.visitors.connections))
        self.conversations.instruments = self.prometheus
        # The facts count waits in the team's business hours (routing.yaml's hours).
        self.store.open_hours = self._open_ms
        if not answerers:
            raise ValueError("answerers: give at least one (\"kb\" is the built-in one)")
        for answerer in answerers:
            if isinstance(answerer, str) and answerer != "kb":
                raise ValueError(f"answerers: unknown name {answerer!r} (only \"kb\")")
            if not isinstance(answerer, str) and not callable(getattr(answerer, "answer", None)):
                raise TypeError(f"answerers: {answerer!r} has no answer(question) method")
        self._answerers = tuple(answerers)
        self._prefix = self.settings.prefix
        #: The knowledge base in use; reloaded when its files change or on an admin's request.
        self.kb = KBSource(self.settings.kb_path)
        self._subapp: web.Application | None = None
        self._loader: bytes | None = None
        #: Credentials of the demo agent, once the demo has started.
        self.demo_credentials: tuple[str, str] | None = None

    def _default_crm(self) -> CRMAdapter:
        settings = self.settings
        if settings.crm_url is None:
            return ContactsCRM(self.store)
        return HttpCRMAdapter(settings.crm_url, api_key=settings.crm_api_key,
                              timeout=settings.crm_timeout, cache_ttl=settings.crm_cache_ttl)

    def setup(self, app: web.Application, prefix: str | None = None) -> web.Application:
        """Mount chatkit on `app` under `prefix` (default: settings.prefix) as a sub-app.
        The host's own routes and middlewares are left alone. Returns the sub-app."""
        if self._subapp is not None:
            raise RuntimeError("this ChatKit is already mounted; create one per app")
        prefix = Settings(prefix=prefix).prefix if prefix is not None else self.settings.prefix
        self._prefix = self.attachments.prefix = prefix
        sub = web.Application(middlewares=[chatkit_middleware])
        sub[KIT] = self
        provider: Callable[[], KnowledgeBase] = self.kb
        sub[KB_PROVIDER] = provider
        add_routes(sub)
        add_console(sub)
        add_helpcentre(sub)
        add_attachment_routes(sub)
        add_desk_routes(sub)
        add_conversation_routes(sub)
        add_reports_routes(sub)
        # engine.io registers its route on the app it is given: attach before mounting.
        self.sio.attach(sub, socketio_path="socket.io")
        sub.cleanup_ctx.append(self._lifecycle)
        sub.on_shutdown.append(self._disconnect_clients)
        app.add_subapp(prefix, sub)
        self._subapp = sub
        return sub

    def create_app(self) -> web.Application:
        """A standalone app: chatkit at settings.prefix, and the demo page at / in demo mode."""
        app = web.Application()
        self.setup(app)
        if self.settings.demo:
            app.router.add_get("/", self._demo_page)
        return app

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        # Before anything is opened: a broken file stops the start with nothing to close.
        self.visitors.triggers = await asyncio.to_thread(load_triggers,
                                                         self.settings.triggers_path)
        await self.store.open()
        secret = self.settings.secret_key or await self.store.get_or_create_secret(
            "secret_key", lambda: secrets.token_urlsafe(48))
        signer = TokenSigner(secret)
        self.agents.use_signer(signer)
        self.sessions.use_signer(signer)
        self.attachments.use_signer(signer)
        self.visitors.signer = signer
        await self.kb.load()
        self.qa.scorecard = await asyncio.to_thread(load_scorecard,
                                                    self.settings.qa_scorecard_path)
        # routing.yaml seeds the configuration in the store, which admins may then edit;
        # routing/stored.py says which wins when both exist.
        await self.routing.load(None if self.settings.routing_path is None else
                                await asyncio.to_thread(load_routing_config,
                                                        self.settings.routing_path))
        if self.settings.bot_enabled:
            config = await asyncio.to_thread(load_bot_config, self.settings.bot_path)
            kb_answerer = KBAnswerer(self.kb)
            kb_answerer.instruments = self.prometheus
            chain = AnswererChain([kb_answerer if answerer == "kb" else answerer
                                   for answerer in self._answerers])
            self.conversations.bot = Bot(chain, config, article_url=self._article_url)
        if self.settings.demo:
            await self._start_demo()
        log.info("chatkit ready (store: %s)", self.settings.database_url.split("@")[-1])
        watcher = asyncio.create_task(self.kb.watch(), name="chatkit-kb-watch")
        sweeper = asyncio.create_task(self._sweep_attachments(), name="chatkit-attachments")
        sign_ins = asyncio.create_task(self._sweep_sign_ins(), name="chatkit-sign-ins")
        sessions = asyncio.create_task(self._check_sessions(), name="chatkit-agent-sessions")
        # Every process sweeps the routing timers kept in the store (routing/service.py).
        router = asyncio.create_task(self.routing.run(), name="chatkit-routing")
        # Every process tells its own waiting visitors where they stand (routing/wait.py).
        waits = asyncio.create_task(self.routing.waits.run(), name="chatkit-queue-waits")
        self.ready = True
        try:
            yield
        finally:
            self.ready = False
            for task in (watcher, sweeper, sign_ins, sessions, router, waits):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Every message already received gets committed before the store closes.
            await self.conversations.close()
            await self.routing.close()
            # Outcomes still being written back get a moment, then the CRM's connections go.
            await self.context.close()
            close_crm = getattr(self.crm, "close", None)
            if close_crm is not None:
                await close_crm()
            await self.store.close()
            if self.redis_ping is not None:
                await self.redis_ping.close()

    async def _sweep_attachments(self) -> None:
        """Delete abandoned uploads (pending a day) now and every hour. Every process does
        it; deleting what another process deleted already is no harm."""
        while True:
            try:
                deleted = await self.attachments.delete_abandoned()
                if deleted:
                    log.info("deleted %d abandoned attachment uploads", deleted)
            except Exception:
                log.exception("deleting abandoned attachment uploads failed; trying later")
            stop_if_cancelled()
            await asyncio.sleep(3600)

    async def _sweep_sign_ins(self) -> None:
        """Delete ended console sessions and old failed sign-in counts, now and every hour
        (they are refused anyway; this only keeps the tables small)."""
        while True:
            try:
                await self.sessions.sweep()
                await self.logins.sweep()
            except Exception:
                log.exception("deleting ended console sessions failed; trying later")
            stop_if_cancelled()
            await asyncio.sleep(3600)

    async def _check_sessions(self) -> None:
        """Every SESSION_CHECK_MS, cut off this process's agent sockets whose console session
        has ended (AgentNamespace.check_sessions)."""
        while True:
            await asyncio.sleep(SESSION_CHECK_MS / 1000)
            try:
                await self.agent_namespace.check_sessions()
            except Exception:
                log.exception("checking the agents' console sessions failed; trying later")
            stop_if_cancelled()

    @property
    def prefix(self) -> str:
        """The path chatkit is mounted at (e.g. /chat): its cookies' Path."""
        return self._prefix

    def _open_ms(self, team: str | None, start_ms: int, end_ms: int) -> int:
        """How much of [start_ms, end_ms) the team was open (the whole span when it has no
        business hours): the reports' business-hours waits."""
        config = next((t for t in self.routing.routing.config.teams if t.id == team), None)
        if config is None or config.hours is None:
            return end_ms - start_ms
        return config.hours.open_ms_between(start_ms, end_ms)

    def _article_url(self, entry_id: str) -> str:
        """Where the help centre shows a knowledge-base entry (the cards under answers)."""
        return f"{self._prefix}/help/articles/{quote(entry_id, safe='')}"

    async def _disconnect_clients(self, app: web.Application) -> None:
        self.ready = False  # the load balancer stops sending new clients here
        await close_socket_server(self.sio)

    async def _start_demo(self) -> None:
        password = await self.store.get_or_create_secret(
            "demo_agent_password", lambda: secrets.token_urlsafe(9))
        with contextlib.suppress(Conflict):  # created on an earlier start
            await self.agents.create(email=DEMO_AGENT_EMAIL, name="Demo Agent",
                                     password=password, role=AgentRole.ADMIN)
        self.demo_credentials = (DEMO_AGENT_EMAIL, password)
        for shortcut, title, body in DEMO_CANNED:
            with contextlib.suppress(Conflict):  # seeded on an earlier start
                await self.store.create_canned(owner_id=None, shortcut=shortcut, title=title,
                                               body=body, now=now_ms())

    async def widget_loader(self) -> bytes:
        """The widget's loader script with this server's look in it (read once)."""
        if self._loader is None:
            source = await asyncio.to_thread(
                (STATIC / "widget" / "loader.js").read_text, encoding="utf-8")
            self._loader = loader_with_config(
                source, self.settings, triggers=bool(self.visitors.triggers.triggers))
        return self._loader

    async def _demo_page(self, request: web.Request) -> web.Response:
        html = await asyncio.to_thread(DEMO_PAGE.read_text, encoding="utf-8")
        return web.Response(text=html.replace("__CHATKIT_PREFIX__", self.settings.prefix),
                            content_type="text/html")


def _rate_limit(rate: float, burst: int) -> RateLimit | None:
    """A socket's event limit from the settings; a rate of 0 means none."""
    return RateLimit(rate=rate, burst=burst) if rate > 0 else None
