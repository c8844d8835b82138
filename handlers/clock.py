"""The community's wall-clock time zone and the one clock the service reads.

Deadlines, reminders and "today" are Beijing time (the work plans' office hours);
instants are stored in UTC. ``Clock`` is what the app hands the chat (``ctx.now``)
and the API, so a test can freeze time for both doors at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
