"""How people sign in besides the official account: console passwords, mini-program openids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from models.residents import Resident


class ConsoleLogin(Model):
    """The console password of a community worker: an argon2id hash, never the password."""

    id = fields.IntField(primary_key=True)
    resident: fields.OneToOneRelation[Resident] = fields.OneToOneField(
        "models.Resident", related_name="console_login", on_delete=fields.CASCADE
    )
    resident_id: int
    login = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=256)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "console_login"


class MiniProgramUser(Model):
    """The mini-program openid of a resident, which differs from the official account openid.

    The two are the same person when WeChat gives both the same unionid.
    """

    id = fields.IntField(primary_key=True)
    appid = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=64)
    resident: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="miniprogram_users", on_delete=fields.CASCADE
    )
    resident_id: int
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "miniprogram_user"
        unique_together = (("appid", "openid"),)
