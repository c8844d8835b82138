"""Photos and voice messages: uploaded, cleaned, attached to a record, served back."""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    from handlers.media import api

    return Capability(name="media", routes=api.routes)
