"""The background jobs: reminders before a shift, check-outs after it."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.volunteers import rules
from handlers.volunteers.checkin import check_out
from handlers.volunteers.rules import SignUpStatus
from handlers.volunteers.shared import iso, notify, policy
from models.volunteers import SignUp

# Each reminder's once-only column and the notification kind it owes.
REMINDERS = {
    rules.Reminder.DAY: ("reminded_day_at", "volunteer.reminder_day"),
    rules.Reminder.HOUR: ("reminded_hour_at", "volunteer.reminder_hour"),
}


async def close_ended_shifts(now: datetime) -> int:
    """The job: check out, at the shift's end, everyone still checked in when it ended."""
    due = await SignUp.filter(
        status=SignUpStatus.CONFIRMED,
        checked_in_at__not_isnull=True,
        checked_out_at=None,
        shift__ends_at__lte=now,
    ).select_related("shift__activity")
    done = 0
    for signup in due:
        try:
            await check_out(signup, now, "auto")
            done += 1
        except Refused:
            continue  # checked out meanwhile, by a scan or another process
    return done


async def send_reminders(now: datetime) -> dict[str, int]:
    """The job: the day-before and hour-before reminders, each once per confirmed volunteer."""
    pol = policy()
    sent = {rules.Reminder.DAY.value: 0, rules.Reminder.HOUR.value: 0}
    due = await SignUp.filter(
        Q(reminded_day_at=None) | Q(reminded_hour_at=None),
        status=SignUpStatus.CONFIRMED,
        shift__starts_at__gt=now,
        shift__starts_at__lte=now + pol.day_reminder,
    ).select_related("shift")
    for signup in due:
        reminder = rules.reminder_due(
            signup.shift.starts_at,
            now,
            signup.reminded_day_at is not None,
            signup.reminded_hour_at is not None,
            pol,
        )
        if reminder is None:
            continue
        column, kind = REMINDERS[reminder]
        async with in_transaction() as conn:
            claimed = (
                await SignUp.filter(id=signup.id, status=SignUpStatus.CONFIRMED, **{column: None})
                .using_db(conn)
                .update(**{column: now})
            )
            if claimed:
                await notify(
                    signup.shift,
                    kind,
                    signup.volunteer_id,
                    conn,
                    starts_at=iso(signup.shift.starts_at),
                )
                sent[reminder.value] += 1
    return sent
