"""Notices: workers broadcast to the residents and group chats of a scope.

``rules`` is pure (who a scope selects, muting, backoff, progress); ``service``
creates notices and expands them to delivery rows once; ``relay`` turns the other
capabilities' notifications into notices; ``api`` is the JSON API. The sending
itself is ``bot.deliver``, a transport job.
"""

from __future__ import annotations

from handlers.capability import Capability, Job


def capability() -> Capability:
    from handlers.notices import api, relay, service

    return Capability(
        name="notices",
        routes=api.routes,
        jobs=(
            # After every other capability's jobs: what they recorded goes out this round.
            Job("notifications", relay.relay),
            Job("due notices", lambda job: service.expand_due(job.now)),
        ),
    )
