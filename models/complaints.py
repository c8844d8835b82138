"""诉求 tickets: what was reported, who handles it, deadlines, and what the resident said after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Building, Community, Grid, Household
    from models.residents import Resident


class Ticket(Model):
    """One complaint or request, from intake to the resident's rating.

    The reporter stays on the row even when anonymous, so updates still reach them. Handlers
    never get the reporter through the API when the ticket is anonymous.
    """

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=12, unique=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="tickets"
    )
    community_id: int
    reporter: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    reporter_id: int | None
    anonymous = fields.BooleanField(default=False)
    text = fields.TextField()
    media: fields.JSONField[list[str]] = fields.JSONField(default=list)
    location: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    household_id: int | None
    building: fields.ForeignKeyNullableRelation[Building] = fields.ForeignKeyField(
        "models.Building", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    building_id: int | None
    grid: fields.ForeignKeyNullableRelation[Grid] = fields.ForeignKeyField(
        "models.Grid", related_name="tickets", null=True, on_delete=fields.SET_NULL
    )
    grid_id: int | None
    department = fields.CharField(max_length=32, db_index=True)
    routing: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    emergency = fields.CharField(max_length=16, null=True)
    status = fields.CharField(max_length=16, default="received", db_index=True)
    accept_due_at = fields.DatetimeField(null=True)
    resolve_due_at = fields.DatetimeField(null=True)
    accepted_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    handler: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="handled_tickets", null=True, on_delete=fields.SET_NULL
    )
    handler_id: int | None
    resolution = fields.TextField(null=True)
    resolution_photo = fields.CharField(max_length=128, null=True)
    referral = fields.TextField(null=True)
    reopened = fields.IntField(default=0)
    stars = fields.SmallIntField(null=True)
    rating_comment = fields.TextField(null=True)
    duplicate_of: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="duplicates", null=True, on_delete=fields.SET_NULL
    )
    duplicate_of_id: int | None
    created_at = fields.DatetimeField(db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "ticket"


class TicketUpdate(Model):
    """A step the resident is told about: progress notes, resolution, referral."""

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="updates"
    )
    ticket_id: int
    kind = fields.CharField(max_length=24)
    text = fields.TextField(default="")
    photo = fields.CharField(max_length=128, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ticket_update"


class RoutingCorrection(Model):
    """A worker's reassignment: the text and the department it should have gone to.

    The router is retrained from these rows.
    """

    id = fields.IntField(primary_key=True)
    ticket: fields.ForeignKeyNullableRelation[Ticket] = fields.ForeignKeyField(
        "models.Ticket", related_name="corrections", null=True, on_delete=fields.SET_NULL
    )
    ticket_id: int | None
    text = fields.TextField()
    routed = fields.CharField(max_length=32)
    correct = fields.CharField(max_length=32)
    # Who reassigned: a lesson counts only once more than one worker has taught it.
    corrected_by = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "routing_correction"


class RouterWeights(Model):
    """The latest trained routing weights, so every process routes alike."""

    id = fields.IntField(primary_key=True)
    weights: fields.JSONField[dict[str, Any]] = fields.JSONField()
    corrections = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "router_weights"
