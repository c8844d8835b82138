"""Builders for proposals: plain async functions over the service, for any test."""

from __future__ import annotations

from datetime import timedelta

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
