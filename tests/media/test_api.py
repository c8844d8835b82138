"""Uploads through the app: kept cleaned, and served only to who may see their record."""

from __future__ import annotations

import io
from datetime import timedelta

import aiohttp
from PIL import ExifTags, Image
from tortoise.transactions import in_transaction

from handlers.media import rules, service, visibility
from handlers.refusal import Refused
from models.canvass import Visit
from models.community import Community
from models.complaints import Ticket
from models.db import using
from models.media import Media
from models.proposals import Proposal
from models.residents import Resident, Role, RoleAssignment
from tests.media import samples
from tests.world import T0

URL = "/api/v1/media"


async def upload(client, headers, data: bytes, **params: str):  # type: ignore[no-untyped-def]
    return await client.post(URL, data=data, headers=headers, params=params)


async def uploaded(client, headers, data: bytes, **params: str) -> dict:  # type: ignore[no-untyped-def]
    resp = await upload(client, headers, data, **params)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def fetched(client, headers, media_id: str) -> tuple[int, bytes, str]:  # type: ignore[no-untyped-def]
    resp = await client.get(f"{URL}/{media_id}", headers=headers)
    return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


async def error_code(resp) -> str:  # type: ignore[no-untyped-def]
    return (await resp.json())["error"]["code"]


def gps_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo))


def media_files(app_state) -> list:  # type: ignore[no-untyped-def]
    folder = app_state.settings.data_dir / "media"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_a_phone_photo_is_kept_upright_and_without_its_location(client, world):
    with using(world.app_state.db):
        person = await world.resident()
        headers = await world.headers(person)
    body = await uploaded(client, headers, samples.phone_photo(orientation=6))
    assert {k: body[k] for k in ("kind", "content_type", "width", "height")} == {
        "kind": "image",
        "content_type": "image/jpeg",
        "width": 20,
        "height": 40,
    }
    status, data, content_type = await fetched(client, headers, body["id"])
    assert (status, content_type) == (200, "image/jpeg")
    assert gps_of(data) == {}
    assert Image.open(io.BytesIO(data)).size == (20, 40)
    with using(world.app_state.db):
        row = await Media.get(id=body["id"])
    assert (row.uploader_id, row.community_id, row.subject) == (person.id, world.community.id, None)
    assert (row.size, len(row.sha256)) == (len(data), 64) and body["size"] == len(data)
    # Kept under the data directory, where ``linli backup`` archives media/.
    assert [p.read_bytes() for p in media_files(world.app_state)] == [data]


async def test_keep_location_keeps_where_the_pothole_is(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    body = await uploaded(client, headers, samples.phone_photo(), keep_location="true")
    _, data, _ = await fetched(client, headers, body["id"])
    assert gps_of(data)[ExifTags.GPS.GPSLatitudeRef] == "N"


async def test_a_form_upload_is_typed_by_its_bytes_not_its_name(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    form = aiohttp.FormData()
    form.add_field("note", "门口的坑")
    form.add_field("file", samples.png(), filename="photo.jpg", content_type="image/jpeg")
    resp = await client.post(URL, data=form, headers=headers)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["content_type"] == "image/png"


async def test_a_voice_message_is_kept_as_it_came(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    voice = samples.VOICE["audio/silk"]
    body = await uploaded(client, headers, voice)
    assert (body["kind"], body["content_type"], body["width"]) == ("voice", "audio/silk", None)
    assert await fetched(client, headers, body["id"]) == (200, voice, "audio/silk")


async def test_the_answer_is_private_and_never_sniffed(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    body = await uploaded(client, headers, samples.gif())
    resp = await client.get(f"{URL}/{body['id']}", headers=headers)
    assert resp.headers["Cache-Control"] == "private"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == "image/gif"


async def test_a_renamed_program_is_refused_and_nothing_is_kept(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    form = aiohttp.FormData()
    form.add_field("file", samples.EXE, filename="photo.jpg", content_type="image/jpeg")
    resp = await client.post(URL, data=form, headers=headers)
    assert (resp.status, await error_code(resp)) == (415, "media.error.unknown_type")
    with using(world.app_state.db):
        assert await Media.all().count() == 0
    assert media_files(world.app_state) == []


async def test_too_large_and_too_many_pixels_are_refused(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    jpeg = samples.jpeg()
    huge = jpeg + b"\x00" * (rules.IMAGE_MAX_BYTES + 1 - len(jpeg))
    resp = await upload(client, headers, huge)
    assert (resp.status, await error_code(resp)) == (413, "media.error.too_large")
    amr = samples.VOICE["audio/amr"]
    long_voice = amr + b"\x00" * (rules.VOICE_MAX_BYTES + 1 - len(amr))
    resp = await upload(client, headers, long_voice)
    assert (resp.status, await error_code(resp)) == (413, "media.error.too_large")
    resp = await upload(client, headers, samples.png_claiming(9000, 9000))
    assert (resp.status, await error_code(resp)) == (422, "media.error.too_many_pixels")
    resp = await upload(client, headers, b"")
    assert (resp.status, await error_code(resp)) == (400, "media.error.empty")
    with using(world.app_state.db):
        assert await Media.all().count() == 0


async def test_an_upload_needs_a_session(client):
    resp = await client.post(URL, data=samples.jpeg())
    assert resp.status == 401


async def _ticket(world, reporter: Resident, department: str = "property") -> Ticket:  # type: ignore[no-untyped-def]
    return await Ticket.create(
        number="T2611300001",
        community=world.community,
        reporter=reporter,
        text="楼道灯坏了",
        department=department,
        grid=world.grid,
        created_at=T0,
    )


async def test_unattached_only_the_uploader_sees_it(client, world):
    with using(world.app_state.db):
        owner, other = await world.resident(), await world.resident()
        manager = await world.worker()
        owner_h, other_h = await world.headers(owner), await world.headers(other)
        manager_h = await world.headers(manager)
    body = await uploaded(client, owner_h, samples.jpeg())
    assert (await fetched(client, owner_h, body["id"]))[0] == 200
    for headers in (other_h, manager_h):
        resp = await client.get(f"{URL}/{body['id']}", headers=headers)
        assert (resp.status, await error_code(resp)) == (404, "media.error.not_found")
    # Exactly what an id nobody has gets: nothing tells one from the other.
    unknown = await client.get(f"{URL}/{'0' * 32}", headers=other_h)
    assert (unknown.status, await error_code(unknown)) == (404, "media.error.not_found")
    garbage = await client.get(f"{URL}/..%2F..%2Fetc", headers=other_h)
    assert garbage.status == 404


async def test_attached_to_a_ticket_its_reporter_and_staff_see_it(client, world):
    with using(world.app_state.db):
        reporter, stranger = await world.resident(), await world.resident()
        manager = await world.worker()
        grid_worker = await world.resident()
        await RoleAssignment.create(
            resident=grid_worker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
        )
        handler, other_handler = await world.resident(), await world.resident()
        for person, department in ((handler, "property"), (other_handler, "sanitation")):
            await RoleAssignment.create(
                resident=person, role=Role.HANDLER, community=world.community, department=department
            )
        headers = {p.id: await world.headers(p) for p in (reporter, stranger, manager)}
        headers |= {p.id: await world.headers(p) for p in (grid_worker, handler, other_handler)}
    body = await uploaded(client, headers[reporter.id], samples.jpeg())
    with using(world.app_state.db):
        ticket = await _ticket(world, reporter)
        await service.attach([body["id"]], await world.who(reporter), "ticket", ticket.id)
        row = await Media.get(id=body["id"])
    assert (row.subject, row.subject_id) == ("ticket", str(ticket.id))
    for person in (reporter, manager, grid_worker, handler):
        assert (await fetched(client, headers[person.id], body["id"]))[0] == 200, person.id
    for person in (stranger, other_handler):
        assert (await fetched(client, headers[person.id], body["id"]))[0] == 404, person.id


async def test_attach_takes_only_the_callers_own_unattached_uploads(client, world):
    with using(world.app_state.db):
        owner, other = await world.resident(), await world.resident()
        owner_h = await world.headers(owner)
    first = (await uploaded(client, owner_h, samples.jpeg()))["id"]
    second = (await uploaded(client, owner_h, samples.png()))["id"]
    with using(world.app_state.db):
        ticket = await _ticket(world, owner)
        who_owner, who_other = await world.who(owner), await world.who(other)
        try:
            await service.attach([first], who_other, "ticket", ticket.id)
            raise AssertionError("attached someone else's upload")
        except Refused as refused:
            assert (refused.code, refused.status) == ("media.error.not_yours", 422)
        assert (await Media.get(id=first)).subject is None
        await service.attach([first], who_owner, "ticket", ticket.id)
        # A retry of the same attachment is fine, and takes the new one along.
        await service.attach([first, second, first], who_owner, "ticket", str(ticket.id))
        rows = await Media.filter(id__in=[first, second]).values_list("subject", "subject_id")
        assert sorted(rows) == [("ticket", str(ticket.id))] * 2
        # Attached once, it is attached: not to another record, and nothing of the list is.
        third = await service.upload(who_owner, samples.gif())
        try:
            await service.attach([third.id, first], who_owner, "proposal", 1)
            raise AssertionError("attached an upload twice")
        except Refused as refused:
            assert refused.code == "media.error.not_yours"
        assert (await Media.get(id=third.id)).subject is None
        try:
            await service.attach(["f" * 32], who_owner, "ticket", ticket.id)
            raise AssertionError("attached an upload nobody made")
        except Refused as refused:
            assert refused.code == "media.error.not_yours"


async def test_another_community_never_sees_it(client, world):
    with using(world.app_state.db):
        owner = await world.resident()
        elsewhere = await Community.create(slug="other", name="别的社区")
        admin = await Resident.create(community=elsewhere, openid="o_elsewhere")
        await RoleAssignment.create(resident=admin, role=Role.ADMIN, community=elsewhere)
        owner_h, admin_h = await world.headers(owner), await world.headers(admin)
    body = await uploaded(client, owner_h, samples.jpeg())
    with using(world.app_state.db):
        ticket = await _ticket(world, owner)
        await service.attach([body["id"]], await world.who(owner), "ticket", ticket.id)
        try:
            await service.attach([body["id"]], await world.who(admin), "ticket", ticket.id)
            raise AssertionError("attached across communities")
        except Refused as refused:
            assert refused.code == "media.error.not_yours"
    assert (await fetched(client, admin_h, body["id"]))[0] == 404


async def test_a_proposal_s_photos_are_as_visible_as_the_proposal(client, world):
    with using(world.app_state.db):
        proposer, neighbour = await world.resident(), await world.resident()
        manager = await world.worker()
        headers = {p.id: await world.headers(p) for p in (proposer, neighbour, manager)}
    body = await uploaded(client, headers[proposer.id], samples.jpeg())
    with using(world.app_state.db):
        proposal = await Proposal.create(
            community=world.community,
            proposer=proposer,
            title="加装路灯",
            description="晚上太黑",
            category="rectification",
            status="submitted",
            scope={},
        )
        await service.attach([body["id"]], await world.who(proposer), "proposal", proposal.id)
    assert (await fetched(client, headers[proposer.id], body["id"]))[0] == 200
    assert (await fetched(client, headers[manager.id], body["id"]))[0] == 200
    assert (await fetched(client, headers[neighbour.id], body["id"]))[0] == 404
    with using(world.app_state.db):
        await Proposal.filter(id=proposal.id).update(status="published", published_at=T0)
    assert (await fetched(client, headers[neighbour.id], body["id"]))[0] == 200


async def test_a_visit_s_form_photo_is_for_console_staff_and_the_household(client, world):
    with using(world.app_state.db):
        home, next_door = await world.add_households(world.buildings[0], 2)
        member, neighbour = await world.resident(home), await world.resident(next_door)
        unbound = await world.resident(home, verified=False)
        grid_worker = await world.worker(Role.GRID_WORKER)
        people = (member, neighbour, unbound, grid_worker)
        headers = {p.id: await world.headers(p) for p in people}
    body = await uploaded(client, headers[grid_worker.id], samples.jpeg())
    with using(world.app_state.db):
        proposal = await Proposal.create(
            community=world.community,
            title="电梯加装",
            description="投票",
            category="rectification",
            status="voting",
            scope={},
        )
        visit = await Visit.create(
            proposal=proposal,
            household=home,
            worker=grid_worker,
            outcome="answered",
            method="form",
            media=[body["id"]],
            visited_at=T0 + timedelta(days=1),
        )
        await service.attach([body["id"]], await world.who(grid_worker), "visit", visit.id)
    assert (await fetched(client, headers[grid_worker.id], body["id"]))[0] == 200
    assert (await fetched(client, headers[member.id], body["id"]))[0] == 200
    assert (await fetched(client, headers[neighbour.id], body["id"]))[0] == 404
    assert (await fetched(client, headers[unbound.id], body["id"]))[0] == 404


async def test_a_subject_nobody_registered_is_seen_by_nobody(client, world):
    with using(world.app_state.db):
        owner = await world.resident()
        owner_h = await world.headers(owner)
    body = await uploaded(client, owner_h, samples.jpeg())
    assert "notice" not in visibility.SEES
    with using(world.app_state.db):
        await service.attach([body["id"]], await world.who(owner), "notice", 3)
    assert (await fetched(client, owner_h, body["id"]))[0] == 404


async def test_bytes_gone_from_the_store_are_a_plain_404(client, world):
    with using(world.app_state.db):
        owner_h = await world.headers(await world.resident())
    body = await uploaded(client, owner_h, samples.jpeg())
    for path in media_files(world.app_state):
        path.unlink()
    assert (await fetched(client, owner_h, body["id"]))[0] == 404


async def test_a_broken_form_is_refused_not_a_server_error(client, world):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    boundary = "b0undary"
    broken = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="a\x00b"\r\n\r\nx\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        ).encode()
        + samples.jpeg()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    form = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    resp = await client.post(URL, data=broken, headers=headers | form)
    assert (resp.status, await error_code(resp)) == (400, "media.error.unreadable")
    no_file = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\ny\r\n--{boundary}--\r\n'
    )
    resp = await client.post(URL, data=no_file.encode(), headers=headers | form)
    assert (resp.status, await error_code(resp)) == (400, "media.error.empty")


async def test_attach_joins_the_caller_s_transaction(client, world):
    with using(world.app_state.db):
        owner = await world.resident()
        who = await world.who(owner)
        made = await service.upload(who, samples.jpeg())
        ticket = await _ticket(world, owner)
        try:
            async with in_transaction() as conn:
                await service.attach([made.id], who, "ticket", ticket.id, conn=conn)
                assert (await Media.get(id=made.id).using_db(conn)).subject == "ticket"
                raise RuntimeError("the ticket's own write failed")
        except RuntimeError:
            pass
        # Rolled back with the caller's work: still the uploader's alone.
        assert (await Media.get(id=made.id)).subject is None
