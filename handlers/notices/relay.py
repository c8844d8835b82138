"""Turn the notifications other capabilities leave behind into notices that get delivered.

Tickets, proposals and shifts record a ``Notification`` (kind, audience, payload) in
the same transaction as the change it reports. This job resolves each audience to
residents (the recording capability declares its own audiences and texts, see
``handlers.capability``), words the message in each recipient's language and hands it to
the delivery pipeline as a notice to exactly those residents. Each notification is
taken once (a conditional update) so it is never relayed twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from handlers.capability import JobContext
from handlers.clock import LOCAL
from handlers.i18n import N_, language_of
from handlers.notices import service
from handlers.roles import MANAGERS, holders
from models.notices import Notice
from models.outbox import Notification
from models.residents import Resident, Role

log = logging.getLogger(__name__)

# A resident id list, or a scope the notice pipeline expands itself.
Target = list[int] | dict[str, Any]
Audience = Callable[[Notification, str], Awaitable[Target | None]]

BATCH = 100
GENERIC = N_("notify.generic")
TITLE = N_("notify.title")


async def _audience(note: Notification, audiences: Mapping[str, Audience]) -> Target:
    """Resident ids, or a scope (a proposal's) that the notice pipeline expands itself.

    The capability that recorded the note names its own audiences ("reporter",
    "proposer", "scope"); departments, grids and the rest go to the people of the
    community's roles, the managers when nobody holds the role there.
    """
    audience, community = note.audience, note.community_id
    if audience.startswith("resident:"):
        return [int(audience.split(":", 1)[1])]
    if audience == "residents":  # named residents, listed in the payload (a reminder's)
        return [int(i) for i in (note.payload or {}).get("residents", ())]
    owner = audiences.get(note.subject)
    if owner is not None:
        found = await owner(note, audience)
        if found is not None:
            return found
    if audience.startswith("department:"):
        department = audience.split(":", 1)[1]
        handlers = await holders(community, Role.HANDLER, department=department)
        return handlers or await holders(community, MANAGERS)
    if audience.startswith("grid:"):
        grid = audience.split(":", 1)[1]
        workers = (
            await holders(community, Role.GRID_WORKER, grid_id=int(grid)) if grid.isdigit() else []
        )
        return workers or await holders(community, MANAGERS)
    # on_duty, community_workers, supervisor:x: the community's managers (no duty roster yet).
    return await holders(community, MANAGERS)


def _readable(value: Any) -> Any:
    """ISO instants in payloads read as Beijing wall-clock time ("11-24 09:00")."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return datetime.fromisoformat(value).astimezone(LOCAL).strftime("%m-%d %H:%M")
        except ValueError:
            return value
    return value


def _words(
    translate: Callable[..., str], texts: Mapping[str, str], language: str, note: Notification
) -> tuple[str, str]:
    payload = {
        k: _readable(v) for k, v in (note.payload or {}).items() if isinstance(v, str | int | float)
    }
    msgid = texts.get(note.kind, GENERIC)
    try:
        body = translate(language, msgid, **payload)
    except (KeyError, IndexError):  # a payload without a field the text needs
        body = translate(language, GENERIC, title=str(payload.get("title", "")))
    return translate(language, TITLE), body


async def relay(job: JobContext, batch: int = BATCH) -> int:
    """The job: relay up to ``batch`` notifications, worded with the texts and sent to the
    audiences every capability declares; the number of notices made."""
    made = 0
    pending = await Notification.filter(sent_at=None).order_by("id").limit(batch)
    for note in pending:
        if not await Notification.filter(id=note.id, sent_at=None).update(sent_at=job.now):
            continue  # another process took it
        target = await _audience(note, job.audiences)
        if isinstance(target, dict):
            made += await _to_scope(job, note, target)
        elif target:
            made += await _to_residents(job, note, target)
    return made


async def _to_residents(job: JobContext, note: Notification, ids: list[int]) -> int:
    """One notice per language, each to the residents who read that language."""
    by_language: dict[str, list[int]] = defaultdict(list)
    for resident_id, language in await Resident.filter(id__in=ids).values_list("id", "language"):
        by_language[language_of(language)].append(resident_id)
    for language, members in sorted(by_language.items()):
        await _notice(job, note, language, {"kind": "residents", "ids": members})
    return len(by_language)


async def _to_scope(job: JobContext, note: Notification, scope: dict[str, Any]) -> int:
    """A proposal's whole scope: in the community's language (most residents never set one)."""
    await _notice(job, note, "zh_Hans", scope)
    return 1


async def _notice(
    job: JobContext, note: Notification, language: str, scope: dict[str, Any]
) -> None:
    title, body = _words(job.translate, job.texts, language, note)
    notice = await Notice.create(
        community_id=note.community_id,
        title=title,
        body=body,
        kind=note.kind,
        emergency=note.kind == "ticket.emergency",
        scope=scope,
        channels=["oa"],
        status="draft",
    )
    await service.expand(notice.id, job.now)
