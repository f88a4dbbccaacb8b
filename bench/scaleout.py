"""Scale-out benchmark: the relay benchmark over PostgreSQL and Redis with 1, 2 and 3 chatkit
processes, against one chatkit process on SQLite measured in the same run.

    .venv/bin/python bench/scaleout.py                    # 100 pairs, 1-3 processes, 6 s windows
    .venv/bin/python bench/scaleout.py --quick            # CI smoke run
    .venv/bin/python bench/scaleout.py --agents one       # relay.py's one agent for all pairs
    .venv/bin/python bench/scaleout.py --profile DIR      # py-spy each run's first process
    .venv/bin/python bench/scaleout.py --postgres postgresql://postgres@127.0.0.1/test \\
                                       --redis redis://127.0.0.1:6379/0

The load is bench/relay.py's (bench/_relay_client.py): N visitor + N agent sockets, every
message answered by the other side; here each pair's agent is an agent of its own (as in
production, where an agent has a tab or two), unless `--agents one` (relay.py's load: one agent
answers every pair, so every visitor message's `activity` event goes to that agent's 100
sockets, which are on every process). With several processes, pair i's visitor is connected to
process i and its agent to process i + 1, so every message crosses from one process to another
through Redis. Runs, each on fresh processes and a fresh database:

- `sqlite x1`: the baseline, one process on SQLite, no Redis (as in bench/relay.py);
- `postgres x1`: one process on PostgreSQL, no Redis (the cost of the database alone);
- `postgres+redis xK`, K = 1, 2, 3: K processes sharing PostgreSQL and Redis.

The machine is small and shared, so the figure that matters is CPU time per message, summed
over the chatkit processes: a process with a core of its own relays 1e6 / that many messages
per second. "Per-process throughput vs SQLite" is the SQLite run's CPU per message over the
run's (target: at least 0.70). PostgreSQL's and Redis's own CPU per message is shown apart (in
production they have machines of their own). The Redis hop is postgres+redis x1 against
postgres x1. The projection to 10 and 100 processes fits CPU per message = a + b * K over the
measured K from 2 on (from 2 processes on every message crosses once; the step from 1 to 2 is
that crossing, not a cost of each process). With python-socketio's Redis manager every
process read every event of the deployment, so each process added cost every message b;
chatkit's Redis delivery sends an event only to the processes holding its rooms
(chatkit/realtime/redis_delivery.py), so b is what is left: events whose recipients are on
every process (`--agents one`), and noise.

Loopback only; every process started here is stopped here; results to stdout and
bench/results/scaleout-<utc>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from relay import PY, ROOT, Server  # noqa: E402

TARGET_PER_PROCESS = 0.70  # of the SQLite single process's per-process throughput
SERVICES = "postgres,redis-server"


class Deployment:
    """K chatkit processes on one database (and one Redis channel, when given)."""

    def __init__(self, args: argparse.Namespace, name: str, count: int, database: str | None,
                 redis: str | None) -> None:
        self.args, self.name, self.count = args, name, count
        self.database, self.redis = database, redis
        self.channel = f"bench-{uuid.uuid4().hex[:8]}"
        self.servers: list[Server] = []
        self.pg_name: str | None = None
        self.tokens: list[str] = []  # with --agents pair, pair i's agent's

    def start(self) -> None:
        url = None
        if self.database is not None:
            self.pg_name = f"chatkit_bench_{uuid.uuid4().hex[:10]}"
            _psql(self.database, f'CREATE DATABASE "{self.pg_name}"')
            url = self.database.rsplit("/", 1)[0] + "/" + self.pg_name
        for n in range(self.count):
            server = _Server(self.args, url, self.redis, self.channel)
            self.servers.append(server)
            if n == 0:
                server.create_agent()  # one database: the agent exists for every process
                if self.args.agents == "pair":
                    self.tokens = _agents(server.db_url(), self.args.pairs, self.args.secret)
            server.launch()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.cleanup()
        if self.pg_name is not None and self.database is not None:
            _psql(self.database, f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


class _Server(Server):
    def __init__(self, args: argparse.Namespace, database: str | None, redis: str | None,
                 channel: str) -> None:
        super().__init__("chatkit", args)
        self.database, self.redis, self.channel = database, redis, channel

    def db_url(self) -> str:
        return self.database or super().db_url()

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.redis:
            env.update({"CHATKIT_REDIS_URL": self.redis, "CHATKIT_REDIS_CHANNEL": self.channel})
        return env


def _agents(database: str, count: int, secret: str) -> list[str]:
    """`count` agents in the deployment's database, and a token for each (signed with the
    deployment's secret key, as a login would give)."""
    import asyncio

    from chatkit import AgentRole
    from chatkit.agents.service import AGENT_TOKEN
    from chatkit.storage import SqlStore
    from chatkit.tokens import TokenSigner

    async def run() -> list[str]:
        store = SqlStore(database)
        await store.open()
        try:
            signer = TokenSigner(secret)
            tokens = []
            for n in range(count):
                agent = await store.create_agent(
                    email=f"pair{n}@bench.example", name=f"Pair {n}", role=AgentRole.AGENT,
                    password_hash="!")  # never logs in: the token is minted here
                tokens.append(signer.sign(AGENT_TOKEN, agent.id, ttl=3600))
            return tokens
        finally:
            await store.close()

    return asyncio.run(run())


def _psql(url: str, statement: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


# A process that only keeps a core busy, as a Python interpreter does (a dict walked over and
# over): no chatkit work, bounded by its argument (seconds).
_BUSY = """
import sys, time
table = {n: str(n) for n in range(200_000)}
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    total = sum(len(value) for value in table.values())
"""


def run_deployment(args: argparse.Namespace, name: str, count: int, database: str | None,
                   redis: str | None, busy: bool = False) -> dict[str, Any]:
    deployment = Deployment(args, name, count, database, redis)
    result: dict[str, Any] = {"name": name, "processes": count}
    burner = None
    try:
        deployment.start()
        if busy:
            burner = subprocess.Popen([PY, "-c", _BUSY, str(args.setup_timeout + 120)],
                                      stdin=subprocess.DEVNULL)
        servers = deployment.servers
        budget = args.setup_timeout + args.max_warmup + args.seconds + 30
        cmd = [PY, str(HERE / "_relay_client.py"), "load", "--kind", "chatkit",
               "--base", ",".join(s.base for s in servers),
               "--server-pid", ",".join(str(s.info["pid"]) for s in servers),
               "--service-names", SERVICES,
               "--agent-token", ",".join(deployment.tokens) or servers[0].agent_token,
               "--deadline", str(budget), "--pairs", str(args.pairs),
               "--inflight", str(args.inflight), "--warmup", str(args.warmup),
               "--max-warmup", str(args.max_warmup), "--seconds", str(args.seconds)]
        if args.client_cpu is not None:
            cmd += ["--cpu", str(args.client_cpu)]
        profile = None
        if args.profile:
            pyspy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
            profile = Path(args.profile) / f"scaleout-{name.replace(' ', '-')}.folded"
            profile.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--profile-out", str(profile), "--py-spy", pyspy]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=budget + 30,
                              stdin=subprocess.DEVNULL)
        lines = [line for line in done.stdout.decode().splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"client produced no result: {done.stderr.decode()[-1500:]}")
        result.update(json.loads(lines[-1]))
        if profile is not None and profile.exists():
            from _profile_summary import summarise

            print(f"--- py-spy of {name}'s first process over the window ({profile}) ---\n"
                  f"{summarise(str(profile), 25, None)}", flush=True)
        if "error" in result:
            result["server_log_tail"] = servers[0].log_tail(1500)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
        deployment.stop()
    return result


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares a + b * k over (k, y) points."""
    n = len(points)
    mean_k = sum(k for k, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((k - mean_k) ** 2 for k, _ in points)
    b = 0.0 if var == 0 else sum((k - mean_k) * (y - mean_y) for k, y in points) / var
    return mean_y - b * mean_k, b


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r and r.get("server_cpu_us_per_msg")]
    for run in runs:
        if "error" in run:
            print(f"{run['name']}: FAILED {run['error']}\n{run.get('server_log_tail', '')}")
    base = next((r for r in ok if r["name"] == "sqlite x1"), None)
    print(f"\n{args.pairs} pairs, {args.inflight} in flight each, {args.seconds:.0f} s windows, "
          f"{'an agent per pair' if args.agents == 'pair' else 'one agent for every pair'}")
    print(f"{'run':<26}{'msgs/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'chatkit CPU':>13}"
          f"{'PG+Redis CPU':>14}{'per process vs SQLite':>23}")
    print(f"{'':<26}{'':>9}{'':>9}{'':>9}{'us/msg':>13}{'us/msg':>14}")
    summary: dict[str, Any] = {}
    for run in ok:
        us = run["server_cpu_us_per_msg"]
        vs = None if base is None else base["server_cpu_us_per_msg"] / us
        summary[run["name"]] = {"us_per_msg": us, "vs_sqlite": vs}
        print(f"{run['name']:<26}{run['msgs_per_s']:>9,.0f}{run['p50_ms']:>9.2f}"
              f"{run['p99_ms']:>9.2f}{us:>13.1f}{run['services_cpu_us_per_msg']:>14.1f}"
              f"{'' if vs is None else f'{vs:.2f}x':>23}")
    if any(run.get("server_user_us_per_msg") is not None for run in ok):
        # Kernel time (sockets, scheduling) and preemptions grow with contention for the
        # cores, not with chatkit's work: read the multi-process rows with them.
        print(f"\n{'run':<26}{'user us/msg':>13}{'system us/msg':>15}"
              f"{'voluntary sw/msg':>18}{'preempted/msg':>15}")
        for run in ok:
            if run.get("server_user_us_per_msg") is None:
                continue
            print(f"{run['name']:<26}{run['server_user_us_per_msg']:>13.1f}"
                  f"{run['server_system_us_per_msg']:>15.1f}"
                  f"{run['server_voluntary_switches_per_msg']:>18.3f}"
                  f"{run['server_involuntary_switches_per_msg']:>15.3f}")
    pg1 = summary.get("postgres x1")
    hop = summary.get("postgres+redis x1")
    if pg1 and hop:
        print(f"\nRedis hop: {hop['us_per_msg'] - pg1['us_per_msg']:+.1f} us of chatkit CPU "
              "per message (postgres+redis x1 against postgres x1)")
    scaled = [(r["processes"], r["server_cpu_us_per_msg"]) for r in ok
              if r["name"].startswith("postgres+redis") and not r["name"].endswith("busy")]
    # From 2 processes on, every message crosses from one process to another once: the jump
    # from 1 to 2 is that crossing, not a cost of each process, so it is left out of the fit
    # when there are two points without it.
    crossing = [(k, us) for k, us in scaled if k >= 2]
    if len(crossing) >= 2:
        scaled = crossing
    if len(scaled) >= 2 and base is not None:
        a, b = fit(scaled)
        print(f"fit over {len(scaled)} deployments ({', '.join(f'x{k}' for k, _ in scaled)}): "
              f"chatkit CPU per message = {a:.1f} + {b:.1f} * processes (us)")
        if b < 0:  # fewer microseconds with more processes is noise: project it flat
            a, b = sum(us for _, us in scaled) / len(scaled), 0.0
            print(f"  (a slope below zero is noise: projected flat at their mean, {a:.1f} us)")
        for k in (10, 100):
            us = a + b * k
            print(f"  {k:>3} processes: {us:,.0f} us/msg, {1e6 / us:,.0f} msgs/s per process "
                  f"({base['server_cpu_us_per_msg'] / us:.2f}x SQLite's), "
                  f"{k * 1e6 / us:,.0f} msgs/s in all, each process with a core")
        summary["fit"] = {"a_us": a, "b_us_per_process": b}
    busy = summary.get("postgres+redis x2 + busy")
    x2 = summary.get("postgres+redis x2")
    if busy and x2:
        print(f"a busy process beside x2 (no chatkit work): "
              f"{busy['us_per_msg'] - x2['us_per_msg']:+.1f} us of chatkit CPU per message; "
              "compare the step from x2 to x3")
    worst = min((v["vs_sqlite"] for k, v in summary.items()
                 if k.startswith("postgres+redis") and not k.endswith("busy")
                 and v.get("vs_sqlite")), default=None)
    if worst is not None:
        verdict = "met" if worst >= TARGET_PER_PROCESS else "NOT met"
        print(f"\ntarget: per-process throughput over PostgreSQL + Redis >= "
              f"{TARGET_PER_PROCESS:.0%} of SQLite's: worst {worst:.2f}x, {verdict}")
        summary["target_met"] = worst >= TARGET_PER_PROCESS
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--postgres", default=os.environ.get("CHATKIT_TEST_POSTGRES"),
                   help="a PostgreSQL server URL (a fresh database is made per run); "
                        "default CHATKIT_TEST_POSTGRES")
    p.add_argument("--redis", default=os.environ.get("CHATKIT_TEST_REDIS"),
                   help="a Redis URL; default CHATKIT_TEST_REDIS")
    p.add_argument("--processes", default="1,2,3", help="deployment sizes over PG + Redis")
    p.add_argument("--pairs", type=int, default=None, help="default 100, --quick 10")
    p.add_argument("--inflight", type=int, default=10)
    p.add_argument("--seconds", type=float, default=None, help="default 6, --quick 1.5")
    p.add_argument("--warmup", type=float, default=None)
    p.add_argument("--max-warmup", type=float, default=None)
    p.add_argument("--setup-timeout", type=float, default=180.0)
    p.add_argument("--start-timeout", type=float, default=60.0)
    p.add_argument("--client-cpu", type=int, default=None,
                   help="pin the load generator to a core (default: not pinned)")
    p.add_argument("--agents", choices=["pair", "one"], default="pair",
                   help="pair: each pair's agent is an agent of its own (default); one: one "
                        "agent answers every pair, as in relay.py, so that agent's sockets "
                        "are on every process and so is every event for it")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="py-spy record each run's first process over its window into DIR")
    p.add_argument("--busy", action="store_true",
                   help="also run 2 processes beside a process that only keeps a core busy: "
                        "what contention for the cores alone costs (against the step to 3)")
    p.add_argument("--quick", action="store_true", help="smoke run: 10 pairs, 1 and 2 processes")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    quick = args.quick
    args.pairs = args.pairs or (10 if quick else 100)
    args.seconds = args.seconds or (1.5 if quick else 6.0)
    args.warmup = args.warmup or (0.5 if quick else 2.0)
    args.max_warmup = args.max_warmup or (5.0 if quick else 20.0)
    if quick and args.processes == "1,2,3":
        args.processes = "1,2"
    # What relay.Server reads.
    args.secret = secrets.token_urlsafe(48)
    args.server_cpu = None  # the processes share the machine; CPU time is what is compared
    args.gc_experiment = None
    args.no_uvloop = False
    if not args.postgres or not args.redis:
        print("needs PostgreSQL and Redis: --postgres URL --redis URL "
              "(or CHATKIT_TEST_POSTGRES / CHATKIT_TEST_REDIS)", file=sys.stderr)
        return 2
    plan: list[tuple[str, int, str | None, str | None, bool]] = [
        ("sqlite x1", 1, None, None, False), ("postgres x1", 1, args.postgres, None, False)]
    for k in map(int, args.processes.split(",")):
        plan.append((f"postgres+redis x{k}", k, args.postgres, args.redis, False))
        if k == 2 and args.busy:
            plan.append(("postgres+redis x2 + busy", 2, args.postgres, args.redis, True))
    runs = []
    started = time.monotonic()
    for name, count, database, redis, busy in plan:
        print(f"running {name} ...", flush=True)
        runs.append(run_deployment(args, name, count, database, redis, busy))
    summary = report(runs, args)
    out = Path(args.json_out) if args.json_out else (
        HERE / "results" / f"scaleout-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs, "summary": summary,
                               "seconds": round(time.monotonic() - started, 1)}, indent=1))
    print(f"\nresults: {out}")
    return 1 if any("error" in run for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
