"""``/api/v1/proposals``: the same service functions as the chat, as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from handlers.api import (
    ApiError,
    body,
    caller,
    caller_id,
    deps,
    page_of,
    paging,
    slice_of,
    storable,
)
from handlers.openapi import Paging, doc
from handlers.proposals import service
from handlers.proposals.rules import Category, Status
from handlers.proposals.schemas import (
    ACTION_PATH,
    COST_MAX,
    PHOTO_MAX,
    WORKER_ACTIONS,
    Action,
    AuditPage,
    CommentBody,
    CommentHidden,
    CommentMade,
    CommentPage,
    HideBody,
    ProposalActionBody,
    ProposalCreate,
    ProposalPage,
    ProposalQuery,
    ProposalView,
    RatingBody,
    VoteBody,
    VoteDone,
)
from handlers.proposals.service import TEXT_MAX, ProposalError
from handlers.roles import MANAGERS
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
SCOPE_KINDS = {"community", "grids", "buildings"}
TAG = "proposals"


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


def _string(data: dict[str, Any], name: str, limit: int | None = None) -> str:
    """A text field of the body: absent or null is empty, anything but text is refused.

    ``limit`` is for fields whose length the service does not check itself.
    """
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or not storable(value) or (limit and len(value) > limit):
        raise ApiError(400, "api.error.bad_field", name=name)
    return value


@routes.get("/api/v1/proposals")
@doc(
    "List the proposals the caller may see",
    tag=TAG,
    query=ProposalQuery,
    response=ProposalPage,
    description=(
        "Residents see published and later proposals and their own; workers see all, "
        "and while a vote is open also its live tally."
    ),
)
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
    if not who.is_manager:
        query = query.filter(Q(status__in=PUBLIC) | Q(proposer_id=who.resident.id))
    total, found = await slice_of(query, "-id", page, per_page)
    items = await service.views(found, who)
    return web.json_response(page_of(items, total, page, per_page))


@routes.get("/api/v1/proposals/{id}")
@doc("One proposal", tag=TAG, response=ProposalView)
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
        who.is_manager or proposal.status in PUBLIC or proposal.proposer_id == who.resident.id  # type: ignore[attr-defined]
    )


def _decimal(value: Any) -> Decimal | None:
    """The estimated cost in yuan: a number (or numeric text) the column can hold, in fen."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, "proposal.error.bad_cost")
    try:
        cost = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(400, "proposal.error.bad_cost") from None
    if not cost.is_finite() or not 0 <= cost <= Decimal(str(COST_MAX)):
        raise ApiError(400, "proposal.error.bad_cost")
    cost = cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cost > Decimal(str(COST_MAX)):
        raise ApiError(400, "proposal.error.bad_cost")
    return cost


def _scope(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("kind") if isinstance(value, dict) else None
    ids = value.get("ids") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in SCOPE_KINDS:
        raise ApiError(400, "proposal.error.bad_scope")
    ids = [] if ids is None else ids
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= 999_999_999 for i in ids
    ):
        raise ApiError(400, "proposal.error.bad_scope")
    return {"kind": kind, "ids": ids}


def _photos(value: Any) -> list[str]:
    photos = [] if value is None else value
    if not isinstance(photos, list) or not all(
        isinstance(p, str) and storable(p) and len(p) <= PHOTO_MAX for p in photos
    ):
        raise ApiError(400, "api.error.bad_field", name="photos")
    return photos


@routes.post("/api/v1/proposals")
@doc(
    "Propose something (submitted for review unless kept a draft)",
    tag=TAG,
    body=ProposalCreate,
    response=ProposalView,
    status=201,
    errors=(403,),
    description="Verified residents and workers only (403 otherwise).",
)
async def create_proposal(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    funding = data.get("funding")
    if funding is not None and not isinstance(funding, str):
        raise ApiError(400, "proposal.error.bad_funding")
    try:
        proposal = await service.create(
            who,
            title=_string(data, "title"),
            description=_string(data, "description"),
            category=_string(data, "category") or "project",
            scope=_scope(data.get("scope")),
            photos=_photos(data.get("photos")),
            estimated_cost=_decimal(data.get("estimated_cost")),
            funding=funding,
            submit=data.get("submit", True) is not False,
        )
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who), status=201)


@routes.post("/api/v1/proposals/{id}/actions/{action}")
@doc(
    "Move a proposal along its lifecycle",
    tag=TAG,
    body=ProposalActionBody,
    response=ProposalView,
    errors=(403, 409),
    path=ACTION_PATH,
    description=(
        "submit and withdraw are the proposer's; review, reject, publish, open (the vote), "
        "close (the vote), start, progress and complete are community workers' (403 for "
        "anyone else). The body is optional."
    ),
)
async def proposal_action(request: web.Request) -> web.Response:
    who = await _who(request)
    action = request.match_info["action"]
    if action not in {a.value for a in Action}:
        raise ApiError(404, "api.error.not_found")
    if action in WORKER_ACTIONS and not who.is_manager:
        raise ApiError(403, "api.error.forbidden")
    proposal_id = _id(request)
    data = await body(request) if request.can_read_body else {}
    try:
        if not who.is_manager and not _may_see(
            await service.get(proposal_id, who.resident.community_id),  # type: ignore[attr-defined]
            who,
        ):
            raise ApiError(404, "proposal.error.not_found", id=proposal_id)
        if action in SIMPLE_ACTIONS:
            reason = _string(data, "reason", TEXT_MAX) or None
            proposal = await service.act(proposal_id, who, action, _now(), reason)
        elif action == "open":
            days = data.get("days", 7)
            if not isinstance(days, int) or isinstance(days, bool):
                raise ApiError(400, "proposal.error.bad_duration")
            proposal = await service.open_voting(proposal_id, who, _now(), days=days)
        elif action == "close":
            proposal = await service.close_voting(proposal_id, who, _now(), deps(request).lock)
        else:
            await service.add_progress(proposal_id, who, _string(data, "text"))
            proposal = await service.get(proposal_id, who.resident.community_id)  # type: ignore[attr-defined]
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who))


@routes.get("/api/v1/proposals/{id}/audit")
@doc(
    "The proposal's audit trail, votes included (admins only)",
    tag=TAG,
    auth=MANAGERS,
    query=Paging,
    response=AuditPage,
    description="Who voted what is secret to everyone but an admin: community workers get 403.",
)
async def audit_trail(request: web.Request) -> web.Response:
    """Who voted what is secret to everyone but an admin, who reads it here (留档备查)."""
    who = await _who(request)
    if Role.ADMIN not in who.roles:
        raise ApiError(403, "api.error.forbidden")
    try:
        proposal = await service.get(_id(request), who.resident.community_id)  # type: ignore[attr-defined]
    except ProposalError as exc:
        raise _refused(exc) from None
    page, per_page = paging(request)
    query = AuditLog.filter(entity="proposal", entity_id=str(proposal.id))
    total, rows = await slice_of(query, "id", page, per_page)
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
@doc(
    "Vote for the caller's household (or themselves, by rule); the last vote counts",
    tag=TAG,
    body=VoteBody,
    response=VoteDone,
    errors=(403, 409),
)
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
@doc("Comments made during publicity", tag=TAG, query=Paging, response=CommentPage)
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
    total, found = await slice_of(query, "id", page, per_page)
    items = [
        {
            "id": c.id,
            "text": None if c.hidden_reason and not who.is_manager else c.text,
            "hidden": c.hidden_reason is not None,
            "hidden_reason": c.hidden_reason,
            "mine": c.resident_id == who.resident.id,  # type: ignore[attr-defined]
            "created_at": c.created_at.isoformat(),
        }
        for c in found
    ]
    return web.json_response(page_of(items, total, page, per_page))


@routes.post("/api/v1/proposals/{id}/comments")
@doc(
    "Comment during publicity (verified residents of the scope, and workers)",
    tag=TAG,
    body=CommentBody,
    response=CommentMade,
    status=201,
    errors=(403, 409),
)
async def add_comment(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    try:
        made = await service.comment(_id(request), who, _string(data, "text"))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response({"id": made.id}, status=201)


@routes.post("/api/v1/comments/{id}/hide")
@doc(
    "Hide a comment, with the reason shown in its place",
    tag=TAG,
    auth=MANAGERS,
    body=HideBody,
    response=CommentHidden,
)
async def hide_comment(request: web.Request) -> web.Response:
    who = await _who(request)
    if not who.is_manager:
        raise ApiError(403, "api.error.forbidden")
    data = await body(request)
    try:
        hidden = await service.hide_comment(_id(request), who, _string(data, "reason"))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response({"id": hidden.id, "hidden": True})


@routes.post("/api/v1/proposals/{id}/rating")
@doc(
    "Rate a completed proposal, once per household (a new rating replaces it)",
    tag=TAG,
    body=RatingBody,
    response=ProposalView,
    errors=(403, 409),
)
async def rate(request: web.Request) -> web.Response:
    who = await _who(request)
    data = await body(request)
    stars = data.get("stars")
    if not isinstance(stars, int) or isinstance(stars, bool):
        raise ApiError(400, "proposal.error.bad_stars")
    try:
        proposal = await service.rate(_id(request), who, stars, _string(data, "comment"))
    except ProposalError as exc:
        raise _refused(exc) from None
    return web.json_response(await service.view(proposal, who))
