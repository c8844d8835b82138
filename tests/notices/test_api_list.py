"""``GET /api/v1/notices``: the web console's list, with each notice's delivery progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.notices import service
from models.community import Community
from models.notices import Delivery
from models.residents import Resident, Role, RoleAssignment
from tests.notices.conftest import residents_of
from tests.world import World

URL = "/api/v1/notices"


async def _notices(world: World, worker: Resident) -> list[int]:
    """A draft, a scheduled notice and one sent to five residents (two failed): oldest first."""
    await residents_of(world, 0, 5)
    sender = await world.who(worker)
    now = datetime.now(UTC)
    building = {"kind": "buildings", "ids": [world.buildings[0].id]}
    draft = await service.create(sender, now, title="草稿", body="内容", scope=building)
    later = await service.create(
        sender,
        now,
        title="消防演练",
        body="周六",
        scope={"kind": "community"},
        scheduled_at=now + timedelta(days=1),
    )
    sent = await service.create(sender, now, title="停水通知", body="明天停水", scope=building)
    await service.send_now(sender, sent.id, now)
    rows = await Delivery.filter(notice_id=sent.id).order_by("id")
    for row, status in zip(rows, ["failed", "failed", "sent"], strict=False):
        row.status = status
        await row.save(update_fields=["status"])
    return [draft.id, later.id, sent.id]


async def test_workers_list_notices_newest_first_with_progress(client, world, bearer):
    worker = await world.worker()
    draft, later, sent = await _notices(world, worker)
    headers = bearer(await world.token(worker))
    resp = await client.get(URL, headers=headers)
    assert resp.status == 200
    page = await resp.json()
    assert (page["page"], page["per_page"], page["total"]) == (1, 20, 3)
    assert [n["id"] for n in page["items"]] == [sent, later, draft]
    assert [n["status"] for n in page["items"]] == ["sending", "scheduled", "draft"]
    for item in page["items"]:
        one = await (await client.get(f"{URL}/{item['id']}", headers=headers)).json()
        assert {k: item[k] for k in one} == one  # the same numbers as the notice's own page
    counts = page["items"][0]
    assert (counts["total"], counts["failed"], counts["pending"]) == (5, 2, 2)
    assert counts["finished"] is False and page["items"][1]["total"] == 0
    assert page["items"][1]["scheduled_at"] is not None

    second = await (
        await client.get(URL, params={"per_page": 2, "page": 2}, headers=headers)
    ).json()
    assert [n["id"] for n in second["items"]] == [draft] and second["total"] == 3


async def test_the_status_filter(client, world, bearer):
    worker = await world.worker()
    draft, later, _ = await _notices(world, worker)
    headers = bearer(await world.token(worker))
    only = await (await client.get(URL, params={"status": "draft"}, headers=headers)).json()
    assert [n["id"] for n in only["items"]] == [draft] and only["total"] == 1
    await service.cancel(await world.who(worker), later)
    gone = await (await client.get(URL, params={"status": "cancelled"}, headers=headers)).json()
    assert [n["id"] for n in gone["items"]] == [later]
    none = await (await client.get(URL, params={"status": "done"}, headers=headers)).json()
    assert none == {"items": [], "page": 1, "per_page": 20, "total": 0}
    bad = await client.get(URL, params={"status": "sent"}, headers=headers)
    assert bad.status == 400
    assert (await bad.json())["error"]["code"] == "api.error.bad_filter"
    paging = await client.get(URL, params={"per_page": 101}, headers=headers)
    assert (await paging.json())["error"]["code"] == "api.error.bad_paging"


async def test_only_the_callers_community_and_only_workers(client, world, bearer):
    worker = await world.worker()
    await _notices(world, worker)
    elsewhere = await Community.create(slug="other", name="别的社区")
    stranger = await Resident.create(community=elsewhere, openid="o_other_worker")
    await RoleAssignment.create(resident=stranger, role=Role.COMMUNITY_WORKER, community=elsewhere)
    theirs = await client.get(URL, headers=bearer(await world.token(stranger)))
    assert await theirs.json() == {"items": [], "page": 1, "per_page": 20, "total": 0}
    [resident] = await residents_of(world, 0, 1)
    refused = await client.get(URL, headers=bearer(await world.token(resident)))
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "api.error.forbidden"
    assert (await client.get(URL)).status == 401
