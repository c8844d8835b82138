"""The yearly 民生微实事 round: its fund, the menu, households' orders, spending, ratings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community, Household
    from models.proposals import Proposal
    from models.residents import Resident


class Round(Model):
    """One community's round for one year, from collection to the year-end report.

    ``phases`` holds the planned date of each phase; ``rule`` is frozen from the named
    rule when ordering opens, with ``eligible_count``; ``result`` is written once, at close.
    """

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="budget_rounds"
    )
    community_id: int
    year = fields.IntField()
    title = fields.CharField(max_length=100)
    status = fields.CharField(max_length=16, default="collection", db_index=True)
    phases: fields.JSONField[dict[str, str]] = fields.JSONField(default=dict)
    rule_name = fields.CharField(max_length=32)
    rule: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    ordering_opened_at = fields.DatetimeField(null=True)
    ordering_ends_at = fields.DatetimeField(null=True)
    eligible_count = fields.IntField(null=True)
    result: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    closed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_round"
        unique_together = (("community", "year"),)


class FundSource(Model):
    """Where part of the fund comes from (区级, 街道, 上级补助, 居民自筹, 捐赠, 社区基金会)."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "models.Round", related_name="sources"
    )
    round_id: int
    kind = fields.CharField(max_length=16)
    name = fields.CharField(max_length=100, default="")
    amount = fields.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        table = "budget_source"


class MenuItem(Model):
    """A project on the menu (项目库): a reviewed proposal or a department's project.

    ``number`` is what residents type when ordering. ``budget`` is the funded budget line,
    set at close; ``status`` goes listed → funded / unfunded → implementing → accepted.
    """

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "models.Round", related_name="items"
    )
    round_id: int
    number = fields.IntField()
    title = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    cost = fields.DecimalField(max_digits=12, decimal_places=2)
    responsible = fields.CharField(max_length=100)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField()
    photos: fields.JSONField[list[str]] = fields.JSONField(default=list)
    origin = fields.CharField(max_length=12)
    proposal: fields.ForeignKeyNullableRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="menu_items", null=True, on_delete=fields.SET_NULL
    )
    proposal_id: int | None
    status = fields.CharField(max_length=16, default="listed")
    budget = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_item"
        unique_together = (("round", "number"),)


class BudgetElector(Model):
    """A household frozen into the round when ordering opened: the denominator."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "models.Round", related_name="electors"
    )
    round_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="budget_electors"
    )
    household_id: int

    class Meta:
        table = "budget_elector"
        unique_together = (("round", "household"),)


class Order(Model):
    """A household's one order (点菜): the item ids it wants. A change overwrites it and
    goes to the audit log; ``channel`` is "online" or "in_person" (a paper menu ballot)."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "models.Round", related_name="orders"
    )
    round_id: int
    elector: fields.ForeignKeyRelation[BudgetElector] = fields.ForeignKeyField(
        "models.BudgetElector", related_name="orders"
    )
    elector_id: int
    items: fields.JSONField[list[int]] = fields.JSONField(default=list)
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="budget_orders", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    channel = fields.CharField(max_length=12, default="online")
    recorded_by: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident",
        related_name="budget_orders_recorded",
        null=True,
        on_delete=fields.SET_NULL,
    )
    recorded_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "budget_order"
        unique_together = (("round", "elector"),)


class BallotVisit(Model):
    """One call at one household's door for the round: a paper ballot or the reason none."""

    id = fields.IntField(primary_key=True)
    round: fields.ForeignKeyRelation[Round] = fields.ForeignKeyField(
        "models.Round", related_name="visits"
    )
    round_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="ballot_visits"
    )
    household_id: int
    worker: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="ballot_visits", null=True, on_delete=fields.SET_NULL
    )
    worker_id: int | None
    outcome = fields.CharField(max_length=16)
    items: fields.JSONField[list[int] | None] = fields.JSONField(null=True)
    respondent = fields.CharField(max_length=64, default="")
    method = fields.CharField(max_length=8, null=True)
    media: fields.JSONField[list[str]] = fields.JSONField(default=list)
    note = fields.TextField(default="")
    visited_at = fields.DatetimeField()
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_visit"


class MenuComment(Model):
    """A comment on a menu item while the menu is published. Hidden with a reason, never
    deleted."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[MenuItem] = fields.ForeignKeyField(
        "models.MenuItem", related_name="comments"
    )
    item_id: int
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="menu_comments", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    text = fields.TextField()
    hidden_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_comment"


class Spending(Model):
    """Money spent on a funded project: amount, date, what for, receipts as media ids.

    ``over_reason`` is the admin's written reason when this spending passed the budget line.
    """

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[MenuItem] = fields.ForeignKeyField(
        "models.MenuItem", related_name="spendings"
    )
    item_id: int
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    spent_on = fields.DateField()
    purpose = fields.CharField(max_length=200)
    receipts: fields.JSONField[list[str]] = fields.JSONField(default=list)
    recorded_by: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="spendings", null=True, on_delete=fields.SET_NULL
    )
    recorded_by_id: int | None
    over_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_spending"


class ItemRating(Model):
    """A household's satisfaction (1-5) with a finished project: a re-rating replaces it."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[MenuItem] = fields.ForeignKeyField(
        "models.MenuItem", related_name="ratings"
    )
    item_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="item_ratings"
    )
    household_id: int
    stars = fields.SmallIntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "budget_rating"
        unique_together = (("item", "household"),)
