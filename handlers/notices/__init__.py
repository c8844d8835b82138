"""Notices: workers broadcast to the residents and group chats of a scope.

``rules`` is pure (who a scope selects, muting, backoff, progress, each channel's text);
``service`` creates notices, previews them and expands them to delivery rows once;
``customer`` keeps the WeCom customer groups (客户群) and how each fared; ``relay`` turns
the other capabilities' notifications into notices; ``api`` is the JSON API. The sending
itself is the transport's jobs: ``bot.deliver`` (official account, robots) and
``bot.deliver_groups`` (customer groups' mass-sending tasks).
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
