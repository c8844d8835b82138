"""Console message ids of one area; ``messages.MESSAGE_IDS`` joins them.

The activity page (``static/activity.js``): an activity's shifts and changing one.
"""

from __future__ import annotations

from handlers.i18n import N_

MESSAGE_IDS: tuple[str, ...] = (
    N_("console.activity.back"),
    N_("console.activity.shifts"),
    N_("console.activity.signed_up"),
    N_("console.activity.started"),
    N_("console.activity.edit"),
    N_("console.activity.starts"),
    N_("console.activity.ends"),
    N_("console.activity.capacity"),
    N_("console.activity.save"),
    N_("console.activity.saved"),
    N_("console.activity.open"),
)
