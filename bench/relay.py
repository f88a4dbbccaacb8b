"""Relay benchmark: chatkit (relaying + persisting to SQLite) against two baselines, same run.

    .venv/bin/python bench/relay.py                      # N = 100 and 1000, 8 s windows
    .venv/bin/python bench/relay.py --quick              # CI smoke run, well under 60 s
    .venv/bin/python bench/relay.py --pairs 100 --seconds 5 --servers chatkit,sio

For each N (pairs) and each server (chatkit, bare python-socketio relay, raw aiohttp WebSocket
relay), a fresh server process pinned to core 0 is started and a load process pinned to core 1
opens N visitor + N agent connections and keeps `--inflight` messages in flight per pair: the
visitor sends, the agent answers every message it receives, the visitor answers every answer.
A message is done when the other side receives it; latency is send -> receive on the other side.
After a warm-up, a fixed window is measured: messages/s, p50/p99 latency, server CPU time per
message (server process CPU time over the window / messages delivered in it).

Memory: a fresh server of each kind gets `--idle-warm` idle visitor connections (not counted),
then `--idle` more that offer permessage-deflate like browsers and complete the handshake
(Socket.IO connect + `resume`); the server's RSS growth / count is the memory per idle
connection. A further `--idle` connections without the deflate offer are measured too.

Everything is loopback-only and bounded: every phase has a timeout and every process started here
is stopped here. Results go to stdout and bench/results/relay-<utc>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable

TARGET_RATIO_VS_SIO = 2.0  # chatkit msgs/s >= 2x the bare python-socketio relay
TARGET_IDLE_KB = 20.0  # server memory per idle connected visitor
REFERENCE = {
    "sio": "bare python-socketio + uvloop: ~10.9k msgs/s at 100 pairs (92 us CPU/msg), "
    "6.2k at 1000",
    "ws": "raw aiohttp WS relay: ~79k msgs/s (12.6 us CPU/msg)",
}
AGENT_EMAIL = "bench@example.com"
AGENT_PASSWORD = "bench-password-" + "x" * 8
SERVER_NAMES = {"chatkit": "chatkit", "sio": "bare python-socketio", "ws": "raw aiohttp WS"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: int | None) -> Any:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def http(
    method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw[:300]


def uses_uvloop(pid: int) -> bool | None:
    try:
        return "uvloop" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None


class Server:
    """One server process of a given kind, started fresh, pinned to one core."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind = kind
        self.args = args
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix=f"relay-{kind}-"))
        self.log_path = self.tmp / "server.log"
        self.agent_token = ""
        self.info: dict[str, Any] = {}

    def health_url(self) -> str:
        return f"{self.base}/chat/api/health" if self.kind == "chatkit" else f"{self.base}/health"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CHATKIT_BOT_ENABLED": "false",
                # One API agent answers every pair: far more chats than a person's capacity.
                "CHATKIT_AGENT_CAPACITY": "10000",
                # Each simulated visitor and the agent send far faster than a person: the
                # per-socket event limits would measure themselves, not the relay.
                "CHATKIT_VISITOR_EVENT_RATE": "0",
                "CHATKIT_AGENT_EVENT_RATE": "0",
                "CHATKIT_DEMO": "false",
                "CHATKIT_SECRET_KEY": self.args.secret,
                "CHATKIT_LOG_LEVEL": os.environ.get("CHATKIT_LOG_LEVEL", "warning"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'bench.db'}"

    def start(self) -> None:
        if self.kind == "chatkit":
            self.create_agent()
        self.launch()

    def create_agent(self) -> None:
        """The API agent that answers every pair, in the server's database."""
        create = [
            PY,
            "-m",
            "chatkit",
            "agents",
            "create",
            "--database",
            self.db_url(),
            "--email",
            AGENT_EMAIL,
            "--name",
            "Bench",
            "--password",
            AGENT_PASSWORD,
        ]
        r = subprocess.run(create, cwd=ROOT, env=self.env(), capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(
                f"agents create failed ({r.returncode}): {r.stderr.decode()[-2000:]}"
            )

    def launch(self) -> None:
        """Start the server process and wait until it answers (and log the agent in)."""
        if self.kind == "chatkit":
            cmd = [
                PY,
                "-m",
                "chatkit",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database",
                self.db_url(),
            ]
            if self.args.gc_experiment:
                cmd[1:3] = [str(HERE / "_gc_wrapper.py"), self.args.gc_experiment, "--"]
        else:
            cmd = [PY, str(HERE / "_relay_servers.py"), self.kind, "--port", str(self.port)]
            if self.args.no_uvloop:
                cmd.append("--no-uvloop")
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=pin(self.args.server_cpu),
        )
        log.close()
        deadline = time.monotonic() + self.args.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} server exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _ = http("GET", self.health_url(), timeout=2)
                if status == 200:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.kind} server not healthy in {self.args.start_timeout}s:\n"
                    + self.log_tail()
                )
            time.sleep(0.1)
        self.info = {"pid": self.proc.pid, "uvloop": uses_uvloop(self.proc.pid)}
        if self.kind == "chatkit":
            status, body = http(
                "POST",
                f"{self.base}/chat/api/agents/login",
                {"email": AGENT_EMAIL, "password": AGENT_PASSWORD},
                timeout=10,
            )
            if status != 200 or not isinstance(body, dict) or "token" not in body:
                raise RuntimeError(f"agent login failed: {status} {body}")
            self.agent_token = body["token"]

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def count_rows(self, table: str) -> int | None:
        if self.kind != "chatkit":
            return None
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(self.tmp / "bench.db", timeout=5)) as db:
                return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.Error:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_client(
    args: argparse.Namespace, mode: str, server: Server, extra: list[str], budget: float
) -> dict[str, Any]:
    cmd = [
        PY,
        str(HERE / "_relay_client.py"),
        mode,
        "--kind",
        server.kind,
        "--base",
        server.base,
        "--server-pid",
        str(server.info["pid"]),
        "--deadline",
        str(budget),
    ]
    if args.client_cpu is not None:
        cmd += ["--cpu", str(args.client_cpu)]
    if args.server_cpu is not None:
        cmd += ["--server-cpu", str(args.server_cpu)]
    if server.agent_token:
        cmd += ["--agent-token", server.agent_token]
    cmd += extra
    try:
        r = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, timeout=budget + 30, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return {"error": f"client timed out after {budget + 30:.0f}s"}
    lines = [ln for ln in r.stdout.decode().splitlines() if ln.startswith("{")]
    if not lines:
        return {
            "error": f"client produced no result (rc={r.returncode}): {r.stderr.decode()[-1500:]}"
        }
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def run_load(args: argparse.Namespace, kind: str, pairs: int) -> dict[str, Any]:
    server = Server(kind, args)
    res: dict[str, Any] = {"kind": kind, "pairs": pairs, "error": "not run"}
    try:
        server.start()
        extra = [
            "--pairs",
            str(pairs),
            "--inflight",
            str(args.inflight),
            "--warmup",
            str(args.warmup),
            "--max-warmup",
            str(args.max_warmup),
            "--seconds",
            str(args.seconds),
        ]
        if args.deflate_load:
            extra.append("--deflate")
        prof_path = None
        if args.profile and kind in args.profile_servers.split(","):
            pyspy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
            prof_path = Path(args.profile) / f"profile-{kind}-{pairs}.folded"
            prof_path.parent.mkdir(parents=True, exist_ok=True)
            extra += ["--profile-out", str(prof_path), "--py-spy", pyspy]
            if args.profile_native:
                extra.append("--profile-native")
        budget = args.setup_timeout + args.max_warmup + args.seconds + 30
        res = run_client(args, "load", server, extra, budget)
        res["server"] = server.info
        if kind == "chatkit":
            res["persisted_messages"] = server.count_rows("messages")
        if prof_path is not None and prof_path.exists():
            sys.path.insert(0, str(HERE))
            from _profile_summary import summarise

            res["profile_summary"] = summarise(str(prof_path), 25, None)
            print(f"--- py-spy profile of {kind} at N={pairs} over the window ({prof_path}) ---")
            print(res["profile_summary"], flush=True)
        if "error" in res:
            res["server_log_tail"] = server.log_tail(1500)
        return res
    except Exception as exc:
        res = {"kind": kind, "pairs": pairs, "error": f"{type(exc).__name__}: {exc}"}
        return res
    finally:
        server.stop()
        if "error" in res and args.keep_tmp:
            print(f"  kept {server.tmp} (server log, database)", flush=True)
        else:
            server.cleanup()


def run_idle(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    server = Server(kind, args)
    try:
        server.start()
        extra = [
            "--count",
            str(args.idle),
            "--warm",
            str(args.idle_warm),
            "--settle",
            str(args.settle),
        ]
        budget = args.setup_timeout + 4 * args.settle + 30
        res = run_client(args, "idle", server, extra, budget)
        res["server"] = server.info
        if "error" in res:
            res["server_log_tail"] = server.log_tail(1500)
        return res
    except Exception as exc:
        return {"kind": kind, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        server.stop()
        server.cleanup()


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def fmt(v: Any, spec: str = ",.0f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "nan"
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def ratio(a: Any, b: Any) -> float | None:
    try:
        return float(a) / float(b) if a and b else None
    except (TypeError, ValueError):
        return None


def print_load_table(pairs: int, rows: dict[str, dict[str, Any]], inflight: int) -> list[str]:
    lines = [
        f"== N = {pairs} pairs ({2 * pairs} connections), {inflight} messages in flight per pair =="
    ]
    hdr = (
        f"{'server':<22}{'msgs/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/msg':>12}"
        f"{'srv CPU':>9}{'cli CPU':>9}  notes"
    )
    lines.append(hdr)
    for kind, r in rows.items():
        name = SERVER_NAMES[kind]
        if "error" in r:
            lines.append(f"{name:<22}ERROR: {r['error'][:300]}")
            continue
        notes = []
        if r.get("client_cpu_util", 0) > 0.9:
            notes.append("client-saturated: lower bound")
        f_srv = r.get("foreign_load_server_core", 0)
        f_cli = r.get("foreign_load_client_core", 0)
        if f_srv > 0.05 or (f_cli > 0.05 and f_cli + r.get("client_cpu_util", 0) > 0.9):
            notes.append(
                f"CONTENDED: other processes took {r.get('foreign_load_server_core', 0):.0%} of "
                f"the server core, {r.get('foreign_load_client_core', 0):.0%} of the client core"
            )
        if r.get("acks_err"):
            notes.append(f"{r['acks_err']} error acks e.g. {str(r.get('ack_err_samples'))[:120]}")
        if r.get("dropped_connections"):
            notes.append(f"{r['dropped_connections']} connections dropped")
        if r.get("unexpected_frames"):
            notes.append(f"unexpected: {str(r['unexpected_frames'])[:120]}")
        setup = r.get("setup", {})
        notes.append(f"setup {setup.get('connect_s', '?')}s")
        if r.get("warmup_s") is not None:
            notes.append(
                f"warm-up {r['warmup_s']}s"
                + ("" if r.get("warmup_turnover_reached") else " (turnover NOT reached)")
            )
        tl = r.get("timeline_msgs_per_s") or []
        if len(tl) >= 2:
            notes.append(f"msgs/s 1st->last s: {tl[0]:,}->{tl[-1]:,}")
        srv = r.get("server", {})
        notes.append("uvloop" if srv.get("uvloop") else "asyncio loop")
        if kind == "chatkit" and r.get("persisted_messages") is not None:
            notes.append(f"{r['persisted_messages']} rows in messages")
        lines.append(
            f"{name:<22}{fmt(r.get('msgs_per_s')):>10}{fmt(r.get('p50_ms'), '.1f'):>9}"
            f"{fmt(r.get('p99_ms'), '.1f'):>9}{fmt(r.get('server_cpu_us_per_msg'), '.1f'):>12}"
            f"{fmt(r.get('server_cpu_util'), '.0%'):>9}{fmt(r.get('client_cpu_util'), '.0%'):>9}"
            f"  {'; '.join(notes)}"
        )
    ck = rows.get("chatkit", {})
    for base in ("sio", "ws"):
        b = rows.get(base)
        if not b or "error" in b or "error" in ck or not ck:
            continue
        thr = ratio(ck.get("msgs_per_s"), b.get("msgs_per_s"))
        cpu = ratio(ck.get("server_cpu_us_per_msg"), b.get("server_cpu_us_per_msg"))
        p50 = ratio(ck.get("p50_ms"), b.get("p50_ms"))
        p99 = ratio(ck.get("p99_ms"), b.get("p99_ms"))
        lines.append(
            f"chatkit / {SERVER_NAMES[base]:<21} msgs/s x{fmt(thr, '.2f')}"
            f"   CPU/msg x{fmt(cpu, '.2f')}"
            f"   p50 x{fmt(p50, '.2f')}   p99 x{fmt(p99, '.2f')}"
        )
    return lines


def print_idle_table(rows: dict[str, dict[str, Any]], count: int) -> list[str]:
    lines = [
        f"== server memory per idle visitor connection ({count} connections, "
        "after connect + resume) =="
    ]
    lines.append(
        f"{'server':<22}{'KB/conn deflate offered':>25}{'KB/conn no deflate':>20}"
        f"{'deflate negotiated':>20}"
    )
    for kind, r in rows.items():
        name = SERVER_NAMES[kind]
        if "error" in r:
            lines.append(f"{name:<22}ERROR: {r['error'][:300]}")
            continue
        lines.append(
            f"{name:<22}{fmt(r.get('kb_per_conn_deflate'), '.1f'):>25}"
            f"{fmt(r.get('kb_per_conn_plain'), '.1f'):>20}"
            f"{('yes' if r.get('deflate_negotiated') else 'no'):>20}"
        )
        if r.get("alive_at_end") != r.get("expected_alive"):
            lines.append(
                f"  !! only {r.get('alive_at_end')} of {r.get('expected_alive')} "
                "connections alive at the end"
            )
    return lines


def targets(
    load: dict[int, dict[str, dict[str, Any]]], idle: dict[str, dict[str, Any]]
) -> list[str]:
    lines = ["== targets =="]
    for pairs, rows in load.items():
        ck, sio = rows.get("chatkit"), rows.get("sio")
        if not ck or not sio:
            continue
        r = (
            ratio(ck.get("msgs_per_s"), sio.get("msgs_per_s"))
            if "error" not in ck and "error" not in sio
            else None
        )
        met = "n/a" if r is None else ("yes" if r >= TARGET_RATIO_VS_SIO else "NO")
        lines.append(
            f"chatkit relaying+persisting >= {TARGET_RATIO_VS_SIO:g}x bare python-socketio "
            f"at N={pairs}: "
            f"{met} (x{fmt(r, '.2f')})"
        )
    ck_idle = idle.get("chatkit")
    if ck_idle is not None:
        kb = ck_idle.get("kb_per_conn_deflate")
        met = "n/a" if kb is None else ("yes" if kb <= TARGET_IDLE_KB else "NO")
        lines.append(
            f"chatkit server memory per idle visitor <= {TARGET_IDLE_KB:g} KB (deflate offered): "
            f"{met} ({fmt(kb, '.1f')} KB)"
        )
    lines.append("reference (other machine): " + "; ".join(REFERENCE.values()))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--pairs", default=None, help="comma-separated N values (default 100,1000; --quick 20)"
    )
    p.add_argument("--inflight", type=int, default=10, help="messages in flight per pair")
    p.add_argument(
        "--seconds", type=float, default=None, help="measured window per run (default 8, --quick 2)"
    )
    p.add_argument(
        "--warmup", type=float, default=None, help="minimum warm-up before the window (default 3)"
    )
    p.add_argument(
        "--max-warmup",
        type=float,
        default=None,
        help="warm-up also waits until each in-flight slot turned over twice, at most this",
    )
    p.add_argument("--servers", default="chatkit,sio,ws", help="subset of chatkit,sio,ws")
    p.add_argument(
        "--idle",
        type=int,
        default=None,
        help="idle connections for the memory test (default 1000, 0: skip)",
    )
    p.add_argument(
        "--idle-warm", type=int, default=None, help="idle connections opened first, not counted"
    )
    p.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to let the server settle before RSS reads",
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: N=20, 2 s windows, 200 idle (< 60 s)"
    )
    p.add_argument(
        "--deflate-load", action="store_true", help="offer permessage-deflate in the load test too"
    )
    p.add_argument("--no-uvloop", action="store_true", help="baselines on the default asyncio loop")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--start-timeout", type=float, default=30.0)
    p.add_argument(
        "--setup-timeout", type=float, default=None, help="bound on connecting the N pairs"
    )
    p.add_argument(
        "--keep-tmp", action="store_true", help="keep the chatkit temp dir of failed runs"
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        default=None,
        help="py-spy record the server over each window into DIR (pip install py-spy)",
    )
    p.add_argument("--profile-servers", default="chatkit", help="which servers --profile covers")
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native: shows C frames (gc, sqlite) but pauses the server "
        "for each sample, so the figures of that run are lower",
    )
    p.add_argument(
        "--gc-experiment",
        choices=["freeze", "threshold", "both"],
        default=None,
        help="what-if: run chatkit via bench/_gc_wrapper.py with the cyclic GC tuned",
    )
    p.add_argument("--json-out", default=None, help="default bench/results/relay-<utc>.json")
    args = p.parse_args(argv)
    # defaults, smaller with --quick; flags given explicitly always win
    defaults = {
        "pairs": "100,1000",
        "seconds": 8.0,
        "warmup": 3.0,
        "max_warmup": 30.0,
        "idle": 1000,
        "idle_warm": 100,
        "settle": 2.0,
        "setup_timeout": 180.0,
    }
    if args.quick:
        defaults.update(
            {
                "pairs": "20",
                "seconds": 2.0,
                "warmup": 1.0,
                "max_warmup": 5.0,
                "idle": 200,
                "idle_warm": 20,
                "settle": 1.0,
                "setup_timeout": 30.0,
            }
        )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.secret = secrets.token_urlsafe(32)
    ncpu = os.cpu_count() or 1
    if ncpu < 2:
        args.server_cpu = args.client_cpu = None
    pairs_list = [int(x) for x in str(args.pairs).split(",") if x.strip()]
    kinds = [k for k in ("chatkit", "sio", "ws") if k in args.servers.split(",")]
    # the orchestrator shares the client's core so the server's core stays quiet
    if args.client_cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.client_cpu})
    started = dt.datetime.now(dt.UTC)
    header = (
        f"relay bench {started:%Y-%m-%d %H:%M:%S} UTC  python {platform.python_version()}  "
        f"{ncpu} cpus  server core {args.server_cpu}, client core {args.client_cpu}  "
        f"inflight {args.inflight}  warmup {args.warmup}s  window {args.seconds}s  "
        f"load deflate {'on' if args.deflate_load else 'off'}"
    )
    if args.gc_experiment:
        header += (
            "\n!! what-if run: chatkit started with the GC tuned from outside "
            f"({args.gc_experiment})"
        )
    print(header, flush=True)
    load: dict[int, dict[str, dict[str, Any]]] = {}
    all_lines = [header]
    for pairs in pairs_list:
        load[pairs] = {}
        for kind in kinds:
            print(f"  running {kind} N={pairs} ...", flush=True)
            load[pairs][kind] = run_load(args, kind, pairs)
        lines = print_load_table(pairs, load[pairs], args.inflight)
        print("\n".join(lines), flush=True)
        all_lines += lines
    idle: dict[str, dict[str, Any]] = {}
    if args.idle > 0:
        for kind in kinds:
            print(f"  running idle memory {kind} ...", flush=True)
            idle[kind] = run_idle(args, kind)
        lines = print_idle_table(idle, args.idle)
        print("\n".join(lines), flush=True)
        all_lines += lines
    lines = targets(load, idle)
    print("\n".join(lines), flush=True)
    all_lines += lines
    out_path = (
        Path(args.json_out)
        if args.json_out
        else HERE / "results" / f"relay-{started:%Y%m%dT%H%M%SZ}.json"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cfg = {k: v for k, v in vars(args).items() if k != "secret"}
    out_path.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "config": cfg,
                "load": load,
                "idle": idle,
                "summary": all_lines,
            },
            indent=2,
            default=str,
        )
    )
    print(f"results: {out_path}")
    failed = any("error" in r for rows in load.values() for r in rows.values()) or any(
        "error" in r for r in idle.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
