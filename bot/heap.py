"""Keep the collector's full passes short once the service has started.

Start-up leaves hundreds of thousands of long-lived objects behind (jieba's dictionary,
the router's weights, every model and route). A full (generation 2) collection walks them
all: about 70 ms here, a stall of the loop that every request in flight waits out, which
was the long tail of the callback at half load. ``gc.freeze`` moves them out of the
collector's sight for the life of the process; objects made later are collected as usual.
The young generation's threshold is raised too: a request allocates thousands of objects,
and at the default 700 the collector ran several times per request.
"""

from __future__ import annotations

import gc
import logging

from aiohttp import web

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 20_000


def settle() -> int:
    """Collect start-up's garbage, then freeze the survivors; how many were frozen."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen: %d objects out of the collector's passes", frozen)
    return frozen


def settle_after_start(app: web.Application) -> None:
    """Settle once ``app``'s start-up (every cleanup context) has run: for serving processes.

    Not part of ``create_app``: a test process starts hundreds of apps, and freezing its
    heap each time would keep every earlier test's garbage for good.
    """

    async def settled(app: web.Application) -> None:
        settle()

    app.on_startup.append(settled)
