"""The benchmarks still run end to end (their figures are read by people, not asserted)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "relay.py"


async def test_relay_benchmark_quick_run(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH), "--quick", "--servers", "chatkit,sio", "--idle", "50",
        "--json-out", str(tmp_path / "relay.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 180)
    text = out.decode()
    assert process.returncode == 0, text
    assert "chatkit / bare python-socketio" in text
    assert "rows in messages" in text  # chatkit persisted what it relayed
    assert (tmp_path / "relay.json").exists()


KB_BENCH = BENCH.parent / "kb.py"
CLINC150 = Path(os.environ.get("CHATKIT_CLINC150", "/work/shared/data/clinc150/data_full.json"))


@pytest.mark.skipif(not CLINC150.is_file(), reason=f"CLINC150 not at {CLINC150} "
                    "(set CHATKIT_CLINC150)")
async def test_kb_benchmark_quick_run() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(KB_BENCH), "--quick", "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    results = json.loads(out)
    accuracy = results["accuracy"]
    assert (accuracy["entries"], accuracy["in_scope"], accuracy["out_of_scope"]) == (150, 300, 100)
    chatkit = accuracy["chatkit"]
    for key in ("top1", "top3", "answered_correctly_at_80", "declined_rate",
                "wrong_answer_rate"):
        assert 0.0 <= chatkit[key] <= 1.0, (key, chatkit[key])
    assert chatkit["top1"] <= chatkit["top3"]
    assert chatkit["oos_declined_at_threshold"] >= 0.8
    assert set(accuracy["rapidfuzz"]) == {"token_set_ratio", "WRatio", "token_sort_ratio"}
    assert [row["entries"] for row in results["latency"]] == [1000, 2000]
    for row in results["latency"]:
        assert row["queries"] == 30 and row["rapidfuzz_queries"] >= 1
        assert 0 < row["p50_ms"] <= row["p99_ms"] and row["build_s"] > 0
    assert len(results["targets"]) == 4


ROUTING_BENCH = BENCH.parent / "routing.py"


async def test_routing_benchmark_quick_run() -> None:
    # This checkout's chatkit, whichever one the venv was installed from.
    env = {**os.environ, "PYTHONPATH": str(ROUTING_BENCH.parent.parent)}
    env.pop("CHATKIT_TEST_POSTGRES", None)  # SQLite only: the smoke run stays seconds long
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROUTING_BENCH), "--quick", "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    (result,) = json.loads(out)["results"]
    assert result["engine"] == "sqlite" and result["problems"] == []
    assert (result["agents"], result["chats"]) == (60, 400)
    for phase in ("online", "burst", "decisions", "drain", "at_once"):
        assert result[phase]["assigned"] > 0, phase
        assert 0 < result[phase]["p50_ms"] <= result[phase]["p99_ms"], phase
    assert result["baseline"]["calls"] == 30
    position = result["position_updates"]
    # Every change reached every waiting visitor of its team, each with the store's position.
    assert position["changes"] == position["settled"] == 6 and position["problems"] == []
    assert position["waiting"] == 400 and position["updates"] >= 400
    assert 0 < position["p50_s"] <= position["max_s"]
    assert position["recomputes"] >= position["changes"]
    assert all(t["met"] is not None for t in result["targets"])


SCALEOUT_BENCH = BENCH.parent / "scaleout.py"


@pytest.mark.postgres
@pytest.mark.redis
async def test_scaleout_benchmark_quick_run(tmp_path: Path) -> None:
    if not os.environ.get("CHATKIT_TEST_POSTGRES") or not os.environ.get("CHATKIT_TEST_REDIS"):
        pytest.skip("needs CHATKIT_TEST_POSTGRES and CHATKIT_TEST_REDIS")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCALEOUT_BENCH), "--quick", "--json-out",
        str(tmp_path / "scaleout.json"), cwd=SCALEOUT_BENCH.parent.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, out.decode()
    results = json.loads((tmp_path / "scaleout.json").read_text())
    names = [run["name"] for run in results["runs"]]
    assert names == ["sqlite x1", "postgres x1", "postgres+redis x1", "postgres+redis x2"]
    for run in results["runs"]:
        assert run["delivered"] > 0 and run["server_cpu_us_per_msg"] > 0, run["name"]
        assert run["acks_err"] == 0 and run["servers"] == run["processes"], run["name"]
    assert "Redis hop" in out.decode() and "100 processes" in out.decode()


REPORTS_BENCH = BENCH.parent / "reports.py"


async def test_reports_benchmark_quick_run() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPORTS_BENCH.parent.parent)}
    env.pop("CHATKIT_TEST_POSTGRES", None)  # SQLite only: the smoke run stays seconds long
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(REPORTS_BENCH), "--quick", "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()
    (result,) = json.loads(out)["results"]
    assert result["engine"] == "sqlite" and result["conversations"] == 5000
    assert result["baseline_count_s"] > 0
    for name, report in result["reports"].items():
        assert report["s"] > 0 and report["x_baseline"] > 0, name
    assert result["export"]["rss_mib_at_all"] > 0
