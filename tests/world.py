"""A small community to run tests in: buildings, households, residents, workers, tokens.

It knows no capability: each has its own builders in ``tests/<name>/factories.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from handlers.roles import Who, who_of
from handlers.sessions import issue
from models.community import Building, Community, Grid, Household
from models.residents import Resident, Role, RoleAssignment

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class World:
    """Handles on the rows a test needs, and ways to make more."""

    app_state: object
    community: Community
    grid: Grid
    buildings: list[Building] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    _openids: int = 0

    async def add_households(
        self, building: Building, count: int, area: str = "80"
    ) -> list[Household]:
        made = [
            Household(
                building=building,
                unit="1",
                room=f"{len(self.households) + i:04d}",
                floor_area=Decimal(area),
            )
            for i in range(count)
        ]
        await Household.bulk_create(made)
        fresh = await Household.filter(building=building).order_by("id")
        self.households = [h for h in self.households if h.building_id != building.id] + fresh  # type: ignore[attr-defined]
        return fresh[-count:]

    async def resident(self, household: Household | None = None, verified: bool = True) -> Resident:
        self._openids += 1
        return await Resident.create(
            community=self.community,
            openid=f"o_p_{self._openids}",
            household=household,
            verified=verified and household is not None,
        )

    async def worker(self, role: Role = Role.COMMUNITY_WORKER) -> Resident:
        person = await self.resident()
        await RoleAssignment.create(resident=person, role=role, community=self.community)
        return person

    async def who(self, resident: Resident) -> Who:
        return await who_of(resident)

    async def token(self, resident: Resident) -> str:
        return await issue(self.app_state.store, resident.id)  # type: ignore[attr-defined]

    async def headers(self, resident: Resident) -> dict[str, str]:
        """Request headers that sign ``resident`` in to the API."""
        return bearer(await self.token(resident))


def bearer(token: str, language: str = "") -> dict[str, str]:
    """The headers of a signed-in API call, in ``language`` if given (Accept-Language)."""
    headers = {"Authorization": f"Bearer {token}"}
    if language:
        headers["Accept-Language"] = language
    return headers
