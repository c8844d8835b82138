"""Who hears of a ticket's change: its reporter; the rest is the notices relay's
default (the department's handlers, the grid's workers, the community's staff)."""

from __future__ import annotations

from typing import Any, cast

from models.complaints import Ticket


async def of_ticket(note: Any, audience: str) -> list[int] | None:
    if audience != "reporter":
        return None
    reporter = cast(
        list[int | None],
        await Ticket.filter(id=note.subject_id).values_list("reporter_id", flat=True),
    )
    return [r for r in reporter if r]
