"""Notices: rows for the API-wide tests to find."""

from __future__ import annotations

from models.residents import Resident
from tests.world import World


async def seed(world: World, people: dict[str, Resident]) -> None:
    """Nothing yet."""
