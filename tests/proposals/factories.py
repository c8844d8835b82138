"""Builders for proposals: plain async functions over the service, for any test."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.canvass import service as canvass
from handlers.canvass.rules import VisitForm
from handlers.proposals import service
from models.residents import Resident
from tests.world import T0, World


async def published(
    world: World,
    proposer: Resident,
    worker: Resident,
    category: str = "rectification",
    scope: dict | None = None,
) -> int:
    """A proposal taken through review to publication at ``T0``."""
    created = await service.create(
        await world.who(proposer),
        title="3栋门口加装路灯",
        description="晚上太黑，老人出门不安全。",
        category=category,
        scope=scope,
    )
    boss = await world.who(worker)
    await service.act(created.id, boss, "review", T0)
    await service.act(created.id, boss, "publish", T0)
    return created.id


async def voting(
    world: World,
    proposer: Resident,
    worker: Resident,
    category: str = "rectification",
    scope: dict | None = None,
    days: int = 7,
) -> int:
    proposal_id = await published(world, proposer, worker, category, scope)
    await service.open_voting(
        proposal_id, await world.who(worker), T0 + timedelta(days=5), days=days
    )
    return proposal_id


async def visited(
    world: World,
    proposal_id: int,
    worker: Resident,
    residents: list[Resident],
    when: datetime,
    outcome: str = "not_home",
    choice: str | None = None,
) -> None:
    """Door-to-door visits to the residents' households, as a worker records them."""
    who = await world.who(worker)
    form = (
        VisitForm("answered", choice, "户主本人", "oral")
        if choice is not None
        else VisitForm(outcome, note="" if outcome != "other" else "门口无人应答")
    )
    for person in residents:
        assert person.household_id is not None
        await canvass.record_visit(who, proposal_id, person.household_id, form, when)
