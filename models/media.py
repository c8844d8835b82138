"""Uploaded photos and voice: the bytes live in a media store, this row says whose they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community
    from models.residents import Resident


class Media(Model):
    """One upload. ``id`` is an unguessable token, and ``subject`` and ``subject_id`` name the
    record it was attached to (a ticket, a proposal, a visit), which decides who may see it;
    until then only its uploader may."""

    id = fields.CharField(max_length=32, primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="media"
    )
    community_id: int
    uploader: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="uploads", null=True, on_delete=fields.SET_NULL
    )
    uploader_id: int | None
    kind = fields.CharField(max_length=8)
    content_type = fields.CharField(max_length=48)
    size = fields.IntField()
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=128)
    subject = fields.CharField(max_length=24, null=True)
    subject_id = fields.CharField(max_length=24, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media"
