"""Binding a household through the real callback: codes, QR scenes, lockout, language,
my data and PIPL erasure, on the embedded defaults and on PostgreSQL/Redis."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.simulator import message_xml, reply_text
from bot.store import MemoryStore, RedisStore
from handlers.residents import service
from handlers.residents.rules import mask
from handlers.residents.service import BIND_FAILURE_WINDOW as FAILURE_WINDOW
from models.audit import AuditLog
from models.community import Building, Community, Grid, Household
from models.db import using
from models.residents import BindingCode, Resident, Role, RoleAssignment
from tests.conftest import APPID, REDIS_URL

COMMUNITY = "test"  # settings.wechat_community in conftest


class OffsetClock:
    """The real monotonic clock, plus however far a test has jumped ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
async def store(backend: str, clock: OffsetClock) -> AsyncIterator[MemoryStore | RedisStore]:
    """As conftest's, but the embedded store's clock can jump past the failure window."""
    if backend == "embedded":
        yield MemoryStore(clock=clock)
        return
    redis_store = RedisStore(REDIS_URL, op_timeout=2.0, prefix=f"t{uuid.uuid4().hex[:8]}:")
    yield redis_store
    await redis_store.close()


# --- helpers ----------------------------------------------------------------------------------


async def household(
    app_state,
    room: str = "101",
    building: str = "1栋",
    unit: str = "1单元",
    community: str = COMMUNITY,
) -> Household:
    """What ``linli seed-demo`` creates: community → grid → building → household."""
    with using(app_state.db):
        place, _ = await Community.get_or_create(slug=community, defaults={"name": "幸福里社区"})
        grid, _ = await Grid.get_or_create(community=place, name="第一网格")
        block, _ = await Building.get_or_create(
            community=place, name=building, defaults={"grid": grid}
        )
        home, _ = await Household.get_or_create(building=block, unit=unit, room=room)
        return home


async def issue(app_state, home: Household, now: datetime | None = None, days: int = 30) -> str:
    with using(app_state.db):
        return await service.issue_code(
            home, now or datetime.now(UTC), days, by="community_worker:1"
        )


async def resident_row(app_state, openid: str) -> Resident:
    with using(app_state.db):
        return await Resident.get(openid=openid)


async def code_row(app_state, code: str) -> BindingCode:
    with using(app_state.db):
        return await BindingCode.get(code=code)


def t(app_state, msgid: str, language: str = "zh_Hans", /, **params: str) -> str:
    return app_state.translate(language, msgid, **params)


def menu(app_state, language: str = "zh_Hans") -> str:
    lines = [t(app_state, "menu.title", language)]
    lines += [
        t(app_state, "menu.item", language, digit=d, label=t(app_state, label, language))
        for d, _, label in app_state.dispatcher.menu
    ]
    lines.append(t(app_state, "menu.footer", language))
    return "\n".join(lines)


def bound_reply(app_state, label: str = "1栋 1单元 101", language: str = "zh_Hans") -> str:
    return t(app_state, "bind.ok", language, household=label)


async def event_at(someone, name: str, key: str, created: int) -> str:
    """An event with an explicit CreateTime (events are de-duplicated by openid+time+name)."""
    fields = {"Event": name, "EventKey": key}
    status, xml = await someone.push(message_xml(someone.openid, APPID, "event", fields, created))
    assert status == 200, xml
    return reply_text(xml)


# --- binding by typing the code ---------------------------------------------------------------


async def test_issued_code_binds_the_resident_who_types_it(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.say(f"绑定 {code}") == bound_reply(app_state)

    row = await resident_row(app_state, resident.openid)
    assert row.verified is True
    assert row.household_id == home.id
    spent = await code_row(app_state, code)
    assert spent.used_at is not None
    assert spent.used_by_id == row.id
    with using(app_state.db):
        bound = await AuditLog.filter(action="resident.bound", entity_id=str(row.id)).first()
        issued = await AuditLog.filter(action="binding_code.issued").first()
    assert bound is not None
    assert bound.actor == f"resident:{row.id}"
    assert bound.before == {"household": None, "verified": False}
    assert bound.after == {"household": home.id, "verified": True}
    assert issued is not None and issued.actor == "community_worker:1"
    assert issued.entity_id == str(home.id)


async def test_binding_through_the_menu_forgives_case_dashes_and_full_width(app_state, resident):
    home = await household(app_state, room="202", unit="2单元", building="3栋")
    code = await issue(app_state, home)
    assert await resident.say("1") == t(app_state, "bind.prompt")
    typed = "Ｂ" if code[0] == "B" else code[0].lower()
    typed += code[1:4].lower() + "-" + code[4:]
    assert await resident.say(typed) == bound_reply(app_state, "3栋 2单元 202")
    row = await resident_row(app_state, resident.openid)
    assert row.verified and row.household_id == home.id
    # The flow is over: a code-looking text now gets the ordinary fallback.
    assert await resident.say("ABCD2345") == t(app_state, "help.not_understood") + "\n\n" + menu(
        app_state
    )


async def test_menu_click_starts_binding(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.event("CLICK", "bind") == t(app_state, "bind.prompt")
    assert await resident.say(code) == bound_reply(app_state)


async def test_household_without_unit_has_a_tidy_label(app_state, resident):
    home = await household(app_state, unit="", room="5号")
    code = await issue(app_state, home)
    assert await resident.say(f"bind {code}") == bound_reply(app_state, "1栋 5号")


async def test_code_is_single_use(app_state, make_resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    first, second = make_resident("o_first"), make_resident("o_second")
    assert await first.say(f"绑定 {code}") == bound_reply(app_state)
    assert await second.say(f"绑定 {code}") == t(app_state, "bind.used")
    # Spending it again is refused to its own user too.
    assert await first.say(f"绑定 {code}") == t(app_state, "bind.used")

    other = await resident_row(app_state, "o_second")
    assert other.verified is False and other.household_id is None
    spent = await code_row(app_state, code)
    assert spent.used_by_id == (await resident_row(app_state, "o_first")).id


async def test_concurrent_use_of_one_code_binds_exactly_one_resident(app_state, make_resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    people = [make_resident(f"o_race_{i}") for i in range(4)]
    for someone in people:  # create the residents first: the race is on the code
        await someone.say("你好")
    replies = await asyncio.gather(*(p.say(f"绑定 {code}") for p in people))
    assert sorted(replies) == sorted([bound_reply(app_state)] + [t(app_state, "bind.used")] * 3)
    with using(app_state.db):
        verified = await Resident.filter(verified=True, household_id=home.id).count()
    assert verified == 1


async def test_expired_code_is_refused_and_not_spent(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home, now=datetime.now(UTC) - timedelta(days=31), days=30)
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.expired")
    row = await resident_row(app_state, resident.openid)
    assert row.verified is False and row.household_id is None
    assert (await code_row(app_state, code)).used_at is None


async def test_code_issued_with_zero_days_is_already_expired(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home, now=datetime.now(UTC), days=0)
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.expired")


async def test_code_one_minute_from_expiry_still_works(app_state, resident):
    home = await household(app_state)
    code = await issue(
        app_state, home, now=datetime.now(UTC) - timedelta(days=30) + timedelta(minutes=1)
    )
    assert await resident.say(f"绑定 {code}") == bound_reply(app_state)


async def test_unknown_code_is_refused(app_state, resident):
    await household(app_state)
    assert await resident.say("绑定 ABCD2345") == t(app_state, "bind.unknown")
    row = await resident_row(app_state, resident.openid)
    assert row.verified is False


async def test_code_of_another_community_counts_as_unknown(app_state, resident):
    elsewhere = await household(app_state, community="riverside")
    code = await issue(app_state, elsewhere)
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.unknown")
    assert (await code_row(app_state, code)).used_at is None
    assert (await resident_row(app_state, resident.openid)).verified is False


@pytest.mark.parametrize("typed", ["123", "ABCD234", "ABCD23456", "ABCD2O45", "绑定码"])
async def test_malformed_code_is_explained(app_state, resident, typed):
    assert await resident.say(f"绑定 {typed}") == t(app_state, "bind.malformed")


async def test_wrong_code_inside_the_flow_lets_the_resident_try_again(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    assert await resident.say("hello") == t(app_state, "bind.malformed")
    assert await resident.say("ABCD2345") == t(app_state, "bind.unknown")
    assert await resident.say(code) == bound_reply(app_state)


async def test_cancel_leaves_the_binding_flow(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    assert await resident.say("取消") == t(app_state, "help.cancelled")
    assert await resident.say(code) != bound_reply(app_state)
    assert (await code_row(app_state, code)).used_at is None


async def test_code_spoken_by_voice_inside_the_flow_binds(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    fields = {"MediaId": "m", "Format": "amr", "Recognition": f"{code}。"}
    status, xml = await resident.push(message_xml(resident.openid, APPID, "voice", fields))
    assert status == 200
    assert reply_text(xml) == bound_reply(app_state)


# --- lockout ----------------------------------------------------------------------------------


async def test_lockout_after_the_configured_number_of_failures(app_state, resident, make_resident):
    limit = app_state.settings.binding_failures_per_10min
    assert limit == 5
    home = await household(app_state)
    code = await issue(app_state, home)
    for i in range(limit):
        wrong = "ABCD2345" if i % 2 else "nope"  # unknown and malformed both count
        assert await resident.say(f"绑定 {wrong}") != t(app_state, "bind.locked")
    # Now even the right code is refused, and not spent.
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.locked")
    assert (await code_row(app_state, code)).used_at is None
    assert (await resident_row(app_state, resident.openid)).verified is False
    # The lockout is per resident: a neighbour can still bind.
    neighbour = make_resident("o_neighbour")
    assert await neighbour.say(f"绑定 {code}") == bound_reply(app_state)


async def test_one_failure_short_of_the_limit_still_binds(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    for _ in range(app_state.settings.binding_failures_per_10min - 1):
        assert await resident.say("绑定 ABCD2345") == t(app_state, "bind.unknown")
    assert await resident.say(f"绑定 {code}") == bound_reply(app_state)


async def test_lockout_inside_the_flow_ends_the_flow(app_state, resident):
    assert await resident.say("绑定") == t(app_state, "bind.prompt")
    for _ in range(app_state.settings.binding_failures_per_10min):
        assert await resident.say("ABCD2345") == t(app_state, "bind.unknown")
    assert await resident.say("ABCD2345") == t(app_state, "bind.locked")
    # Out of the flow now: the same text is not a code any more.
    assert await resident.say("ABCD2345") == t(app_state, "help.not_understood") + "\n\n" + menu(
        app_state
    )


async def test_lockout_lifts_after_the_failure_window(app_state, resident, store, clock, backend):
    home = await household(app_state)
    code = await issue(app_state, home)
    for _ in range(app_state.settings.binding_failures_per_10min):
        await resident.say("绑定 ABCD2345")
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.locked")
    row = await resident_row(app_state, resident.openid)
    key = f"bindfail:{row.id}"
    # Every attempt counts, the refused one too (counted before it was refused).
    assert await store.get(key) == str(app_state.settings.binding_failures_per_10min + 1)
    if backend == "real":
        # Redis expires it: the counter carries the 10-minute window.
        ttl_ms = await store.client.pttl(store._prefix + key)
        assert 0 < ttl_ms <= FAILURE_WINDOW * 1000
        await store.delete(key)  # stand-in for the 10 minutes passing
    else:
        clock.offset += FAILURE_WINDOW + 1
    assert await store.get(key) is None
    assert await resident.say(f"绑定 {code}") == bound_reply(app_state)


async def test_failure_window_is_not_extended_by_later_failures(
    app_state, resident, clock, backend
):
    if backend != "embedded":
        pytest.skip("needs the embedded store's clock")
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say("绑定 ABCD2345")
    clock.offset += FAILURE_WINDOW - 60
    for _ in range(app_state.settings.binding_failures_per_10min - 1):
        await resident.say("绑定 ABCD2345")
    assert await resident.say(f"绑定 {code}") == t(app_state, "bind.locked")
    clock.offset += 61  # ten minutes after the first failure
    assert await resident.say(f"绑定 {code}") == bound_reply(app_state)


async def test_wrong_codes_sent_at_once_get_no_more_checks_than_the_limit(app_state, resident):
    limit = app_state.settings.binding_failures_per_10min
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say("你好")
    row = await resident_row(app_state, resident.openid)
    with using(app_state.db):
        outcomes = await asyncio.gather(
            *(
                service.bind_guarded(app_state.store, row, "ABCD2345", datetime.now(UTC), limit)
                for _ in range(40)
            )
        )
        checked = [outcome for outcome in outcomes if outcome is not None]
        assert len(checked) == limit
        late = await service.bind_guarded(app_state.store, row, code, datetime.now(UTC), limit)
        assert late is None
    assert (await code_row(app_state, code)).used_at is None


# --- QR scenes --------------------------------------------------------------------------------


async def test_subscribing_by_scanning_a_household_qr_code_binds(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    reply = await resident.event("subscribe", f"qrscene_bind_{code}")
    assert reply == t(app_state, "residents.welcome") + "\n\n" + bound_reply(app_state)
    row = await resident_row(app_state, resident.openid)
    assert row.active and row.verified and row.household_id == home.id


async def test_plain_subscribe_welcomes_with_the_menu(app_state, resident):
    reply = await resident.event("subscribe")
    assert reply == t(app_state, "residents.welcome") + "\n\n" + menu(app_state)
    assert (await resident_row(app_state, resident.openid)).verified is False


async def test_scanning_while_following_binds(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    assert await resident.event("SCAN", f"bind_{code}") == bound_reply(app_state)
    assert (await resident_row(app_state, resident.openid)).verified is True


async def test_scanning_a_used_or_bad_code_explains(app_state, make_resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    first, second = make_resident("o_scan_1"), make_resident("o_scan_2")
    now = int(time.time())
    assert await event_at(first, "SCAN", f"bind_{code}", now) == bound_reply(app_state)
    assert await event_at(second, "SCAN", f"bind_{code}", now) == t(app_state, "bind.used")
    assert await event_at(second, "SCAN", "bind_ABCD2345", now - 1) == t(app_state, "bind.unknown")
    reply = await event_at(second, "subscribe", "qrscene_bind_x", now - 2)
    assert reply == t(app_state, "residents.welcome") + "\n\n" + t(app_state, "bind.malformed")


async def test_a_failed_scan_does_not_start_a_flow(app_state, resident):
    assert await resident.event("SCAN", "bind_ABCD2345") == t(app_state, "bind.unknown")
    assert await resident.say("ABCD2345") == t(app_state, "help.not_understood") + "\n\n" + menu(
        app_state
    )


async def test_unsubscribe_marks_inactive_and_resubscribe_reactivates(app_state, resident):
    now = int(time.time())
    await event_at(resident, "subscribe", "", now - 2)
    assert await event_at(resident, "unsubscribe", "", now - 1) == ""
    assert (await resident_row(app_state, resident.openid)).active is False
    await event_at(resident, "subscribe", "", now)
    assert (await resident_row(app_state, resident.openid)).active is True
    with using(app_state.db):
        actions = [a.action for a in await AuditLog.filter(action__startswith="resident.")]
    assert actions.count("resident.unsubscribed") == 1
    assert actions.count("resident.subscribed") == 1  # the first subscribe changed nothing


# --- language ---------------------------------------------------------------------------------


async def test_language_flow_switches_every_later_reply(app_state, resident):
    assert await resident.say("语言") == t(app_state, "language.prompt")
    assert await resident.say("3") == t(app_state, "language.ok", "en")
    assert (await resident_row(app_state, resident.openid)).language == "en"
    assert await resident.say("0") == menu(app_state, "en")
    assert await resident.say("绑定 ABCD2345") == t(app_state, "bind.unknown", "en")
    with using(app_state.db):
        change = await AuditLog.get(action="resident.language")
    assert change.before == {"language": "zh_Hans"}
    assert change.after == {"language": "en"}


@pytest.mark.parametrize(
    "typed,language",
    [
        ("language 2", "zh_Hant"),
        ("語言 繁體", "zh_Hant"),
        ("lang English", "en"),
        ("语言 1", "zh_Hans"),
        ("LANGUAGE ３", "en"),
    ],
)
async def test_language_in_one_message(app_state, resident, typed, language):
    assert await resident.say(typed) == t(app_state, "language.ok", language)
    assert (await resident_row(app_state, resident.openid)).language == language


async def test_unknown_language_choice_asks_again(app_state, resident):
    assert await resident.event("CLICK", "language") == t(app_state, "language.prompt")
    expected = t(app_state, "language.unknown") + "\n" + t(app_state, "language.prompt")
    assert await resident.say("klingon") == expected
    assert await resident.say("2") == t(app_state, "language.ok", "zh_Hant")
    assert await resident.say("0") == menu(app_state, "zh_Hant")


# --- my data ----------------------------------------------------------------------------------


def my_data(app_state, row: Resident, language: str = "zh_Hans", **overrides: str) -> str:
    params = {
        "openid": mask(row.openid or ""),
        "household": t(app_state, "residents.not_bound", language),
        "verified": t(app_state, "common.no", language),
        "roles": t(app_state, "role.resident", language),
        "language": t(app_state, f"language.name.{row.language}", language),
        "since": row.created_at.strftime("%Y-%m-%d"),
        **overrides,
    }
    return t(app_state, "residents.my_data", language, **params)


async def test_my_data_of_a_new_resident(app_state, resident):
    reply = await resident.say("我的信息")
    row = await resident_row(app_state, resident.openid)
    assert reply == my_data(app_state, row)
    assert resident.openid not in reply
    assert mask(resident.openid) in reply


async def test_my_data_after_binding_shows_household_roles_and_language(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say(f"绑定 {code}")
    await resident.say("language english")
    row = await resident_row(app_state, resident.openid)
    with using(app_state.db):
        await service.grant(row, Role.VOLUNTEER)
        await service.grant(row, Role.GRID_WORKER)
    reply = await resident.event("CLICK", "my_data")
    roles = [t(app_state, "role.volunteer", "en"), t(app_state, "role.grid_worker", "en")]
    assert reply == my_data(  # in the order of Role, whatever order they were granted in
        app_state,
        row,
        "en",
        household="1栋 1单元 101",
        verified=t(app_state, "common.yes", "en"),
        roles="、".join(roles),
    )
    assert resident.openid not in reply


async def test_my_data_names_a_handler_and_only_the_roles_of_their_own_community(
    app_state, resident
):
    await resident.say("你好")
    row = await resident_row(app_state, resident.openid)
    with using(app_state.db):
        await RoleAssignment.create(
            resident=row, role=Role.HANDLER, community_id=row.community_id, department="property"
        )
        await service.grant(row, Role.GRID_WORKER)
        elsewhere = await Community.create(slug="elsewhere", name="别处")
        await RoleAssignment.create(resident=row, role=Role.ADMIN, community=elsewhere)
    reply = await resident.say("我的信息")
    roles = [t(app_state, "role.grid_worker"), t(app_state, "role.handler")]
    assert reply == my_data(app_state, row, roles="、".join(roles))


# --- PIPL erasure -----------------------------------------------------------------------------


async def test_erasure_clears_personal_fields_and_keeps_anonymous_rows(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say(f"绑定 {code}")
    row = await resident_row(app_state, resident.openid)
    with using(app_state.db):
        row.name = "王阿姨"
        row.phone = "13800138000"
        row.unionid = "u_union_1"
        await row.save()
        await service.grant(row, Role.VOLUNTEER)
        audit_before = await AuditLog.all().count()

    assert await resident.say("删除我的信息") == t(app_state, "erase.confirm")
    assert await resident.say("确认") == t(app_state, "erase.done")

    with using(app_state.db):
        erased = await Resident.get(id=row.id)
        roles = await RoleAssignment.filter(resident_id=row.id).count()
        audit = await AuditLog.all()
        spent = await BindingCode.get(code=code)
        by_openid = await Resident.filter(openid=resident.openid).count()
    assert erased.openid is None
    assert erased.unionid is None
    assert erased.name is None
    assert erased.phone is None
    assert erased.household_id is None
    assert erased.verified is False
    assert erased.active is False
    assert erased.erased_at is not None
    assert erased.community_id == row.community_id  # the row stays countable
    assert roles == 0
    assert by_openid == 0
    # The audit log only grows, and the erasure itself is in it.
    assert len(audit) == audit_before + 1
    assert [a.action for a in audit if a.entity_id == str(row.id)][-1] == "resident.erased"
    assert {"resident.created", "resident.bound"} <= {a.action for a in audit}
    blob = json.dumps([[a.actor, a.entity_id, a.before, a.after] for a in audit])
    for personal in (resident.openid, "王阿姨", "13800138000", "u_union_1"):
        assert personal not in blob
    # The spent code keeps pointing at the anonymous row.
    assert spent.used_at is not None and spent.used_by_id == row.id


async def test_after_erasure_the_same_openid_is_a_stranger(app_state, resident):
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say(f"绑定 {code}")
    old = await resident_row(app_state, resident.openid)
    await resident.say("4")
    await resident.say("yes")
    reply = await resident.say("我的信息")
    new = await resident_row(app_state, resident.openid)
    assert new.id != old.id
    assert reply == my_data(app_state, new)


@pytest.mark.parametrize(
    ("answer", "reply"),
    [("不", "erase.kept"), ("no", "erase.kept"), ("2", "erase.kept"), ("算了", "help.cancelled")],
)
async def test_erasure_needs_explicit_confirmation(app_state, resident, answer, reply):
    home = await household(app_state)
    code = await issue(app_state, home)
    await resident.say(f"绑定 {code}")
    assert await resident.event("CLICK", "delete_me") == t(app_state, "erase.confirm")
    assert await resident.say(answer) == t(app_state, reply)
    row = await resident_row(app_state, resident.openid)
    assert row.verified is True and row.household_id == home.id and row.erased_at is None
