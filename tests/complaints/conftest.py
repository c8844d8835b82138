"""Department handlers for the test community."""

from __future__ import annotations

from models.residents import Resident, Role, RoleAssignment
from tests.world import World


async def handler_of(world: World, department: str) -> Resident:
    person = await world.resident()
    await RoleAssignment.create(
        resident=person, role=Role.HANDLER, community=world.community, department=department
    )
    return person
