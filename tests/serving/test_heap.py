"""A serving process freezes what start-up built; a test process (many apps) does not."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from bot.app import create_app
from bot.heap import YOUNG_THRESHOLD
from config.settings import Settings

SERVE_AND_REPORT = """
import asyncio, gc, json, sys
from pathlib import Path
from aiohttp import web
from bot import heap
from bot.app import create_app
from config.settings import Settings

async def main():
    app = create_app(Settings(_env_file=None, data_dir=Path(sys.argv[1])))
    heap.settle_after_start(app)
    runner = web.AppRunner(app)
    await runner.setup()
    print(json.dumps({"frozen": gc.get_freeze_count(), "young": gc.get_threshold()[0]}))
    await runner.cleanup()

asyncio.run(main())
"""


def test_a_serving_process_freezes_its_start_up_heap(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # jieba's dictionary alone is hundreds of thousands of objects.
    assert report["frozen"] > 100_000
    assert report["young"] == YOUNG_THRESHOLD


async def test_create_app_alone_leaves_the_collector_as_it_was(tmp_path, aiohttp_client):
    before = gc.get_freeze_count(), gc.get_threshold()
    client = await aiohttp_client(create_app(Settings(_env_file=None, data_dir=tmp_path)))
    assert (await client.get("/healthz")).status == 200
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
