"""Turn the notifications other capabilities leave behind into notices that get delivered.

Tickets, proposals and shifts record a ``Notification`` (kind, audience, payload) in
the same transaction as the change it reports. This job resolves each audience to
residents, words the message in each recipient's language and hands it to the
delivery pipeline as a notice to exactly those residents. Each notification is
taken once (a conditional update) so it is never relayed twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.complaints.rules import LOCAL
from handlers.i18n import N_, language_of
from handlers.notices import service
from models.complaints import Ticket
from models.notices import Notice
from models.outbox import Notification
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment

log = logging.getLogger(__name__)

BATCH = 100
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
    "proposal.published": N_("notify.proposal.published"),
    "proposal.rejected": N_("notify.proposal.rejected"),
    "proposal.voting_opened": N_("notify.proposal.voting_opened"),
    "proposal.voting_closed": N_("notify.proposal.voting_closed"),
    "proposal.progress": N_("notify.proposal.progress"),
    "proposal.completed": N_("notify.proposal.completed"),
    "volunteer.promoted": N_("notify.volunteer.promoted"),
    "volunteer.released": N_("notify.volunteer.released"),
    "volunteer.reminder_day": N_("notify.volunteer.reminder_day"),
    "volunteer.reminder_hour": N_("notify.volunteer.reminder_hour"),
}
GENERIC = N_("notify.generic")
TITLE = N_("notify.title")
STAFF = (Role.COMMUNITY_WORKER, Role.ADMIN)


async def _staff(community_id: int, **filters: Any) -> list[int]:
    return list(
        await RoleAssignment.filter(community_id=community_id, **filters).values_list(
            "resident_id", flat=True
        )
    )


async def _audience(note: Notification) -> list[int] | dict[str, Any]:
    """Resident ids, or a scope (a proposal's) that the notice pipeline expands itself."""
    audience, community = note.audience, note.community_id  # type: ignore[attr-defined]
    if audience.startswith("resident:"):
        return [int(audience.split(":", 1)[1])]
    if audience == "reporter" and note.subject == "ticket":
        reporter = await Ticket.filter(id=note.subject_id).values_list("reporter_id", flat=True)
        return [r for r in reporter if r]
    if audience in {"proposer", "scope"} and note.subject == "proposal":
        proposal = await Proposal.get_or_none(id=note.subject_id)
        if proposal is None:
            return []
        if audience == "scope":
            return proposal.scope
        return [proposal.proposer_id] if proposal.proposer_id else []  # type: ignore[attr-defined]
    if audience.startswith("department:"):
        department = audience.split(":", 1)[1]
        handlers = await _staff(community, role=Role.HANDLER, department=department)
        return handlers or await _staff(community, role__in=STAFF)
    if audience.startswith("grid:"):
        grid = audience.split(":", 1)[1]
        workers = (
            await _staff(community, role=Role.GRID_WORKER, grid_id=int(grid))
            if grid.isdigit()
            else []
        )
        return workers or await _staff(community, role__in=STAFF)
    # on_duty, community_workers, supervisor:x: the community's workers (no duty roster yet).
    return await _staff(community, role__in=STAFF)


def _readable(value: Any) -> Any:
    """ISO instants in payloads read as Beijing wall-clock time ("11-24 09:00")."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return datetime.fromisoformat(value).astimezone(LOCAL).strftime("%m-%d %H:%M")
        except ValueError:
            return value
    return value


def _words(translate: Callable[..., str], language: str, note: Notification) -> tuple[str, str]:
    payload = {
        k: _readable(v) for k, v in (note.payload or {}).items() if isinstance(v, str | int | float)
    }
    msgid = TEXTS.get(note.kind, GENERIC)
    try:
        body = translate(language, msgid, **payload)
    except (KeyError, IndexError):  # a payload without a field the text needs
        body = translate(language, GENERIC, title=str(payload.get("title", "")))
    return translate(language, TITLE), body


async def relay(translate: Callable[..., str], now: datetime, batch: int = BATCH) -> int:
    """One round: relay up to ``batch`` notifications; the number of notices made."""
    made = 0
    pending = await Notification.filter(sent_at=None).order_by("id").limit(batch)
    for note in pending:
        if not await Notification.filter(id=note.id, sent_at=None).update(sent_at=now):
            continue  # another process took it
        target = await _audience(note)
        if isinstance(target, dict):
            made += await _to_scope(translate, note, target, now)
        elif target:
            made += await _to_residents(translate, note, target, now)
    return made


async def _to_residents(
    translate: Callable[..., str], note: Notification, ids: list[int], now: datetime
) -> int:
    """One notice per language, each to the residents who read that language."""
    by_language: dict[str, list[int]] = defaultdict(list)
    for resident_id, language in await Resident.filter(id__in=ids).values_list("id", "language"):
        by_language[language_of(language)].append(resident_id)
    for language, members in sorted(by_language.items()):
        await _notice(translate, note, language, {"kind": "residents", "ids": members}, now)
    return len(by_language)


async def _to_scope(
    translate: Callable[..., str], note: Notification, scope: dict[str, Any], now: datetime
) -> int:
    """A proposal's whole scope: in the community's language (most residents never set one)."""
    await _notice(translate, note, "zh_Hans", scope, now)
    return 1


async def _notice(
    translate: Callable[..., str],
    note: Notification,
    language: str,
    scope: dict[str, Any],
    now: datetime,
) -> None:
    title, body = _words(translate, language, note)
    notice = await Notice.create(
        community_id=note.community_id,  # type: ignore[attr-defined]
        title=title,
        body=body,
        kind=note.kind,
        emergency=note.kind == "ticket.emergency",
        scope=scope,
        channels=["oa"],
        status="draft",
    )
    await service.expand(notice.id, now)
