"""``/api/v1/budget/rounds/{id}/…`` exports: the result poster, the record, the year-end report.

The poster and the report are the community's (公示, 资金公开): any of its residents may
download them once the round has its result (409 budget.error.no_result before). The
record (留档) lists every household's order and every call at a door, so, as a vote's
record, it is the managers'.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from handlers.api import now, path_id, queried, require
from handlers.budget import exports
from handlers.openapi import doc
from handlers.records.budget_poster import report_poster, round_poster
from handlers.records.budget_workbook import report_workbook, round_workbook
from handlers.records.workbook import XLSX
from handlers.roles import MANAGERS, Who

routes = web.RouteTableDef()
TAG = "budget"
ROUND = "/api/v1/budget/rounds/{id}"
PDF = "application/pdf"


class ExportQuery(BaseModel):
    language: Literal["zh_Hans", "zh_Hant", "en"] | None = Field(
        default=None, description="Default: traditional for a caller who reads it, else simplified"
    )


def _round_id(request: web.Request) -> int:
    return path_id(request, "id", "budget.error.not_found", id=request.match_info["id"][:12])


def _language(request: web.Request, who: Who) -> str:
    asked = queried(request, ExportQuery).language
    return asked or ("zh_Hant" if who.resident.language == "zh_Hant" else "zh_Hans")


def _link(request: web.Request, round_id: int) -> str:
    return f"{request.url.origin()}/console/#/budget?id={round_id}"


def _attachment(body: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get(f"{ROUND}/poster.pdf")
@doc(
    "The printable A4 result of a round (点菜结果公示): fund, rule, coverage, each project's "
    "support and standing, the digest",
    tag=TAG,
    query=ExportQuery,
    content_type=PDF,
    errors=(409,),
    description="For every resident of the community once ordering has closed "
    "(409 budget.error.no_result before).",
)
async def poster(request: web.Request) -> web.Response:
    who = await require(request)
    found = await exports.counted_round(who, _round_id(request))
    made = await exports.round_record(found, _language(request, who), _link(request, found.id))
    body = await asyncio.to_thread(round_poster, made)
    return _attachment(body, PDF, f"budget-{found.year}-{found.id}-poster.pdf")


@routes.get(f"{ROUND}/record.xlsx")
@doc(
    "The record of a counted round (留档): the result, every household's order, every call "
    "at a door, the fund's sources and the rule",
    tag=TAG,
    auth=MANAGERS,
    query=ExportQuery,
    content_type=XLSX,
    errors=(409,),
    description="Households by building, unit and room; workers by id; no names.",
)
async def record_xlsx(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    found = await exports.counted_round(who, _round_id(request), full=True)
    made = await exports.round_record(
        found, _language(request, who), _link(request, found.id), full=True
    )
    body = await asyncio.to_thread(round_workbook, made)
    return _attachment(body, XLSX, f"budget-{found.year}-{found.id}-record.xlsx")


@routes.get(f"{ROUND}/report.pdf")
@doc(
    "The year-end report (资金公开) as A4 PDF: the fund, what was ordered, funded, completed "
    "and spent, the balance and the satisfaction",
    tag=TAG,
    query=ExportQuery,
    content_type=PDF,
    errors=(409,),
    description="Public to the community once ordering has closed "
    "(409 budget.error.no_result before).",
)
async def report_pdf(request: web.Request) -> web.Response:
    who = await require(request)
    round_id = _round_id(request)
    made = await exports.year_report(
        who, round_id, _language(request, who), _link(request, round_id), now(request)
    )
    body = await asyncio.to_thread(report_poster, made)
    return _attachment(body, PDF, f"budget-{made.year}-{made.round_id}-report.pdf")


@routes.get(f"{ROUND}/report.xlsx")
@doc(
    "The year-end report (资金公开) as .xlsx: summary, sources, the menu with support, each "
    "funded project's money and rating, every spending entry",
    tag=TAG,
    query=ExportQuery,
    content_type=XLSX,
    errors=(409,),
    description="Public to the community once ordering has closed "
    "(409 budget.error.no_result before).",
)
async def report_xlsx(request: web.Request) -> web.Response:
    who = await require(request)
    round_id = _round_id(request)
    made = await exports.year_report(
        who, round_id, _language(request, who), _link(request, round_id), now(request)
    )
    body = await asyncio.to_thread(report_workbook, made)
    return _attachment(body, XLSX, f"budget-{made.year}-{made.round_id}-report.xlsx")
