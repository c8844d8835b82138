"""Console message ids of one area; ``messages.MESSAGE_IDS`` joins them."""

from __future__ import annotations

from handlers.i18n import N_

# The notices page (notices.js): preview, progress by channel, customer groups.
MESSAGE_IDS: tuple[str, ...] = (
    N_("console.notices.channel.customer_group"),
    N_("console.notices.recipients.oa"),
    N_("console.notices.recipients.robot"),
    N_("console.notices.recipients.customer_group"),
    N_("console.notices.preview"),
    N_("console.notices.preview_heading"),
    N_("console.notices.preview_needs_text"),
    N_("console.notices.channel"),
    N_("console.notices.channels"),
    N_("console.notices.sent"),
    N_("console.notices.failed"),
    N_("console.notices.pending"),
    N_("console.notices.total"),
    N_("console.notices.customer_groups"),
    N_("console.notices.group.name"),
    N_("console.notices.group.submitted_at"),
    N_("console.notices.group.confirmed_at"),
    N_("console.notices.group.sent_at"),
    N_("console.notices.group.failure"),
    N_("console.notices.group_status.pending"),
    N_("console.notices.group_status.submitting"),
    N_("console.notices.group_status.submitted"),
    N_("console.notices.group_status.confirmed"),
    N_("console.notices.group_status.sent"),
    N_("console.notices.group_status.failed"),
    N_("console.notices.group_status.not_in_group"),
    N_("console.notices.failure.not_confirmed"),
    N_("console.notices.failure.not_sent"),
    N_("console.notices.failure.already_received"),
    N_("console.notices.failure.refused"),
    N_("console.notices.failure.no_account"),
    N_("console.notices.failure.cancelled"),
    N_("console.notices.failure.gave_up"),
    N_("console.notices.failure.not_in_group"),
    N_("console.notices.back"),
)
