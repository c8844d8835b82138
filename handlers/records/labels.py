"""The words both printed forms share: the counts' headings and the record's values."""

from __future__ import annotations

from handlers.i18n import N_

OUTCOMES = {
    "approved": N_("proposal.outcome.approved"),
    "not_approved": N_("proposal.outcome.not_approved"),
}
# The by-building table: its headings, and each building's figures in the same order.
COLUMNS = (
    N_("records.column.building"),
    N_("records.column.eligible"),
    N_("records.column.online"),
    N_("records.column.in_person"),
    N_("records.column.visited_no_answer"),
    N_("records.column.not_reached"),
    N_("records.column.yes"),
    N_("records.column.no"),
    N_("records.column.abstain"),
)
FIGURES = (
    "eligible",
    "online",
    "in_person",
    "visited_no_answer",
    "not_reached",
    "yes",
    "no",
    "abstain",
)
STATES = {
    "online": N_("records.state.online"),
    "in_person": N_("records.state.in_person"),
    "visited": N_("records.state.visited"),
    "not_reached": N_("records.state.not_reached"),
}
CHOICES = {
    "yes": N_("records.column.yes"),
    "no": N_("records.column.no"),
    "abstain": N_("records.column.abstain"),
}
REASONS = {
    "not_home": N_("records.reason.not_home"),
    "refused": N_("records.reason.refused"),
    "vacant": N_("records.reason.vacant"),
    "moved_out": N_("records.reason.moved_out"),
    "other": N_("records.reason.other"),
}
METHODS = {"form": N_("records.method.form"), "oral": N_("records.method.oral")}
