"""The yearly 民生微实事 round: a fund, a menu of projects, households order within it (群众点菜),
the result, and the money in the open (资金公开)."""

from __future__ import annotations

from typing import Any

from handlers.capability import Capability, Job, combined_routes
from handlers.i18n import N_

# What the community's residents, and a household's members, hear of a round.
TEXTS = {
    "budget.menu_published": N_("notify.budget.menu_published"),
    "budget.ordering_opened": N_("notify.budget.ordering_opened"),
    "budget.result": N_("notify.budget.result"),
    "budget.implementation": N_("notify.budget.implementation"),
    "budget.item_started": N_("notify.budget.item_started"),
    "budget.item_accepted": N_("notify.budget.item_accepted"),
    "budget.ballot_recorded": N_("notify.budget.ballot_recorded"),
    "budget.visit_recorded": N_("notify.budget.visit_recorded"),
}


async def _audience(note: Any, audience: str) -> dict[str, Any] | None:
    """A round's news goes to the whole community (the notices pipeline expands it)."""
    if audience == "community":
        return {"kind": "community", "ids": []}
    return None


def capability() -> Capability:
    from handlers.budget import api, chat, closing, exports_api, visibility

    visibility.register_all()
    return Capability(
        name="budget",
        chat=chat.router,
        routes=combined_routes(api.routes, exports_api.routes),
        jobs=(Job("closing due rounds", lambda job: closing.close_due(job.now, job.lock)),),
        texts=TEXTS,
        audiences={"budget_round": _audience},
    )
