"""Residents: following, binding to a household (verification), roles, language, PIPL rights."""

from __future__ import annotations

from handlers.capability import Capability


def capability() -> Capability:
    from handlers.residents import api, chat

    return Capability(name="residents", chat=chat.router, routes=api.routes)
