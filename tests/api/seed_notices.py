"""Notices: rows for the API-wide tests to find.

A group chat robot, a customer group, a draft, a scheduled notice and one sent with
deliveries in every state; the resident mutes a kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.notices import customer, service
from models.notices import Delivery
from models.residents import Resident
from tests.world import World


async def seed(world: World, people: dict[str, Resident]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    worker = await world.who(people["worker"])
    building = {"kind": "buildings", "ids": [world.buildings[0].id]}
    await service.register_group(worker, "1栋群", "seed-robot-key-0123456789abcdef", building)
    await customer.register(worker, "wrSeedChat0001", "1栋居民群", "seed.owner", building)
    await service.create(
        worker, now, title="停水通知", body="明天9点到12点停水", scope=building, kind="water"
    )
    await service.create(
        worker,
        now,
        title="消防演练",
        body="周六上午消防演练",
        scope={"kind": "community"},
        scheduled_at=now + timedelta(days=2),
    )
    sent = await service.create(
        worker,
        now,
        title="电梯检修",
        body="1栋电梯周三检修",
        scope=building,
        channels=["oa", "robot", "customer_group"],
    )
    await service.send_now(worker, sent.id, now)
    rows = await Delivery.filter(notice_id=sent.id).order_by("id")
    for row, (status, failure) in zip(
        rows, [("sent", None), ("failed", "unfollowed"), ("unknown", "timeout")], strict=False
    ):
        row.status, row.failure, row.attempts = status, failure, 1
        await row.save(update_fields=["status", "failure", "attempts"])
    await service.mute(people["resident"], "activity")
