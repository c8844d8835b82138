"""Complaints and requests (诉求): intake, routing to the department, the ticket loop."""

from __future__ import annotations

import asyncio

from handlers.capability import Capability, Job
from handlers.i18n import N_

# What the reporter and the handlers hear of a ticket, by notification kind.
TEXTS = {
    "ticket.assigned": N_("notify.ticket.assigned"),
    "ticket.emergency": N_("notify.ticket.emergency"),
    "ticket.escalated": N_("notify.ticket.escalated"),
    "ticket.reopened": N_("notify.ticket.reopened"),
    "ticket.accept": N_("notify.ticket.accept"),
    "ticket.progress": N_("notify.ticket.progress"),
    "ticket.reassign": N_("notify.ticket.reassign"),
    "ticket.escalate": N_("notify.ticket.escalate"),
    "ticket.resolve": N_("notify.ticket.resolve"),
    "ticket.reject": N_("notify.ticket.reject"),
    "ticket.rate": N_("notify.ticket.rate"),
    "ticket.reopen": N_("notify.ticket.reopen"),
    "ticket.auto_close": N_("notify.ticket.auto_close"),
}


async def warm_up() -> None:
    """jieba loads its dictionary once per process: before the first resident waits for it;
    then the latest trained weights."""
    from handlers.complaints import service

    await asyncio.to_thread(service.route, "电梯")
    await service.load_router()


def capability() -> Capability:
    from handlers.complaints import api, audience, chat, service

    return Capability(
        name="complaints",
        chat=chat.router,
        routes=api.routes,
        jobs=(
            Job("ticket deadlines", lambda job: service.check_deadlines(job.now)),
            Job("router weights", lambda job: service.load_router()),
            Job("router training", lambda job: service.retrain_if_corrected(job.lock)),
        ),
        start=(warm_up,),
        texts=TEXTS,
        audiences={"ticket": audience.of_ticket},
    )
