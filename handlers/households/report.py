"""An import's plan in words, for the API's rows and the CLI's lines, in one language."""

from __future__ import annotations

from collections.abc import Callable

from handlers.households.register import Line, Plan
from handlers.i18n import N_

Translate = Callable[..., str]

FIELD_NAMES = {
    "area": N_("register.field.area"),
    "head_name": N_("register.field.head_name"),
    "phone": N_("register.field.phone"),
}
LINES = {
    "create": N_("register.line.create"),
    "change": N_("register.line.change"),
    "unchanged": N_("register.line.unchanged"),
    "refuse": N_("register.line.refuse"),
}


def reason(line: Line, translate: Translate, language: str) -> str | None:
    """Why a row is refused, in the reader's language."""
    if line.reason is None:
        return None
    return translate(language, line.reason, **line.params)


def changes(line: Line, translate: Translate, language: str) -> str:
    """面积 80.00 → 85.50；电话 138****5678 → 139****0000."""
    empty = translate(language, "register.value.empty")
    parts = [
        translate(
            language,
            "register.change",
            field=translate(language, FIELD_NAMES[change.field]),
            old=change.old or empty,
            new=change.new or empty,
        )
        for change in line.changes
    ]
    return translate(language, "register.change.separator").join(parts)


def text(line: Line, translate: Translate, language: str) -> str:
    """One row of the report as a line of text."""
    place = line.place or translate(language, "register.value.empty")
    return translate(
        language,
        LINES[line.action],
        row=line.row,
        place=place,
        details=changes(line, translate, language) or reason(line, translate, language) or "",
    )


def lines(plan: Plan, translate: Translate, language: str) -> list[str]:
    """Every row, then the counts, then whether anything was written."""
    found = [text(line, translate, language) for line in plan.lines]
    found.append(
        translate(
            language,
            "register.summary",
            create=plan.count("create"),
            change=plan.count("change"),
            unchanged=plan.count("unchanged"),
            refuse=plan.count("refuse"),
            not_in_file=plan.not_in_file,
        )
    )
    if plan.applied:
        found.append(translate(language, "register.applied"))
    elif plan.refused:
        found.append(translate(language, "register.not_applied"))
    else:
        found.append(translate(language, "register.dry_run"))
    return found
