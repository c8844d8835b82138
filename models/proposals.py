"""民生微实事 proposals, their frozen electorate, votes, comments, progress and ratings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community, Household
    from models.residents import Resident


class Proposal(Model):
    """A livelihood project or a rectification, from draft to rating.

    The scope holds a kind (community, grids or buildings) and the ids. The vote
    result columns are written once, at close, together with the rule that decided.
    """

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="proposals"
    )
    community_id: int
    proposer: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="proposals", null=True, on_delete=fields.SET_NULL
    )
    proposer_id: int | None
    title = fields.CharField(max_length=100)
    description = fields.TextField()
    category = fields.CharField(max_length=24)
    status = fields.CharField(max_length=24, default="draft", db_index=True)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField()
    photos: fields.JSONField[list[str]] = fields.JSONField(default=list)
    estimated_cost = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    funding = fields.CharField(max_length=24, null=True)
    rejection_reason = fields.TextField(null=True)
    publicity_days = fields.IntField(default=5)
    published_at = fields.DatetimeField(null=True)
    voting_opened_at = fields.DatetimeField(null=True)
    voting_ends_at = fields.DatetimeField(null=True, db_index=True)
    rule: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    eligible_count = fields.IntField(null=True)
    eligible_area = fields.DecimalField(max_digits=14, decimal_places=2, null=True)
    result: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    closed_at = fields.DatetimeField(null=True)
    rating_sum = fields.IntField(default=0)
    rating_count = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "proposal"


class Elector(Model):
    """One voice frozen when voting opened: a household (or a resident, by rule).

    Later bindings do not change who is here, so the denominator cannot drift.
    """

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="electors"
    )
    proposal_id: int
    key = fields.CharField(max_length=24)
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="electors", null=True, on_delete=fields.SET_NULL
    )
    household_id: int | None
    area = fields.DecimalField(max_digits=8, decimal_places=2, default=0)

    class Meta:
        table = "proposal_elector"
        unique_together = (("proposal", "key"),)


class Vote(Model):
    """The current voice of one elector. A change overwrites it and goes to the audit log."""

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="votes"
    )
    proposal_id: int
    elector: fields.ForeignKeyRelation[Elector] = fields.ForeignKeyField(
        "models.Elector", related_name="votes"
    )
    elector_id: int
    choice = fields.CharField(max_length=8)
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="votes", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    # "online" (chat, mini-program) or "in_person" (入户走访, recorded by a worker). NULL on
    # rows from before the column (all online): a NOT NULL column cannot be added to them.
    channel = fields.CharField(max_length=12, null=True, default="online")
    recorded_by: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="votes_recorded", null=True, on_delete=fields.SET_NULL
    )
    recorded_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "proposal_vote"
        unique_together = (("proposal", "elector"),)


class Comment(Model):
    """A comment during publicity. Moderation hides it with a reason, never deletes."""

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="comments"
    )
    proposal_id: int
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="comments", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    text = fields.TextField()
    hidden_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_comment"


class ProgressUpdate(Model):
    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="progress"
    )
    proposal_id: int
    author: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="progress_updates", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_progress"


class Rating(Model):
    """One rating per household: a re-rating replaces it."""

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="ratings"
    )
    proposal_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="ratings"
    )
    household_id: int
    stars = fields.SmallIntField()
    comment = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_rating"
        unique_together = (("proposal", "household"),)
