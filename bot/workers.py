"""``linli serve --workers N``: N processes on one port, so the service uses every core.

Each worker binds the port with ``SO_REUSEPORT`` and the kernel spreads new connections
over them; each has its own database pool, store connections and spool file, and shares
PostgreSQL, Redis and the spool directory with the others, as replicas on several hosts
do. The migrations run once, here, before any worker starts; the periodic jobs run in
worker 0 only (every job is also safe twice, for replicas on other hosts). A worker that
dies is started again; one that keeps dying stops the whole service, so a broken
configuration is not restarted forever.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from config.settings import Settings
from models.db import migrate

log = logging.getLogger(__name__)

# A worker that dies this soon after it started counts as failing to start.
EARLY_EXIT_SECONDS = 5.0
# So many early exits in a row and the service gives up.
MAX_EARLY_EXITS = 3
POLL_SECONDS = 0.2
# SIGTERM, then this long for the workers to finish (inside Docker's 10 s), then SIGKILL.
STOP_SECONDS = 8.0

Serve = Callable[[Settings, str, int], None]


class WorkersRefused(SystemExit):
    """Several workers on the embedded stores would each keep their own dedup and locks."""


def check_shared(settings: Settings) -> None:
    """More than one worker needs stores every worker shares: PostgreSQL and Redis."""
    if settings.workers <= 1:
        return
    database = settings.effective_database_url()
    if not settings.redis_url or not database.startswith(("postgres://", "postgresql://")):
        raise WorkersRefused(
            "linli: --workers above 1 needs LINLI_DATABASE_URL (PostgreSQL) and "
            "LINLI_REDIS_URL: the workers share dedup keys, locks and the database, which "
            "the embedded SQLite and in-process store cannot give them."
        )


def worker_settings(settings: Settings, index: int) -> Settings:
    """One worker's settings: migrations already applied, the jobs in worker 0 alone."""
    return settings.model_copy(
        update={
            "worker_index": index,
            "auto_migrate": False,
            "jobs_in_process": settings.jobs_in_process and index == 0,
        }
    )


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int, serve: Serve) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.serve = serve
        # fork: the workers share the loaded code and dictionaries until they write to them.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self.context: Any = multiprocessing.get_context(method)
        self.children: dict[int, BaseProcess] = {}
        self.started: dict[int, float] = {}
        self.early_exits = 0
        self.stopping = False

    def start(self, index: int) -> None:
        process = self.context.Process(
            target=self.serve,
            args=(worker_settings(self.settings, index), self.host, self.port),
            name=f"linli-worker-{index}",
        )
        process.start()
        self.children[index] = process
        self.started[index] = time.monotonic()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for index in range(self.settings.workers):
            self.start(index)
        log.info("serving with %d workers on port %d", self.settings.workers, self.port)
        code = 0
        while not self.stopping:
            time.sleep(POLL_SECONDS)
            for index, process in list(self.children.items()):
                if process.is_alive() or self.stopping:
                    continue
                early = time.monotonic() - self.started[index] < EARLY_EXIT_SECONDS
                self.early_exits = self.early_exits + 1 if early else 0
                log.warning("worker %d exited (%s)", index, process.exitcode)
                if self.early_exits >= MAX_EARLY_EXITS:
                    log.error("workers keep exiting at start: stopping the service")
                    self.stopping, code = True, 1
                    break
                self.start(index)
        self.shutdown()
        return code

    def shutdown(self) -> None:
        for process in self.children.values():
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.children.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("worker %s did not stop in time: killed", process.name)
                process.kill()
                process.join()


def serve_workers(settings: Settings, host: str, port: int, serve: Serve) -> int:
    """Run ``settings.workers`` processes of ``serve`` on ``host:port`` until SIGTERM."""
    check_shared(settings)
    if settings.auto_migrate:
        asyncio.run(migrate(settings.effective_database_url()))
    return Supervisor(settings, host, port, serve).run()
