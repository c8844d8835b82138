"""Residents, their roles and the one-time codes that bind them to a household."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


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
    community = fields.ForeignKeyField("models.Community", related_name="residents")
    openid = fields.CharField(max_length=64, null=True)
    unionid = fields.CharField(max_length=64, null=True)
    name = fields.CharField(max_length=64, null=True)
    phone = fields.CharField(max_length=32, null=True)
    household = fields.ForeignKeyField(
        "models.Household", related_name="residents", null=True, on_delete=fields.SET_NULL
    )
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
    resident = fields.ForeignKeyField("models.Resident", related_name="roles")
    role = fields.CharEnumField(Role, max_length=24)
    community = fields.ForeignKeyField("models.Community", related_name="role_assignments")
    grid = fields.ForeignKeyField(
        "models.Grid", related_name="role_assignments", null=True, on_delete=fields.SET_NULL
    )
    department = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role_assignment"
        unique_together = (("resident", "role", "community"),)


class BindingCode(Model):
    """A single-use code a community worker hands to one household (户号绑定码)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    household = fields.ForeignKeyField("models.Household", related_name="binding_codes")
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by = fields.ForeignKeyField(
        "models.Resident", related_name="binding_codes_used", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "binding_code"
