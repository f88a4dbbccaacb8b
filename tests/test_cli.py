"""The `chatkit` command, run as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.clients import AgentClient, Visitor
from tests.realtime.test_delivery import stored_bodies
from tests.served import Address, Served, all_messages, free_port, stream


async def run(*args: str, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatkit", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_agents_create_and_list(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    code, out, err = await run("migrate", "--database", db)
    assert code == 0, err
    code, out, err = await run("agents", "create", "--database", db, "--email",
                               "Ada@Example.com", "--name", "Ada Lovelace", "--role",
                               "supervisor", "--password", "analytical engine")
    assert code == 0, err
    assert out.strip() == "created supervisor ada@example.com"
    code, out, err = await run("agents", "create", "--database", db, "--email",
                               "bo@example.com", "--name", "Bo",
                               env={"CHATKIT_AGENT_PASSWORD": "from the environment"})
    assert code == 0, err
    code, out, _ = await run("agents", "list", "--database", db)
    assert out.splitlines() == ["ada@example.com\tAda Lovelace\tsupervisor",
                                "bo@example.com\tBo\tagent"]


@pytest.mark.parametrize(("args", "message"), [
    (["agents", "create", "--email", "x@example.com", "--name", "X", "--password", "short"],
     "at least 8 characters"),
    (["migrate", "--database", "mysql://nope"], "database_url"),
])
async def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str],
                                          message: str) -> None:
    code, _, err = await run(*args, cwd=tmp_path)
    assert code == 2 and message in err and "Traceback" not in err


async def test_duplicate_agent_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    args = ["agents", "create", "--database", db, "--email", "a@example.com", "--name", "A",
            "--password", "long enough"]
    assert (await run(*args))[0] == 0
    code, _, err = await run(*args)
    assert code == 2 and "exists" in err


async def test_serve_refuses_a_broken_bot_flow(tmp_path: Path) -> None:
    flow = tmp_path / "bot.yaml"
    flow.write_text("menu:\n  - {id: billing, label: Billing, action: transfer}\n")
    code, _, err = await run("serve", "--port", str(free_port()), "--no-demo", "--bot",
                             str(flow), "--database", f"sqlite:///{tmp_path}/cli.db",
                             cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    assert f"{flow}: menu[0].action: Input should be 'handoff' or 'faq'" in err


async def test_serve_runs_the_demo_out_of_the_box(tmp_path: Path) -> None:
    async with Served(tmp_path) as served:
        assert "demo agent: demo@chatkit.local / " in served.output
        password = served.output.split("demo agent: demo@chatkit.local / ")[1].split()[0]
        base = f"http://127.0.0.1:{served.port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{base}/chat/widget.js") as response:
                assert response.status == 200
            async with http.get(f"{base}/") as response:
                assert response.status == 200 and "/chat/widget.js" in await response.text()
            # The printed credentials sign in to the console's form.
            async with http.get(f"{base}/chat/console/") as response:
                form = await response.text()
            csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
            async with http.post(f"{base}/chat/console/login", data={
                    "email": "demo@chatkit.local", "password": password,
                    "csrf_token": csrf, "next": "/chat/console/"}) as response:
                assert response.url.path == "/chat/console/"
                assert 'content="Demo Agent"' in await response.text()
        # The demo bot answers from the demo knowledge base.
        visitor = Visitor(Address(served))  # type: ignore[arg-type]
        await visitor.start()
        await visitor.say("how long does shipping take", "c-1")
        greeting, answer = await visitor.next("message"), await visitor.next("message")
        assert greeting["meta"]["kind"] == "menu"  # the built-in flow's greeting and menu
        assert answer["sender"] == "bot" and "business days" in answer["body"]
        # The printed credentials work.
        agent = AgentClient(Address(served))  # type: ignore[arg-type]
        await agent.login("demo@chatkit.local", password)
        listed = await agent.ok("conversations", {"status": ["bot"]})
        assert len(listed["conversations"]) == 1
        await agent.close()
        await visitor.close()
        assert await served.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signals_shut_down_cleanly_keeping_acked_messages(tmp_path: Path,
                                                                sig: int) -> None:
    async with Served(tmp_path, "--no-demo") as served:
        visitor = Visitor(Address(served))  # type: ignore[arg-type]
        await visitor.start()
        acked = [await visitor.say(f"message {n}", f"c-{n}") for n in range(20)]
        # More in flight when the signal lands: those acked must be stored too.
        # (Those that never get an ack give up after 2 s.)
        pending = [asyncio.create_task(visitor.sio.call(
            "message", {"client_id": f"late-{n}", "body": f"late {n}"}, namespace="/visitor",
            timeout=2)) for n in range(20)]
        await asyncio.sleep(0)
        code = await served.stop(sig)
        results = await asyncio.gather(*pending, return_exceptions=True)
        await visitor.close()
    assert code == 0, served.output
    assert "Traceback" not in served.output
    late_acks = [r["data"] for r in results if isinstance(r, dict) and r.get("ok")]
    stored = await stored_bodies(served.db, acked[0]["conversation_id"])
    for message in acked + late_acks:
        assert (message["seq"], message["body"]) in stored


async def test_kill_9_mid_stream_loses_no_acked_message_and_resends_store_once(
        tmp_path: Path) -> None:
    """The server is killed with SIGKILL while messages stream in, 20 in flight. After a
    restart, every acknowledged message is there exactly as acknowledged; the client resends
    all it has no ack for (some of which were committed before the kill), and each is stored
    once."""
    # The stream sends as fast as it can, far beyond a person's rate limit.
    unlimited = {"CHATKIT_VISITOR_EVENT_RATE": "0"}
    async with Served(tmp_path, "--no-demo", env=unlimited) as first:
        visitor = Visitor(Address(first))  # type: ignore[arg-type]
        token = (await visitor.start())["token"]
        stop, fifty_acked = asyncio.Event(), asyncio.Event()
        streaming = asyncio.create_task(stream(visitor, stop, fifty_acked))
        await asyncio.wait_for(fifty_acked.wait(), 30)
        await first.kill()
        stop.set()
        sent, acked = await streaming
        await visitor.close()
    assert 50 <= len(acked) < len(sent), "the kill should land mid-stream"

    async with Served(tmp_path, "--no-demo", env=unlimited) as second:
        visitor = Visitor(Address(second))  # type: ignore[arg-type]
        await visitor.start(token)
        by_client = {m["client_id"]: m for m in await all_messages(visitor)}
        for client_id, message in acked.items():
            assert by_client[client_id] == message
        # The widget's outbox: everything without an ack is sent again, with its client id.
        for client_id in sent:
            if client_id not in acked:
                await visitor.say(f"message {client_id[2:]}", client_id)
        # A resend of an acknowledged message is answered with the original.
        for client_id in list(acked)[:10]:
            assert await visitor.say(acked[client_id]["body"], client_id) == acked[client_id]
        final = await all_messages(visitor)
        await visitor.close()
    # The demo bot answered some of them too; the visitor's messages are there once each.
    mine = [m["client_id"] for m in final if m["sender"] == "visitor"]
    assert sorted(mine) == sorted(sent)
    assert [m["seq"] for m in final] == list(range(1, len(final) + 1))


async def test_reports_rebuild_recomputes_the_facts_from_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from sqlalchemy import delete

    from chatkit.storage import SqlStore
    from chatkit.storage import schema as t
    from tests.reports.dataset import generate

    db = f"sqlite:///{tmp_path}/cli.db"
    store = SqlStore(db)
    await store.open()
    try:
        await generate(store, monkeypatch, count=15)
        projected = await store.all_facts()
        async with store._write() as conn:  # as after an upgrade from before the facts
            await conn.execute(delete(t.conversation_facts))
        code, out, err = await run("reports", "rebuild", "--database", db)
        assert code == 0, err
        assert out.strip() == "rebuilt the facts of 15 conversations"
        rebuilt = await store.all_facts()
    finally:
        await store.close()
    # The stored routing gives no team business hours: open time is wall-clock time.
    assert rebuilt == [replace(f, wait_open_ms=f.wait_ms,
                               first_response_open_ms=f.first_response_ms) for f in projected]
