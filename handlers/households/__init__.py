"""The household register (台账): households imported from and exported to spreadsheets."""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    from handlers.households import api

    return Capability(name="households", routes=api.routes)
