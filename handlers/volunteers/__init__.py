"""Volunteer service: activities, shifts, sign-up, check-in, hours and points."""

from __future__ import annotations

from handlers.capability import Capability, Job
from handlers.i18n import N_

# What a volunteer hears of their shifts.
TEXTS = {
    "volunteer.promoted": N_("notify.volunteer.promoted"),
    "volunteer.released": N_("notify.volunteer.released"),
    "volunteer.reminder_day": N_("notify.volunteer.reminder_day"),
    "volunteer.reminder_hour": N_("notify.volunteer.reminder_hour"),
    "volunteer.shift_changed": N_("volunteers.shift_changed.notice"),
}


def capability() -> Capability:
    from handlers.volunteers import api, chat, service

    return Capability(
        name="volunteers",
        chat=chat.router,
        routes=api.routes,
        jobs=(
            Job("volunteer reminders", lambda job: service.send_reminders(job.now)),
            Job("volunteer check-outs", lambda job: service.close_ended_shifts(job.now)),
        ),
        texts=TEXTS,
    )
