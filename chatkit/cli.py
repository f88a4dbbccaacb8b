"""The `chatkit` command: serve, migrate, agents create|list, kb eval."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from chatkit.errors import ChatKitError
from chatkit.models import AgentRole


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from chatkit.settings import Settings

    given = {name: getattr(args, name) for name in
             ("database_url", "redis_url", "host", "port", "prefix", "kb_path", "bot_path",
              "routing_path", "triggers_path", "log_level")
             if getattr(args, name, None) is not None}
    return Settings(**given, **extra)


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", dest="database_url", metavar="URL",
                        help="sqlite:///FILE (default sqlite:///chatkit.db) or postgresql://...")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the chat server")
    _store_options(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--redis", dest="redis_url", metavar="URL", help="redis://... to scale out")
    serve.add_argument("--kb", dest="kb_path", type=Path,
                       help="knowledge base: a YAML, Markdown or CSV file, or a folder")
    serve.add_argument("--bot", dest="bot_path", type=Path,
                       help="bot flow YAML: greeting menu, handoff rules, texts")
    serve.add_argument("--routing", dest="routing_path", type=Path,
                       help="routing YAML: teams, skills, strategies, agents' capacity")
    serve.add_argument("--triggers", dest="triggers_path", type=Path,
                       help="proactive triggers YAML: open the widget with a message")
    serve.add_argument("--prefix", help="URL prefix (default /chat)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--no-demo", action="store_true",
                       help="no demo page or demo agent (also CHATKIT_DEMO=false)")

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    _store_options(migrate)

    agents = commands.add_parser("agents", help="manage agent accounts")
    agent_commands = agents.add_subparsers(dest="agents_command", required=True)
    create = agent_commands.add_parser("create", help="create an agent")
    _store_options(create)
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=[r.value for r in AgentRole], default="agent")
    create.add_argument("--password", help="default: CHATKIT_AGENT_PASSWORD, else asked for")
    listing = agent_commands.add_parser("list", help="list agents")
    _store_options(listing)

    reports = commands.add_parser("reports", help="reporting tools")
    report_commands = reports.add_subparsers(dest="reports_command", required=True)
    rebuild = report_commands.add_parser(
        "rebuild", help="recompute the reports' conversation facts from the event log",
        description="After an upgrade from before the facts existed, or a change of teams' "
        "business hours (the past is then counted in the new hours).")
    _store_options(rebuild)

    kb = commands.add_parser("kb", help="knowledge-base tools")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True)
    evaluate = kb_commands.add_parser(
        "eval", help="test a knowledge base against real customer questions",
        description="Top-1/top-3 accuracy on the answerable questions, the share of the "
        "unanswerable ones declined, the share answered wrongly, and latency.")
    evaluate.add_argument("kb_source", metavar="KB", type=Path,
                          help="knowledge base: a .yaml/.md/.csv file or a folder")
    evaluate.add_argument("queries", metavar="QUERIES.csv", type=Path,
                          help="columns text,expected (an entry id, or empty when the "
                          "question should not be answered)")
    evaluate.add_argument("--locale", help="the questions' locale (default: the KB's default)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "kb":
            return _kb_eval(args)
        return asyncio.run(_admin(args))
    except ValidationError as exc:
        print(f"chatkit: invalid configuration: {exc}", file=sys.stderr)
    except (ChatKitError, ValueError) as exc:
        print(f"chatkit: {exc}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from chatkit.app import ChatKit
    from chatkit.log import configure

    extra: dict[str, Any] = {}
    if args.no_demo:
        extra["demo"] = False
    elif "CHATKIT_DEMO" not in os.environ:
        extra["demo"] = True  # the out-of-the-box experience
    settings = _settings(args, **extra)
    configure(settings.log_level)
    kit = ChatKit(settings)
    app = kit.create_app()

    async def announce(_: web.Application) -> None:
        base = f"http://{settings.host}:{settings.port}"
        print(f"chatkit on {base}{settings.prefix}/  (widget: {base}{settings.prefix}/widget.js)",
              flush=True)
        if kit.demo_credentials is not None:
            email, password = kit.demo_credentials
            print(f"demo host page: {base}/\nagent console: {base}{settings.prefix}/console/"
                  f"\ndemo agent: {email} / {password}", flush=True)
        print("(press Ctrl+C to stop)", flush=True)

    app.on_startup.append(announce)
    app.on_startup.append(_tune_gc)
    loop = _event_loop()
    # Every connection is closed on shutdown and every received message committed in
    # cleanup, so waiting long for clients to hang up gains nothing.
    web.run_app(app, host=settings.host, port=settings.port, print=None, loop=loop,
                shutdown_timeout=2)
    return 0


async def _tune_gc(_: web.Application) -> None:
    """A chat server allocates many short-lived objects per message and few cycles; the
    default thresholds run the cyclic collector every 700 allocations, which profiling showed
    to be a third of the server's time (bench/README.md). Objects alive after start-up are
    moved out of the collector's sight for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _kb_eval(args: argparse.Namespace) -> int:
    from chatkit.kb import load_kb
    from chatkit.kb.evaluate import ProgressLine, evaluate, read_queries

    kb = load_kb(args.kb_source)
    queries = read_queries(args.queries, kb, locale=args.locale)
    with ProgressLine(len(queries), sys.stderr) as progress:
        result = evaluate(kb, queries, locale=args.locale, progress=progress)
    if args.json:
        print(json.dumps(result.summary()))
    else:
        entries = len(kb.entries_in(args.locale))
        print(f"knowledge base {args.kb_source}: {entries} entries "
              f"({kb.resolve_locale(args.locale)})\n{result.report(str(args.queries))}")
    return 0


def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _admin(args: argparse.Namespace) -> int:
    from chatkit.agents import AgentService
    from chatkit.storage import SqlStore

    settings = _settings(args)
    store = SqlStore(settings.database_url)
    await store.open()
    try:
        if args.command == "migrate":
            print(f"schema up to date in {settings.database_url}")
            return 0
        if args.command == "reports":
            count = await store.rebuild_facts(await _stored_open_hours(store))
            print(f"rebuilt the facts of {count} conversations")
            return 0
        agents = AgentService(store, token_ttl=settings.agent_token_ttl)
        if args.agents_command == "list":
            for agent in await store.list_agents():
                print(f"{agent.email}\t{agent.name}\t{agent.role}")
            return 0
        password = args.password or os.environ.get("CHATKIT_AGENT_PASSWORD")
        if password is None:
            password = await asyncio.to_thread(getpass.getpass, "password: ")
        agent = await agents.create(email=args.email, name=args.name, password=password,
                                    role=AgentRole(args.role))
        print(f"created {agent.role} {agent.email}")
        return 0
    finally:
        await store.close()


async def _stored_open_hours(store: Any) -> Any:
    """The business hours of the routing configuration in the store, as the facts use them."""
    from chatkit.routing.config import RoutingConfig

    stored = await store.routing_config()
    config = RoutingConfig() if stored is None else RoutingConfig.model_validate(stored.document)
    hours = {team.id: team.hours for team in config.teams}

    def open_ms(team: str | None, start_ms: int, end_ms: int) -> int:
        found = hours.get(team) if team is not None else None
        return end_ms - start_ms if found is None else found.open_ms_between(start_ms, end_ms)

    return open_ms
