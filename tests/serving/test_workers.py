"""``linli serve --workers N``: processes sharing one port, restarted when they die."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest

from bot import cli
from bot.workers import WorkersRefused, check_shared, worker_settings
from config.settings import Settings
from tests.conftest import REDIS_URL

START_SECONDS = 60.0


def test_several_workers_on_the_embedded_stores_are_refused(tmp_path: Path):
    settings = Settings(_env_file=None, data_dir=tmp_path, workers=2)
    with pytest.raises(WorkersRefused) as refused:
        check_shared(settings)
    assert "LINLI_REDIS_URL" in str(refused.value)


def test_the_command_line_refuses_them_before_serving(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    served: list[object] = []
    monkeypatch.setattr(cli.web, "run_app", lambda *a, **k: served.append(a))
    with pytest.raises(SystemExit):
        cli.main(["serve", "--workers", "2"])
    assert served == []


def test_one_worker_runs_the_jobs_and_none_migrates(tmp_path: Path):
    settings = Settings(_env_file=None, data_dir=tmp_path, workers=3)
    each = [worker_settings(settings, index) for index in range(3)]
    assert [s.jobs_in_process for s in each] == [True, False, False]
    assert {s.auto_migrate for s in each} == {False}
    assert [s.worker_index for s in each] == [0, 1, 2]
    off = settings.model_copy(update={"jobs_in_process": False})
    assert not any(worker_settings(off, i).jobs_in_process for i in range(3))


# --------------------------------------------------------------------------- real processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            lines = status.read_text().splitlines()
            if f"PPid:\t{pid}" in lines:
                found.add(int(status.parent.name))
    return found


def _listening(port: int) -> int:
    """LISTEN sockets on ``port`` (``/proc/net/tcp``): one per worker with SO_REUSEPORT."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A"
    )


def _answers(port: int) -> bool:
    try:
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _until(check, seconds: float = START_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def supervisor(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    if not database_url.startswith("postgres"):
        pytest.skip("several workers need PostgreSQL and Redis")
    port = _free_port()
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": database_url,
        "LINLI_REDIS_URL": REDIS_URL,
        "LINLI_DATA_DIR": str(tmp_path / "data"),
        "LINLI_WECHAT_TOKEN": "a-test-token-not-the-demo",
        "LINLI_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _until(lambda: _answers(port) and _listening(port) == 2), (
            tmp_path / "serve.log"
        ).read_text(errors="replace")[-3000:]
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def test_two_workers_listen_on_one_port(supervisor):
    process, port = supervisor
    assert len(_children(process.pid)) == 2
    assert _listening(port) == 2
    assert all(_answers(port) for _ in range(20))


def test_a_worker_that_dies_is_started_again(supervisor):
    process, port = supervisor
    before = _children(process.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    assert _until(lambda: len(_children(process.pid) - {victim}) == 2 and _listening(port) == 2)
    assert victim not in _children(process.pid)
    assert _answers(port)


def test_a_stop_stops_every_worker(supervisor):
    process, port = supervisor
    workers = _children(process.pid)
    process.terminate()
    assert process.wait(15) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert not _answers(port)


def test_no_workers_is_refused_not_served(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path))
    served: list[object] = []
    monkeypatch.setattr(cli.web, "run_app", lambda *a, **k: served.append(a))
    with pytest.raises(SystemExit):
        cli.main(["serve", "--workers", "0"])
    assert served == []
