"""The words a round's poster, record and year-end report share."""

from __future__ import annotations

from decimal import Decimal

from handlers.i18n import N_

SOURCES = {
    "government": N_("records.budget.source.government"),
    "street": N_("records.budget.source.street"),
    "grant": N_("records.budget.source.grant"),
    "residents": N_("records.budget.source.residents"),
    "donation": N_("records.budget.source.donation"),
    "foundation": N_("records.budget.source.foundation"),
}
STANDINGS = {
    "funded": N_("records.budget.standing.funded"),
    "below_support": N_("records.budget.standing.below_support"),
    "no_money": N_("records.budget.standing.no_money"),
}
STATUSES = {
    "funded": N_("records.budget.status.funded"),
    "implementing": N_("records.budget.status.implementing"),
    "accepted": N_("records.budget.status.accepted"),
}
PHASES = {
    "result": N_("records.budget.phase.result"),
    "implementation": N_("records.budget.phase.implementation"),
    "finished": N_("records.budget.phase.finished"),
}
CHANNELS = {
    "online": N_("records.budget.channel.online"),
    "in_person": N_("records.budget.channel.in_person"),
}
OUTCOMES = {
    "answered": N_("records.budget.outcome.answered"),
    "not_home": N_("records.reason.not_home"),
    "refused": N_("records.reason.refused"),
    "vacant": N_("records.reason.vacant"),
    "moved_out": N_("records.reason.moved_out"),
    "other": N_("records.reason.other"),
}
METHODS = {"form": N_("records.budget.method.form"), "oral": N_("records.budget.method.oral")}
# The result's table: on the poster, in the record and in the report.
PROJECT_COLUMNS = (
    N_("records.budget.column.rank"),
    N_("records.budget.column.number"),
    N_("records.budget.column.title"),
    N_("records.budget.column.cost"),
    N_("records.budget.column.support"),
    N_("records.budget.column.needed"),
    N_("records.budget.column.standing"),
)


def yuan(value: Decimal) -> str:
    """A sum as residents read it: 12,345.60 (as ``handlers.budget.rules.money``)."""
    return f"{value.quantize(Decimal('0.01')):,}"


def items_text(items: tuple[int, ...] | None, separator: str = "、") -> str:
    """Menu numbers as a worker reads them on a paper ballot: 1、3、4."""
    return separator.join(str(n) for n in items or ())
