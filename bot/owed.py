"""Send the replies owed after the callback window, as customer-service messages.

At most once per reply: a row is claimed by a conditional update before anything is
sent, so a process killed mid-send never sends it again. What became of a claimed row
is always written down: sent, failed with a reason, or "unknown" when WeChat may or
may not have delivered it (a timeout after sending).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from tortoise.expressions import Q

from bot.push import OfficialAccountClient, PermanentError, TransientError
from handlers.residents.rules import pseudonym
from models.outbox import PendingMessage

log = logging.getLogger(__name__)

BATCH = 50
MAX_ATTEMPTS = 5
# A claim this old without an outcome belonged to a process that died while sending.
STALE_CLAIM = timedelta(minutes=10)


async def deliver_owed(clients: dict[str, OfficialAccountClient], now: datetime) -> Counter[str]:
    """One round: every unsent, unclaimed reply of an account we can send for."""
    done: Counter[str] = Counter()
    stale = await PendingMessage.filter(
        sent_at=None, failure=None, claimed_at__lt=now - STALE_CLAIM
    ).update(failure="interrupted")
    done["interrupted"] += stale
    rows = (
        await PendingMessage.filter(
            Q(sent_at=None), Q(failure=None), Q(claimed_at=None), Q(account__in=list(clients))
        )
        .order_by("id")
        .limit(BATCH)
    )
    for row in rows:
        claimed = await PendingMessage.filter(id=row.id, claimed_at=None, sent_at=None).update(
            claimed_at=now, attempts=row.attempts + 1
        )
        if not claimed:
            continue  # another process took it
        done[await _send(clients[row.account], row, now)] += 1
    return done


async def _send(client: OfficialAccountClient, row: PendingMessage, now: datetime) -> str:
    try:
        await client.send_text(row.openid, row.text)
    except PermanentError as exc:
        await PendingMessage.filter(id=row.id).update(failure=exc.reason[:32])
        log.info("owed reply to %s not sent: %s", pseudonym(row.openid), exc.reason)
        return "failed"
    except TransientError as exc:
        if exc.ambiguous:
            # It may have reached the resident: sending again could say it twice.
            await PendingMessage.filter(id=row.id).update(failure="unknown")
            return "unknown"
        retry = row.attempts + 1 < MAX_ATTEMPTS
        await PendingMessage.filter(id=row.id).update(
            claimed_at=None, **({} if retry else {"failure": "gave_up"})
        )
        return "retry" if retry else "failed"
    await PendingMessage.filter(id=row.id).update(sent_at=now)
    return "sent"
