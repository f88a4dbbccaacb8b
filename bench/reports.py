"""Reports over many conversations: fill conversation_facts (and the conversations, with two
messages each, for the export) in bulk, then time every report and the CSV export's memory.

    python bench/reports.py                 # 1,000,000 conversations, SQLite (+ PostgreSQL
                                            # when CHATKIT_TEST_POSTGRES is set)
    python bench/reports.py --quick --json  # 5,000: the smoke run tests/test_bench.py does

Each report's time is printed with its ratio to a baseline measured in the same run on the
same table (a bare SELECT count(*)), and the export's peak RSS at a tenth of the rows and at
all of them (flat memory: the two are close). PostgreSQL runs in a database of its own,
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from chatkit.reports.metrics import EXPORT_PAGE, Granularity, ReportQuery, Reports
from chatkit.storage import SqlStore
from chatkit.storage import schema as t
from chatkit.storage.reports import Group

DAY = 24 * 3600 * 1000
START = 1_767_225_600_000  # 2026-01-01 UTC
TEAMS = ["billing", "sales", "support", "tech", "returns"]
TARGET_S = 2.0


def _rows(n: int, seed: int) -> Any:
    """Conversations over a year: a fifth contained by the bot, a tenth abandoned."""
    rng = random.Random(seed)
    agents = [f"agent{i:03d}" for i in range(200)]
    span = 365 * DAY
    for i in range(n):
        cid = f"{i:032x}"
        created = START + i * span // n
        contact = f"c{rng.randrange(n // 3 + 1):031x}"
        kind = rng.random()
        team = rng.choice(TEAMS)
        facts: dict[str, Any] = {
            "conversation_id": cid, "contact_id": contact, "channel": "widget",
            "created_at": created, "topic": team, "team": team, "handed_off": True,
            "abandoned": False, "agent_id": None, "csat": None}
        if kind < 0.2:
            facts.update(topic="bot", team=None, handed_off=False, resolved_at=created + 60_000,
                         resolution_ms=60_000)
        else:
            handoff = created + rng.randrange(10_000, 120_000)
            wait = rng.randrange(1_000, 1_800_000)
            facts.update(handoff_at=handoff)
            if kind < 0.3:
                facts.update(abandoned=True, resolved_at=handoff + wait,
                             resolution_ms=handoff + wait - created)
            else:
                agent = rng.choice(agents)
                first = handoff + wait + rng.randrange(1_000, 60_000)
                resolved = first + rng.randrange(60_000, 1_800_000)
                facts.update(agent_id=agent, assigned_at=handoff + wait, wait_ms=wait,
                             wait_open_ms=wait // 2, first_response_at=first,
                             first_response_ms=first - handoff,
                             first_response_open_ms=(first - handoff) // 2,
                             handle_ms=resolved - handoff - wait, resolved_at=resolved,
                             resolution_ms=resolved - created,
                             csat=rng.randint(1, 5) if rng.random() < 0.3 else None)
        yield facts


async def _fill(store: SqlStore, n: int) -> float:
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    contacts: set[str] = set()

    async def flush() -> None:
        async with store._write() as conn:
            new = [{"id": c, "created_at": START} for c in contacts]
            if new:
                await conn.execute(insert(t.contacts), new)
            await conn.execute(insert(t.conversations), [
                {"id": f["conversation_id"], "contact_id": f["contact_id"],
                 "status": "resolved", "last_seq": 2, "created_at": f["created_at"]}
                for f in batch])
            await conn.execute(insert(t.messages), [
                {"conversation_id": f["conversation_id"], "seq": seq, "sender": sender,
                 "body": body, "created_at": f["created_at"], "internal": False}
                for f in batch for seq, sender, body in (
                    (1, "visitor", "Hello, my order has not arrived"),
                    (2, "agent", "Sorry to hear that, let me check"))])
            await conn.execute(insert(t.conversation_facts),
                               [{**_FACT_DEFAULTS, **f} for f in batch])
        batch.clear()
        contacts.clear()

    seen: set[str] = set()
    for facts in _rows(n, 1):
        if facts["contact_id"] not in seen:
            seen.add(facts["contact_id"])
            contacts.add(facts["contact_id"])
        batch.append(facts)
        if len(batch) == 5000:
            await flush()
    if batch:
        await flush()
    # The facts went in around the projection: their roll-ups are summed from them (as
    # `chatkit reports rebuild` and migration 0016 do).
    rollups_started = time.perf_counter()
    await store.rebuild_rollups()
    print(f"roll-ups summed in {time.perf_counter() - rollups_started:.1f} s", file=sys.stderr)
    if store.is_sqlite:
        async with store._write() as conn:
            await conn.execute(text("ANALYZE"))
    else:
        # As autovacuum would by now: statistics, and the visibility map that lets the
        # percentiles' index walks skip the table.
        assert store._reader is not None
        async with store._reader.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


_FACT_DEFAULTS = {c.name: None for c in t.conversation_facts.c}


CPU: dict[str, float] = {}


async def _timed(coro_factory: Any, repeat: int = 3, name: str = "") -> float:
    """The best of `repeat` wall-clock times; the process's CPU time of that run goes in
    CPU[name] (on SQLite that includes the queries, which run in this process: a figure
    that a loaded machine's waiting does not inflate)."""
    best = float("inf")
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        await coro_factory()
        took = time.perf_counter() - started
        if took < best:
            best, CPU[name] = took, time.process_time() - cpu
    return best


def _rss_mib() -> float:
    """The process's resident memory now (the peak, ru_maxrss, would include the fill)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


async def _export(reports: Reports, query: ReportQuery, limit_rows: int) -> tuple[int, float]:
    """Export up to `limit_rows` rows (bytes counted, not kept, as a client would consume
    them); returns the bytes and the highest RSS seen after each page."""
    size, rows, peak = 0, 0, _rss_mib()
    async with contextlib.aclosing(reports.export_conversations(query)) as chunks:
        async for chunk in chunks:
            size += len(chunk)
            rows += EXPORT_PAGE  # a page per chunk (the first is the header)
            peak = max(peak, _rss_mib())
            if rows >= limit_rows:
                break
    return size, peak


async def run(url: str, n: int, engine: str, export: bool = True) -> dict[str, Any]:
    store = SqlStore(url)
    await store.open()
    try:
        async with store._read() as conn:
            filled = await conn.scalar(text("SELECT count(*) FROM conversation_facts"))
        # A file kept from an earlier run (--sqlite-file) is timed again as it is.
        fill_s = 0.0 if filled == n else await _fill(store, n)
        reports = Reports(store)
        year = ReportQuery.model_validate({"from": "2026-01-01", "to": "2027-01-01"})
        by_team = year.model_copy(update={"group": Group.TEAM})
        by_agent = year.model_copy(update={"group": Group.AGENT})
        one_team = year.model_copy(update={"team": "billing"})
        one_agent = year.model_copy(update={"agent": "agent007"})
        team_by_agent = one_team.model_copy(update={"group": Group.AGENT})
        # Not whole months: roll-ups for the months inside, facts for the edges.
        rolling = ReportQuery.model_validate({"from": "2026-01-17T06:00:00",
                                              "to": "2026-12-14T18:00:00"})
        rolling_by_agent = rolling.model_copy(update={"group": Group.AGENT})
        week = ReportQuery.model_validate({"from": "2026-06-08", "to": "2026-06-15",
                                           "group": Group.AGENT})
        hourly = ReportQuery.model_validate({"from": "2026-01-01", "to": "2027-01-01",
                                             "granularity": Granularity.HOUR})

        async def baseline() -> None:
            async with store._read() as conn:
                await conn.scalar(text("SELECT count(*) FROM conversation_facts"))

        base = await _timed(baseline)
        runs = {
            "metrics (all)": lambda: reports.metrics(year),
            "metrics by team": lambda: reports.metrics(by_team),
            "metrics by agent": lambda: reports.metrics(by_agent),
            "metrics of one team": lambda: reports.metrics(one_team),
            "metrics of one agent": lambda: reports.metrics(one_agent),
            "one team by agent": lambda: reports.metrics(team_by_agent),
            "metrics, rolling range": lambda: reports.metrics(rolling),
            "rolling, by agent": lambda: reports.metrics(rolling_by_agent),
            "a week by agent": lambda: reports.metrics(week),
            "volume per hour": lambda: reports.volume(hourly),
            "volume per day": lambda: reports.volume(year),
            "export count": lambda: reports.count_conversations(year),
        }
        timings = {name: await _timed(report, name=name) for name, report in runs.items()}
        result = {"engine": engine, "conversations": n, "fill_s": round(fill_s, 1),
                  "baseline_count_s": round(base, 4),
                  "reports": {name: {"s": round(s, 3), "cpu_s": round(CPU[name], 3),
                                     "x_baseline": round(s / base, 1),
                                     "met": s < TARGET_S} for name, s in timings.items()},
                  "load_average": os.getloadavg()}
        if not export:
            return result
        # The export: RSS after a tenth of the rows, then after all of them.
        rss_before = _rss_mib()
        _, rss_tenth = await _export(reports, year, n // 10)
        started = time.perf_counter()
        size, rss_all = await _export(reports, year, n)
        export_s = time.perf_counter() - started
        return {**result,
                "export": {"s_all": round(export_s, 1), "mib": round(size / 2**20),
                           "rss_mib_before": round(rss_before, 1),
                           "rss_mib_at_tenth": round(rss_tenth, 1),
                           "rss_mib_at_all": round(rss_all, 1)}}
    finally:
        await store.close()


async def _postgres(n: int, export: bool, keep: str | None) -> dict[str, Any] | None:
    """In a database of its own, dropped at the end; or in `keep` (created when missing,
    kept: a later run with it skips the fill)."""
    base = os.environ.get("CHATKIT_TEST_POSTGRES")
    if not base:
        return None
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    name = keep or f"chatkit_bench_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(base).set(drivername="postgresql").render_as_string(False)
    admin = await asyncpg.connect(admin_url)
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(base).set(database=name).render_as_string(False)
        return await run(url, n, "postgres", export)
    finally:
        if keep is None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 conversations")
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sqlite-file", type=Path,
                        help="fill this file and keep it (a later run with it skips the fill)")
    parser.add_argument("--engines", default="sqlite,postgres",
                        help="which to run: sqlite, postgres or both")
    parser.add_argument("--postgres-database",
                        help="fill this PostgreSQL database and keep it (a later run with it "
                             "skips the fill)")
    parser.add_argument("--no-export", action="store_true",
                        help="time the reports only, not the export of every conversation")
    args = parser.parse_args()
    export = not args.no_export
    n = 5_000 if args.quick else args.conversations
    results = []
    engines = set(args.engines.split(","))
    if "sqlite" in engines and args.sqlite_file is not None:
        results.append(await run(f"sqlite:///{args.sqlite_file}", n, "sqlite", export))
    elif "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            results.append(await run(f"sqlite:///{folder}/bench.db", n, "sqlite", export))
    if not args.quick and "postgres" in engines:
        found = await _postgres(n, export, args.postgres_database)
        if found is not None:
            results.append(found)
    if args.json:
        print(json.dumps({"results": results}))
        return
    for result in results:
        print(f"\n{result['engine']}: {result['conversations']:,} conversations "
              f"(filled in {result['fill_s']} s); baseline SELECT count(*) "
              f"{result['baseline_count_s'] * 1000:.1f} ms; load average "
              f"{', '.join(f'{x:.1f}' for x in result['load_average'])}")
        for name, r in result["reports"].items():
            print(f"  {name:22s} {r['s'] * 1000:8.1f} ms (cpu {r['cpu_s'] * 1000:7.1f})"
                  f"  {r['x_baseline']:7.1f} x baseline"
                  f"  {'ok' if r['met'] else 'OVER ' + str(TARGET_S) + ' s'}")
        if "export" not in result:
            continue
        e = result["export"]
        print(f"  export: RSS {e['rss_mib_before']} MiB before, peak {e['rss_mib_at_tenth']} "
              f"MiB over a tenth of the rows, {e['rss_mib_at_all']} MiB over all "
              f"({e['mib']} MiB of CSV in {e['s_all']} s)")


if __name__ == "__main__":
    asyncio.run(main())
