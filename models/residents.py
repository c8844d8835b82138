"""Residents, their roles and the one-time codes that bind them to a household."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community, Grid, Household


class Role(StrEnum):
    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    GRID_WORKER = "grid_worker"
    COMMUNITY_WORKER = "community_worker"
    ADMIN = "admin"
    HANDLER = "handler"


class Resident(Model):
    """A follower of the community's official account.

    ``verified`` means bound to a household by a code a community worker issued.
    Erasure (PIPL) clears the personal fields and keeps the row, so anonymous
    records that point at it (votes, tickets) stay countable.
    """

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="residents"
    )
    community_id: int
    openid = fields.CharField(max_length=64, null=True)
    unionid = fields.CharField(max_length=64, null=True)
    name = fields.CharField(max_length=64, null=True)
    phone = fields.CharField(max_length=32, null=True)
    household: fields.ForeignKeyNullableRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="residents", null=True, on_delete=fields.SET_NULL
    )
    household_id: int | None
    verified = fields.BooleanField(default=False)
    language = fields.CharField(max_length=8, default="zh_Hans")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    erased_at = fields.DatetimeField(null=True)

    class Meta:
        table = "resident"
        unique_together = (("community", "openid"),)

    def __str__(self) -> str:
        return f"resident#{self.id}"


class RoleAssignment(Model):
    id = fields.IntField(primary_key=True)
    resident: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="roles"
    )
    resident_id: int
    role = fields.CharEnumField(Role, max_length=24)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="role_assignments"
    )
    community_id: int
    grid: fields.ForeignKeyNullableRelation[Grid] = fields.ForeignKeyField(
        "models.Grid", related_name="role_assignments", null=True, on_delete=fields.SET_NULL
    )
    grid_id: int | None
    department = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role_assignment"
        unique_together = (("resident", "role", "community"),)


class BindingCode(Model):
    """A single-use code a community worker hands to one household (户号绑定码)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    household: fields.ForeignKeyRelation[Household] = fields.ForeignKeyField(
        "models.Household", related_name="binding_codes"
    )
    household_id: int
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="binding_codes_used", null=True, on_delete=fields.SET_NULL
    )
    used_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "binding_code"
