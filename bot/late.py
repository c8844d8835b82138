"""Replies owed after the callback window: kept for the customer-service message API.

The push client of the notices issue sends ``PendingMessage`` rows; until then
the intent is logged (with a pseudonym, never the openid) and stored.
"""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from handlers.residents.rules import pseudonym
from models.outbox import PendingMessage

log = logging.getLogger(__name__)


async def owe_reply(account: str, openid: str, text: str, reason: str, key: str = "") -> None:
    """``key``: the message this answers; owed once however often it is replayed."""
    log.info("reply to %s owed as customer-service message (%s)", pseudonym(openid), reason)
    try:
        await PendingMessage.create(
            account=account, openid=openid, text=text, reason=reason, key=key or None
        )
    except IntegrityError:
        log.info("reply to %s already owed", pseudonym(openid))
    except Exception:
        log.exception("could not store the reply owed to %s", pseudonym(openid))
