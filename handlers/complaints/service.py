"""Ticket operations shared by the chat, the JSON API and the background jobs.

Every status change is a conditional update (the loser of a race gets a clear
refusal), lands in the audit log, and owes the reporter a notification. Refusals are
``Refused`` with the status the API answers; the chat and the API translate them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import tomllib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from handlers.clock import utc_now
from handlers.complaints import rules
from handlers.complaints.learned import MODEL_VERSION, Model
from handlers.complaints.routing import Router, Routing, default_router
from handlers.complaints.rules import Action, Actor, Status
from handlers.complaints.training import Correction, guarded, load_corpus, train_in_child
from handlers.refusal import Refused
from handlers.roles import Who
from handlers.roles import actor as actor_name
from models.audit import AuditLog, record
from models.community import Building, Household
from models.complaints import RouterWeights, RoutingCorrection, Ticket, TicketUpdate
from models.outbox import Notification
from models.residents import Resident, Role

log = logging.getLogger(__name__)

TAXONOMY_FILE = Path(__file__).resolve().parents[2] / "config" / "complaints.toml"
TEXT_MAX = 2000
MAX_MEDIA = 6
TRIAGE = "other"


def checked_text(text: str | None) -> str:
    """A report's text without its surrounding blanks; ``Refused`` past ``TEXT_MAX``."""
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise Refused("ticket.error.too_long", 400, limit=TEXT_MAX)
    return text


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    accept_hours: float
    resolve_days: float


@cache
def departments() -> dict[str, Department]:
    with TAXONOMY_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    found = {}
    for key, table in data.items():
        if not isinstance(table, dict) or "name" not in table:
            continue
        found[key] = Department(
            key=key,
            name=str(table["name"]),
            accept_hours=float(table.get("accept_hours", 2)),
            resolve_days=float(table.get("resolve_working_days", 3)),
        )
    return found


# --- the router, retrained from corrections -------------------------------------------

_router: Router | None = None
_router_version = 0


def router() -> Router:
    return _router or default_router()


async def load_router() -> int:
    """Use the latest trained weights, if any (every process, at start and periodically)."""
    global _router, _router_version
    latest = await RouterWeights.all().order_by("-id").first()
    if latest is None:
        _router, _router_version = None, 0
    elif latest.id != _router_version:
        _router = _router_from(latest.weights)
        _router_version = latest.id
    return _router_version


def _router_from(weights: dict[str, Any]) -> Router:
    """Stored weights: a whole model (version 2), or the perceptron's deltas (version 1)."""
    if weights.get("version") == MODEL_VERSION:
        return default_router().with_model(Model.from_json(weights["model"]))
    return default_router().with_model(None).with_weights_json(weights)


async def _in_child(function: Any, *args: Any) -> Any:
    """``function(*args)`` in a fresh process (spawned: no copy of this one's loop or pools)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


async def retrain() -> int:
    """Rebuild the router from the corpus and the guarded corrections; publish it."""
    rows = await RoutingCorrection.all().order_by("id")
    base = default_router()
    if base.model is None:  # no shipped model: the keyword table learns, as before
        pairs = [(row.text, row.correct) for row in rows]
        trained = await asyncio.to_thread(base.with_corrections, pairs)
        weights = json.loads(trained.weights_to_json())
    else:
        lessons = guarded(
            [Correction(r.text, r.routed, r.correct, r.corrected_by, r.created_at) for r in rows],
            utc_now(),
        )
        doc = await _in_child(train_in_child, load_corpus(), lessons)
        trained = base.with_model(Model.from_json(doc))
        weights = {"version": MODEL_VERSION, "model": doc, "lessons": len(lessons)}
    saved = await RouterWeights.create(weights=weights, corrections=len(rows))
    global _router, _router_version
    _router, _router_version = trained, saved.id
    return saved.corrections


async def retrain_if_corrected(lock: Any) -> int:
    """The job: retrain once workers have corrected something since the last training."""
    latest = await RouterWeights.all().order_by("-id").first()
    trained_on = latest.corrections if latest else 0
    if await RoutingCorrection.all().count() <= trained_on:
        return 0
    async with lock("complaints:retrain", timeout=120.0, blocking_timeout=0.1):
        return await retrain()


def route(text: str) -> Routing:
    return router().route(text)


# --- who may do what -------------------------------------------------------------------


def actor_for(who: Who, ticket: Ticket) -> Actor | None:
    """How ``who`` acts on ``ticket``: managers as workers on every ticket, a department's
    handler (承办人) on its department's, a grid worker (网格员) on their grid's; ``None``
    when the ticket is not theirs to see."""
    if who.is_manager:
        return Actor.WORKER
    if Role.HANDLER in who.roles and ticket.department in who.departments:
        return Actor.HANDLER
    if Role.GRID_WORKER in who.roles and ticket.grid_id in who.grids:
        return Actor.WORKER
    return None


def sees(who: Who, ticket: Ticket) -> bool:
    return actor_for(who, ticket) is not None


def staff_tickets(who: Who) -> QuerySet[Ticket]:
    """The tickets ``who`` lists as staff: every one of the community's for managers, else
    those of their departments and grids. The list and the register both ask this."""
    query = Ticket.filter(community_id=who.community_id)
    if who.is_manager:
        return query
    return query.filter(Q(department__in=list(who.departments)) | Q(grid_id__in=list(who.grids)))


# --- intake ----------------------------------------------------------------------------


async def _unique_number(conn: Any) -> str:
    for _ in range(10):
        number = rules.new_number()
        if not await Ticket.filter(number=number).using_db(conn).exists():
            return number
    raise Refused("ticket.error.busy", 400)


async def _where(resident: Resident) -> tuple[int | None, int | None, int | None]:
    if resident.household_id is None:
        return None, None, None
    row = await Household.filter(id=resident.household_id).values_list(
        "id", "building_id", "building__grid_id"
    )
    return row[0] if row else (None, None, None)


async def _notify(ticket: Ticket, kind: str, audience: str, conn: Any, **payload: Any) -> None:
    await Notification.create(
        community_id=ticket.community_id,
        kind=kind,
        audience=audience,
        subject="ticket",
        subject_id=ticket.id,
        payload={"number": ticket.number, "department": ticket.department, **payload},
        using_db=conn,
    )


async def intake(
    resident: Resident,
    text: str,
    now: datetime,
    *,
    media: list[str] | None = None,
    location: dict[str, Any] | None = None,
    anonymous: bool = False,
    channel: str | None = None,
) -> Ticket:
    """A new ticket, routed and numbered. ``channel`` is the door it came by (``chat``,
    ``miniprogram``), kept with the routing for the register (诉求登记台账)."""
    text = checked_text(text)
    if not text and not media:
        raise Refused("ticket.error.empty", 400)
    routing = route(text) if text else Routing(TRIAGE, 0.0, ())
    department = routing.department if routing.department in departments() else TRIAGE
    if department == TRIAGE and routing.emergency and routing.guess in departments():
        department = routing.guess  # no time for triage when something is burning
    household_id, building_id, grid_id = await _where(resident)
    rule = departments().get(department) or departments()[TRIAGE]
    due = rules.deadlines(now, rule.accept_hours, rule.resolve_days, routing.emergency is not None)
    primary = await _primary_duplicate(resident, text, department, building_id, now)
    async with in_transaction() as conn:
        ticket = await Ticket.create(
            number=await _unique_number(conn),
            community_id=resident.community_id,
            reporter=resident,
            anonymous=anonymous,
            text=text,
            media=list(media or [])[:MAX_MEDIA],
            location=location,
            household_id=household_id,
            building_id=building_id,
            grid_id=grid_id,
            department=department,
            routing={
                "department": routing.department,
                "confidence": round(routing.confidence, 3),
                "terms": list(routing.terms),
                **({"triage": True} if routing.triage else {}),
                **(
                    {
                        "candidates": [
                            {"department": d, "probability": round(p, 3)}
                            for d, p in routing.candidates
                        ]
                    }
                    if routing.candidates
                    else {}
                ),
                **({"channel": channel} if channel else {}),
            },
            emergency=routing.emergency,
            status=Status.ASSIGNED.value,
            accept_due_at=due.accept_by,
            resolve_due_at=due.resolve_by,
            duplicate_of=primary,
            created_at=now,
            using_db=conn,
        )
        await record(
            reporter_name(ticket, resident),
            "ticket.created",
            "ticket",
            ticket.id,
            after={"status": ticket.status, "department": department},
            using_db=conn,
        )
        audience = f"grid:{grid_id}" if department == TRIAGE else f"department:{department}"
        await _notify(ticket, "ticket.assigned", audience, conn)
        if routing.emergency:
            await _notify(ticket, "ticket.emergency", "on_duty", conn, emergency=routing.emergency)
    return ticket


def reporter_name(ticket: Ticket, resident: Resident) -> str:
    """How the ticket's trail names its reporter: ``anonymous`` on an anonymous ticket."""
    return "anonymous" if ticket.anonymous else actor_name(resident)


async def _primary_duplicate(
    resident: Resident, text: str, department: str, building_id: int | None, now: datetime
) -> Ticket | None:
    if building_id is None or not text:
        return None
    recent = await Ticket.filter(
        community_id=resident.community_id,
        department=department,
        building_id=building_id,
        duplicate_of_id=None,
        status__in=[s.value for s in rules.OPEN_STATUSES],
        created_at__gte=now - rules.DUPLICATE_WINDOW,
    ).order_by("id")
    for other in recent:
        if rules.is_duplicate(
            text,
            department,
            building_id,
            now,
            other.text,
            other.department,
            other.building_id,
            other.created_at,
        ):
            return other
    return None


# --- the loop ---------------------------------------------------------------------------


async def get_for_staff(who: Who, ticket_id: int) -> Ticket:
    ticket = await Ticket.get_or_none(id=ticket_id, community_id=who.community_id)
    if ticket is None or not sees(who, ticket):
        raise Refused("ticket.error.not_found", 404, number=str(ticket_id))
    return ticket


async def find_for_reporter(resident: Resident, typed: str) -> Ticket:
    number = rules.normalize_number(typed)
    ticket = None if number is None else await Ticket.get_or_none(number=number)
    if ticket is None or ticket.reporter_id != resident.id:
        # Someone else's ticket is "not found" too: numbers must not reveal other reports.
        raise Refused("ticket.error.not_found", 404, number=typed.strip()[:12])
    return ticket


async def _change(
    ticket: Ticket,
    action: Action,
    actor: Actor,
    by: str,
    now: datetime,
    conn: Any,
    note: str | None = None,
    **changes: Any,
) -> Status:
    before = ticket.status
    # Re-routing: the trail keeps which department it left and which it went to.
    moved = "department" in changes and changes["department"] != ticket.department
    routed = {"department": ticket.department} if moved else {}
    after = rules.transition(before, action, actor, note=note, reopened=ticket.reopened)
    updated = (
        await Ticket.filter(id=ticket.id, status=before)
        .using_db(conn)
        .update(status=after.value, **changes)
    )
    if not updated:
        raise Refused("ticket.error.changed_meanwhile", 409)
    ticket.status = after.value
    for field, value in changes.items():
        setattr(ticket, field, value)
    await record(
        by,
        f"ticket.{action.value}",
        "ticket",
        ticket.id,
        before={"status": before, **routed},
        after={
            "status": after.value,
            **({"department": ticket.department} if moved else {}),
            **({"note": note} if note else {}),
        },
        using_db=conn,
    )
    await _notify(ticket, f"ticket.{action.value}", "reporter", conn, status=after.value, note=note)
    return after


async def act(
    who: Who,
    ticket_id: int,
    action: str,
    now: datetime,
    *,
    note: str | None = None,
    photo: str | None = None,
    department: str | None = None,
) -> Ticket:
    """A handler's or worker's step: accept, progress, reassign, resolve, reject, escalate."""
    try:
        step = Action(action)
    except ValueError:
        raise Refused("ticket.error.illegal_transition", 409) from None
    if step not in {
        Action.ACCEPT,
        Action.PROGRESS,
        Action.REASSIGN,
        Action.RESOLVE,
        Action.REJECT,
        Action.ESCALATE,
    }:
        raise Refused("ticket.error.illegal_transition", 409)
    ticket = await get_for_staff(who, ticket_id)
    actor = actor_for(who, ticket)
    assert actor is not None
    note = (note or "").strip()[:TEXT_MAX] or None
    changes: dict[str, Any] = {}
    if step is Action.ACCEPT:
        changes = {"accepted_at": now, "handler_id": who.id}
    elif step is Action.RESOLVE:
        changes = {"resolved_at": now, "resolution": note, "resolution_photo": photo}
    elif step is Action.REJECT:
        changes = {"referral": note, "closed_at": now}
    elif step is Action.ESCALATE:
        changes = {"escalated_at": now}
    elif step is Action.REASSIGN:
        if department not in departments() or department == ticket.department:
            raise Refused("ticket.error.bad_department", 400)
        rule = departments()[department]
        due = rules.deadlines(
            now, rule.accept_hours, rule.resolve_days, ticket.emergency is not None
        )
        changes = {
            "department": department,
            "accept_due_at": due.accept_by,
            "resolve_due_at": due.resolve_by,
            "accepted_at": None,
            "handler_id": None,
        }
    async with in_transaction() as conn:
        routed = ticket.department
        await _change(ticket, step, actor, who.name, now, conn, note, **changes)
        if step in {Action.PROGRESS, Action.RESOLVE, Action.REJECT}:
            await TicketUpdate.create(
                ticket=ticket,
                kind=step.value,
                text=note or "",
                photo=photo,
                created_at=now,
                using_db=conn,
            )
        if step is Action.REASSIGN:
            await RoutingCorrection.create(
                ticket=ticket,
                text=ticket.text,
                routed=routed,
                correct=department,
                corrected_by=who.resident.id,
                using_db=conn,
            )
            await _notify(ticket, "ticket.assigned", f"department:{department}", conn)
        if step is Action.ESCALATE:
            await _escalation_notices(ticket, conn)
        if step is Action.RESOLVE:
            await _resolve_duplicates(ticket, who.name, now, conn, note)
    return ticket


async def _escalation_notices(ticket: Ticket, conn: Any) -> None:
    """吹哨: the community workers and the department's supervisor hear of it."""
    await _notify(ticket, "ticket.escalated", "community_workers", conn)
    await _notify(ticket, "ticket.escalated", f"supervisor:{ticket.department}", conn)


async def _resolve_duplicates(
    ticket: Ticket, by: str, now: datetime, conn: Any, note: str | None
) -> None:
    """Everyone who reported the same thing is told it is fixed, and can rate it."""
    for twin in await Ticket.filter(
        duplicate_of_id=ticket.id,
        status__in=[
            Status.ASSIGNED,
            Status.REASSIGNED,
            Status.ACCEPTED,
            Status.IN_PROGRESS,
            Status.ESCALATED,
        ],
    ).using_db(conn):
        if twin.status in {Status.ASSIGNED, Status.REASSIGNED}:
            await _change(twin, Action.ACCEPT, Actor.HANDLER, by, now, conn, accepted_at=now)
        await _change(
            twin,
            Action.RESOLVE,
            Actor.HANDLER,
            by,
            now,
            conn,
            note or "-",
            resolved_at=now,
            resolution=note,
        )


async def rate(
    resident: Resident, typed_number: str, stars: int, comment: str, now: datetime
) -> Ticket:
    if not 1 <= stars <= 5:
        raise Refused("ticket.error.bad_stars", 400)
    ticket = await find_for_reporter(resident, typed_number)
    if ticket.status != Status.RESOLVED:
        raise Refused("ticket.error.not_resolved", 409)
    step = rules.after_rating(stars, ticket.reopened)
    comment = (comment or "").strip()[:TEXT_MAX]
    by = reporter_name(ticket, resident)
    async with in_transaction() as conn:
        if step is Action.REOPEN:
            await _change(
                ticket,
                step,
                Actor.REPORTER,
                by,
                now,
                conn,
                reopened=ticket.reopened + 1,
                stars=stars,
                rating_comment=comment,
                resolved_at=None,
            )
            await _notify(ticket, "ticket.reopened", f"department:{ticket.department}", conn)
        else:
            await _change(
                ticket,
                step,
                Actor.REPORTER,
                by,
                now,
                conn,
                stars=stars,
                rating_comment=comment,
                closed_at=now,
            )
    return ticket


# --- background jobs ---------------------------------------------------------------------


async def check_deadlines(now: datetime) -> dict[str, int]:
    """Escalate missed deadlines and close resolved tickets nobody rated, once each."""
    escalated = closed = 0
    late = await Ticket.filter(
        status__in=[Status.ASSIGNED, Status.REASSIGNED, Status.ACCEPTED, Status.IN_PROGRESS]
    ).filter(escalated_at=None)
    for ticket in late:
        if not rules.overdue(ticket.status, now, ticket.accept_due_at, ticket.resolve_due_at):
            continue
        try:
            async with in_transaction() as conn:
                await _change(
                    ticket, Action.ESCALATE, Actor.SYSTEM, "system", now, conn, escalated_at=now
                )
                await _escalation_notices(ticket, conn)
            escalated += 1
        except Refused:
            continue  # somebody acted on it meanwhile
    for ticket in await Ticket.filter(
        status=Status.RESOLVED, resolved_at__lte=now - rules.AUTO_CLOSE_AFTER
    ):
        try:
            async with in_transaction() as conn:
                await _change(
                    ticket, Action.AUTO_CLOSE, Actor.SYSTEM, "system", now, conn, closed_at=now
                )
            closed += 1
        except Refused:
            continue
    return {"escalated": escalated, "closed": closed}


# --- what people see ---------------------------------------------------------------------


async def reporters_count(ticket: Ticket) -> int:
    return 1 + await Ticket.filter(duplicate_of_id=ticket.id).count()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def view(ticket: Ticket, for_staff: bool) -> dict[str, Any]:
    """Staff see the matter and its routing, never an anonymous reporter: nor the building
    (household, grid) it was routed by, nor the twin it duplicates (a report from the same
    building, with its building and perhaps its reporter). Nobody is given the reporter's
    phone or openid: staff reach the reporter through the ticket's own updates."""
    data: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status,
        "department": ticket.department,
        "text": ticket.text,
        "media": ticket.media,
        "location": ticket.location,
        "emergency": ticket.emergency,
        "anonymous": ticket.anonymous,
        "created_at": _iso(ticket.created_at),
        "accept_due_at": _iso(ticket.accept_due_at),
        "resolve_due_at": _iso(ticket.resolve_due_at),
        "accepted_at": _iso(ticket.accepted_at),
        "resolved_at": _iso(ticket.resolved_at),
        "escalated": ticket.escalated_at is not None,
        "resolution": ticket.resolution,
        "referral": ticket.referral,
        "stars": ticket.stars,
        "duplicate_of": ticket.duplicate_of_id,
        "updates": [
            {"kind": u.kind, "text": u.text, "at": _iso(u.created_at)}
            for u in await TicketUpdate.filter(ticket_id=ticket.id).order_by("id")
        ],
    }
    if for_staff:
        data["routing"] = ticket.routing
        data["reporters"] = await reporters_count(ticket)
        data["building"] = data["reporter"] = None
        if ticket.anonymous:
            data["duplicate_of"] = None
            return data
        data["building"] = (
            await Building.filter(id=ticket.building_id).first().values_list("name", flat=True)
        )
        if ticket.reporter_id is not None:
            reporter = await Resident.get_or_none(id=ticket.reporter_id)
            data["reporter"] = (
                None if reporter is None else {"id": reporter.id, "name": reporter.name}
            )
    return data


# The API's steps, in the order a page offers them.
OFFERED = ("accept", "progress", "reassign", "resolve", "reject", "escalate")


def _link(ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "number": ticket.number, "status": ticket.status}


async def detail(ticket: Ticket, who: Who) -> dict[str, Any]:
    """What one ticket's page adds to the staff view, for ``who`` who sees it: every step of
    its trail (status changes, routing and re-routing, escalations, notes; who and when),
    the reports linked to it, and the steps ``who`` may take now.

    The trail names people as the audit log does: an anonymous reporter stays
    ``anonymous``. Linked reports are those ``who`` may open, and never an anonymous twin
    (it shares the building, which would place its reporter)."""
    entries = await AuditLog.filter(entity="ticket", entity_id=str(ticket.id)).order_by("id")
    ids = {int(e.actor.split(":", 1)[1]) for e in entries if _resident_actor(e.actor)}
    names = dict(await Resident.filter(id__in=sorted(ids)).values_list("id", "name"))
    timeline = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        timeline.append(
            {
                "action": entry.action.removeprefix("ticket."),
                "at": entry.at.isoformat(),
                "actor": _timeline_actor(entry.actor, ticket, names),
                "from_status": before.get("status"),
                "status": after.get("status"),
                "from_department": before.get("department"),
                "department": after.get("department"),
                "note": after.get("note"),
            }
        )
    duplicates = []
    if not ticket.anonymous:
        twins = Ticket.filter(duplicate_of_id=ticket.id, anonymous=False).order_by("id")
        duplicates = [_link(t) for t in await twins if sees(who, t)]
    original = None
    if ticket.duplicate_of_id is not None and not ticket.anonymous:
        first = await Ticket.get_or_none(id=ticket.duplicate_of_id)
        if first is not None and sees(who, first):
            original = _link(first)
    actor = actor_for(who, ticket)
    steps = [] if actor is None else rules.steps(ticket.status, actor, OFFERED)
    return {
        "timeline": timeline,
        "duplicates": duplicates,
        "original": original,
        "actions": [
            {"action": step.value, "needs_note": step in rules.NEEDS_NOTE} for step in steps
        ],
    }


def _resident_actor(actor: str) -> bool:
    kind, _, rest = actor.partition(":")
    return kind == "resident" and rest.isdigit()


def _timeline_actor(actor: str, ticket: Ticket, names: dict[int, str | None]) -> dict[str, Any]:
    if actor == "anonymous":
        return {"kind": "reporter", "id": None, "name": None}
    if not _resident_actor(actor):
        return {"kind": "system", "id": None, "name": None}
    person = int(actor.split(":", 1)[1])
    kind = "reporter" if person == ticket.reporter_id and not ticket.anonymous else "staff"
    return {"kind": kind, "id": person, "name": names.get(person)}


async def stats(community_id: int, now: datetime, weeks: int = 8) -> dict[str, Any]:
    """Per-week figures for the console: counts, time to accept and resolve, misses, stars."""
    since = now - timedelta(weeks=weeks)
    rows = await Ticket.filter(community_id=community_id, created_at__gte=since).values(
        "department", "status", "created_at", "accepted_at", "resolved_at", "escalated_at", "stars"
    )
    by_week: dict[str, dict[str, Any]] = {}
    for row in rows:
        week = by_week.setdefault(
            rules.week_of(row["created_at"]),
            {
                "count": 0,
                "by_department": {},
                "by_status": {},
                "accept": [],
                "resolve": [],
                "missed": 0,
                "stars": [],
            },
        )
        week["count"] += 1
        week["by_department"][row["department"]] = (
            week["by_department"].get(row["department"], 0) + 1
        )
        week["by_status"][row["status"]] = week["by_status"].get(row["status"], 0) + 1
        if row["accepted_at"]:
            week["accept"].append(row["accepted_at"] - row["created_at"])
        if row["resolved_at"]:
            week["resolve"].append(row["resolved_at"] - row["created_at"])
        if row["escalated_at"]:
            week["missed"] += 1
        if row["stars"]:
            week["stars"].append(row["stars"])
    out = []
    for label, data in sorted(by_week.items()):
        stars = data.pop("stars")
        out.append(
            {
                "week": label,
                **{k: v for k, v in data.items() if k not in {"accept", "resolve"}},
                "median_accept_hours": rules.median_hours(data["accept"]),
                "median_resolve_hours": rules.median_hours(data["resolve"]),
                "satisfaction": round(sum(stars) / len(stars), 2) if stars else None,
            }
        )
    return {"weeks": out}


async def mine(resident: Resident) -> list[Ticket]:
    return await Ticket.filter(reporter_id=resident.id).order_by("-id").limit(10)
