"""The spool when it cannot be written (issue 13, fault 15), and shared by two service
processes on one PostgreSQL and one Redis (the cross-process case)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.faults.harness import (
    BUSY,
    COMPLAINT,
    QUEUED,
    SUBMIT,
    Sent,
    drained,
    openids,
    send,
    spool_entries,
)

pytestmark = pytest.mark.faults

WINDOW = 5.0
SPOOLED = re.compile(r"spooled \(")


def read_only(data_dir: Path) -> Path:
    """The spool directory, empty and made unwritable (``chmod 0o500``)."""
    spool = data_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    assert not any(spool.iterdir()), "nothing written there yet"
    spool.chmod(0o500)
    return spool


def refused_loudly(sent: list[Sent]) -> None:
    """Answered 5xx (WeChat retries), inside the window, without saying it was kept."""
    assert all(500 <= s.answer.status < 600 for s in sent), [s.answer for s in sent]
    assert not [s for s in sent if BUSY in s.answer.text or QUEUED in s.answer.text]
    assert all(s.answer.elapsed < WINDOW for s in sent), [s.answer.elapsed for s in sent]


@pytest.fixture(autouse=True)
def writable_again(data_dir: Path):  # type: ignore[no-untyped-def]
    yield
    spool = data_dir / "spool"
    if spool.exists():
        spool.chmod(0o700)


async def test_f15_an_unwritable_spool_with_redis_down_answers_5xx_and_loses_nothing(
    make_service, redis, pusher, counts, data_dir
):
    """Redis killed, so every message must be spooled, and the spool unwritable: the
    service answers 5xx and never claims it kept a message (an ALERT in its log, no
    "spooled"). The directory writable again, WeChat's retries (same MsgId) are kept and
    replayed once Redis is back: each complaint and its "1" make one ticket."""
    service = await make_service().start()
    people = openids("f15r", 8)
    redis.kill()
    spool = read_only(data_dir)

    tries = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in people))
    refused_loudly(tries)
    assert spool_entries(data_dir) == []
    log = service.log()
    assert "ALERT" in log, "an unkept message is alerted"
    assert not SPOOLED.search(log), "the log claims a message was spooled"

    spool.chmod(0o700)
    retries = await asyncio.gather(
        *(send(pusher, service, s.openid, s.text, s.msg_id) for s in tries)
    )
    assert [(s.answer.status, s.answer.text) for s in retries] == [(200, BUSY)] * len(people)
    submits = await asyncio.gather(*(send(pusher, service, p, SUBMIT) for p in people))
    assert all(s.answer.status == 200 for s in submits), [s.answer for s in submits]
    assert len(spool_entries(data_dir)) == 2 * len(people)

    await asyncio.to_thread(redis.restart)
    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), {p: n for p, n in tickets.items() if n != 1}
    owed = await counts.owed([s.key for s in [*retries, *submits]])
    assert set(owed.values()) == {1}, owed


async def test_f15_an_unwritable_spool_with_postgres_down_never_answers_success(
    make_service, proxy, pusher, counts, data_dir
):
    """PostgreSQL down (the proxy stopped), Redis up, the spool unwritable: the first try
    and WeChat's retry are both 5xx, never an empty ``success``; the directory writable
    again, the next retry is kept and replayed once the database is back."""
    service = await make_service().start()
    people = openids("f15p", 6)
    proxy.stop()
    spool = read_only(data_dir)

    tries = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in people))
    refused_loudly(tries)
    again = await asyncio.gather(
        *(send(pusher, service, s.openid, s.text, s.msg_id) for s in tries)
    )
    refused_loudly(again)
    assert spool_entries(data_dir) == []
    assert not SPOOLED.search(service.log())

    spool.chmod(0o700)
    kept = await asyncio.gather(*(send(pusher, service, s.openid, s.text, s.msg_id) for s in tries))
    assert [(s.answer.status, s.answer.text) for s in kept] == [(200, BUSY)] * len(people)

    proxy.start()
    await drained(data_dir)
    owed = await counts.owed([s.key for s in kept])
    assert owed == {s.key: 1 for s in kept}, "each kept complaint replayed and answered once"
    submits = await asyncio.gather(*(send(pusher, service, p, SUBMIT) for p in people))
    assert all(s.answer.status == 200 for s in submits)
    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), {p: n for p, n in tickets.items() if n != 1}


FLOW = ("投诉", "楼道的灯坏了三天了", "灯在3楼", SUBMIT)
TICKET_TEXT = "楼道的灯坏了三天了\n灯在3楼"


async def test_two_instances_share_the_spool_and_apply_each_message_once_in_order(
    make_service, redis, pusher, counts, data_dir
):
    """Two processes on one PostgreSQL, one Redis and one spool directory. During a Redis
    outage each resident's four messages go alternately to the two, and WeChat's retry of
    each (same MsgId) to the other. Once Redis is back each message was applied once and
    in order: one ticket per resident whose text is the two parts in the order sent."""
    one, two = make_service("one"), make_service("two")
    await asyncio.gather(one.start(), two.start())
    people = openids("pair", 5)
    redis.kill()

    async def converse(openid: str) -> list[Sent]:
        sent = []
        for n, text in enumerate(FLOW):
            first, other = (one, two) if n % 2 == 0 else (two, one)
            message = await send(pusher, first, openid, text)
            retry = await send(pusher, other, openid, text, message.msg_id)
            sent += [message, retry]
        return sent

    talks = await asyncio.gather(*(converse(p) for p in people))
    answers = [s for talk in talks for s in talk]
    assert all(s.answer.status == 200 for s in answers), [s.answer for s in answers]
    assert all(s.answer.elapsed < WINDOW for s in answers)

    await asyncio.to_thread(redis.restart)
    await drained(data_dir)
    texts = await counts.ticket_texts(people)
    assert texts == {p: [TICKET_TEXT] for p in people}, texts
    assert await counts.conversations(people) == {}
    keys = sorted({s.key for s in answers})
    assert len(keys) == len(FLOW) * len(people)
    assert await counts.handled(keys) == set(keys)
    assert set((await counts.owed(keys)).values()) == {1}, "each message answered once"
