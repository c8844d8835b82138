"""Send notices to WeCom customer groups (客户群群发) and follow them until they arrive.

A notice's rows for customer groups (``models.notices.GroupDelivery``) go out as one
mass-sending task per owner (群主): the owner confirms it in their WeCom client, then
WeCom sends it to the chats. Never a second task for the same rows:

- the rows are claimed and recorded ``submitting`` (the intent, with the instant) in one
  conditional update before ``add_msg_template`` is called, and ``submitted`` with the
  task's ``msgid`` once it answers;
- a call that may have reached WeCom (a timeout, a lost answer) or a process that died
  between the call and the record leaves the rows ``submitting``. Once older than
  ``STALE_INTENT`` they are recovered by looking the task up (``get_groupmsg_list_v2``:
  the enterprise's tasks since the intent with exactly this text, owned by this owner
  and naming these chats, and not already recorded); only when WeCom has none are the
  rows pending again, to be submitted anew.

The poll asks each open task how far it got, at most every ``POLL_EVERY``: confirmed by
its owner (``get_groupmsg_task``), then each chat's result (``get_groupmsg_send_result``).
A task its owner has not sent within ``EXPIRE`` is given up (``not_confirmed``), and so
is a chat still unsent then (``not_sent``).
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q

from bot.push import PermanentError, TransientError
from bot.push.wecom_customer import MAX_CHATS, CustomerGroupClient, Outcome
from handlers.notices import rules
from models.notices import GroupDelivery, Notice

log = logging.getLogger(__name__)

BATCH = 500
MAX_ATTEMPTS = 5
STALE_INTENT = timedelta(minutes=2)
POLL_EVERY = timedelta(minutes=1)
EXPIRE = timedelta(days=3)
LOOKUP_SLACK = 60  # seconds before the intent a task may say it was created (clock skew)
OPEN_TASK = ("submitted", "confirmed")


def _instant() -> datetime:
    return datetime.now(UTC)


def _when(send_time: int | None) -> datetime | None:
    return datetime.fromtimestamp(send_time, UTC) if send_time else None


async def _text(notice_id: int) -> tuple[Notice, str]:
    notice = await Notice.get(id=notice_id)
    return notice, rules.rendered("customer_group", notice.title, notice.body)


async def fail_unsendable(now: datetime) -> int:
    """No customer-contact application configured: the pending rows cannot go out."""
    return await GroupDelivery.filter(status="pending").update(
        status="failed", failure="no_account"
    )


async def submit(client: CustomerGroupClient, now: datetime) -> Counter[str]:
    """Create one task per notice and owner for the due pending rows."""
    done: Counter[str] = Counter()
    rows = (
        await GroupDelivery.filter(Q(status="pending"), Q(not_before=None) | Q(not_before__lte=now))
        .order_by("id")
        .limit(BATCH)
        .values_list("id", "notice_id", "owner")
    )
    batches: defaultdict[tuple[int, str], list[int]] = defaultdict(list)
    for row_id, notice_id, owner in rows:
        batches[(notice_id, owner)].append(row_id)
    for (notice_id, owner), ids in batches.items():
        for start in range(0, len(ids), MAX_CHATS):
            done.update(
                await _submit_one(client, notice_id, owner, ids[start : start + MAX_CHATS], now)
            )
    return done


async def _submit_one(
    client: CustomerGroupClient, notice_id: int, owner: str, ids: list[int], now: datetime
) -> Counter[str]:
    done: Counter[str] = Counter()
    claim = secrets.token_hex(8)
    # The intent: stored before the call, so a crash after it is found, not repeated.
    await GroupDelivery.filter(id__in=ids, status="pending").update(
        status="submitting", claim=claim, submitted_at=_instant(), attempts=F("attempts") + 1
    )
    mine = await GroupDelivery.filter(claim=claim, status="submitting").order_by("id")
    if not mine:
        return done
    _, content = await _text(notice_id)
    try:
        msgid, refused = await client.add_msg_template(owner, [r.chat_id for r in mine], content)
    except PermanentError as exc:
        await GroupDelivery.filter(claim=claim, status="submitting").update(
            status="failed", failure=exc.reason[:32]
        )
        done["failed"] += len(mine)
        return done
    except TransientError as exc:
        if exc.ambiguous:
            done["ambiguous"] += len(mine)  # recovered by lookup once stale
            return done
        if min(r.attempts for r in mine) >= MAX_ATTEMPTS:
            await GroupDelivery.filter(claim=claim, status="submitting").update(
                status="failed", failure="gave_up"
            )
            done["failed"] += len(mine)
            return done
        await GroupDelivery.filter(claim=claim, status="submitting").update(
            status="pending",
            claim=None,
            submitted_at=None,
            not_before=now + rules.backoff(mine[0].attempts, exc.retry_after),
        )
        done["retry"] += len(mine)
        return done
    await _record(claim, msgid, refused, now)
    done["submitted"] += len(mine)
    return done


async def _record(claim: str, msgid: str, refused: list[str], now: datetime) -> None:
    # Checked "now": its owner has not had the time to confirm it yet.
    await GroupDelivery.filter(claim=claim, status="submitting").update(
        status="submitted", msgid=msgid, checked_at=now
    )
    if refused:
        await GroupDelivery.filter(claim=claim, chat_id__in=refused, status="submitted").update(
            status="failed", failure="refused"
        )


async def recover(client: CustomerGroupClient, now: datetime) -> Counter[str]:
    """Rows left ``submitting`` past ``STALE_INTENT``: the task WeCom has for them, else
    pending again (WeCom has none: nothing went out)."""
    done: Counter[str] = Counter()
    stale = await GroupDelivery.filter(
        status="submitting", submitted_at__lt=now - STALE_INTENT
    ).order_by("id")
    claims: defaultdict[str, list[GroupDelivery]] = defaultdict(list)
    for row in stale:
        claims[row.claim or ""].append(row)
    for claim, rows in claims.items():
        try:
            msgid = await _find_task(client, rows, now)
        except (TransientError, PermanentError) as exc:
            log.info("could not look up an interrupted mass-sending task: %s", exc)
            continue
        if msgid is None:
            await GroupDelivery.filter(claim=claim, status="submitting").update(
                status="pending", claim=None, submitted_at=None
            )
            done["resubmit"] += len(rows)
            continue
        found = await client.send_results(msgid, rows[0].owner)
        refused = [r.chat_id for r in rows if found and r.chat_id not in found]
        await _record(claim, msgid, refused, now)
        done["recovered"] += len(rows)
    return done


async def _find_task(
    client: CustomerGroupClient, rows: list[GroupDelivery], now: datetime
) -> str | None:
    first = min(r.submitted_at or now for r in rows)
    _, content = await _text(rows[0].notice_id)
    owner, chats = rows[0].owner, {r.chat_id for r in rows}
    start = int(first.timestamp()) - LOOKUP_SLACK
    candidates = await client.find_tasks(content, start, int(now.timestamp()) + LOOKUP_SLACK)
    known = (
        set(await GroupDelivery.filter(msgid__in=candidates).values_list("msgid", flat=True))
        if candidates
        else set()
    )
    for msgid in candidates:
        if msgid in known:
            continue  # another batch's task, already recorded
        if owner not in await client.task_status(msgid):
            continue
        results = await client.send_results(msgid, owner)
        if not results or chats & set(results):
            return msgid
    return None


async def poll(client: CustomerGroupClient, now: datetime) -> Counter[str]:
    """Ask each open task, at most every ``POLL_EVERY``, what became of it."""
    done: Counter[str] = Counter()
    rows = await GroupDelivery.filter(
        Q(status__in=OPEN_TASK),
        Q(msgid__not_isnull=True),
        Q(checked_at=None) | Q(checked_at__lte=now - POLL_EVERY),
    ).order_by("id")
    tasks: defaultdict[tuple[str, str], list[GroupDelivery]] = defaultdict(list)
    for row in rows:
        tasks[(row.msgid or "", row.owner)].append(row)
    for (msgid, owner), group in tasks.items():
        try:
            done.update(await _poll_one(client, msgid, owner, group, now))
        except (TransientError, PermanentError) as exc:
            log.info("could not poll a mass-sending task: %s", exc)
    return done


async def _poll_one(
    client: CustomerGroupClient, msgid: str, owner: str, rows: list[GroupDelivery], now: datetime
) -> Counter[str]:
    done: Counter[str] = Counter()
    ids = [r.id for r in rows]
    expired = rules.group_expired(min(r.submitted_at or now for r in rows), now, EXPIRE)
    state = (await client.task_status(msgid)).get(owner, Outcome(0))
    if state.status != 1:
        if expired:
            await GroupDelivery.filter(id__in=ids, status__in=OPEN_TASK).update(
                status="failed", failure="not_confirmed", checked_at=now
            )
            done["failed"] += len(ids)
        else:
            await GroupDelivery.filter(id__in=ids).update(checked_at=now)
            done["waiting"] += len(ids)
        return done
    confirmed_at = _when(state.send_time) or now
    results = await client.send_results(msgid, owner)
    for row in rows:
        outcome = results.get(row.chat_id)
        status, failure = rules.group_result(outcome.status) if outcome else ("confirmed", None)
        if status == "confirmed" and expired:
            status, failure = "failed", "not_sent"
        await GroupDelivery.filter(id=row.id, status__in=OPEN_TASK).update(
            status=status,
            failure=failure,
            confirmed_at=row.confirmed_at or confirmed_at,
            sent_at=(_when(outcome.send_time) or now) if status == "sent" and outcome else None,
            checked_at=now,
        )
        done[status] += 1
    return done


async def deliver_groups(client: CustomerGroupClient | None, now: datetime) -> Counter[str]:
    """One round: recover interrupted submissions, submit what is due, poll open tasks."""
    from handlers.notices.service import finish_sent

    done: Counter[str] = Counter()
    if client is None:
        failed = await fail_unsendable(now)
        if failed:
            done["failed"] += failed
            await finish_sent()
        return done
    done.update(await recover(client, now))
    done.update(await submit(client, now))
    done.update(await poll(client, now))
    await finish_sent()
    return done
