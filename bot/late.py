"""Replies owed after the callback window: kept for the customer-service message API.

The push client of the notices issue sends ``PendingMessage`` rows; until then
the intent is logged (with a pseudonym, never the openid) and stored.
"""

from __future__ import annotations

import logging

from handlers.residents.rules import pseudonym
from models.outbox import PendingMessage

log = logging.getLogger(__name__)


async def owe_reply(account: str, openid: str, text: str, reason: str) -> None:
    log.info("reply to %s owed as customer-service message (%s)", pseudonym(openid), reason)
    try:
        await PendingMessage.create(account=account, openid=openid, text=text, reason=reason)
    except Exception:
        log.exception("could not store the reply owed to %s", pseudonym(openid))
