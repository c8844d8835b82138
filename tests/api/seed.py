"""A community with something in every capability, for the API-wide tests."""

from __future__ import annotations

import importlib
import importlib.util

from bot.capabilities import capabilities
from models.residents import Resident, Role, RoleAssignment
from tests.world import World


async def people_of(world: World, households: int = 4) -> dict[str, Resident]:
    """A worker (also an admin) and two verified residents of neighbouring households."""
    homes = await world.add_households(world.buildings[0], households)
    people = {
        "worker": await world.worker(),
        "resident": await world.resident(homes[0]),
        "neighbour": await world.resident(homes[1]),
    }
    await RoleAssignment.create(
        resident=people["worker"], role=Role.ADMIN, community=world.community
    )
    return people


async def seed(world: World) -> dict[str, Resident]:
    """Rows for the fuzzer to find, from ``tests/api/seed_<capability>.py`` of every
    capability the app runs that has one; returns the people by role."""
    people = await people_of(world)
    for capability in capabilities():
        name = f"tests.api.seed_{capability.name}"
        if importlib.util.find_spec(name) is not None:
            await importlib.import_module(name).seed(world, people)
    return people
