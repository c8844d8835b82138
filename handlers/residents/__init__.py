"""Residents: following, binding to a household (verification), roles, language, PIPL rights."""

from __future__ import annotations

from handlers.capability import Capability
from handlers.i18n import N_

# What the household's residents hear, by notification kind.
TEXTS = {"household.bound": N_("notify.household.bound")}


def capability() -> Capability:
    from handlers.residents import api, chat

    return Capability(name="residents", chat=chat.router, routes=api.routes, texts=TEXTS)
