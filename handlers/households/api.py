"""``/api/v1/households``: the register (台账) in and out as a spreadsheet, to managers only.

The import takes the file as the multipart field ``file`` or as the whole body (with
``?filename=``); it reads the body itself, within ``sheets.MAX_BYTES``, rather than
through aiohttp's 1 MB ``client_max_size``. The report names every row; the apply
answers 422 ``register.error.has_refusals`` (writing nothing) while any is refused.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from handlers.api import deps, now, queried, request_language, require
from handlers.clock import LOCAL
from handlers.households import report, service, sheets
from handlers.households.register import Plan
from handlers.households.schemas import ExportQuery, ImportQuery, ImportReport
from handlers.openapi import doc
from handlers.refusal import Refused
from handlers.roles import MANAGERS

routes = web.RouteTableDef()

TAG = "households"
FIELD = "file"
CHUNK = 64 * 1024
# A multipart body is the file and a few hundred bytes of boundaries and headers.
ENVELOPE = 64 * 1024
RAW_TYPES = frozenset({"application/octet-stream", sheets.XLSX_TYPE, sheets.CSV_TYPE})
TYPES = {"xlsx": sheets.XLSX_TYPE, "csv": sheets.CSV_TYPE}


def _too_large() -> Refused:
    return Refused("register.file.too_large", 413, megabytes=sheets.MAX_BYTES // (1024 * 1024))


async def _limited(read: Any) -> bytes:
    """Chunks from ``read(size)`` until it gives none, refused past ``MAX_BYTES``."""
    chunks, size = [], 0
    while chunk := await read(CHUNK):
        size += len(chunk)
        if size > sheets.MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def _upload(request: web.Request, filename: str | None) -> tuple[bytes, str]:
    """The file and its name, from the multipart field or the raw body."""
    if (request.content_length or 0) > sheets.MAX_BYTES + ENVELOPE:
        raise _too_large()
    if request.content_type == "multipart/form-data":
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if isinstance(part, BodyPartReader) and part.name == FIELD:
                    return await _limited(part.read_chunk), filename or part.filename or ""
                if isinstance(part, BodyPartReader):
                    await part.release()
        except Refused:
            raise
        except Exception:  # aiohttp's multipart parser fails in many ways on a broken body
            raise Refused("register.file.unreadable", 400) from None
        raise Refused("register.file.missing", 400)
    if request.content_type not in RAW_TYPES:
        raise Refused("register.file.media_type", 415)
    return await _limited(request.content.read), filename or ""


def _report(plan: Plan, request: web.Request) -> dict[str, Any]:
    translate, language = deps(request).translate, request_language(request)
    rows = []
    for line in plan.lines:
        reason = report.reason(line, translate, language)
        rows.append(
            {
                "row": line.row,
                "action": line.action,
                "building": line.building,
                "unit": line.unit,
                "room": line.room,
                "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in line.changes],
                "reason": None if reason is None else {"code": line.reason, "message": reason},
            }
        )
    return {
        "applied": plan.applied,
        "counts": plan.counts,
        "new_buildings": [name for name, _ in plan.new_buildings],
        "rows": rows,
    }


@routes.post("/api/v1/households/import")
@doc(
    "Import the household register (台账) from .xlsx or .csv: a dry run, or the apply",
    tag=TAG,
    auth=MANAGERS,
    query=ImportQuery,
    upload=FIELD,
    response=ImportReport,
    errors=(409, 413, 415, 422),
    description=(
        "Columns by header, zh_Hans (网格 楼栋 单元 房号 面积 户主 电话) or English (grid "
        "building unit room area head_name phone); 楼栋 and 房号 are required, other columns "
        "are ignored, a blank cell keeps the register's value. Every row is reported: "
        "create, change (old and new, phones masked), unchanged or refuse with a reason. "
        "apply=true writes all rows in one transaction, or none (422) while any is refused. "
        "Grids are never created and buildings never moved; new buildings are created."
    ),
)
async def import_households(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    asked = queried(request, ImportQuery)
    data, filename = await _upload(request, asked.filename)
    if asked.apply:
        plan = await service.apply_import(who, who.community_id, data, filename)
    else:
        plan = await service.plan_import(who.community_id, data, filename)
    return web.json_response(_report(plan, request))


@routes.get("/api/v1/households/export")
@doc(
    "Export the household register (台账) as .xlsx or .csv, heads' names and phones included",
    tag=TAG,
    auth=MANAGERS,
    query=ExportQuery,
    content_type=(sheets.XLSX_TYPE, sheets.CSV_TYPE),
    description=(
        "One row per household by grid, building, unit and room, under the zh_Hans header "
        "the import reads; imported again it changes nothing. CSV is UTF-8 with a BOM."
    ),
)
async def export_households(request: web.Request) -> web.Response:
    who = await require(request, MANAGERS)
    fmt = queried(request, ExportQuery).format
    data = await service.export_register(who.community_id, fmt)
    day = now(request).astimezone(LOCAL).date().isoformat()
    return web.Response(
        body=data,
        content_type=TYPES[fmt],
        charset="utf-8" if fmt == "csv" else None,
        headers={
            "Content-Disposition": f'attachment; filename="household-register-{day}.{fmt}"',
            # Heads' names and phones: no shared cache keeps a copy.
            "Cache-Control": "no-store",
        },
    )
