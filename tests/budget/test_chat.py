"""点菜 and 资金 by chat, through the real callback, in three languages: the menu with costs
and what is left of the fund, toggles, the rule's refusals keeping the picks, one order per
household (the latest counts), ordering closed, and the money in the open."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from handlers.budget import money, rounds
from handlers.budget.rules import money as yuan
from models.budget import Order
from models.community import Building, Household
from models.residents import Resident, Role
from tests.budget import factories
from tests.budget.factories import AFTER, DURING
from tests.world import World


def lock_of(world: World):  # type: ignore[no-untyped-def]
    return world.app_state.store.lock  # type: ignore[attr-defined]


@pytest.fixture
def frozen(app_state):  # type: ignore[no-untyped-def]
    """The app's clock at ``DURING`` (ordering open); a test moves it on by setting it."""
    app_state.clock = lambda: DURING
    return app_state


async def member(world: World, home: Household, language: str = "zh_Hans") -> Resident:
    """A verified resident bound to ``home``, speaking ``language``."""
    person = await world.resident(home)
    person.language = language
    await person.save(update_fields=["language"])
    return person


async def orders(round_id: int) -> list[Order]:
    return list(await Order.filter(round_id=round_id).order_by("id"))


async def test_ordering_by_toggles_then_a_second_member_changes_it(
    world: World, frozen, make_resident
):
    home, other = await world.add_households(world.buildings[0], 2)
    boss = await world.worker()
    round_id = await factories.ordering_round(
        world, boss, ["40000", "30000", "50000"], lock_of(world), fund="100000"
    )
    first = await member(world, home)
    chat = make_resident(first.openid)

    menu = await chat.say("点菜")
    assert "2026年民生微实事·群众点菜" in menu and "11-15 00:00 截止" in menu
    assert "本轮资金 100,000.00 元" in menu
    assert "⬜ 1. 项目1　40,000.00 元" in menu
    assert "⬜ 2. 项目2　30,000.00 元" in menu
    assert "⬜ 3. 项目3　50,000.00 元" in menu
    assert "您家还没有选择项目，资金还剩 100,000.00 元" in menu

    picked = await chat.say("1")
    assert "✅ 1. 项目1" in picked
    assert "已选 1 项：1，合计 40,000.00 元，资金还剩 60,000.00 元" in picked
    picked = await chat.say("3")
    assert "已选 2 项：1、3，合计 90,000.00 元，资金还剩 10,000.00 元" in picked
    # Over the fund: the rule's words, and the picks stay as they were.
    over = await chat.say("2")
    assert "所选项目合计 120,000.00 元，超过了资金总额 100,000.00 元" in over
    assert "已选 2 项：1、3，合计 90,000.00 元" in over
    # Several at once: 3 off and 2 on in one reply, checked as a whole.
    assert "已选 2 项：1、2，合计 70,000.00 元，资金还剩 30,000.00 元" in await chat.say("3 2")
    assert "已选 2 项：1、3" in await chat.say("2，3")
    assert await orders(round_id) == []  # nothing placed before 确认

    done = await chat.say("确认")
    assert "已为您家提交2026年民生微实事的点菜：1. 项目1、3. 项目3，共 2 项" in done
    assert "合计 90,000.00 元" in done and "取代" not in done
    placed = await orders(round_id)
    assert [(o.items, o.resident_id, o.channel) for o in placed] == [([1, 3], first.id, "online")]
    # The flow is over: a digit is the numbered menu's again, not a toggle.
    await chat.say("2")
    assert [o.items for o in await orders(round_id)] == [[1, 3]]

    # Another member of the same household, in traditional Chinese, sees the household's
    # order and changes it: still one order, the latest.
    second = await member(world, home, "zh_Hant")
    chat2 = make_resident(second.openid)
    menu = await chat2.say("點菜")
    assert "群眾點菜" in menu and "✅ 1. 項目1" not in menu  # titles are the workers' words
    assert "✅ 1. 项目1　40,000.00 元" in menu and "✅ 3. 项目3　50,000.00 元" in menu
    assert "已選 2 項：1、3，合計 90,000.00 元，資金還剩 10,000.00 元" in menu
    changed = await chat2.say("3 2")
    assert "已選 2 項：1、2" in changed and "您家目前提交的點菜是：1、3" in changed
    done = await chat2.say("確認")
    assert "已為您家提交" in done and "您家之前提交的點菜（1、3）已被這次取代" in done
    placed = await orders(round_id)
    assert [(o.items, o.resident_id) for o in placed] == [([1, 2], second.id)]
    # The other household's order is its own.
    assert await Order.filter(round_id=round_id).count() == 1
    third = make_resident((await member(world, other)).openid)
    assert "您家还没有选择项目" in await third.say("点菜")


async def test_one_line_order_in_english_and_the_rules_refusals(
    world: World, frozen, make_resident
):
    home = (await world.add_households(world.buildings[0], 1))[0]
    far = await Building.create(community=world.community, grid=world.grid, name="9栋")
    boss = await world.worker()
    round_id = await factories.new_round(world, boss, fund="100000")
    await factories.add(world, boss, round_id, "40000", title="Lights")
    await factories.add(world, boss, round_id, "30000", title="Benches")
    await factories.add(
        world, boss, round_id, "20000", title="Lift", scope={"kind": "buildings", "ids": [far.id]}
    )
    await factories.open_round(world, boss, round_id, lock_of(world))
    chat = make_resident((await member(world, home, "en")).openid)

    # Over the fund in one line: refused, nothing picked.
    over = await chat.say("order 1 2 3")
    assert "Project 3 is for some buildings or grids only" in over
    menu = await chat.say("order")
    assert "⬜ 1. Lights  ¥40,000.00" in menu
    assert "🚫 3. Lift  ¥20,000.00 (not for your household's building or grid)" in menu
    assert "Nothing picked yet; ¥100,000.00 of the fund is left." in menu
    assert "Project 3 is for some buildings or grids only" in await chat.say("3")
    assert "The projects picked" not in await chat.say("1 2")
    cleared = await chat.say("clear")
    assert "All picks dropped." in cleared and "Nothing picked yet" in cleared
    assert "That number is not on the menu" in await chat.say("7")
    assert "Sorry, I did not understand" in await chat.say("maybe later")
    asked = await chat.say("order 2 1")
    assert "Picked 2: 1, 2, ¥70,000.00 in all; ¥30,000.00 of the fund is left." in asked
    assert 'reply "confirm"' in asked
    done = await chat.say("confirm")
    assert 'order for "2026年民生微实事" is placed: 1. Lights, 2. Benches' in done
    assert "(2 projects, ¥70,000.00 in all)" in done
    assert [o.items for o in await orders(round_id)] == [[1, 2]]
    # The same again: one order, unchanged.
    await chat.say("order 1 2")
    assert "nothing changed" in await chat.say("ok")
    # An empty order is an order under this rule: it replaces the picks.
    await chat.say("order clear")
    done = await chat.say("confirm")
    assert "is placed: no projects" in done and "earlier order (1, 2)" in done
    assert [o.items for o in await orders(round_id)] == [[]]


async def test_a_count_rule_refuses_too_many_at_once_and_too_few_at_confirm(
    world: World, frozen, make_resident
):
    home = (await world.add_households(world.buildings[0], 1))[0]
    boss = await world.worker()
    round_id = await factories.ordering_round(
        world, boss, ["100", "200", "300", "400"], lock_of(world), rule="three"
    )
    chat = make_resident((await member(world, home)).openid)
    menu = await chat.say("点菜")
    assert "每户选 1 到 3 个项目" in menu and "资金还剩" not in menu
    refused = await chat.say("1 2 3 4")
    assert "每户最多选 3 个项目" in refused and "您家还没有选择项目" in refused
    # Confirming nothing: the rule's minimum, and the flow goes on.
    assert "每户至少要选 1 个项目" in await chat.say("确认")
    assert "已选 3 项：2、3、4，合计 900.00 元。" in await chat.say("2 3 4")
    assert "共 3 项" in await chat.say("确认")
    assert [o.items for o in await orders(round_id)] == [[2, 3, 4]]


async def test_cancel_leaves_without_an_order(world: World, frozen, make_resident):
    home = (await world.add_households(world.buildings[0], 1))[0]
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["40000"], lock_of(world))
    chat = make_resident((await member(world, home)).openid)
    await chat.say("点菜")
    await chat.say("1")
    assert "已取消" in await chat.say("取消")
    assert await orders(round_id) == []


async def test_no_round_open_or_not_yet_open(world: World, frozen, make_resident):
    home = (await world.add_households(world.buildings[0], 1))[0]
    chat = make_resident((await member(world, home)).openid)
    assert "目前没有可以点菜的民生微实事项目" in await chat.say("点菜")
    assert "社区还没有民生微实事的资金信息" in await chat.say("资金")
    boss = await world.worker()
    round_id = await factories.new_round(world, boss)
    await factories.add(world, boss, round_id, "40000")
    assert "正在征集和评议项目" in await chat.say("点菜")
    who = await world.who(boss)
    await rounds.advance(who, round_id, DURING, lock_of(world))
    await rounds.advance(who, round_id, DURING, lock_of(world))
    soon = await chat.say("点菜")
    assert "项目库正在公示" in soon and "2026-11-01 开始群众点菜" in soon
    # An unbound resident is told to bind first, in the API's words.
    stranger = make_resident((await world.resident()).openid)
    await rounds.advance(who, round_id, DURING, lock_of(world))
    assert "请先绑定您家的门牌" in await stranger.say("点菜")


async def test_ordering_after_its_end_is_refused(world: World, frozen, make_resident):
    homes = await world.add_households(world.buildings[0], 2)
    boss = await world.worker()
    round_id = await factories.ordering_round(world, boss, ["40000", "30000"], lock_of(world))
    chat = make_resident((await member(world, homes[0])).openid)
    ends = datetime(2026, 11, 14, 16, 0, tzinfo=UTC)  # 11-15 00:00 in Beijing
    frozen.clock = lambda: ends - timedelta(minutes=2)
    await chat.say("点菜")
    assert "已选 1 项：1" in await chat.say("1")
    # The deadline passes while the household is choosing: 确认 is refused, the flow ends.
    frozen.clock = lambda: ends
    assert "现在不在群众点菜期间" in await chat.say("确认")
    assert "没有看懂" in await chat.say("确认")  # no flow any more: not a word it knows
    assert await orders(round_id) == []
    frozen.clock = lambda: AFTER
    assert "现在不在群众点菜期间" in await chat.say("点菜")
    # Once counted, the round says it is over and where to look.
    chief = await world.worker(Role.ADMIN)
    await rounds.advance(await world.who(chief), round_id, AFTER, lock_of(world), override="测试")
    over = await chat.say("点菜")
    assert "点菜已经结束" in over and "资金" in over
    assert await orders(round_id) == []


async def test_the_money_in_the_open_matches_the_finances(world: World, frozen, make_resident):
    homes = await world.add_households(world.buildings[0], 3)
    boss = await world.worker()
    lock = lock_of(world)
    round_id = await factories.ordering_round(
        world, boss, ["40000", "30000", "50000"], lock, fund="100000"
    )
    people = [await member(world, h) for h in homes]
    await factories.order(world, people[0], round_id, [1, 3])
    await factories.order(world, people[1], round_id, [3])
    await factories.order(world, people[2], round_id, [1, 2])
    resident_chat = make_resident(people[0].openid)
    before = await resident_chat.say("资金")
    assert "当前阶段：群众点菜" in before and "资金总额 100,000.00 元" in before
    assert "· 区级民生微实事资金：100,000.00 元" in before
    assert "点菜结果公布后" in before
    await factories.close(world, boss, round_id, lock)
    await money.record_spending(
        await world.who(boss),
        round_id,
        3,
        amount="12345.60",
        spent_on=date(2026, 11, 15),
        purpose="材料费",
        now=AFTER,
    )
    frozen.clock = lambda: AFTER
    seen = await money.finances(await world.who(people[0]), round_id)
    assert [p["number"] for p in seen["projects"]] == [1, 3]  # 1: 2 households, 3: 2
    # Any resident of the community, bound or not, in English, by year.
    stranger = await world.resident()
    stranger.language = "en"
    await stranger.save(update_fields=["language"])
    for chat, text in (
        (resident_chat, "资金"),
        (make_resident(stranger.openid), "funds 2026"),
    ):
        shown = await chat.say(text)
        assert yuan(seen["fund"]) == "100,000.00" and yuan(seen["fund"]) in shown
        for key in ("budgeted", "spent", "balance"):
            assert yuan(seen[key]) in shown, key
        for project in seen["projects"]:
            assert f"{project['number']}. {project['title']}" in shown
            assert yuan(project["budget"]) in shown and yuan(project["spent"]) in shown
            assert yuan(project["left"]) in shown
    zh = await resident_chat.say("资金")
    assert "当前阶段：结果公布" in zh
    assert "立项 2 个，预算合计 90,000.00 元，已支出 12,345.60 元，资金结余 87,654.40 元" in zh
    assert "3. 项目3（已立项）：预算 50,000.00 元，已支出 12,345.60 元，剩余 37,654.40 元" in zh
    en = await make_resident(stranger.openid).say("funds")
    assert "Phase: result" in en and "· 区级民生微实事资金: ¥100,000.00" in en
    assert "There is no 2020 round. Years you can see: 2026." in await make_resident(
        stranger.openid
    ).say("funds 2020")
    # Residents' personal data never shows: no openid, no household of anyone.
    assert all(p.openid not in zh and p.openid not in en for p in people)
    assert Decimal(seen["balance"]) == Decimal("100000") - Decimal("12345.60")


async def test_a_long_menu_comes_ten_at_a_time_within_a_wechat_reply(
    world: World, frozen, make_resident
):
    (home,) = await world.add_households(world.buildings[0], 1)
    boss = await world.worker()
    costs = [str(1000 + n) for n in range(23)]
    round_id = await factories.ordering_round(world, boss, costs, lock_of(world), fund="100000")
    chat = make_resident((await member(world, home)).openid)
    first = await chat.say("点菜")
    assert "10. 项目10" in first and "11. 项目11" not in first
    assert "第 1/3 页" in first
    assert len(first.encode()) < 2048
    second = await chat.say("更多")
    assert "11. 项目11" in second and "20. 项目20" in second and "10. 项目10" not in second
    third = await chat.say("更多")
    assert "23. 项目23" in third and "第 3/3 页" in third
    assert "1. 项目1　" in await chat.say("更多")  # after the last page, the first again
    # Any number may be toggled whatever page is shown.
    await chat.say("23")
    await chat.say("确认")
    assert [o.items for o in await orders(round_id)] == [[23]]
