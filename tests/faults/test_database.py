"""PostgreSQL stalled behind the proxy, and the service stopped with signals under it
(issue 13, faults 13, 14 and 18's bounded stop)."""

from __future__ import annotations

import asyncio
import signal
import time

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
    wait_until,
)

pytestmark = pytest.mark.faults

WINDOW = 5.0
PAUSE = 6.0


def slow(sent: list[Sent]) -> list[tuple[str, float]]:
    return [(s.openid, round(s.answer.elapsed, 2)) for s in sent if s.answer.elapsed >= WINDOW]


async def test_f13_a_stalled_database_spools_and_keeps_each_resident_s_order(
    make_service, proxy, pusher, counts, data_dir
):
    """PostgreSQL paused for 6 s while twelve residents send the complaint and then its
    "1": every answer inside 5 s, the stalled messages kept (the busy text), and after the
    stall each resident has exactly one ticket: the "1" was applied after the complaint."""
    service = await make_service().start()
    people = openids("f13", 12)

    proxy.pause()
    paused = time.monotonic()
    complaints = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in people))
    submits = await asyncio.gather(*(send(pusher, service, p, SUBMIT) for p in people))
    stalled_for = time.monotonic() - paused
    await asyncio.sleep(max(0.0, PAUSE - stalled_for))
    proxy.resume()

    answers = [*complaints, *submits]
    assert not slow(answers), f"answers of 5 s or more: {slow(answers)}"
    assert [(s.answer.status, s.answer.text) for s in complaints] == [(200, BUSY)] * 12, (
        "a database stalled past the reply deadline spools the message, as a down one does"
    )
    assert all(s.answer.status == 200 and s.answer.text in (BUSY, QUEUED) for s in submits), [
        s.answer for s in submits
    ]

    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), {p: n for p, n in tickets.items() if n != 1}
    assert await counts.conversations(people) == {}, "nobody left in a flow"
    owed = await counts.owed([s.key for s in answers])
    assert owed == {s.key: 1 for s in answers}, "each kept message answered late, once"


async def test_sigterm_with_the_database_stalled_exits_within_10_s(
    make_service, proxy, pusher, counts
):
    """Docker sends SIGKILL 10 s after SIGTERM: the stop must not wait on a stalled
    database (requests in flight, the replay and the jobs all stuck on it)."""
    service = await make_service().start()
    people = openids("term", 10)
    proxy.pause()
    in_flight = [asyncio.ensure_future(send(pusher, service, p, COMPLAINT)) for p in people]
    await asyncio.sleep(1.0)
    started = time.monotonic()
    service.kill(signal.SIGTERM)
    status = await service.wait(12.0)
    took = time.monotonic() - started
    print(f"SIGTERM: exited {took:.1f} s after the signal (status {status})")
    await asyncio.gather(*in_flight)
    proxy.resume()
    assert status is not None and took < 10.0, f"still running {took:.1f} s after SIGTERM"


async def test_f14_a_crash_mid_flight_does_not_swallow_wechat_s_retries(
    make_service, proxy, redis, pusher, counts, data_dir
):
    """SIGKILL with fifteen "1"s in flight (the database paused, so they are stuck); the
    service restarts with the database back and WeChat retries each (same MsgId, up to
    three times, 5 s apart): each is handled, none answered an empty ``success`` for good,
    and each complaint ends with exactly one ticket."""
    first = await make_service("first").start()
    people = openids("f14", 15)
    asked = await asyncio.gather(*(send(pusher, first, p, COMPLAINT) for p in people))
    assert [s.answer.status for s in asked] == [200] * 15
    assert not [s for s in asked if s.answer.text in ("", BUSY, QUEUED)]

    ids = {p: pusher.new_id() for p in people}
    answered = redis.count("linli:msg:*")  # the complaints' stored answers
    proxy.pause()
    flying = [asyncio.ensure_future(send(pusher, first, p, SUBMIT, ids[p])) for p in people]
    await wait_until(
        lambda: redis.count("linli:msg:*") >= answered + len(people),
        5,
        "every submit claimed by the first process",
        interval=0.05,
    )
    first.kill(signal.SIGKILL)
    assert await first.wait(5) is not None
    cut = await asyncio.gather(*flying)
    unanswered = sum(1 for s in cut if s.answer.status != 200)
    print(f"F14: {unanswered} of {len(people)} submits in flight when the process was killed")
    assert unanswered >= 10, "the kill cut the submits before their answers"

    proxy.resume()
    restarted = await make_service("restarted").start()
    last: dict[str, Sent] = {}
    pending = list(people)
    for attempt in range(3):  # WeChat retries an unanswered push three times
        if attempt:
            await asyncio.sleep(1.0)  # compressed from WeChat's ~5 s
        retries = await asyncio.gather(
            *(send(pusher, restarted, p, SUBMIT, ids[p]) for p in pending)
        )
        last.update({s.openid: s for s in retries})
        assert not slow(retries), slow(retries)
        pending = [s.openid for s in retries if s.answer.status != 200 or not s.answer.text]
        if not pending:
            break
    assert pending == [], f"answered only with an empty success (or not at all): {pending}"

    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), {p: n for p, n in tickets.items() if n != 1}
    keys = [f"default:m:{ids[p]}" for p in people]
    assert await counts.handled(keys) == set(keys)
