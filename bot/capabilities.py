"""The capabilities this service runs, in the order their chat routes are tried.

Order matters only among fallbacks (a complaint-like text is offered as a ticket
before help's "not understood") and for follow-by-scan (volunteers' site codes before
the residents' plain subscribe); jobs also run in this order, so the notices relay
comes after the capabilities whose notifications it words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from handlers import (
    budget,
    canvass,
    complaints,
    dashboard,
    households,
    media,
    notices,
    proposals,
    records,
    residents,
    volunteers,
)
from handlers import help as menu_help
from handlers.capability import Capability
from handlers.router import Router

MODULES = (
    complaints,
    menu_help,
    volunteers,
    residents,
    proposals,
    canvass,
    budget,
    media,
    households,
    records,
    notices,
    dashboard,
)


@cache
def capabilities() -> tuple[Capability, ...]:
    return tuple(module.capability() for module in MODULES)


def chat_router() -> Router:
    root = Router(name="root")
    root.include(*(c.chat for c in capabilities() if c.chat is not None))
    return root


def texts() -> dict[str, str]:
    """Every capability's notification texts by kind, for the relay."""
    return {kind: msgid for c in capabilities() for kind, msgid in c.texts.items()}


def audiences() -> dict[str, Callable[..., Awaitable[Any]]]:
    return {subject: who for c in capabilities() for subject, who in c.audiences.items()}
