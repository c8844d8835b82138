"""``/api/v1/proposals``: the same service functions as the chat, as JSON.

What each route's ``@doc`` declares is what runs: the middleware checks its role and
parses its query and body with the models of ``schemas`` before the handler, and
answers every ``Refused`` a service raises. Each lifecycle action is a route of its
own, so that each names its own role and body.
"""

from __future__ import annotations

from aiohttp import web

from handlers.api import (
    caller_id,
    deps,
    now,
    page_of,
    parsed,
    path_id,
    queried,
    require,
    slice_of,
)
from handlers.media.service import attach_own
from handlers.openapi import Paging, doc
from handlers.proposals import service
from handlers.proposals.schemas import (
    AuditPage,
    CloseBody,
    CommentBody,
    CommentHidden,
    CommentMade,
    CommentPage,
    HideBody,
    NoteBody,
    OpenBody,
    ProgressBody,
    ProposalCreate,
    ProposalPage,
    ProposalQuery,
    ProposalView,
    RatingBody,
    RejectBody,
    VoteBody,
    VoteDone,
)
from handlers.proposals.scope import scope_names
from handlers.roles import ADMINS, MANAGERS, Who
from models.proposals import Comment, Proposal

routes = web.RouteTableDef()

TAG = "proposals"
ACTIONS = "/api/v1/proposals/{id}/actions"


def _proposal_id(request: web.Request) -> int:
    return path_id(request, "id", "proposal.error.not_found", id=request.match_info["id"][:12])


async def _visible(request: web.Request, who: Who) -> Proposal:
    """The path's proposal, if the caller may see it; else 404, as if it did not exist."""
    return await service.get_visible(_proposal_id(request), who)


async def _answer(proposal: Proposal, who: Who, status: int = 200) -> web.Response:
    return web.json_response(await service.view(proposal, who), status=status)


@routes.get("/api/v1/proposals")
@doc(
    "List the proposals the caller may see",
    tag=TAG,
    query=ProposalQuery,
    response=ProposalPage,
    description=(
        "Residents see published and later proposals and their own; managers see all, "
        "and while a vote is open also its live tally (tally_readers)."
    ),
)
async def list_proposals(request: web.Request) -> web.Response:
    who = await require(request)
    asked = queried(request, ProposalQuery)
    query = Proposal.filter(community_id=who.community_id)
    if asked.status is not None:
        query = query.filter(status=asked.status.value)
    if asked.category is not None:
        query = query.filter(category=asked.category.value)
    if asked.mine:
        query = query.filter(proposer_id=who.id)
    query = service.visible_only(query, who)
    total, found = await slice_of(query, "-id", asked.page, asked.per_page)
    items = await service.views(found, who)
    return web.json_response(page_of(items, total, asked.page, asked.per_page))


@routes.get("/api/v1/proposals/{id}")
@doc(
    "One proposal",
    tag=TAG,
    response=ProposalView,
    description="One proposal's scope also names its grids or buildings (scope.names).",
)
async def get_proposal(request: web.Request) -> web.Response:
    who = await require(request)
    proposal = await _visible(request, who)
    data = await service.view(proposal, who)
    data["scope"] = {
        **proposal.scope,
        "names": await scope_names(proposal.community_id, proposal.scope),
    }
    return web.json_response(data)


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
    who = await require(request)
    body = parsed(request, ProposalCreate)
    proposal = await service.create(
        who,
        title=body.title,
        description=body.description,
        category=body.category.value,
        scope=None if body.scope is None else body.scope.model_dump(),
        photos=body.photos,
        estimated_cost=body.cost,
        funding=None if body.funding is None else body.funding.value,
        submit=body.submit,
    )
    await attach_own(list(proposal.photos), who, "proposal", proposal.id)
    return await _answer(proposal, who, status=201)


# --- the lifecycle, one action a route ------------------------------------------------


async def _proposers_action(request: web.Request, action: str) -> web.Response:
    """``submit`` and ``withdraw``: the rules let only the proposer take them."""
    who = await require(request)
    proposal = await _visible(request, who)
    note = parsed(request, NoteBody)
    moved = await service.act(proposal.id, who, action, now(request), note.reason)
    return await _answer(moved, who)


async def _workers_action(request: web.Request, action: str, reason: str | None) -> web.Response:
    who = await require(request, MANAGERS)
    proposal = await service.act(_proposal_id(request), who, action, now(request), reason)
    return await _answer(proposal, who)


def _note_action(action: str, summary: str, *, proposers: bool = False) -> None:
    """A lifecycle step whose body is an optional note: the proposer's or the managers'."""

    async def take(request: web.Request) -> web.Response:
        if proposers:
            return await _proposers_action(request, action)
        return await _workers_action(request, action, parsed(request, NoteBody).reason)

    take.__name__ = take.__qualname__ = f"{action}_proposal"
    described = doc(
        summary,
        tag=TAG,
        auth="resident" if proposers else MANAGERS,
        body=NoteBody,
        response=ProposalView,
        errors=(403, 409) if proposers else (409,),
    )
    routes.post(f"{ACTIONS}/{action}")(described(take))


_note_action("submit", "Submit a draft for review (its proposer)", proposers=True)
_note_action("withdraw", "Withdraw a proposal before its vote opens (its proposer)", proposers=True)
_note_action("review", "Take a submitted proposal into review")
_note_action("publish", "Publish a proposal in review: its publicity (公示) begins")
_note_action("start", "Start the work of an approved proposal")
_note_action("complete", "Accept the finished work (验收): the scope may rate it")


@routes.post(f"{ACTIONS}/reject")
@doc(
    "Reject a proposal in review, telling the proposer why",
    tag=TAG,
    auth=MANAGERS,
    body=RejectBody,
    response=ProposalView,
    errors=(409,),
)
async def reject_proposal(request: web.Request) -> web.Response:
    return await _workers_action(request, "reject", parsed(request, RejectBody).reason)


@routes.post(f"{ACTIONS}/open")
@doc(
    "Open the vote once publicity is over, freezing its electorate",
    tag=TAG,
    auth=MANAGERS,
    body=OpenBody,
    response=ProposalView,
    errors=(409,),
)
async def open_vote(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    days = parsed(request, OpenBody).days
    proposal = await service.open_voting(_proposal_id(request), who, now(request), days=days)
    return await _answer(proposal, who)


@routes.post(f"{ACTIONS}/close")
@doc(
    "Close the vote and count it; before its end only when the outcome is certain",
    tag=TAG,
    auth=MANAGERS,
    body=CloseBody,
    response=ProposalView,
    errors=(409,),
    description=(
        'A rule with coverage "all" closes only once every eligible household is reached; '
        "an admin may close before with `override_reason` (audited, printed on the poster)."
    ),
)
async def close_vote(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    override = parsed(request, CloseBody).override_reason
    proposal = await service.close_voting(
        _proposal_id(request), who, now(request), deps(request).lock, override=override
    )
    return await _answer(proposal, who)


@routes.post(f"{ACTIONS}/progress")
@doc(
    "Tell the scope how the work is going",
    tag=TAG,
    auth=MANAGERS,
    body=ProgressBody,
    response=ProposalView,
    errors=(409,),
)
async def report_progress(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    proposal_id = _proposal_id(request)
    await service.add_progress(proposal_id, who, parsed(request, ProgressBody).text or "")
    return await _answer(await service.get(proposal_id, who.community_id), who)


# --- votes, comments, ratings ---------------------------------------------------------


@routes.get("/api/v1/proposals/{id}/audit")
@doc(
    "The proposal's audit trail, votes included (admins only)",
    tag=TAG,
    auth=ADMINS,
    query=Paging,
    response=AuditPage,
    description=(
        "Who voted what is secret to everyone but an admin: community workers get 403. "
        "Each read is itself recorded in the trail (proposal.audit_read: who, when, page)."
    ),
)
async def audit_trail(request: web.Request) -> web.Response:
    """Who voted what is secret to everyone but an admin, who reads it here (留档备查);
    each read lands in the trail itself."""
    who = await require(request, ADMINS)
    asked = queried(request, Paging)
    query = await service.audit_trail(_proposal_id(request), who, asked.page)
    total, rows = await slice_of(query, "id", asked.page, asked.per_page)
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
    return web.json_response(page_of(items, total, asked.page, asked.per_page))


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
    choice = parsed(request, VoteBody).choice
    done = await service.cast_vote(_proposal_id(request), resident_id, choice, now(request))
    return web.json_response({"choice": done.choice, "changed": done.previous is not None})


@routes.get("/api/v1/proposals/{id}/comments")
@doc(
    "Comments made during publicity",
    tag=TAG,
    query=Paging,
    response=CommentPage,
)
async def list_comments(request: web.Request) -> web.Response:
    who = await require(request)
    asked = queried(request, Paging)
    proposal = await _visible(request, who)
    query = Comment.filter(proposal_id=proposal.id)
    total, found = await slice_of(query, "id", asked.page, asked.per_page)
    items = [
        {
            "id": c.id,
            "text": None if c.hidden_reason and not who.is_manager else c.text,
            "hidden": c.hidden_reason is not None,
            "hidden_reason": c.hidden_reason,
            "mine": c.resident_id == who.id,
            "created_at": c.created_at.isoformat(),
        }
        for c in found
    ]
    return web.json_response(page_of(items, total, asked.page, asked.per_page))


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
    who = await require(request)
    text = parsed(request, CommentBody).text
    made = await service.comment(_proposal_id(request), who, text)
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
    who = await require(request, MANAGERS)
    comment_id = path_id(
        request, "id", "proposal.error.comment_not_found", id=request.match_info["id"][:12]
    )
    hidden = await service.hide_comment(comment_id, who, parsed(request, HideBody).reason)
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
    who = await require(request)
    body = parsed(request, RatingBody)
    proposal = await service.rate(_proposal_id(request), who, body.stars, body.comment)
    return await _answer(proposal, who)
