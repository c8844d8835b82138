"""A sender killed with SIGKILL mid-batch: what it never handed over goes out later, what
it had sent is marked sent, and only the requests in flight are left unknown."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta

from bot.deliver import STALE_CLAIM, recover_stale
from models.db import using
from models.notices import Delivery, Notice
from tests.conftest import APPID
from tests.notices.conftest import SECRET, deliver, residents_of

RESIDENTS = 150
# A sender at 50 a second records each row as it starts and ends: a kill leaves at most
# the requests in flight, one about to start and one just answered.
MOST_UNKNOWN = 8


async def _sender(database_url: str, base: str, community: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.notice_sender",
        database_url,
        base,
        APPID,
        SECRET,
        str(community),
        "50",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


async def test_a_killed_sender_leaves_only_its_requests_in_flight_unknown(
    client, world, app_state, fake, bearer, database_url
):
    with using(app_state.db):
        people = await residents_of(world, 0, RESIDENTS)
        worker = await world.worker()
    made = await client.post(
        "/api/v1/notices",
        json={
            "title": "停水通知",
            "body": "明天停水",
            "scope": {"kind": "buildings", "ids": [world.buildings[0].id]},
            "send": True,
        },
        headers=bearer(await world.token(worker)),
    )
    assert made.status == 201, await made.text()
    sender = await _sender(database_url, fake.base_url, world.community.id)
    try:
        for _ in range(400):  # until a third has gone out
            if len(fake.sent) >= RESIDENTS // 3:
                break
            await asyncio.sleep(0.025)
        sender.send_signal(signal.SIGKILL)
    finally:
        await sender.wait()
    received = {s.to for s in fake.sent}
    assert RESIDENTS // 3 <= len(received) < RESIDENTS
    with using(app_state.db):
        rows = {d.resident_id: d.status for d in await Delivery.all().only("resident_id", "status")}
        openid_of = {p.id: p.openid for p in people}
        # Whatever the sender never handed over is still to send; what it sent is not.
        for resident_id, status in rows.items():
            if status in {"pending", "claimed"}:
                assert openid_of[resident_id] not in received
        in_flight = sum(1 for status in rows.values() if status == "sending")
        assert in_flight <= MOST_UNKNOWN, rows
        # Later, another process finds the dead sender's rows and finishes the notice.
        assert await recover_stale(datetime.now(UTC) + STALE_CLAIM + timedelta(seconds=1)) == (
            in_flight
        )
    await deliver(app_state, datetime.now(UTC))
    with using(app_state.db):
        statuses = [d.status for d in await Delivery.all().only("status")]
    assert statuses.count("unknown") == in_flight
    assert statuses.count("sent") == RESIDENTS - in_flight
    assert all(len(fake.messages[p.openid]) <= 1 for p in people)  # nobody told twice
    assert sum(len(fake.messages[p.openid]) for p in people) >= RESIDENTS - in_flight


async def test_claimed_and_sent_times_are_when_it_happened_not_the_round_s(
    client, world, app_state, fake, bearer
):
    with using(app_state.db):
        await residents_of(world, 0, 3)
        worker = await world.worker()
    made = await client.post(
        "/api/v1/notices",
        json={
            "title": "停电通知",
            "body": "今晚停电",
            "scope": {"kind": "buildings", "ids": [world.buildings[0].id]},
            "send": True,
        },
        headers=bearer(await world.token(worker)),
    )
    assert made.status == 201
    round_started = datetime.now(UTC) - timedelta(minutes=5)  # a slow round, say
    before = datetime.now(UTC)
    assert dict(await deliver(app_state, round_started)) == {"sent": 3}
    with using(app_state.db):
        rows = await Delivery.all()
    assert all(r.claimed_at is not None and r.claimed_at >= before for r in rows)
    assert all(r.sent_at is not None and r.sent_at >= r.claimed_at for r in rows)


async def test_the_relay_s_own_notices_name_no_recipient_in_their_failures(
    client, world, app_state, bearer
):
    """A failed "your ticket was accepted" must not tie an anonymous ticket to a resident."""
    with using(app_state.db):
        reporter = await world.resident()
        worker = await world.worker()
        relayed = await Notice.create(
            community=world.community, title="诉求进展", body="已受理", kind="ticket.accept"
        )
        written = await Notice.create(
            community=world.community, title="停水", body="明天", author=worker
        )
        for notice in (relayed, written):
            await Delivery.create(
                notice=notice,
                channel="oa",
                recipient_key=f"r{reporter.id}",
                resident=reporter,
                status="failed",
                failure="blocked",
            )
    named = {}
    for notice in (relayed, written):
        resp = await client.get(
            f"/api/v1/notices/{notice.id}/failures", headers=bearer(await world.token(worker))
        )
        assert resp.status == 200, await resp.text()
        named[notice.id] = [item["resident_id"] for item in (await resp.json())["items"]]
    assert named == {relayed.id: [None], written.id: [reporter.id]}
