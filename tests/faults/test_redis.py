"""Redis killed, restarted empty and hung under a running service (issue 13, faults 10-12).

The complaint flow: ``投诉 楼道的灯坏了三天了`` (the bot asks to attach or confirm: a
conversation state), then ``1`` submits one ticket. A ``1`` without its state would be
menu item 1 (binding), so a lost state shows as a missing ticket.
"""

from __future__ import annotations

import asyncio
from collections import Counter

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
    wait_until,
)

pytestmark = pytest.mark.faults

WINDOW = 5.0  # WeChat gives up on an answer after 5 s (and retries)


def slow(sent: list[Sent]) -> list[tuple[str, float]]:
    return [(s.openid, round(s.answer.elapsed, 2)) for s in sent if s.answer.elapsed >= WINDOW]


async def test_f10_redis_restarted_empty_loses_no_conversation(
    make_service, redis, pusher, counts, data_dir, fake_wechat
):
    """Twenty residents between the complaint and its "1" when Redis dies and comes back
    empty; ten send their "1" while it is down (kept in the spool), ten after. Each of
    the twenty ends with exactly one ticket and nobody is left in a flow."""
    service = await make_service().start()
    people = openids("f10", 20)
    asked = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in people))
    assert [s.answer.status for s in asked] == [200] * 20
    assert not [s for s in asked if s.answer.text in ("", BUSY, QUEUED)], (
        "each complaint handled: the resident is asked to attach or confirm"
    )

    redis.kill()
    early, late = people[:10], people[10:]
    down = await asyncio.gather(*(send(pusher, service, p, SUBMIT) for p in early))
    assert [(s.answer.status, s.answer.text) for s in down] == [(200, BUSY)] * 10, (
        "with Redis down a message is kept in the spool and the resident told so"
    )
    assert not slow(down)

    await asyncio.to_thread(redis.restart)
    assert redis.dbsize() == 0, "Redis came back empty"
    up = await asyncio.gather(*(send(pusher, service, p, SUBMIT) for p in late))
    assert [s.answer.status for s in up] == [200] * 10
    assert not slow(up)

    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), {p: n for p, n in tickets.items() if n != 1}
    assert await counts.conversations(people) == {}, "nobody left in a flow (binding)"
    # Each spooled "1" owes its receipt once, sent as a customer-service message once.
    owed = await counts.owed([s.key for s in down])
    assert owed == {s.key: 1 for s in down}
    await wait_until(
        lambda: all(len(fake_wechat.messages_to(p)) >= 1 for p in early),
        30,
        "the owed receipts sent as customer-service messages",
        interval=0.25,
    )
    assert {p: len(fake_wechat.messages_to(p)) for p in early} == dict.fromkeys(early, 1)


async def test_f11_redis_dying_mid_burst_and_the_retries_make_no_second_ticket(
    make_service, redis, pusher, counts, data_dir
):
    """Redis is killed while a burst of "1"s is being handled (some committed, their
    answers not stored); after it is back (empty) WeChat retries every "1" with the same
    MsgId, twice. Every complaint yields exactly one ticket, none two."""
    service = await make_service().start()
    people = openids("f11", 15)
    asked = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in people))
    assert [s.answer.status for s in asked] == [200] * 15
    assert not [s for s in asked if s.answer.text in ("", BUSY, QUEUED)]

    ids = {p: pusher.new_id() for p in people}
    burst = [asyncio.ensure_future(send(pusher, service, p, SUBMIT, ids[p])) for p in people]
    # The first answer means a commit happened; the rest are still in flight.
    await asyncio.wait(burst, return_when=asyncio.FIRST_COMPLETED)
    redis.kill()
    firsts = await asyncio.gather(*burst)
    in_flight = sum(1 for s in firsts if s.answer.text in (BUSY, QUEUED))
    print(f"F11: {in_flight} of 15 submits kept in the spool after the kill")
    assert [s.answer.status for s in firsts] == [200] * 15, [s.answer for s in firsts]
    spooled_keys = Counter(entry["key"] for entry in spool_entries(data_dir))
    assert all(n == 1 for n in spooled_keys.values()), (
        f"one spool entry per message: {spooled_keys}"
    )

    await asyncio.to_thread(redis.restart)
    for _ in range(2):  # WeChat's retries, same MsgId, after Redis is back
        retries = await asyncio.gather(*(send(pusher, service, p, SUBMIT, ids[p]) for p in people))
        assert [s.answer.status for s in retries] == [200] * 15, [s.answer for s in retries]
        assert not slow(retries)

    await drained(data_dir)
    tickets = await counts.tickets(people)
    assert tickets == dict.fromkeys(people, 1), (
        f"{in_flight} of 15 were cut by the kill; tickets: "
        f"{ {p: n for p, n in tickets.items() if n != 1} }"
    )
    keys = [f"default:m:{ids[p]}" for p in people]
    assert await counts.handled(keys) == set(keys), "every submit is in the ledger"
    assert all(n <= 1 for n in (await counts.owed(keys)).values()), "no reply owed twice"


async def test_f12_a_hung_redis_with_a_full_spool_keeps_answers_inside_the_window(
    make_service, redis, pusher, counts, data_dir
):
    """Redis hung (SIGSTOP) with some forty messages in the spool and a replay pass under
    way: forty new messages from other residents are each answered in under 5 s."""
    service = await make_service().start()
    waiting, fresh = openids("f12a", 40), openids("f12b", 40)

    redis.stop()
    kept = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in waiting))
    assert [(s.answer.status, s.answer.text) for s in kept] == [(200, BUSY)] * 40
    assert not slow(kept), slow(kept)
    assert len(spool_entries(data_dir)) == 40

    # Let a replay pass begin, then hang Redis under it.
    redis.cont()
    await wait_until(
        lambda: len(spool_entries(data_dir)) < 40 or redis.count("linli:lock:resident:*") > 0,
        15,
        "a replay pass started",
        interval=0.01,
    )
    redis.stop()
    left = len(spool_entries(data_dir))

    answers = await asyncio.gather(*(send(pusher, service, p, COMPLAINT) for p in fresh))
    elapsed = sorted(s.answer.elapsed for s in answers)
    print(f"F12: {left} in the spool when Redis hung; answers {elapsed[0]:.2f}-{elapsed[-1]:.2f} s")
    assert [s.answer.status for s in answers] == [200] * 40, [s.answer for s in answers]
    assert elapsed[-1] < WINDOW, (
        f"{len(slow(answers))} of 40 answered in {WINDOW} s or more (max {elapsed[-1]:.1f} s,"
        f" median {elapsed[20]:.1f} s) with {left} messages in the spool"
    )

    redis.cont()
    await drained(data_dir)
    sent = [*kept, *answers]
    owed = await counts.owed([s.key for s in sent])
    handled_late = {s.key for s in sent if s.answer.text in (BUSY, QUEUED)}
    assert {k: n for k, n in owed.items() if k in handled_late} == dict.fromkeys(handled_late, 1)
    states = await counts.conversations([*waiting, *fresh])
    assert len(states) == 80, "every complaint took effect (each resident asked to confirm)"
