"""The append-only audit log (留档备查): who changed what, when, from what to what."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AppendOnlyError(RuntimeError):
    """Audit entries are never changed or removed once written."""


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True)
    actor = fields.CharField(max_length=64)
    action = fields.CharField(max_length=64)
    entity = fields.CharField(max_length=32)
    entity_id = fields.CharField(max_length=64)
    before: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    after: fields.JSONField[dict[str, Any] | None] = fields.JSONField(null=True)
    # Tamper evidence for answers: the entries of one chain (a household's voice in one
    # vote) each carry the digest of the one before and their own.
    chain = fields.CharField(max_length=48, null=True, db_index=True)
    prev = fields.CharField(max_length=64, null=True)
    digest = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "audit_log"

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self._saved_in_db:
            raise AppendOnlyError("audit entries are append-only")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnlyError("audit entries are append-only")


async def record(
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    using_db: Any = None,
) -> AuditLog:
    return await AuditLog.create(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
        using_db=using_db,
    )
