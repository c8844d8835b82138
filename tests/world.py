"""A small community to run tests in: buildings, households, residents, a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from handlers.proposals import service
from handlers.residents.sessions import issue
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

    async def who(self, resident: Resident) -> service.Who:
        return await service.who(resident)

    async def token(self, resident: Resident) -> str:
        return await issue(self.app_state.store, resident.id)  # type: ignore[attr-defined]

    async def published(
        self,
        proposer: Resident,
        worker: Resident,
        category: str = "rectification",
        scope: dict | None = None,
    ) -> int:
        """A proposal taken through review to publication at ``T0``."""
        created = await service.create(
            await self.who(proposer),
            title="3栋门口加装路灯",
            description="晚上太黑，老人出门不安全。",
            category=category,
            scope=scope,
        )
        boss = await self.who(worker)
        await service.act(created.id, boss, "review", T0)
        await service.act(created.id, boss, "publish", T0)
        return created.id

    async def voting(
        self,
        proposer: Resident,
        worker: Resident,
        category: str = "rectification",
        scope: dict | None = None,
        days: int = 7,
    ) -> int:
        proposal_id = await self.published(proposer, worker, category, scope)
        await service.open_voting(
            proposal_id, await self.who(worker), T0 + timedelta(days=5), days=days
        )
        return proposal_id
