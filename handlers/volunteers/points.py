"""Points (积分): the append-only ledger, workers' grants, rewards and redemption (积分兑换)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from tortoise.expressions import F
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.volunteers.rules import LedgerKind, SignUpStatus
from handlers.volunteers.shared import (
    POINTS_MAX,
    TEXT_MAX,
    clean_text,
    forbid_own_credit,
    forbid_unless,
    lock_volunteer,
    optional_text,
    required_reason,
)
from models.audit import record
from models.volunteers import PointsEntry, Redemption, Reward, SignUp

GRANT_ACTIONS = {
    LedgerKind.BONUS: "volunteer.points_bonus",
    LedgerKind.ADJUSTED: "volunteer.points_adjusted",
}


async def balance(resident_id: int, conn: Any = None) -> int:
    """The points balance: the sum of the volunteer's ledger."""
    total = cast(
        list[int | None],
        await PointsEntry.filter(volunteer_id=resident_id)
        .using_db(conn)
        .annotate(total=Sum("points"))
        .values_list("total", flat=True),
    )
    return int(total[0] or 0) if total else 0


async def total_minutes(resident_id: int) -> int:
    """Minutes served over all attended shifts (the profile's total hours)."""
    total = cast(
        list[int | None],
        await SignUp.filter(volunteer_id=resident_id, status=SignUpStatus.ATTENDED)
        .annotate(total=Sum("minutes"))
        .values_list("total", flat=True),
    )
    return int(total[0] or 0) if total else 0


async def ledger(
    resident_id: int, offset: int = 0, limit: int = 20
) -> tuple[int, list[PointsEntry]]:
    query = PointsEntry.filter(volunteer_id=resident_id)
    return await query.count(), await query.order_by("-id").offset(offset).limit(limit)


async def grant_points(
    who: Who, resident_id: int, points: int, reason: str | None, kind: str, now: datetime
) -> PointsEntry:
    """A worker's bonus (表彰) or correction of a volunteer's points, with a reason."""
    forbid_unless(who.is_manager)
    forbid_own_credit(who, resident_id)
    reason = required_reason(reason)
    if kind not in {LedgerKind.BONUS, LedgerKind.ADJUSTED}:
        raise Refused("volunteer.error.bad_points", 400)
    if not 0 < abs(points) <= POINTS_MAX or (kind == LedgerKind.BONUS and points < 0):
        raise Refused("volunteer.error.bad_points", 400)
    # The one named is not a volunteer here: not the caller's "you are not registered".
    unknown = Refused("volunteer.error.not_a_volunteer", 404, id=resident_id)
    async with in_transaction() as conn:
        profile = await lock_volunteer(resident_id, conn, unknown)
        if profile.community_id != who.community_id:
            raise unknown
        entry = await PointsEntry.create(
            community_id=who.community_id,
            volunteer_id=resident_id,
            kind=kind,
            points=points,
            reason=reason,
            actor=who.name,
            at=now,
            using_db=conn,
        )
        await record(
            who.name,
            GRANT_ACTIONS[LedgerKind(kind)],
            "resident",
            resident_id,
            after={"points": points, "reason": reason},
            using_db=conn,
        )
    return entry


async def create_reward(
    who: Who, name: str, cost: int, stock: int, description: str = ""
) -> Reward:
    forbid_unless(who.is_manager)
    name = clean_text(name, 64, "volunteer.error.bad_title")
    description = optional_text(description, TEXT_MAX)
    if not 0 < cost <= POINTS_MAX or not 0 <= stock <= POINTS_MAX:
        raise Refused("volunteer.error.bad_points", 400)
    async with in_transaction() as conn:
        reward = await Reward.create(
            community_id=who.community_id,
            name=name,
            description=description,
            cost=cost,
            stock=stock,
            using_db=conn,
        )
        await record(
            who.name,
            "volunteer_reward.created",
            "volunteer_reward",
            reward.id,
            after={"name": name, "cost": cost, "stock": stock},
            using_db=conn,
        )
    return reward


async def update_reward(
    who: Who, reward_id: int, *, stock: int | None = None, active: bool | None = None
) -> Reward:
    """Restock a reward or take it off the catalogue (audited); redemptions stay as they were."""
    forbid_unless(who.is_manager)
    if stock is not None and not 0 <= stock <= POINTS_MAX:
        raise Refused("volunteer.error.bad_points", 400)
    async with in_transaction() as conn:
        reward = (
            await Reward.filter(id=reward_id, community_id=who.community_id)
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        if reward is None:
            raise Refused("volunteer.error.reward_not_found", 404, id=reward_id)
        before = {"stock": reward.stock, "active": reward.active}
        if stock is not None:
            reward.stock = stock
        if active is not None:
            reward.active = active
        await (
            Reward.filter(id=reward.id)
            .using_db(conn)
            .update(stock=reward.stock, active=reward.active)
        )
        await record(
            who.name,
            "volunteer_reward.updated",
            "volunteer_reward",
            reward.id,
            before=before,
            after={"stock": reward.stock, "active": reward.active},
            using_db=conn,
        )
    return reward


async def rewards(community_id: int) -> list[Reward]:
    return await Reward.filter(community_id=community_id, active=True).order_by("cost", "id")


@dataclass(frozen=True)
class RedeemOutcome:
    redemption: Redemption
    reward: Reward
    balance: int


async def redeem(resident_id: int, reward_id: int, now: datetime) -> RedeemOutcome:
    """积分兑换: balance and stock checked and spent in one transaction.

    The profile lock serialises the volunteer's own spending (two redemptions cannot both
    spend the same points); the reward lock serialises everyone's claims on the stock.
    """
    async with in_transaction() as conn:
        profile = await lock_volunteer(resident_id, conn)
        reward = (
            await Reward.filter(
                id=reward_id,
                community_id=profile.community_id,
                active=True,
            )
            .using_db(conn)
            .select_for_update(no_key=True)
            .first()
        )
        if reward is None:
            raise Refused("volunteer.error.reward_not_found", 404, id=reward_id)
        if reward.stock <= 0:
            raise Refused("volunteer.error.out_of_stock", 409, name=reward.name)
        have = await balance(resident_id, conn)
        if have < reward.cost:
            raise Refused("volunteer.error.not_enough_points", 409, balance=have, cost=reward.cost)
        taken = (
            await Reward.filter(id=reward.id, stock__gt=0)
            .using_db(conn)
            .update(stock=F("stock") - 1)
        )
        if not taken:
            raise Refused("volunteer.error.out_of_stock", 409, name=reward.name)
        made = await Redemption.create(
            reward_id=reward.id, volunteer_id=resident_id, cost=reward.cost, at=now, using_db=conn
        )
        await PointsEntry.create(
            community_id=profile.community_id,
            volunteer_id=resident_id,
            kind=LedgerKind.REDEEMED.value,
            points=-reward.cost,
            redemption_id=made.id,
            reason=reward.name,
            actor=f"resident:{resident_id}",
            at=now,
            using_db=conn,
        )
        await record(
            f"resident:{resident_id}",
            "volunteer.redeemed",
            "volunteer_reward",
            reward.id,
            before={"stock": reward.stock, "balance": have},
            after={"stock": reward.stock - 1, "balance": have - reward.cost},
            using_db=conn,
        )
    reward.stock -= 1
    return RedeemOutcome(made, reward, have - reward.cost)
