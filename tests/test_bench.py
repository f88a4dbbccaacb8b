"""The relay benchmark still runs end to end (its figures are read by people, not asserted)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

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
