"""``/api/v1/proposals/{id}/…`` for the door-to-door survey: thin over ``service``."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from handlers.api import caller, now, parsed, path_id, queried, require
from handlers.canvass import records, service
from handlers.canvass.rules import VisitForm
from handlers.canvass.schemas import (
    CoverageView,
    DisputeBody,
    DisputeList,
    DisputeMade,
    DoorList,
    DoorsQuery,
    VisitBody,
    VisitDone,
)
from handlers.openapi import doc
from handlers.records.poster import vote_poster
from handlers.records.workbook import vote_workbook
from handlers.roles import CONSOLE, MANAGERS, Who

routes = web.RouteTableDef()
TAG = "canvass"
BASE = "/api/v1/proposals/{id}"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _proposal_id(request: web.Request) -> int:
    return path_id(request, "id", "proposal.error.not_found", id=request.match_info["id"][:12])


@routes.get(f"{BASE}/coverage")
@doc(
    "Coverage of a vote (全覆盖), live, by grid and building",
    tag=TAG,
    auth=CONSOLE,
    response=CoverageView,
    errors=(404, 409),
    description="Grid workers see their own grids; the choices only tally readers, or once closed.",
)
async def coverage(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    found = await service.coverage(who, _proposal_id(request))
    return web.json_response(CoverageView.model_validate(found).model_dump(mode="json"))


@routes.get(f"{BASE}/doors")
@doc(
    "The households still to visit in the caller's grids, with earlier visits",
    tag=TAG,
    auth=CONSOLE,
    query=DoorsQuery,
    response=DoorList,
    errors=(404, 409),
)
async def doors(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    grid = queried(request, DoorsQuery).grid_id
    items = await service.to_visit(who, _proposal_id(request), grid)
    return web.json_response(DoorList(items=items).model_dump(mode="json"))  # type: ignore[arg-type]


@routes.post(f"{BASE}/visits")
@doc(
    "Record a visit at a door (入户走访): an answer, or the reason there was none",
    tag=TAG,
    auth=CONSOLE,
    body=VisitBody,
    response=VisitDone,
    status=201,
    errors=(404, 409),
    description=(
        "A grid worker records for the households of their grids; community workers and "
        "admins for all. The latest answer counts, online or in person."
    ),
)
async def record_visit(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    body = parsed(request, VisitBody)
    form = VisitForm(
        body.outcome, body.choice, body.respondent, body.method, tuple(body.media), body.note
    )
    done = await service.record_visit(
        who, _proposal_id(request), body.household_id, form, now(request), body.visited_at
    )
    answer = VisitDone(
        visit_id=done.visit.id,
        household_id=body.household_id,
        state=done.state.value,  # type: ignore[arg-type]
        replaced=done.previous,  # type: ignore[arg-type]
    )
    return web.json_response(answer.model_dump(mode="json"), status=201)


@routes.post(f"{BASE}/dispute")
@doc(
    "Dispute the answer recorded at your household's door while the vote is open",
    tag=TAG,
    body=DisputeBody,
    response=DisputeMade,
    status=201,
    errors=(403, 404, 409),
)
async def dispute(request: web.Request) -> web.Response:
    resident = await caller(request)
    reason = parsed(request, DisputeBody).reason
    made = await service.dispute(resident, _proposal_id(request), reason, now(request))
    return web.json_response({"dispute_id": made.id}, status=201)


@routes.get(f"{BASE}/disputes")
@doc("The disputes of a vote", tag=TAG, auth=MANAGERS, response=DisputeList, errors=(404, 409))
async def disputes(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    items = await service.disputes(who, _proposal_id(request))
    return web.json_response(DisputeList(items=items).model_dump(mode="json"))  # type: ignore[arg-type]


class RecordQuery(BaseModel):
    language: Literal["zh_Hans", "zh_Hant"] | None = Field(
        default=None, description="Default: traditional for a worker who reads it, else simplified"
    )


def _record_language(request: web.Request, who: Who) -> str:
    asked = queried(request, RecordQuery).language
    return asked or ("zh_Hant" if who.resident.language == "zh_Hant" else "zh_Hans")


def _link(request: web.Request, proposal_id: int) -> str:
    return f"{request.url.origin()}/console/#/proposals/{proposal_id}"


@routes.get(f"{BASE}/poster.pdf")
@doc(
    "The printable A4 result of a closed vote (公示), with its digest and a QR code",
    tag=TAG,
    auth=CONSOLE,
    query=RecordQuery,
    content_type="application/pdf",
    errors=(404, 409),
)
async def poster(request: web.Request) -> web.Response:
    who = await require(request, CONSOLE)
    proposal = await records.closed_vote(who, _proposal_id(request), full=False)
    made = await records.vote_record(
        proposal, _record_language(request, who), _link(request, proposal.id)
    )
    body = await asyncio.to_thread(vote_poster, made)
    return _attachment(body, "application/pdf", f"vote-{proposal.id}-poster.pdf")


@routes.get(f"{BASE}/record.xlsx")
@doc(
    "The record of a closed vote (留档): one row per household, and its audit trail",
    tag=TAG,
    auth=MANAGERS,
    query=RecordQuery,
    content_type=XLSX,
    errors=(404, 409),
)
async def record_xlsx(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    proposal = await records.closed_vote(who, _proposal_id(request), full=True)
    made = await records.vote_record(
        proposal, _record_language(request, who), _link(request, proposal.id), full=True
    )
    body = await asyncio.to_thread(vote_workbook, made)
    return _attachment(body, XLSX, f"vote-{proposal.id}-record.xlsx")


def _attachment(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
