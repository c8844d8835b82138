"""The places residents live in: 社区 → 网格 → 楼栋 → 户."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Community(Model):
    """社区: the unit one official account serves."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "community"


class Grid(Model):
    """网格: needs are found and hazards checked grid by grid.

    Its 网格员 (one per ~150 households) is a ``RoleAssignment`` with this grid.
    """

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="grids"
    )
    community_id: int
    name = fields.CharField(max_length=64)

    class Meta:
        table = "grid"
        unique_together = (("community", "name"),)


class Building(Model):
    """楼栋."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="buildings"
    )
    community_id: int
    grid: fields.ForeignKeyNullableRelation[Grid] = fields.ForeignKeyField(
        "models.Grid", related_name="buildings", null=True, on_delete=fields.SET_NULL
    )
    grid_id: int | None
    name = fields.CharField(max_length=32)

    class Meta:
        table = "building"
        unique_together = (("community", "name"),)


class Household(Model):
    """户: one voice in household votes, with floor area for double-majority rules."""

    id = fields.IntField(primary_key=True)
    building: fields.ForeignKeyRelation[Building] = fields.ForeignKeyField(
        "models.Building", related_name="households"
    )
    building_id: int
    unit = fields.CharField(max_length=16, default="")
    room = fields.CharField(max_length=16)
    floor_area = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    # The household's head as the register (台账) names them: personal data, never logged.
    head_name = fields.CharField(max_length=64, null=True)
    head_phone = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "household"
        unique_together = (("building", "unit", "room"),)
