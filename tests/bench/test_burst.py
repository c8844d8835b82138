"""``bench/burst.py`` at a small size: votes by chat and API while the vote's notice goes out.

The bench runs as it is run by hand, a process of its own (its fake WeChat and service
too) on PostgreSQL and Redis of its own: ``linli_bench_burst_test`` and Redis db 7 on the
servers of ``LINLI_TEST_DATABASE_URL`` / ``LINLI_TEST_REDIS_URL`` (skipped without them).
The fake's rate is lowered so the notice is still going out while the residents vote.
Only what must hold at any speed is asserted: the tally is exact, nothing failed, every
follower got the notice once. Latencies and rates are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")
DATABASE = "linli_bench_burst_test"
REDIS_DB = 7
HOUSEHOLDS, VOTERS, CLIENTS, ADDRESSES = 300, 100, 20, 5
RATE = 100  # messages/s at the fake: 300 followers take about 4 s, longer than the burst
PACE = 0.75  # the service's share of it: well inside, so no 45009 puts a retry 15 s off
TIMEOUT_SECONDS = 240.0

pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL), reason="needs LINLI_TEST_DATABASE_URL and LINLI_TEST_REDIS_URL"
)


def bench_urls() -> tuple[str, str]:
    """The bench's own database and Redis db on the test servers."""
    pg, redis = urlsplit(PG_URL), urlsplit(REDIS_URL)
    return (
        urlunsplit((*pg[:2], f"/{DATABASE}", pg.query, "")),
        urlunsplit((*redis[:2], f"/{REDIS_DB}", redis.query, "")),
    )


def run_burst(*args: str) -> tuple[int, str]:
    """The bench in a process group of its own, so an overrun kills its servers too.

    No ``LINLI_*`` variable of the test run reaches the service it starts: its settings
    are the bench's own.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "burst.py"), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"bench/burst.py ran longer than {TIMEOUT_SECONDS:g} s:\n{out[-3000:]}")
    finally:
        if process.poll() is None:  # interrupted: nothing of it outlives the test
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(out[-3000:])  # shown when the test fails
    return process.returncode, out


def report_of(out: str) -> dict[str, Any]:
    lines = out.strip().splitlines()
    assert lines, "no output"
    report = json.loads(lines[-1])
    assert isinstance(report, dict) and report.get("bench") == "burst", lines[-1][:300]
    return report


def test_a_burst_of_votes_while_the_notice_goes_out_is_counted_exactly():
    database_url, redis_url = bench_urls()
    code, out = run_burst(
        *("--households", str(HOUSEHOLDS), "--voters", str(VOTERS)),
        *("--clients", str(CLIENTS), "--addresses", str(ADDRESSES), "--rate", str(RATE)),
        *("--pace", str(PACE)),
        *("--database-url", database_url, "--redis-url", redis_url),
    )
    report = report_of(out)
    assert code == 0, out[-3000:]
    assert report["tally_exact"] is True
    assert report["errors"] == 0
    assert report["chat"]["errors"] == 0 and report["api"]["errors"] == 0
    # Half the voters by each channel, every one of them sent once.
    assert report["chat"]["votes"] == VOTERS // 2
    assert report["api"]["votes"] == VOTERS - VOTERS // 2
    # Every follower got the notice exactly once.
    assert report["duplicates"] == 0
    assert report["notice_sent"] == HOUSEHOLDS
    assert report["notice_complete"] is True
    assert (report["households"], report["voters"]) == (HOUSEHOLDS, VOTERS)
    assert (report["clients"], report["addresses"]) == (CLIENTS, ADDRESSES)
    peak = report["peak_rss_mb"]
    assert isinstance(peak, float) and peak > 0, peak
