"""民生微实事 proposals, their frozen electorate, votes, comments, progress and ratings."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Proposal(Model):
    """A livelihood project or a rectification, from draft to rating.

    The scope holds a kind (community, grids or buildings) and the ids. The vote
    result columns are written once, at close, together with the rule that decided.
    """

    id = fields.IntField(primary_key=True)
    community = fields.ForeignKeyField("models.Community", related_name="proposals")
    proposer = fields.ForeignKeyField(
        "models.Resident", related_name="proposals", null=True, on_delete=fields.SET_NULL
    )
    title = fields.CharField(max_length=100)
    description = fields.TextField()
    category = fields.CharField(max_length=24)
    status = fields.CharField(max_length=24, default="draft", db_index=True)
    scope = fields.JSONField()
    photos = fields.JSONField(default=list)
    estimated_cost = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    funding = fields.CharField(max_length=24, null=True)
    rejection_reason = fields.TextField(null=True)
    publicity_days = fields.IntField(default=5)
    published_at = fields.DatetimeField(null=True)
    voting_opened_at = fields.DatetimeField(null=True)
    voting_ends_at = fields.DatetimeField(null=True, db_index=True)
    rule = fields.JSONField(null=True)
    eligible_count = fields.IntField(null=True)
    eligible_area = fields.DecimalField(max_digits=14, decimal_places=2, null=True)
    result = fields.JSONField(null=True)
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
    proposal = fields.ForeignKeyField("models.Proposal", related_name="electors")
    key = fields.CharField(max_length=24)
    household = fields.ForeignKeyField(
        "models.Household", related_name="electors", null=True, on_delete=fields.SET_NULL
    )
    area = fields.DecimalField(max_digits=8, decimal_places=2, default=0)

    class Meta:
        table = "proposal_elector"
        unique_together = (("proposal", "key"),)


class Vote(Model):
    """The current voice of one elector. A change overwrites it and goes to the audit log."""

    id = fields.IntField(primary_key=True)
    proposal = fields.ForeignKeyField("models.Proposal", related_name="votes")
    elector = fields.ForeignKeyField("models.Elector", related_name="votes")
    choice = fields.CharField(max_length=8)
    resident = fields.ForeignKeyField(
        "models.Resident", related_name="votes", null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "proposal_vote"
        unique_together = (("proposal", "elector"),)


class Comment(Model):
    """A comment during publicity. Moderation hides it with a reason, never deletes."""

    id = fields.IntField(primary_key=True)
    proposal = fields.ForeignKeyField("models.Proposal", related_name="comments")
    resident = fields.ForeignKeyField(
        "models.Resident", related_name="comments", null=True, on_delete=fields.SET_NULL
    )
    text = fields.TextField()
    hidden_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_comment"


class ProgressUpdate(Model):
    id = fields.IntField(primary_key=True)
    proposal = fields.ForeignKeyField("models.Proposal", related_name="progress")
    author = fields.ForeignKeyField(
        "models.Resident", related_name="progress_updates", null=True, on_delete=fields.SET_NULL
    )
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_progress"


class Rating(Model):
    """One rating per household: a re-rating replaces it."""

    id = fields.IntField(primary_key=True)
    proposal = fields.ForeignKeyField("models.Proposal", related_name="ratings")
    household = fields.ForeignKeyField("models.Household", related_name="ratings")
    stars = fields.SmallIntField()
    comment = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "proposal_rating"
        unique_together = (("proposal", "household"),)
