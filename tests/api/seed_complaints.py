"""Complaints: rows for the API-wide tests to find, at each step of the ticket loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.complaints import service
from handlers.roles import who_of
from models.residents import Resident
from tests.world import World


async def seed(world: World, people: dict[str, Resident]) -> None:
    """Fresh, anonymous, accepted, in progress, escalated, resolved and closed tickets."""
    now = datetime.now(UTC)
    resident, neighbour = people["resident"], people["neighbour"]
    boss = await who_of(people["worker"])
    fresh = await service.intake(
        resident, "电梯坏了困人", now, location={"lat": 22.5, "lng": 114.1}
    )
    await service.intake(neighbour, "3栋电梯又坏了没人修", now + timedelta(minutes=5))
    await service.intake(resident, "楼下烧烤摊油烟太大", now, anonymous=True, media=["media-2"])
    accepted = await service.intake(neighbour, "垃圾没人收，臭得很", now - timedelta(days=1))
    await service.act(boss, accepted.id, "accept", now)
    working = await service.intake(resident, "小区路灯坏了一排", now - timedelta(days=2))
    await service.act(boss, working.id, "accept", now - timedelta(days=2))
    await service.act(boss, working.id, "progress", now - timedelta(days=1), note="已报修")
    late = await service.intake(neighbour, "楼上装修太吵", now - timedelta(days=5))
    await service.act(boss, late.id, "escalate", now - timedelta(days=4))
    for text, stars in (("楼上卫生间漏水", None), ("消防通道被车堵了", 5)):
        ticket = await service.intake(resident, text, now - timedelta(days=3))
        await service.act(boss, ticket.id, "accept", now - timedelta(days=3))
        await service.act(boss, ticket.id, "resolve", now - timedelta(days=2), note="已处理")
        if stars:
            await service.rate(resident, ticket.number, stars, "谢谢", now - timedelta(days=1))
    assert fresh.status == "assigned"
