"""Notices to WeCom customer groups (客户群群发) against the fake WeCom, on both backends.

A task per owner, waiting for the owner to confirm it, each chat's result recorded, the
token refreshed once when it expired, and never a second task after a crash or a lost
answer.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot import deliver_groups as dg
from bot.app import customer_group_client, send_customer_groups
from bot.push.wecom_customer import CustomerGroupClient
from bot.store import MemoryStore
from handlers.notices import customer, service
from models.community import Building
from models.db import using
from models.notices import CustomerGroup, GroupDelivery, Notice
from models.residents import Resident
from tests.fakes.wecom import FakeWeCom, serve, start
from tests.notices.conftest import residents_of
from tests.world import World

CORP = "wwlinlicustomer01"
CONTACT_SECRET = "customer-contact-secret-0123456789"
OWNER_A, OWNER_B = "owner.zhang", "owner.li"
LATER = timedelta(minutes=3)  # past the intent's staleness and the poll interval


@pytest.fixture
async def wecom(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeCom({CORP: CONTACT_SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, wecom):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "wecom_api_base": wecom.base_url,
            "wecom_corp_id": CORP,
            "wecom_customer_secret": CONTACT_SECRET,
        }
    )


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def run(app_state: Any, at: datetime) -> Counter[str]:
    """One round of the customer-group job, as the periodic round runs it."""
    with using(app_state.db):
        return await send_customer_groups(app_state, at)  # type: ignore[no-any-return]


async def groups_of(world: World, wecom: FakeWeCom) -> dict[str, CustomerGroup]:
    """Two groups of 1栋 (owner A), one of 2栋 and one for the whole community (owner B)."""
    worker = await world.who(await world.worker())
    b1 = {"kind": "buildings", "ids": [world.buildings[0].id]}
    b2 = {"kind": "buildings", "ids": [world.buildings[1].id]}
    made = {
        "b1-east": await customer.register(worker, "wrB1east", "1栋东群", OWNER_A, b1),
        "b1-west": await customer.register(worker, "wrB1west", "1栋西群", OWNER_A, b1),
        "b2": await customer.register(worker, "wrB2", "2栋群", OWNER_B, b2),
        "all": await customer.register(
            worker, "wrAll", "全体居民群", OWNER_B, {"kind": "community"}
        ),
    }
    wecom.chats.update({g.chat_id: g.owner for g in made.values()})  # type: ignore[attr-defined]
    return made


async def send(client, world: World, bearer, worker: Resident, **data: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await client.post(
        "/api/v1/notices", json=data, headers=bearer(await world.token(worker))
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def rows(notice_id: int) -> dict[str, GroupDelivery]:
    found = await GroupDelivery.filter(notice_id=notice_id).prefetch_related("group")
    return {r.chat_id: r for r in found}


async def test_a_task_per_owner_waits_for_confirmation_then_each_chat_is_recorded(
    client, world, app_state, wecom, bearer
):
    groups = await groups_of(world, wecom)
    worker = await world.worker()
    made = await send(
        client,
        world,
        bearer,
        worker,
        title="停水通知",
        body="明天9点到12点停水",
        scope={"kind": "grids", "ids": [world.grid.id]},
        channels=["customer_group"],
        send=True,
    )
    # The grid's buildings' groups, as for robots (the whole community's group is not one).
    assert (made["total"], made["pending"]) == (3, 3)
    t0 = now()
    assert dict(await run(app_state, t0)) == {"submitted": 3}
    [task_a] = wecom.tasks_of(OWNER_A)
    [task_b] = wecom.tasks_of(OWNER_B)
    assert sorted(task_a.chats) == ["wrB1east", "wrB1west"] and task_b.chats == ["wrB2"]
    assert task_a.content == "【停水通知】\n明天9点到12点停水"
    got = await rows(made["id"])
    assert set(got) == {"wrB1east", "wrB1west", "wrB2"}
    assert {r.status for r in got.values()} == {"submitted"}
    assert got["wrB1east"].msgid == task_a.msgid and got["wrB2"].msgid == task_b.msgid

    # Nobody confirmed yet: the poll finds both tasks waiting; nothing is sent again.
    assert dict(await run(app_state, t0 + LATER)) == {"waiting": 3}
    assert len(wecom.tasks) == 2
    assert {r.status for r in (await rows(made["id"])).values()} == {"submitted"}

    # Owner A sends it; owner B is no longer in 2栋's group: 2 sent, 1 not in the group.
    wecom.confirm(task_a.msgid, OWNER_A)
    wecom.left.add("wrB2")
    assert dict(await run(app_state, t0 + 2 * LATER)) == {"sent": 2, "waiting": 1}
    got = await rows(made["id"])
    assert got["wrB1east"].status == "sent" and got["wrB1east"].sent_at is not None
    assert got["wrB1east"].confirmed_at is not None
    assert got["wrB2"].status == "submitted"
    assert (await Notice.get(id=made["id"])).status == "sending"
    wecom.confirm(task_b.msgid, OWNER_B)
    assert dict(await run(app_state, t0 + 3 * LATER)) == {"not_in_group": 1}
    assert (await Notice.get(id=made["id"])).status == "done"
    assert len(wecom.tasks) == 2  # one task per owner, ever

    resp = await client.get(
        f"/api/v1/notices/{made['id']}/delivery", headers=bearer(await world.token(worker))
    )
    body = await resp.json()
    assert resp.status == 200
    [channel] = body["channels"]
    assert (channel["channel"], channel["sent"], channel["failed"], channel["pending"]) == (
        "customer_group",
        2,
        1,
        0,
    )
    states = {g["name"]: g["status"] for g in body["customer_groups"]}
    assert states == {"1栋东群": "sent", "1栋西群": "sent", "2栋群": "not_in_group"}
    assert groups["all"].name not in states


async def test_an_expired_token_is_refreshed_once(client, world, app_state, wecom, bearer):
    await groups_of(world, wecom)
    worker = await world.worker()
    made = await send(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="内容",
        scope={"kind": "buildings", "ids": [world.buildings[1].id]},
        channels=["customer_group"],
        send=True,
    )
    t0 = now()
    # A first round caches a token; WeCom then expires it.
    wecom.fail_next(api="add_msg_template", errcode=45033)  # refused: the round fails it
    await run(app_state, t0)
    assert wecom.token_fetches == 1
    await GroupDelivery.filter(notice_id=made["id"]).update(status="pending", failure=None)
    wecom.expire_tokens()
    assert dict(await run(app_state, t0)) == {"submitted": 1}
    assert wecom.errors[42001] == 1 and wecom.token_fetches == 2
    assert len(wecom.tasks) == 1


async def test_a_crash_between_the_task_and_its_record_never_makes_a_second_task(
    client, world, app_state, wecom, bearer
):
    await groups_of(world, wecom)
    worker = await world.worker()
    made = await send(
        client,
        world,
        bearer,
        worker,
        title="消防演练",
        body="周六上午消防演练",
        scope={"kind": "grids", "ids": [world.grid.id]},
        channels=["customer_group"],
        send=True,
    )
    real = customer_group_client(app_state)
    assert real is not None

    class DiesAfterTheCall:
        """The process dies right after WeCom created the task, before it is recorded."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def add_msg_template(self, *args: Any) -> Any:
            await real.add_msg_template(*args)  # type: ignore[union-attr]
            raise SystemExit("killed")

    t0 = now()
    with pytest.raises(SystemExit):
        await dg.submit(DiesAfterTheCall(), t0)  # type: ignore[arg-type]
    assert len(wecom.tasks) == 1
    statuses = Counter(r.status for r in (await rows(made["id"])).values())
    # The first owner's rows hold the intent; the second owner's were never started.
    assert statuses == {"submitting": 2, "pending": 1}

    # Another process runs the job at once: the intent is fresh, nothing is created for it.
    assert dict(await run(app_state, t0)) == {"submitted": 1}
    assert len(wecom.tasks) == 2
    # Once stale, the interrupted task is found and recorded, not created again.
    assert dict(await run(app_state, t0 + LATER)) == {"recovered": 2, "waiting": 1}
    assert len(wecom.tasks) == 2
    got = await rows(made["id"])
    [task_a] = wecom.tasks_of(OWNER_A)
    assert {got[c].msgid for c in ("wrB1east", "wrB1west")} == {task_a.msgid}
    assert {r.status for r in got.values()} == {"submitted"}
    wecom.confirm(task_a.msgid)
    assert dict(await run(app_state, t0 + 2 * LATER)) == {"sent": 2, "waiting": 1}


async def test_a_lost_answer_is_looked_up_and_a_refused_call_is_made_again(
    client, world, app_state, wecom, bearer
):
    await groups_of(world, wecom)
    worker = await world.worker()
    building = {"kind": "grids", "ids": [world.grid.id]}
    first = await send(
        client,
        world,
        bearer,
        worker,
        title="一",
        body="第一条",
        scope=building,
        channels=["customer_group"],
        send=True,
    )
    t0 = now()
    # WeCom created the task but answered "system busy" (the answer may have been lost).
    wecom.fail_next(api="add_msg_template", errcode=-1, deliver=True)
    wecom.fail_next(api="add_msg_template", errcode=-1)  # this one created nothing
    assert dict(await run(app_state, t0)) == {"ambiguous": 3}
    assert len(wecom.tasks) == 1
    assert dict(await run(app_state, t0 + LATER)) == {"recovered": 2, "resubmit": 1, "submitted": 1}
    assert len(wecom.tasks) == 2
    assert len(wecom.tasks_of(OWNER_A)) == 1 and len(wecom.tasks_of(OWNER_B)) == 1
    got = await rows(first["id"])
    assert {r.status for r in got.values()} == {"submitted"}
    assert len({r.msgid for r in got.values()}) == 2


async def test_a_task_nobody_confirms_is_given_up(client, world, app_state, wecom, bearer):
    await groups_of(world, wecom)
    worker = await world.worker()
    made = await send(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="无人确认",
        scope={"kind": "buildings", "ids": [world.buildings[1].id]},
        channels=["customer_group"],
        send=True,
    )
    t0 = now()
    await run(app_state, t0)
    assert dict(await run(app_state, t0 + dg.EXPIRE + LATER)) == {"failed": 1}
    got = await rows(made["id"])
    assert {(r.status, r.failure) for r in got.values()} == {("failed", "not_confirmed")}
    assert (await Notice.get(id=made["id"])).status == "done"


async def test_scope_picks_the_groups_a_robot_would_get(client, world, app_state, wecom, bearer):
    groups = await groups_of(world, wecom)
    worker = await world.who(await world.worker())
    grid_group = await customer.register(
        worker, "wrGrid", "第一网格群", OWNER_A, {"kind": "grids", "ids": [world.grid.id]}
    )
    gone = await customer.register(worker, "wrGone", "已解散群", OWNER_A, {"kind": "community"})
    gone.active = False
    await gone.save(update_fields=["active"])
    other = await Building.create(community=world.community, name="9栋")  # no grid
    await customer.register(
        worker, "wrNine", "9栋群", OWNER_B, {"kind": "buildings", "ids": [other.id]}
    )

    async def reached(scope: dict[str, Any]) -> set[str]:
        draft = await service.draft(
            worker, title="t", body="b", scope=scope, channels=["customer_group"]
        )
        ids = (await service.recipients(draft)).customer_groups
        return {g.name for g in await CustomerGroup.filter(id__in=ids)}

    b1 = {"kind": "buildings", "ids": [world.buildings[0].id]}
    assert await reached(b1) == {"1栋东群", "1栋西群"}
    # A grid notice reaches the grid's own group and the groups of its buildings.
    assert await reached({"kind": "grids", "ids": [world.grid.id]}) == {
        "1栋东群",
        "1栋西群",
        "2栋群",
        "第一网格群",
    }
    [home] = await world.add_households(world.buildings[0], 1)
    assert await reached({"kind": "households", "ids": [home.id]}) == set()
    everyone = await reached({"kind": "community"})
    assert everyone == {"1栋东群", "1栋西群", "2栋群", "全体居民群", "第一网格群", "9栋群"}
    assert gone.name not in everyone and grid_group.name in everyone
    assert groups["b2"].name not in await reached(b1)


async def test_without_the_contact_secret_the_rows_fail_visibly(
    client, world, app_state, wecom, bearer
):
    await groups_of(world, wecom)
    worker = await world.worker()
    made = await send(
        client,
        world,
        bearer,
        worker,
        title="通知",
        body="内容",
        scope={"kind": "community"},
        channels=["customer_group"],
        send=True,
    )
    app_state.settings = app_state.settings.model_copy(update={"wecom_customer_secret": ""})
    assert dict(await run(app_state, now())) == {"failed": 4}
    assert {r.failure for r in (await rows(made["id"])).values()} == {"no_account"}
    assert not wecom.tasks


async def test_the_preview_counts_what_is_sent(client, world, app_state, wecom, bearer):
    await groups_of(world, wecom)
    inside = await residents_of(world, 0, 3)
    await residents_of(world, 1, 2)
    worker = await world.worker()
    headers = bearer(await world.token(worker))
    draft = {
        "title": "停电通知",
        "body": "周五停电",
        "scope": {"kind": "buildings", "ids": [world.buildings[0].id]},
        "channels": ["oa", "customer_group"],
    }
    resp = await client.post("/api/v1/notices/preview", json=draft, headers=headers)
    assert resp.status == 200, await resp.text()
    shown = {c["channel"]: c for c in (await resp.json())["channels"]}
    assert {k: v["recipients"] for k, v in shown.items()} == {"oa": 3, "customer_group": 2}
    assert shown["oa"]["text"] == "【停电通知】\n周五停电"
    assert not await Notice.exists()  # a preview stores nothing
    made = await send(client, world, bearer, worker, **draft, send=True)
    resp = await client.get(f"/api/v1/notices/{made['id']}/preview", headers=headers)
    again = {c["channel"]: c["recipients"] for c in (await resp.json())["channels"]}
    assert again == {"oa": 3, "customer_group": 2}
    resp = await client.get(f"/api/v1/notices/{made['id']}/delivery", headers=headers)
    totals = {c["channel"]: c["total"] for c in (await resp.json())["channels"]}
    assert totals == {"oa": len(inside), "customer_group": 2}


async def test_the_client_reads_every_page_of_a_task():
    chats = {f"wrPage{i}": OWNER_A for i in range(5)}
    fake = FakeWeCom({CORP: CONTACT_SECRET}, chats=chats, page=2)
    async with serve(fake) as base, aiohttp.ClientSession() as session:
        client = CustomerGroupClient.for_corp(
            session, MemoryStore(), CORP, CONTACT_SECRET, base_url=base
        )
        msgid, refused = await client.add_msg_template(OWNER_A, [*chats, "wrNotHers"], "通知")
        assert refused == ["wrNotHers"]
        assert {c: o.status for c, o in (await client.send_results(msgid, OWNER_A)).items()} == {
            c: 0 for c in chats
        }
        fake.full.add("wrPage3")
        fake.confirm(msgid)
        assert (await client.task_status(msgid))[OWNER_A].status == 1
        results = await client.send_results(msgid, OWNER_A)
        assert {c: o.status for c, o in results.items()} == {
            **{c: 1 for c in chats},
            "wrPage3": 3,
        }
        assert fake.requests["get_groupmsg_send_result"] == 6  # 3 pages, twice
        assert await client.find_tasks("通知", 0, 2**31) == [msgid]
        assert await client.find_tasks("别的", 0, 2**31) == []
