"""What the chat remembers between a resident's messages, kept with the truth.

A conversation's state decides what a resident's next reply means ("1" submits the
complaint just described, or opens the menu), so it lives in the database and changes
in the same transaction as the effect it leads to: a store that restarts empty, or a
message replayed from the spool, finds it as the last committed message left it.
``HandledMessage`` is the ledger that makes each WeChat message take effect once,
however often it comes back (WeChat's retries, the spool, two processes).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ConversationRow(Model):
    """A resident's place in a chat flow, gone when the flow ends or expires."""

    id = fields.BigIntField(primary_key=True)
    account = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=64)
    name = fields.CharField(max_length=64)
    data: fields.JSONField[dict[str, object]] = fields.JSONField(default=dict)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "conversation"
        unique_together = (("account", "openid"),)


class HandledMessage(Model):
    """One row per message that took effect, committed with that effect. ``reply`` is
    what the resident was answered, so a message coming back is answered the same way."""

    key = fields.CharField(max_length=160, primary_key=True)
    reply = fields.TextField(default="")
    handled_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "handled_message"
