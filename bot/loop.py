"""The serving process's event loop: uvloop where it is installed and chosen, else asyncio's.

A setting, not a hard dependency: a platform without uvloop (Windows) still serves, and a
bench can measure both on one machine (``LINLI_EVENT_LOOP=asyncio``).
"""

from __future__ import annotations

import asyncio
import logging

from config.settings import Settings

log = logging.getLogger(__name__)


def new_event_loop(settings: Settings) -> asyncio.AbstractEventLoop | None:
    """A uvloop loop when ``settings.event_loop`` asks for it; None lets aiohttp make its own."""
    if settings.event_loop != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        log.warning("uvloop is not installed: serving on asyncio's event loop")
        return None
    return uvloop.new_event_loop()
