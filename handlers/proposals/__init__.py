"""民生微实事 proposals and rectifications: lifecycle, publicity and household votes."""

from __future__ import annotations

from handlers.capability import Capability, Job
from handlers.i18n import N_

# What proposers, the households of a scope and a household's members hear of a proposal.
TEXTS = {
    "proposal.published": N_("notify.proposal.published"),
    "proposal.rejected": N_("notify.proposal.rejected"),
    "proposal.voting_opened": N_("notify.proposal.voting_opened"),
    "proposal.voting_closed": N_("notify.proposal.voting_closed"),
    "proposal.progress": N_("notify.proposal.progress"),
    "proposal.completed": N_("notify.proposal.completed"),
    # To a household's other bound residents: its vote was changed, never which way.
    "proposal.vote_changed": N_("notify.proposal.vote_changed"),
}


def capability() -> Capability:
    from handlers.proposals import api, audience, chat, service

    return Capability(
        name="proposals",
        chat=chat.router,
        routes=api.routes,
        jobs=(Job("closing due votes", lambda job: service.close_due(job.now, job.lock)),),
        texts=TEXTS,
        audiences={"proposal": audience.of_proposal},
    )
