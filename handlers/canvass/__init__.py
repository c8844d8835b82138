"""入户走访: door-to-door answers and visits for household votes, coverage, disputes."""

from __future__ import annotations

from handlers.capability import Capability, combined_routes
from handlers.i18n import N_

# What a household's bound residents and the community workers hear.
TEXTS = {
    "canvass.answer_recorded": N_("notify.canvass.answer_recorded"),
    "canvass.visit_recorded": N_("notify.canvass.visit_recorded"),
    "canvass.disputed": N_("notify.canvass.disputed"),
    "canvass.remind": N_("notify.canvass.remind"),
    "canvass.to_visit": N_("notify.canvass.to_visit"),
}


def capability() -> Capability:
    from handlers.canvass import api, chat, remind_api

    return Capability(
        name="canvass",
        chat=chat.router,
        routes=combined_routes(api.routes, remind_api.routes),
        texts=TEXTS,
    )
