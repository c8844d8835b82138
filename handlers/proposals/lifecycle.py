"""A proposal from draft to publication and through the work: one transition at a time.

Every change goes through ``rules.transition`` and lands in the audit log in the same
transaction; a refusal is a ``Refused`` with the status the API answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from handlers.proposals import rules
from handlers.proposals.rules import Action, Actor, Category, Outcome, Status, TransitionError
from handlers.proposals.scope import check_scope, suggested_scope
from handlers.proposals.visibility import get_visible
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import record
from models.outbox import Notification
from models.proposals import ProgressUpdate, Proposal
from models.residents import Role

TITLE_MAX = 100
TEXT_MAX = 2000
# How grave each of the rules' refusals is for an API caller (the rules know no HTTP).
TRANSITION_STATUS = {
    rules.ERROR_ILLEGAL: 409,
    rules.ERROR_FORBIDDEN: 403,
    rules.ERROR_PUBLICITY_NOT_OVER: 409,
}
SIMPLE_ACTIONS = frozenset(
    {"submit", "review", "reject", "publish", "withdraw", "start", "complete"}
)


def _actors(who: Who, proposal: Proposal | None) -> list[Actor]:
    """The rule-table actors this person may act as, most specific first."""
    out = []
    if proposal is not None and proposal.proposer_id == who.id:
        out.append(Actor.PROPOSER)
    if Role.ADMIN in who.roles:
        out.append(Actor.ADMIN)
    if Role.COMMUNITY_WORKER in who.roles:
        out.append(Actor.COMMUNITY_WORKER)
    return out or [Actor.RESIDENT]


def _transition(proposal: Proposal, action: str, who: Who | None, **kw: Any) -> Status:
    """The next status, trying each hat the person wears; the clearest refusal wins."""
    actors = [Actor.SYSTEM] if who is None else _actors(who, proposal)
    error: TransitionError | None = None
    for actor in actors:
        try:
            return rules.transition(Status(proposal.status), Action(action), actor, **kw)
        except TransitionError as exc:
            if error is None or exc.code != "proposal.error.forbidden":
                error = exc
    assert error is not None
    raise Refused(error.code, TRANSITION_STATUS.get(error.code, 400))


def clean_text(text: str, limit: int, code: str) -> str:
    """The text without its surrounding blanks; refused (400, ``code``) if empty or too long."""
    text = (text or "").strip()
    if not text or len(text) > limit:
        raise Refused(code, 400, limit=limit)
    return text


async def get(proposal_id: int, community_id: int) -> Proposal:
    proposal = await Proposal.get_or_none(id=proposal_id, community_id=community_id)
    if proposal is None:
        raise Refused("proposal.error.not_found", 404, id=proposal_id)
    return proposal


async def move(
    proposal: Proposal,
    action: str,
    who: Who | None,
    conn: Any,
    *,
    reason: str | None = None,
    outcome: Outcome | None = None,
    publicity_over: bool = False,
    **changes: Any,
) -> Status:
    """One transition: a conditional update, so a concurrent one cannot also apply."""
    before = proposal.status
    after = _transition(
        proposal, action, who, reason=reason, outcome=outcome, publicity_over=publicity_over
    )
    updated = (
        await Proposal.filter(id=proposal.id, status=before)
        .using_db(conn)
        .update(status=after.value, **changes)
    )
    if not updated:
        raise Refused("proposal.error.changed_meanwhile", 409)
    proposal.status = after.value
    for field, value in changes.items():
        setattr(proposal, field, value)
    await record(
        "system" if who is None else who.name,
        f"proposal.{action}",
        "proposal",
        proposal.id,
        before={"status": before},
        after={"status": after.value, **({"reason": reason} if reason else {})},
        using_db=conn,
    )
    return after


async def notify(proposal: Proposal, kind: str, audience: str, conn: Any, **payload: Any) -> None:
    """A notification for the outbox, in the transaction of the change it tells of."""
    await Notification.create(
        community_id=proposal.community_id,
        kind=kind,
        audience=audience,
        subject="proposal",
        subject_id=proposal.id,
        payload={"title": proposal.title, **payload},
        using_db=conn,
    )


async def create(
    who: Who,
    *,
    title: str,
    description: str,
    category: str,
    scope: dict[str, Any] | None = None,
    photos: Iterable[str] = (),
    estimated_cost: Decimal | None = None,
    funding: str | None = None,
    submit: bool = True,
) -> Proposal:
    resident = who.resident
    if not resident.verified and not who.is_manager:
        raise Refused("proposal.error.not_verified", 403)
    title = clean_text(title, TITLE_MAX, "proposal.error.bad_title")
    description = clean_text(description, TEXT_MAX, "proposal.error.bad_description")
    if category not in {c.value for c in Category}:
        raise Refused("proposal.error.bad_category", 400)
    if funding is not None and funding not in {f.value for f in rules.Funding}:
        raise Refused("proposal.error.bad_funding", 400)
    if estimated_cost is not None and estimated_cost < 0:
        raise Refused("proposal.error.bad_cost", 400)
    if scope is None:
        scope = await suggested_scope(resident) or {"kind": "community"}
    scope = await check_scope(who.community_id, scope)
    async with in_transaction() as conn:
        proposal = await Proposal.create(
            community_id=who.community_id,
            proposer=resident,
            title=title,
            description=description,
            category=category,
            scope=scope,
            photos=[str(p) for p in photos][:9],
            estimated_cost=estimated_cost,
            funding=funding,
            using_db=conn,
        )
        await record(who.name, "proposal.created", "proposal", proposal.id, using_db=conn)
        if submit:
            await move(proposal, "submit", who, conn)
    return proposal


async def act(
    proposal_id: int, who: Who, action: str, now: datetime, reason: str | None = None
) -> Proposal:
    """The worker and proposer actions that need nothing but a status change."""
    if action not in SIMPLE_ACTIONS:
        raise Refused("proposal.error.illegal_transition", 409)
    proposal = await get_visible(proposal_id, who)
    reason = (reason or "").strip() or None
    changes: dict[str, Any] = {}
    if action == "reject":
        changes["rejection_reason"] = reason
    if action == "publish":
        changes["published_at"] = now
    async with in_transaction() as conn:
        await move(proposal, action, who, conn, reason=reason, **changes)
        if action == "reject":
            await notify(proposal, "proposal.rejected", "proposer", conn, reason=reason)
        elif action == "publish":
            await notify(proposal, "proposal.published", "scope", conn)
            await notify(proposal, "proposal.published", "proposer", conn)
        elif action == "complete":
            await notify(proposal, "proposal.completed", "scope", conn)
    return proposal


async def add_progress(proposal_id: int, who: Who, text: str) -> ProgressUpdate:
    proposal = await get(proposal_id, who.community_id)
    text = clean_text(text, TEXT_MAX, "proposal.error.bad_text")
    async with in_transaction() as conn:
        await move(proposal, "progress", who, conn)
        update = await ProgressUpdate.create(
            proposal=proposal, author=who.resident, text=text, using_db=conn
        )
        await notify(proposal, "proposal.progress", "scope", conn, text=text)
    return update
