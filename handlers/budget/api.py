"""``/api/v1/budget/…``: thin over the round's service functions.

What each route's ``@doc`` declares is what runs: the middleware checks its role and
parses its query and body with the models of ``schemas`` before the handler, and
answers every ``Refused`` a service raises. Money leaves as exact strings ("12345.60").
Support per project is shown only once the round has its result: never while ordering.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from handlers.api import deps, now, page_of, parsed, path_id, queried, require
from handlers.budget import doors, menu, money, ordering, rounds, rules
from handlers.budget.doors import BallotForm
from handlers.budget.rounds import Source
from handlers.budget.rules import Selection
from handlers.budget.schemas import (
    AdvanceBody,
    BallotBody,
    BallotDone,
    BallotView,
    CommentBody,
    CommentHidden,
    CommentMade,
    CommentPage,
    CoverageView,
    DoorList,
    FinancesView,
    ItemChange,
    ItemCreate,
    ItemView,
    MenuView,
    OrderBody,
    OrderDone,
    Rated,
    RatingBody,
    ReasonBody,
    ResultView,
    RoundCreate,
    RoundList,
    RoundView,
    SourceIn,
    SourcesBody,
    SpendingBody,
    SpendingList,
    SpendingView,
    StepBody,
    dumped,
)
from handlers.openapi import Paging, doc
from handlers.refusal import Refused
from handlers.roles import CONSOLE, MANAGERS
from models.budget import FundSource, MenuItem, Round

routes = web.RouteTableDef()

TAG = "budget"
ROUNDS = "/api/v1/budget/rounds"
ROUND = f"{ROUNDS}/{{id}}"
ITEM = f"{ROUND}/menu/{{number}}"


def _round_id(request: web.Request) -> int:
    return path_id(request, "id", "budget.error.not_found", id=request.match_info["id"][:12])


def _number(request: web.Request) -> int:
    raw = request.match_info["number"]
    return path_id(request, "number", "budget.error.no_item", number=raw[:12])


def _json(model: type[Any], data: Any, status: int = 200) -> web.Response:
    return web.json_response(dumped(model, data), status=status)


# --- rounds ------------------------------------------------------------------------------


async def _round_views(found: Sequence[Round]) -> list[dict[str, Any]]:
    """The rounds with their fund and sources, in one query for all of them."""
    sources: dict[int, list[FundSource]] = defaultdict(list)
    if found:
        for source in await FundSource.filter(round_id__in=[r.id for r in found]).order_by("id"):
            sources[source.round_id].append(source)
    return [
        {
            "id": r.id,
            "year": r.year,
            "title": r.title,
            "status": r.status,
            "phases": r.phases,
            "rule_name": r.rule_name,
            "rule": r.rule,
            "fund": sum((Decimal(s.amount) for s in sources[r.id]), Decimal(0)),
            "sources": [
                {"kind": s.kind, "name": s.name, "amount": Decimal(s.amount)} for s in sources[r.id]
            ],
            "ordering_opened_at": r.ordering_opened_at,
            "ordering_ends_at": r.ordering_ends_at,
            "eligible_count": r.eligible_count,
            "closed_at": r.closed_at,
            "has_result": r.result is not None,
        }
        for r in found
    ]


async def _round_answer(found: Round, status: int = 200) -> web.Response:
    return _json(RoundView, (await _round_views([found]))[0], status)


def _sources(given: Iterable[SourceIn]) -> list[Source]:
    return [Source(s.kind.value, s.amount, s.name) for s in given]


@routes.get(ROUNDS)
@doc("The community's 民生微实事 rounds, newest year first", tag=TAG, response=RoundList)
async def list_rounds(request: web.Request) -> web.Response:
    who = await require(request)
    return _json(RoundList, {"items": await _round_views(await rounds.rounds(who))})


@routes.post(ROUNDS)
@doc(
    "Create the year's round (征集 begins): its planned phases, fund sources and rule",
    tag=TAG,
    auth=MANAGERS,
    body=RoundCreate,
    response=RoundView,
    status=201,
    errors=(409,),
    description="One round per community and year (409 budget.error.round_exists).",
)
async def create_round(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, RoundCreate)
    made = await rounds.create_round(
        who,
        year=body.year,
        title=body.title,
        rule_name=body.rule,
        phases=body.phases.model_dump(),
        sources=_sources(body.sources),
    )
    return await _round_answer(made, status=201)


@routes.get(ROUND)
@doc(
    "One round: its phases, rule, fund and sources, and ordering's window",
    tag=TAG,
    response=RoundView,
)
async def get_round(request: web.Request) -> web.Response:
    who = await require(request)
    return await _round_answer(await rounds.get_round(_round_id(request), who.community_id))


@routes.put(f"{ROUND}/sources")
@doc(
    "Replace the fund's sources, until the menu is published",
    tag=TAG,
    auth=MANAGERS,
    body=SourcesBody,
    response=RoundView,
    errors=(409,),
)
async def set_sources(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    round_id = _round_id(request)
    await rounds.set_sources(who, round_id, _sources(parsed(request, SourcesBody).sources))
    return await _round_answer(await rounds.get_round(round_id, who.community_id))


@routes.post(f"{ROUND}/advance")
@doc(
    "Move the round to its next phase",
    tag=TAG,
    auth=MANAGERS,
    body=AdvanceBody,
    response=RoundView,
    errors=(409,),
    description=(
        "Publicity needs a menu; ordering opens no earlier than its planned day and freezes "
        "the households and the rule; closing ordering counts once, not before its end. "
        'Under coverage "all" it waits for every household unless an admin gives `override` '
        "(a written reason, audited and on the result); others get 403."
    ),
)
async def advance(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    override = parsed(request, AdvanceBody).override
    moved = await rounds.advance(
        who, _round_id(request), now(request), deps(request).lock, override=override
    )
    return await _round_answer(moved)


# --- the menu (项目库) and its comments during publicity -----------------------------------


def _item(item: MenuItem, result: dict[str, Any] | None) -> dict[str, Any]:
    """An item as the menu shows it; its support only from a result already counted."""
    counted = {row["number"]: row for row in (result or {}).get("items", ())}.get(item.number, {})
    return {
        "number": item.number,
        "title": item.title,
        "description": item.description,
        "cost": Decimal(item.cost),
        "responsible": item.responsible,
        "scope": item.scope,
        "photos": list(item.photos),
        "origin": item.origin,
        "proposal_id": item.proposal_id,
        "status": item.status,
        "budget": None if item.budget is None else Decimal(item.budget),
        "support": counted.get("support"),
        "standing": counted.get("standing"),
        "rank": counted.get("rank"),
    }


async def _item_answer(
    item: MenuItem, round_id: int, community_id: int, status: int = 200
) -> web.Response:
    found = await rounds.get_round(round_id, community_id)
    return _json(ItemView, _item(item, found.result), status)


@routes.get(f"{ROUND}/menu")
@doc(
    "The round's menu: staff always, residents once it is published (公示)",
    tag=TAG,
    response=MenuView,
    description="Each item's support only once the result is counted, never while ordering.",
)
async def get_menu(request: web.Request) -> web.Response:
    who = await require(request)
    found, items = await menu.menu(who, _round_id(request))
    return _json(
        MenuView,
        {
            "round_id": found.id,
            "status": found.status,
            "published": menu.published(found),
            "items": [_item(i, found.result) for i in items],
        },
    )


@routes.post(f"{ROUND}/menu")
@doc(
    "Put a project on the menu: a reviewed proposal, or a department's project",
    tag=TAG,
    auth=MANAGERS,
    body=ItemCreate,
    response=ItemView,
    status=201,
    errors=(409, 422),
    description="Until the menu is published. Photos must be the caller's own uploads (422).",
)
async def add_item(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, ItemCreate)
    round_id = _round_id(request)
    item = await menu.add_item(
        who,
        round_id,
        cost=body.cost,
        responsible=body.responsible,
        proposal_id=body.proposal_id,
        title=body.title,
        description=body.description,
        scope=None if body.scope is None else body.scope.model_dump(),
        photos=body.photos,
    )
    return _json(ItemView, _item(item, None), status=201)


@routes.patch(ITEM)
@doc(
    "Review and cost a menu item (评议与测算), until the menu is published",
    tag=TAG,
    auth=MANAGERS,
    body=ItemChange,
    response=ItemView,
    errors=(409,),
)
async def update_item(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, ItemChange)
    item = await menu.update_item(
        who,
        _round_id(request),
        _number(request),
        cost=body.cost,
        responsible=body.responsible,
        title=body.title,
        description=body.description,
    )
    return _json(ItemView, _item(item, None))


@routes.post(f"{ITEM}/withdraw")
@doc(
    "Take an item off the menu before publication, with the reason (kept on record)",
    tag=TAG,
    auth=MANAGERS,
    body=ReasonBody,
    response=ItemView,
    errors=(409,),
)
async def withdraw_item(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    reason = parsed(request, ReasonBody).reason
    item = await menu.withdraw_item(who, _round_id(request), _number(request), reason)
    return _json(ItemView, _item(item, None))


@routes.get(f"{ITEM}/comments")
@doc(
    "An item's comments (who wrote them is never shown); managers also see hidden ones",
    tag=TAG,
    query=Paging,
    response=CommentPage,
)
async def list_comments(request: web.Request) -> web.Response:
    who = await require(request)
    asked = queried(request, Paging)
    rows = await menu.comments(who, _round_id(request), _number(request))
    start = (asked.page - 1) * asked.per_page
    items = [
        {**row, "hidden": row["hidden_reason"] is not None}
        for row in rows[start : start + asked.per_page]
    ]
    return _json(CommentPage, page_of(items, len(rows), asked.page, asked.per_page))


@routes.post(f"{ITEM}/comments")
@doc(
    "Comment on an item while the menu is published (verified residents, and workers)",
    tag=TAG,
    body=CommentBody,
    response=CommentMade,
    status=201,
    errors=(403, 409),
)
async def add_comment(request: web.Request) -> web.Response:
    who = await require(request)
    text = parsed(request, CommentBody).text
    made = await menu.comment(who, _round_id(request), _number(request), text)
    return _json(CommentMade, {"id": made.id}, status=201)


@routes.post(f"{ROUND}/comments/{{comment_id}}/hide")
@doc(
    "Hide a comment on the menu, with the reason (it stays on record)",
    tag=TAG,
    auth=MANAGERS,
    body=ReasonBody,
    response=CommentHidden,
)
async def hide_comment(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    round_id = _round_id(request)
    comment_id = path_id(request, "comment_id", "budget.error.no_comment")
    reason = parsed(request, ReasonBody).reason
    await menu.hide_comment(who, round_id, comment_id, reason, now(request))
    return _json(CommentHidden, {"id": comment_id, "hidden": True})


# --- ordering (群众点菜) ---------------------------------------------------------------------


@routes.get(f"{ROUND}/order")
@doc(
    "The caller's household's ballot: its current order, what it may order, the fund",
    tag=TAG,
    response=BallotView,
    errors=(403, 409),
    description="Verified residents of the frozen households, while ordering is open.",
)
async def get_ballot(request: web.Request) -> web.Response:
    who = await require(request)
    mine = await ordering.ballot(who, _round_id(request), now(request))
    rule = mine.rule
    return _json(
        BallotView,
        {
            "round_id": mine.round.id,
            "items": list(mine.picks),
            "allowed": sorted(mine.allowed),
            "menu": [
                {
                    "number": number,
                    "title": mine.titles[number],
                    "cost": item.cost,
                    "allowed": number in mine.allowed,
                }
                for number, item in sorted(mine.menu.items())
            ],
            "fund": mine.fund,
            "left": mine.left(mine.picks),
            "minimum": (
                rules.minimum_spend(rule, mine.fund)
                if rule.selection == Selection.MINIMUM
                else None
            ),
            "rule": rules.rule_to_mapping(rule),
            "ordering_ends_at": mine.round.ordering_ends_at,
        },
    )


@routes.put(f"{ROUND}/order")
@doc(
    "Order for the caller's household (点菜): the whole order, replacing any before",
    tag=TAG,
    body=OrderBody,
    response=OrderDone,
    errors=(403, 409),
    description=(
        "One order per household, the latest counts (online or on a paper ballot). The "
        "rule refuses with 400: an unknown or out-of-scope number, a duplicate, too many or "
        "too few, a total over the fund (budget.error.over_fund) or under its minimum."
    ),
)
async def place_order(request: web.Request) -> web.Response:
    who = await require(request)
    round_id = _round_id(request)
    picks = parsed(request, OrderBody).items
    placed = await ordering.place_order(who, round_id, picks, now(request))
    return _json(
        OrderDone,
        {
            "items": list(placed.items),
            "previous": None if placed.previous is None else list(placed.previous),
            "left": placed.left,
        },
    )


# --- door to door (全覆盖) ----------------------------------------------------------------


@routes.get(f"{ROUND}/coverage")
@doc(
    "Coverage of the round's households, live, by grid and building (no support)",
    tag=TAG,
    auth=CONSOLE,
    response=CoverageView,
    errors=(409,),
    description="Grid workers see their own grids. Once ordering has opened (409 before).",
)
async def coverage(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    return _json(CoverageView, await doors.coverage(who, _round_id(request)))


@routes.get(f"{ROUND}/doors")
@doc(
    "The households of the caller's grids still to visit, in building, unit, room order",
    tag=TAG,
    auth=CONSOLE,
    response=DoorList,
    errors=(409,),
)
async def to_visit(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    return _json(DoorList, {"items": await doors.to_visit(who, _round_id(request))})


@routes.post(f"{ROUND}/ballots")
@doc(
    "Record a paper menu ballot at a door, or a visit with the reason there was none",
    tag=TAG,
    auth=CONSOLE,
    body=BallotBody,
    response=BallotDone,
    status=201,
    errors=(409, 422),
    description=(
        "A grid worker records for the households of their grids (403 for others); "
        "community workers and admins for all. An answered ballot is the household's order, "
        "checked by the round's rule, and the latest counts, online or on paper."
    ),
)
async def record_ballot(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    body = parsed(request, BallotBody)
    form = BallotForm(
        body.outcome,
        None if body.items is None else tuple(body.items),
        body.respondent,
        body.method,
        tuple(body.media),
        body.note,
    )
    done = await doors.record_ballot(
        who, _round_id(request), body.household_id, form, now(request), body.visited_at
    )
    return _json(
        BallotDone,
        {
            "visit_id": done.visit.id,
            "household_id": body.household_id,
            "state": done.state.value,
            "items": None if done.items is None else list(done.items),
            "previous": None if done.previous is None else list(done.previous),
        },
        status=201,
    )


# --- the result, and the money in the open (资金公开) ---------------------------------------


@routes.get(f"{ROUND}/result")
@doc(
    "The round's result: support per project, what was funded, coverage and the digest",
    tag=TAG,
    response=ResultView,
    errors=(409,),
    description="Once ordering has closed (409 budget.error.no_result before).",
)
async def get_result(request: web.Request) -> web.Response:
    who = await require(request)
    found = await rounds.get_round(_round_id(request), who.community_id)
    if found.result is None:
        raise Refused("budget.error.no_result", 409)
    return _json(ResultView, {**found.result, "round_id": found.id, "closed_at": found.closed_at})


@routes.get(f"{ROUND}/finances")
@doc(
    "The fund, its sources, each funded project's budget and spending, and the balance",
    tag=TAG,
    response=FinancesView,
)
async def finances(request: web.Request) -> web.Response:
    who = await require(request)
    return _json(FinancesView, await money.finances(who, _round_id(request)))


@routes.get(f"{ITEM}/spending")
@doc("A project's spending entries, with their receipts' media ids", tag=TAG, response=SpendingList)
async def list_spending(request: web.Request) -> web.Response:
    who = await require(request)
    items = await money.spendings(who, _round_id(request), _number(request))
    return _json(SpendingList, {"items": items})


@routes.post(f"{ITEM}/spending")
@doc(
    "Record money spent on a funded project",
    tag=TAG,
    auth=MANAGERS,
    body=SpendingBody,
    response=SpendingView,
    status=201,
    errors=(409, 422),
    description=(
        "Past the project's budget line only an admin may record it, with `over_reason` "
        "(403 budget.error.over_budget_admin otherwise). Receipts must be the caller's own "
        "uploads (422)."
    ),
)
async def record_spending(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    body = parsed(request, SpendingBody)
    made = await money.record_spending(
        who,
        _round_id(request),
        _number(request),
        amount=body.amount,
        spent_on=body.spent_on,
        purpose=body.purpose,
        receipts=body.receipts,
        over_reason=body.over_reason,
        now=now(request),
    )
    return _json(
        SpendingView,
        {
            "id": made.id,
            "amount": Decimal(made.amount),
            "spent_on": made.spent_on,
            "purpose": made.purpose,
            "receipts": list(made.receipts),
            "over_reason": made.over_reason,
        },
        status=201,
    )


@routes.post(f"{ITEM}/step")
@doc(
    "A funded project starts (实施), or passes its acceptance check (验收)",
    tag=TAG,
    auth=MANAGERS,
    body=StepBody,
    response=ItemView,
    errors=(409,),
)
async def step(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    round_id = _round_id(request)
    action = parsed(request, StepBody).action
    item = await money.step(who, round_id, _number(request), action)
    return await _item_answer(item, round_id, who.community_id)


@routes.post(f"{ITEM}/rating")
@doc(
    "Rate an accepted project for the caller's household (满意度); a new rating replaces it",
    tag=TAG,
    body=RatingBody,
    response=Rated,
    errors=(403, 409),
)
async def rate(request: web.Request) -> web.Response:
    who = await require(request)
    number = _number(request)
    stars = parsed(request, RatingBody).stars
    made = await money.rate(who, _round_id(request), number, stars)
    return _json(Rated, {"number": number, "stars": made.stars})
