"""入户走访: door-to-door visits for a vote, disputes of what was recorded, and reminders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Household
    from models.proposals import Proposal
    from models.residents import Resident


class Visit(Model):
    """One call at one household's door for one vote, answered or not.

    ``outcome`` is "answered" or the reason nobody answered (not_home, refused, vacant,
    moved_out, other). An answered visit also writes the household's vote; the visit keeps
    who answered (as they stated it), how (a signed form's photos as media ids, or oral)
    and which worker recorded it.
    """

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="visits"
    )
    proposal_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="visits"
    )
    household_id: int
    worker: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="visits_made", null=True, on_delete=fields.SET_NULL
    )
    worker_id: int | None
    outcome = fields.CharField(max_length=16)
    choice = fields.CharField(max_length=8, null=True)
    respondent = fields.CharField(max_length=64, default="")
    method = fields.CharField(max_length=8, null=True)
    media: fields.JSONField[list[str]] = fields.JSONField(default=list)
    note = fields.TextField(default="")
    visited_at = fields.DatetimeField()
    recorded_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "canvass_visit"


class Dispute(Model):
    """A bound resident says the answer recorded for their household is not theirs."""

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="disputes"
    )
    proposal_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="disputes"
    )
    household_id: int
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="disputes", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    visit: fields.ForeignKeyNullableRelation[Visit] = fields.ForeignKeyField(
        "models.Visit", related_name="disputes", null=True, on_delete=fields.SET_NULL
    )
    visit_id: int | None
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    resolved_at = fields.DatetimeField(null=True)
    resolution = fields.TextField(null=True)

    class Meta:
        table = "canvass_dispute"


class Reminder(Model):
    """At most one gap reminder per household, vote and day: the unique key says so."""

    id = fields.IntField(primary_key=True)
    proposal: fields.ForeignKeyRelation[Proposal] = fields.ForeignKeyField(
        "models.Proposal", related_name="reminders"
    )
    proposal_id: int
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="reminders"
    )
    household_id: int
    day = fields.CharField(max_length=10)
    sent_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "canvass_reminder"
        unique_together = (("proposal", "household", "day"),)
