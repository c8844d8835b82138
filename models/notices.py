"""Notices workers broadcast, the robots of group chats, one delivery row per recipient.

A notice is expanded to deliveries once. Each delivery is claimed before it is sent,
so a process killed mid-send never sends it again. Residents may mute kinds of
notices, emergency notices ignore that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.community import Community
    from models.residents import Resident


class Notice(Model):
    """A broadcast: scope is a dict with kind (community, grids, buildings, households) and ids.

    Channels list oa (official account), robot (WeCom group robots) and customer_group
    (WeCom customer groups, by their owners' mass-sending tasks). Status goes
    draft or scheduled, then sending once expanded, then done, or cancelled.
    """

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="notices"
    )
    community_id: int
    title = fields.CharField(max_length=100)
    body = fields.TextField()
    kind = fields.CharField(max_length=32, default="general")
    emergency = fields.BooleanField(default=False)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    channels: fields.JSONField[list[str]] = fields.JSONField(default=list)
    scheduled_at = fields.DatetimeField(null=True)
    author: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="notices", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    status = fields.CharField(max_length=16, default="draft")
    expanded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notice"


class Group(Model):
    """A group chat with a WeCom robot, its webhook key and the scope it speaks for."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="robot_groups"
    )
    community_id: int
    name = fields.CharField(max_length=64)
    webhook_key = fields.CharField(max_length=128)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "robot_group"
        unique_together = (("community", "name"),)


class Delivery(Model):
    """One notice to one recipient on one channel, sent at most once.

    recipient_key is r plus the resident id, or g plus the group id. Status goes
    pending, claimed, then sent, failed with a reason, or unknown when it may have
    gone out (never sent again).
    """

    id = fields.BigIntField(primary_key=True)
    notice: fields.ForeignKeyRelation[Notice] = fields.ForeignKeyField(
        "models.Notice", related_name="deliveries"
    )
    notice_id: int
    channel = fields.CharField(max_length=8)
    recipient_key = fields.CharField(max_length=32)
    resident: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="deliveries", null=True, on_delete=fields.SET_NULL
    )
    resident_id: int | None
    group: fields.ForeignKeyNullableRelation[Group] = fields.ForeignKeyField(
        "models.Group", related_name="deliveries", null=True, on_delete=fields.SET_NULL
    )
    group_id: int | None
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    attempts = fields.IntField(default=0)
    failure = fields.CharField(max_length=32, null=True)
    not_before = fields.DatetimeField(null=True)
    claim = fields.CharField(max_length=16, null=True)
    claimed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "delivery"
        unique_together = (("notice", "channel", "recipient_key"),)


class Mute(Model):
    """A resident who does not want notices of one kind."""

    id = fields.IntField(primary_key=True)
    resident: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="mutes"
    )
    resident_id: int
    kind = fields.CharField(max_length=32)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "mute"
        unique_together = (("resident", "kind"),)


class WeComUser(Model):
    """The WeCom account of a community worker: the userid WeCom sends as FromUserName.

    Messages to the WeCom application from this userid act as the linked resident,
    whose roles decide what they may do.
    """

    id = fields.IntField(primary_key=True)
    corp_id = fields.CharField(max_length=64)
    userid = fields.CharField(max_length=64)
    resident: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="wecom_users"
    )
    resident_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "wecom_user"
        unique_together = (("corp_id", "userid"),)


class CustomerGroup(Model):
    """A WeCom customer group (客户群) of residents, mostly WeChat users, where no robot may be.

    Notices reach it by mass sending (客户群群发): WeCom gives its owner (群主, a worker's
    userid) a task to confirm in their client. ``chat_id`` is WeCom's id of the group;
    ``scope`` is the buildings or grids it serves, as a robot's.
    """

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="customer_groups"
    )
    community_id: int
    chat_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=64)
    owner = fields.CharField(max_length=64)
    scope: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customer_group"
        unique_together = (("community", "chat_id"),)


class GroupDelivery(Model):
    """One notice to one customer group, by one mass-sending task of its owner, at most once.

    Status goes pending, submitting (the intent, stored before the task is created, so
    a crash is recovered by finding the task rather than creating a second), submitted
    (``msgid``), confirmed (the owner sent the task), then sent, not_in_group, or failed
    with a reason. Rows of one notice and owner share one task and ``claim``.
    """

    id = fields.BigIntField(primary_key=True)
    notice: fields.ForeignKeyRelation[Notice] = fields.ForeignKeyField(
        "models.Notice", related_name="group_deliveries"
    )
    notice_id: int
    group: fields.ForeignKeyRelation[CustomerGroup] = fields.ForeignKeyField(
        "models.CustomerGroup", related_name="deliveries"
    )
    group_id: int
    chat_id = fields.CharField(max_length=64)
    owner = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    failure = fields.CharField(max_length=32, null=True)
    msgid = fields.CharField(max_length=128, null=True, db_index=True)
    claim = fields.CharField(max_length=16, null=True)
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(null=True)
    submitted_at = fields.DatetimeField(null=True)
    confirmed_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    checked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "customer_group_delivery"
        unique_together = (("notice", "group"),)
