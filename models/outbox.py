"""Messages owed to a resident outside a callback reply.

When a handler misses WeChat's 5-second window, its reply is kept here until the
push client (notices issue) sends it as a customer-service message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community


class PendingMessage(Model):
    id = fields.BigIntField(primary_key=True)
    account = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=64)
    text = fields.TextField()
    reason = fields.CharField(max_length=32)
    # The message this answers, when it answers one: a reply is owed once per message.
    key = fields.CharField(max_length=160, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    claimed_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    failure = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "pending_message"


class Notification(Model):
    """A notice owed to residents about a proposal or a ticket, until the notices issue sends it.

    The audience is the proposer or the whole scope. sent_at stays empty until delivered.
    """

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="notifications"
    )
    community_id: int
    kind = fields.CharField(max_length=32)
    audience = fields.CharField(max_length=64)
    subject = fields.CharField(max_length=32)
    subject_id = fields.IntField()
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
