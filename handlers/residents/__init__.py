"""Residents: following, binding to a household (verification), roles, language, PIPL rights."""

from __future__ import annotations

import asyncio

from handlers.capability import Capability
from handlers.i18n import N_

# What the household's residents hear, by notification kind.
TEXTS = {"household.bound": N_("notify.household.bound")}


def capability() -> Capability:
    from handlers.residents import accounts, api, chat

    async def warm_up() -> None:
        """The dummy password hash before the first sign-in, so no sign-in pays for it."""
        await asyncio.to_thread(accounts.dummy_hash)

    return Capability(
        name="residents", chat=chat.router, routes=api.routes, texts=TEXTS, start=(warm_up,)
    )
