"""``/api/v1/households``: the register over HTTP, to managers only, as multipart or raw body."""

from __future__ import annotations

import io

import pytest
from aiohttp import FormData
from openpyxl import load_workbook

from handlers.households import sheets
from models.audit import AuditLog
from models.community import Household
from models.residents import Role
from tests.households.files import HEADER, csv_bytes, xlsx
from tests.world import World, bearer

IMPORT = "/api/v1/households/import"
EXPORT = "/api/v1/households/export"
FILE = [HEADER, ["第一网格", "1栋", "1单元", "101", "85.5", "张三", "13812345678"]]


def form(data: bytes, filename: str = "台账.xlsx", field: str = "file") -> FormData:
    made = FormData()
    made.add_field("note", "ignored")
    made.add_field(field, data, filename=filename, content_type="application/octet-stream")
    return made


async def test_a_worker_previews_then_applies_a_multipart_upload(client, world: World):
    worker = await world.worker()
    token = await world.token(worker)
    preview = await client.post(IMPORT, data=form(xlsx(FILE)), headers=bearer(token))
    assert preview.status == 200, await preview.text()
    report = await preview.json()
    assert report == {
        "applied": False,
        "counts": {"create": 1, "change": 0, "unchanged": 0, "refuse": 0, "not_in_file": 0},
        "new_buildings": [],
        "rows": [
            {
                "row": 2,
                "action": "create",
                "building": "1栋",
                "unit": "1单元",
                "room": "101",
                "changes": [],
                "reason": None,
            }
        ],
    }
    assert await Household.all().count() == 0
    done = await client.post(f"{IMPORT}?apply=true", data=form(xlsx(FILE)), headers=bearer(token))
    assert done.status == 200 and (await done.json())["applied"] is True
    home = await Household.get(room="101")
    assert (str(home.floor_area), home.head_name, home.head_phone) == (
        "85.50",
        "张三",
        "13812345678",
    )
    [entry] = await AuditLog.filter(action="household.imported")
    assert entry.actor == f"resident:{worker.id}"


async def test_a_raw_body_with_or_without_a_filename(client, world: World):
    token = await world.token(await world.worker())
    changed = [HEADER, ["", "1栋", "1", "0000", "90", "", "139 0000 0000"]]
    await world.add_households(world.buildings[0], 1)
    resp = await client.post(
        f"{IMPORT}?filename=register.csv",
        data=csv_bytes(changed, "gbk"),
        headers={**bearer(token), "Content-Type": "text/csv"},
    )
    assert resp.status == 200, await resp.text()
    [row] = (await resp.json())["rows"]
    assert row["action"] == "change"
    assert row["changes"] == [
        {"field": "area", "old": "80.00", "new": "90.00"},
        {"field": "phone", "old": None, "new": "139****0000"},
    ]
    assert "13900000000" not in await resp.text()
    sniffed = await client.post(
        IMPORT, data=xlsx(changed), headers={**bearer(token), "Content-Type": sheets.XLSX_TYPE}
    )
    assert (await sniffed.json())["counts"]["change"] == 1


async def test_refusals_come_in_the_callers_language_and_block_the_apply(client, world: World):
    worker = await world.worker()
    worker.language = "en"
    await worker.save(update_fields=["language"])
    token = await world.token(worker)
    bad = [HEADER, ["第九网格", "1栋", "", "1"], ["", "1栋", "", "2", "", "", "110"]]
    resp = await client.post(IMPORT, data=form(csv_bytes(bad), "a.csv"), headers=bearer(token))
    rows = (await resp.json())["rows"]
    assert [row["reason"]["code"] for row in rows] == [
        "register.refuse.unknown_grid",
        "register.refuse.bad_phone",
    ]
    assert rows[0]["reason"]["message"].startswith("The community has no grid “第九网格”")
    applied = await client.post(
        f"{IMPORT}?apply=true", data=form(csv_bytes(bad), "a.csv"), headers=bearer(token)
    )
    assert applied.status == 422
    assert (await applied.json())["error"] == {
        "code": "register.error.has_refusals",
        "message": (
            "2 row(s) did not pass the checks, so nothing was imported. "
            "Fix the file as the preview shows and import it again."
        ),
    }
    assert await Household.all().count() == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"file": "x"}}, 415, "register.file.media_type"),
        (
            {"data": "楼栋,房号", "headers": {"Content-Type": "text/plain"}},
            415,
            "register.file.media_type",
        ),
        ({"data": form(b"x", field="upload")}, 400, "register.file.missing"),
        (
            {
                "data": b'--b\r\nContent-Disposition: form-data; name="\x0f"\r\n\r\nx\r\n--b--\r\n',
                "headers": {"Content-Type": "multipart/form-data; boundary=b"},
            },
            400,
            "register.file.unreadable",
        ),
        (
            {"data": b"no boundary", "headers": {"Content-Type": "multipart/form-data"}},
            400,
            "register.file.unreadable",
        ),
        ({"data": form(b"\xd0\xcf\x11\xe0" * 8, "old.xls")}, 415, "register.file.old_excel"),
        ({"data": form(b"garbage", "a.xlsx")}, 400, "register.file.unreadable"),
        ({"data": form(b"", "a.csv")}, 400, "register.file.empty"),
        (
            {"data": form(csv_bytes([["楼栋", "面积"], ["1栋", "1"]]), "a.csv")},
            400,
            "register.file.missing_column",
        ),
    ],
)
async def test_what_is_no_register_file(client, world: World, kwargs, status, code):
    token = await world.token(await world.worker())
    kwargs = dict(kwargs)  # the parameters are shared by both backends' runs
    resp = await client.post(
        IMPORT, headers={**bearer(token), **kwargs.pop("headers", {})}, **kwargs
    )
    assert resp.status == status, await resp.text()
    assert (await resp.json())["error"]["code"] == code


async def test_a_file_over_five_megabytes_is_refused_as_it_streams(client, world: World):
    token = await world.token(await world.worker())
    big = b"a" * (sheets.MAX_BYTES + 1)
    raw = await client.post(
        f"{IMPORT}?filename=a.csv", data=big, headers={**bearer(token), "Content-Type": "text/csv"}
    )
    assert raw.status == 413
    assert (await raw.json())["error"]["code"] == "register.file.too_large"
    multipart = await client.post(IMPORT, data=form(big, "a.csv"), headers=bearer(token))
    assert multipart.status == 413


async def test_the_export_is_an_attachment_the_import_takes_back(client, world: World):
    token = await world.token(await world.worker(Role.ADMIN))
    await client.post(f"{IMPORT}?apply=true", data=form(xlsx(FILE)), headers=bearer(token))
    resp = await client.get(EXPORT, headers=bearer(token))
    assert resp.status == 200 and resp.content_type == sheets.XLSX_TYPE
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="household-register-')
    assert disposition.endswith('.xlsx"')
    assert resp.headers["Cache-Control"] == "no-store"
    data = await resp.read()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        HEADER,
        ["第一网格", "1栋", "1单元", "101", 85.5, "张三", "13812345678"],
    ]
    as_csv = await client.get(f"{EXPORT}?format=csv", headers=bearer(token))
    assert as_csv.content_type == "text/csv"
    assert as_csv.headers["Content-Disposition"].endswith('.csv"')
    body = await as_csv.read()
    again = await client.post(IMPORT, data=form(body, "back.csv"), headers=bearer(token))
    assert (await again.json())["counts"]["unchanged"] == 1
    wrong = await client.get(f"{EXPORT}?format=pdf", headers=bearer(token))
    assert wrong.status == 400


@pytest.mark.parametrize("role", [None, Role.GRID_WORKER, Role.HANDLER])
async def test_residents_and_grid_workers_neither_import_nor_export(client, world: World, role):
    home = (await world.add_households(world.buildings[0], 1))[0]
    home.head_name, home.head_phone = "张三", "13812345678"
    await home.save()
    person = await world.resident(home) if role is None else await world.worker(role)
    token = await world.token(person)
    for resp in (
        await client.post(IMPORT, data=form(xlsx(FILE)), headers=bearer(token)),
        await client.post(f"{IMPORT}?apply=true", data=form(xlsx(FILE)), headers=bearer(token)),
        await client.get(EXPORT, headers=bearer(token)),
        await client.get(f"{EXPORT}?format=csv", headers=bearer(token)),
    ):
        assert resp.status == 403
        text = await resp.text()
        assert "api.error.forbidden" in text and "13812345678" not in text and "张三" not in text
    assert await Household.all().count() == 1


async def test_the_document_describes_the_upload_and_both_formats(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    upload = spec["paths"][IMPORT]["post"]
    content = upload["requestBody"]["content"]
    assert content["multipart/form-data"]["schema"]["required"] == ["file"]
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "application/octet-stream" in content
    assert {"400", "403", "413", "415", "422"} <= set(upload["responses"])
    assert upload["x-roles"] == "managers"
    export = spec["paths"][EXPORT]["get"]["responses"]["200"]["content"]
    assert set(export) == {sheets.XLSX_TYPE, "text/csv"}
