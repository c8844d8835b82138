"""The community workers' dashboard: the week's figures across every capability."""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    from handlers.dashboard import api

    return Capability(name="dashboard", routes=api.routes)
