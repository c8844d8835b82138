"""``bench/coverage.py`` at a small size: its invariants hold, whatever its timings.

The bench runs as it is run by hand, a process of its own printing one JSON line, on
the embedded backend over a migrated copy of the test database (no migrations to wait
for). Its figures are never asserted, only what must be true at any speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOUSEHOLDS = 60
TIMEOUT_SECONDS = 120


@pytest.mark.parametrize("backend", ["embedded"])
async def test_every_household_is_counted_once_with_its_last_answer(database_url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_BENCH_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "coverage.py"),
        "--households",
        str(HOUSEHOLDS),
        "--concurrency",
        "10",
        "--database-url",
        database_url,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    report = json.loads(text.strip().splitlines()[-1])
    assert report["bench"] == "coverage" and report["backend"] == "embedded"
    assert report["households"] == HOUSEHOLDS
    assert report["tally_exact"] is True, text[-3000:]
    assert report["coverage_complete"] is True
    assert report["errors"] == 0
    # The mix the checks are about is there: both ways, and doors first not at home.
    assert report["online"] + report["in_person"] + report["both_ways"] == HOUSEHOLDS
    assert report["both_ways"] > 0 and report["not_home"] > 0 and report["online"] > 0
    assert report["import_s"] > 0
