"""The arq worker: the periodic jobs on Redis, for deployments with several processes.

Run it with ``arq bot.worker.WorkerSettings`` (docker-compose's ``worker`` service) and
set ``LINLI_JOBS_IN_PROCESS=false`` on the service processes. Embedded, the service
runs the same round of jobs itself on a timer. Every job is safe to run twice: state
changes are conditional updates and deliveries are claimed before they are sent; arq's
``unique`` cron keeps several workers from even trying.
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web
from arq import cron
from arq.connections import RedisSettings

from bot.app import create_app, run_jobs
from bot.state import APP_STATE
from config.settings import Settings, load_settings
from models.db import using

EVERY_15_SECONDS = set(range(0, 60, 15))


async def startup(ctx: dict[str, Any]) -> None:
    """The service's own app, started without serving HTTP: same database, store, clients."""
    settings: Settings = ctx.get("settings") or load_settings()
    app = create_app(settings.model_copy(update={"jobs_in_process": False}))
    runner = web.AppRunner(app)
    await runner.setup()
    ctx["runner"] = runner
    ctx["state"] = app[APP_STATE]


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["runner"].cleanup()


async def tick(ctx: dict[str, Any]) -> None:
    """One round of every periodic job (closing votes, deadlines, reminders, deliveries)."""
    state = ctx["state"]
    with using(state.db):
        await run_jobs(state)


class WorkerSettings:
    functions = [tick]  # noqa: RUF012 (arq reads these class attributes)
    cron_jobs = [cron(tick, second=EVERY_15_SECONDS, unique=True, run_at_startup=True)]  # noqa: RUF012
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(
        os.environ.get("LINLI_REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
