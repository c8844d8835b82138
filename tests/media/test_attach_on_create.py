"""A photo uploaded for a complaint or a proposal becomes that record's: its staff see it."""

from __future__ import annotations

from models.media import Media
from models.residents import Role
from tests.media import samples
from tests.media.test_api import fetched, uploaded
from tests.world import World


async def test_a_complaints_photo_is_seen_by_its_staff_and_nobody_else(client, world: World):
    home = (await world.add_households(world.buildings[0], 1))[0]
    reporter, neighbour = await world.resident(home), await world.resident(home)
    mine = await world.headers(reporter)
    photo = await uploaded(client, mine, samples.jpeg())
    made = await client.post(
        "/api/v1/complaints",
        json={"text": "3栋楼道灯坏了好几天", "media": [photo["id"], "wx-media-from-chat"]},
        headers=mine,
    )
    assert made.status == 201, await made.text()
    ticket_id = (await made.json())["id"]
    row = await Media.get(id=photo["id"])
    assert (row.subject, row.subject_id) == ("ticket", str(ticket_id))
    worker = await world.worker(Role.COMMUNITY_WORKER)
    assert (await fetched(client, await world.headers(worker), photo["id"]))[0] == 200
    assert (await fetched(client, mine, photo["id"]))[0] == 200
    assert (await fetched(client, await world.headers(neighbour), photo["id"]))[0] == 404


async def test_someone_elses_upload_named_in_a_proposal_stays_theirs(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    owner, other = await world.resident(homes[0]), await world.resident(homes[1])
    photo = await uploaded(client, await world.headers(owner), samples.png())
    made = await client.post(
        "/api/v1/proposals",
        json={
            "title": "增设休息座椅",
            "description": "老人散步没有地方坐",
            "category": "project",
            "photos": [photo["id"]],
        },
        headers=await world.headers(other),
    )
    assert made.status == 201, await made.text()
    row = await Media.get(id=photo["id"])
    assert row.subject is None  # not attached to a stranger's proposal
    assert (await fetched(client, await world.headers(other), photo["id"]))[0] == 404
