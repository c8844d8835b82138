"""``bench/budget.py`` at a small size: its invariants hold, whatever its timings.

The bench runs as it is run by hand, a process of its own printing one JSON line, on
the embedded backend over a migrated copy of the test database (no migrations to wait
for): households order through chat and the API at once, some change their order, the
round closes, and the bench's own recount must equal the stored result. Its figures are
never asserted, only what must be true at any speed.
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
ORDERERS = 40
ITEMS = 6
TIMEOUT_SECONDS = 120
KEYS = {"bench", "households", "orders_per_s", "p99_ms", "exact", "recount_equal"}


@pytest.mark.parametrize("backend", ["embedded"])
async def test_every_order_is_stored_as_last_sent_and_the_recount_agrees(database_url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_BENCH_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "budget.py"),
        "--households",
        str(HOUSEHOLDS),
        "--orderers",
        str(ORDERERS),
        "--items",
        str(ITEMS),
        "--changes",
        "0.25",
        "--concurrency",
        "10",
        "--database-url",
        database_url,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()  # never left running past the test
        await process.wait()
        raise
    text = out.decode(errors="replace")
    assert process.returncode == 0, text[-3000:]
    report = json.loads(text.strip().splitlines()[-1])
    assert set(report) >= KEYS, report
    assert report["bench"] == "budget" and report["backend"] == "embedded"
    assert report["households"] == HOUSEHOLDS and report["orderers"] == ORDERERS
    assert report["exact"] is True, text[-3000:]
    assert report["recount_equal"] is True, text[-3000:]
    assert report["errors"] == 0
    # The mix the checks are about is there: both doors, and orders changed.
    assert report["by_chat"] > 0 and report["by_api"] > 0
    assert report["by_chat"] + report["by_api"] == ORDERERS
    assert report["changes"] > 0
    assert report["orders"] == ORDERERS + report["changes"]
    assert report["orders_per_s"] > 0 and report["p99_ms"] is not None
