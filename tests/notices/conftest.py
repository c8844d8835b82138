"""The app pointed at a fake WeChat/WeCom server, and a building full of residents."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from bot.app import notice_clients, robots_factory
from bot.deliver import deliver_notices
from models.db import using
from models.residents import Resident
from tests.conftest import APPID
from tests.fakes import FakeWeChat, start
from tests.world import World

SECRET = "notice-test-app-secret-0123456789"
ROBOT_KEYS = ("robot-key-building-1", "robot-key-building-2", "robot-key-all")


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={APPID: SECRET}, robot_keys=ROBOT_KEYS)
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "wechat_appsecret": SECRET,
            "wechat_api_base": fake.base_url,
            "wecom_api_base": fake.base_url,
            "notice_templates": {"water": "TPL_WATER_0001"},
        }
    )


async def deliver(app_state, now: datetime, rate: float = 2000.0, **kw) -> Counter[str]:  # type: ignore[no-untyped-def]
    """One run of the sender, as the periodic job does it but faster."""
    with using(app_state.db):
        return await deliver_notices(
            await notice_clients(app_state),
            robots_factory(app_state),
            now,
            rate_per_second=rate,
            templates=app_state.settings.notice_templates,
            **kw,
        )


async def residents_of(world: World, building_index: int, count: int) -> list[Resident]:
    """``count`` residents, one per new household of the building."""
    households = await world.add_households(world.buildings[building_index], count)
    return [await world.resident(h) for h in households]
