"""What the bench tests share: each bench's own stores, and a bench run as a process.

A bench drops and recreates its PostgreSQL database and flushes its Redis database, so
each has its own of both (``linli_bench_<name>_test``, Redis db ``REDIS_DB[name]``) on
the servers of ``LINLI_TEST_DATABASE_URL`` / ``LINLI_TEST_REDIS_URL``: two benches run at
once under pytest-xdist never wipe each other's data. Without those variables the benches
that need PostgreSQL and Redis are skipped. The names are fixed, so a run leaves at most
one database per bench behind, and the next run recreates it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("LINLI_TEST_REDIS_URL", "")
# 7 is bench/burst.py's, 14 the rest of the suite's.
REDIS_DB = {"votes": 1, "volunteers": 2, "api": 3, "callback": 4, "coverage": 5, "budget": 6}
TIMEOUT_SECONDS = 180.0
TAIL_LINES = 40


@dataclass(frozen=True)
class Stores:
    database_url: str
    redis_url: str

    @property
    def args(self) -> list[str]:
        return ["--database-url", self.database_url, "--redis-url", self.redis_url]


def stores_of(bench: str) -> Stores:
    """The bench's own database (its name holds ``bench``, as the benches require, and
    ``test``) and Redis db, on the test servers."""
    pg, redis = urlsplit(PG_URL), urlsplit(REDIS_URL)
    return Stores(
        urlunsplit((*pg[:2], f"/linli_bench_{bench}_test", pg.query, "")),
        urlunsplit((*redis[:2], f"/{REDIS_DB[bench]}", redis.query, "")),
    )


@pytest.fixture
def bench_stores() -> Callable[[str], Stores]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs LINLI_TEST_DATABASE_URL and LINLI_TEST_REDIS_URL")
    return stores_of


@dataclass(frozen=True)
class BenchRun:
    code: int
    report: dict[str, Any]  # the last line of output, one JSON object


def tail(text: str) -> str:
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def run_bench(bench: str, *args: str, timeout: float = TIMEOUT_SECONDS) -> BenchRun:
    """``python bench/<bench>.py ARGS`` as it is run by hand, in a process group of its own
    (its servers too: a bench that overruns is killed whole, never left serving).

    The output's tail is printed: pytest shows it when the test fails.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_BENCH_")}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / f"{bench}.py"), *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    overran = False
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        overran = True
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    finally:
        if process.poll() is None:  # interrupted: nothing of it outlives the test
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"$ bench/{bench}.py {' '.join(args)}: exit {process.returncode}")
    print(f"--- stdout (tail)\n{tail(out)}\n--- stderr (tail)\n{tail(err)}")
    if overran:
        pytest.fail(f"bench/{bench}.py ran longer than {timeout:g} s")
    lines = out.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"bench/{bench}.py (exit {process.returncode}) ended with no JSON line")
    if not isinstance(report, dict) or report.get("bench") != bench:
        pytest.fail(f"bench/{bench}.py's last line is not its report: {lines[-1][:300]}")
    return BenchRun(process.returncode, report)


@pytest.fixture
def bench_run() -> Callable[..., BenchRun]:
    return run_bench
