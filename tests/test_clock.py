"""One clock for both doors: freezing the app's clock moves the chat's ``ctx.now``, the
API's ``now(request)`` and the job round together."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import job_context
from models.complaints import Ticket

FROZEN = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


async def test_a_frozen_clock_dates_chat_api_and_jobs_alike(client, resident, world, app_state):
    app_state.clock = lambda: FROZEN
    home = (await world.add_households(world.buildings[0], 1))[0]
    person = await world.resident(home)
    await resident.say("帮助")
    assert "回复 1 提交" in await resident.say("投诉 3栋电梯又坏了，困人了")
    await resident.say("1")
    api = await client.post(
        "/api/v1/complaints", json={"text": "楼道灯坏了很久了"}, headers=await world.headers(person)
    )
    assert api.status == 201
    dates = [t.created_at.astimezone(UTC) for t in await Ticket.all()]
    assert dates == [FROZEN, FROZEN]  # the chat's report and the API's
    assert job_context(app_state).now == FROZEN
