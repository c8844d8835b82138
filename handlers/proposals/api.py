"""``/api/v1/proposals``: the same service functions as the chat, as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from handlers.api import ApiError, body, caller, caller_id, deps, page_of, paging
from handlers.proposals import service
from handlers.proposals.rules import Category, Status
from handlers.proposals.service import ProposalError
from models.audit import AuditLog
from models.proposals import Comment, Proposal
from models.residents import Role

routes = web.RouteTableDef()

STATUS_OF_ERROR = {
    "proposal.error.not_found": 404,
    "proposal.error.comment_not_found": 404,
    "proposal.error.forbidden": 403,
    "proposal.error.changed_meanwhile": 409,
    "proposal.error.illegal_transition": 409,
    "proposal.error.vote_closed": 409,
    "proposal.error.not_decided_yet": 409,
    "proposal.error.publicity_not_over": 409,
    "proposal.error.not_in_publicity": 409,
    "proposal.error.not_completed": 409,
    "proposal.error.out_of_scope": 403,
    "proposal.error.not_verified": 403,
}
# Before publication a proposal is its proposer's and the workers' business.
PUBLIC = [
    s.value
    for s in Status
    if s
    not in {Status.DRAFT, Status.SUBMITTED, Status.UNDER_REVIEW, Status.REJECTED, Status.WITHDRAWN}
]
SIMPLE_ACTIONS = {"submit", "review", "reject", "publish", "withdraw", "start", "complete"}


def _refused(exc: ProposalError) -> ApiError:
    return ApiError(STATUS_OF_ERROR.get(exc.code, 400), exc.code, **exc.params)


def _now() -> datetime:
    return datetime.now(UTC)


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(404, "proposal.error.not_found", id=raw[:12])
    return int(raw)


async def _who(request: web.Request) -> service.Who:
    return await service.who(await caller(request))


@routes.get("/api/v1/proposals")
async def list_proposals(request: web.Request) -> web.Response:
    who = await _who(request)
    page, per_page = paging(request)
    query = Proposal.filter(community_id=who.resident.community_id)  # type: ignore[attr-defined]
    status = request.query.get("status")
    if status:
        if status not in {s.value for s in Status}:
            raise ApiError(400, "api.error.bad_filter", name="status")
        query = query.filter(status=status)
    category = request.query.get("category")
    if category:
        if category not in {c.value for c in Category}:
            raise ApiError(400, "api.error.bad_filter", name="category")
        query = query.filter(category=category)
    if request.query.get("mine") in {"1", "true"}:
        query = query.filter(proposer_id=who.resident.id)
    if not who.is_worker:
        query = query.filter(Q(status__in=PUBLIC) | Q(proposer_id=who.resident.id))
    total = await query.count()
    found = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    items = [await service.view(p, who) for p in found]
    return web.json_response(page_of(items, total, page, per_page))


@routes.get("/api/v1/proposals/{id}")
async def get_proposal(request: web.Request) -> web.Response:
    who = await _who(request)
    try:
        proposal = await service.get(_id(request), who.resident.community_id)  # type: ignore[attr-defined]
    except ProposalError as exc:
        raise _refused(exc) from None
    if not _may_see(proposal, who):
        raise ApiError(404, "proposal.error.not_found", id=proposal.id)
    return web.json_response(await service.view(proposal, who))


def _may_see(proposal: Proposal, who: service.Who) -> bool:
    return (
        who.is_worker or proposal.status in PUBLIC or proposal.proposer_id == who.resident.id  # type: ignore[attr-defined]
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ApiError(400, "proposal.error.bad_cost") from None


@routes.post("/api/v1/proposals")
async def create_proposal(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    photos = data.get("photos") or []
    if not isinstance(photos, list):
        raise ApiError(400, "api.error.bad_field", name="photos")
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, dict):
        raise ApiError(400, "proposal.error.bad_scope")
    try:
        proposal = await service.create(
            who,
            title=str(data.get("title") or ""),
            description=str(data.get("description") or ""),
            category=str(data.get("category") or "project"),
            scope=scope,
            photos=[str(p) for p in photos],
            estimated_cost=_decimal(data.get("estimated_cost")),
            funding=data.get("funding"),
            submit=data.get("submit", True) is not False,
        )
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who), status=201)


@routes.post("/api/v1/proposals/{id}/actions/{action}")
async def proposal_action(request: web.Request) -> web.Response:
    who = await _who(request)
    proposal_id = _id(request)
    action = request.match_info["action"]
    data = await body(request) if request.can_read_body else {}
    try:
        if action in SIMPLE_ACTIONS:
            proposal = await service.act(proposal_id, who, action, _now(), data.get("reason"))
        elif action == "open":
            days = data.get("days", 7)
            if not isinstance(days, int):
                raise ApiError(400, "proposal.error.bad_duration")
            proposal = await service.open_voting(proposal_id, who, _now(), days=days)
        elif action == "close":
            proposal = await service.close_voting(proposal_id, who, _now(), deps(request).lock)
        elif action == "progress":
            await service.add_progress(proposal_id, who, str(data.get("text") or ""))
            proposal = await service.get(proposal_id, who.resident.community_id)  # type: ignore[attr-defined]
        else:
            raise ApiError(404, "api.error.not_found")
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who))


@routes.get("/api/v1/proposals/{id}/audit")
async def audit_trail(request: web.Request) -> web.Response:
    """Who voted what is secret to everyone but an admin, who reads it here (留档备查)."""
    who = await _who(request)
    if Role.ADMIN not in who.roles:
        raise ApiError(403, "proposal.error.forbidden")
    try:
        proposal = await service.get(_id(request), who.resident.community_id)  # type: ignore[attr-defined]
    except ProposalError as exc:
        raise _refused(exc) from None
    page, per_page = paging(request)
    query = AuditLog.filter(entity="proposal", entity_id=str(proposal.id))
    total = await query.count()
    rows = await query.order_by("id").offset((page - 1) * per_page).limit(per_page)
    items = [
        {
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "before": row.before,
            "after": row.after,
        }
        for row in rows
    ]
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/proposals/{id}/vote")
async def vote(request: web.Request) -> web.Response:
    resident_id = await caller_id(request)  # the vote's own read checks the voter
    data = await body(request)
    try:
        done = await service.cast_vote(
            _id(request), resident_id, str(data.get("choice") or ""), _now()
        )
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response({"choice": done.choice, "changed": done.previous is not None})


@routes.get("/api/v1/proposals/{id}/comments")
async def list_comments(request: web.Request) -> web.Response:
    who = await _who(request)
    try:
        proposal = await service.get(_id(request), who.resident.community_id)  # type: ignore[attr-defined]
    except ProposalError as exc:
        raise _refused(exc) from None
    if not _may_see(proposal, who):
        raise ApiError(404, "proposal.error.not_found", id=proposal.id)
    page, per_page = paging(request)
    query = Comment.filter(proposal_id=proposal.id)
    total = await query.count()
    found = await query.order_by("id").offset((page - 1) * per_page).limit(per_page)
    items = [
        {
            "id": c.id,
            "text": None if c.hidden_reason and not who.is_worker else c.text,
            "hidden": c.hidden_reason is not None,
            "hidden_reason": c.hidden_reason,
            "mine": c.resident_id == who.resident.id,  # type: ignore[attr-defined]
            "created_at": c.created_at.isoformat(),
        }
        for c in found
    ]
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/proposals/{id}/comments")
async def add_comment(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    try:
        made = await service.comment(_id(request), who, str(data.get("text") or ""))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response({"id": made.id}, status=201)


@routes.post("/api/v1/comments/{id}/hide")
async def hide_comment(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    try:
        hidden = await service.hide_comment(_id(request), who, str(data.get("reason") or ""))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response({"id": hidden.id, "hidden": True})


@routes.post("/api/v1/proposals/{id}/rating")
async def rate(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    stars = data.get("stars")
    if not isinstance(stars, int) or isinstance(stars, bool):
        raise ApiError(400, "proposal.error.bad_stars")
    try:
        proposal = await service.rate(_id(request), who, stars, str(data.get("comment") or ""))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who))
