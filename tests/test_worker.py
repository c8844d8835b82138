"""The arq worker runs the same periodic jobs as the embedded timer, from Redis."""

from __future__ import annotations

import uuid

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from bot.worker import WorkerSettings, shutdown, startup, tick
from models.db import using
from models.proposals import Proposal
from tests.conftest import REDIS_URL
from tests.proposals import factories
from tests.world import World

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="the arq worker needs Redis")


async def test_a_queued_tick_closes_a_due_vote(world: World, app_state, settings):
    home = (await world.add_households(world.buildings[0], 1))[0]
    proposal_id = await factories.voting(
        world, await world.resident(home), await world.worker(), category="project"
    )
    # world.voting opened it in early November for 7 days: it is overdue now.
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    queue = f"linli-test:{uuid.uuid4().hex[:8]}"
    pool = await create_pool(redis_settings, default_queue_name=queue)
    try:
        assert await pool.enqueue_job("tick", _queue_name=queue) is not None
        worker = Worker(
            functions=[tick],
            on_startup=startup,
            on_shutdown=shutdown,
            redis_settings=redis_settings,
            queue_name=queue,
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            ctx={"settings": settings.model_copy(update={"redis_url": REDIS_URL})},
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    finally:
        await pool.aclose()
    with using(app_state.db):
        closed = await Proposal.get(id=proposal_id)
    assert closed.status in {"approved", "not_approved"}
    assert closed.result["eligible"] == 1


def test_the_worker_runs_every_15_seconds_once_across_workers():
    [job] = WorkerSettings.cron_jobs
    assert job.unique and job.second == {0, 15, 30, 45}
    assert WorkerSettings.functions == [tick]
