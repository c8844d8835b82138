"""What the dispatcher does with a handler's answer: ``Skip`` passes the message on to the
next route; a ``Refused`` is answered in the resident's language and leaves the flow where
it was, unless the handler said ``ctx.leave()`` first."""

from __future__ import annotations

import pytest

from handlers.refusal import Refused
from handlers.router import Router, Skip
from handlers.types import Context, Event, Reply

FLOW = "test.flow"


@pytest.fixture
def extra_router() -> Router:
    router = Router(name="test-flow")

    @router.text("试试")
    async def first(event: Event, ctx: Context) -> Reply:
        if ctx.args != "第一个":
            raise Skip
        return Reply("第一个")

    @router.text("试试")
    async def second(event: Event, ctx: Context) -> Reply:
        return Reply("第二个")

    @router.text("进入")
    async def enter(event: Event, ctx: Context) -> Reply:
        ctx.enter(FLOW, step=1)
        return Reply("已进入")

    @router.state(FLOW)
    async def in_flow(event: Event, ctx: Context) -> Reply:
        if event.text == "留下":
            raise Refused("help.empty")
        if event.text == "离开":
            ctx.leave()
            raise Refused("help.empty")
        ctx.enter(FLOW, step=2)
        return Reply("仍在流程")

    return router


async def test_a_skipping_handler_passes_the_message_to_the_next_route(resident):
    assert await resident.say("试试 第一个") == "第一个"
    assert await resident.say("试试 别的") == "第二个"


async def test_complaints_fallback_passes_what_is_no_complaint_on_to_help(resident, app_state):
    reply = await resident.say("嗯嗯")
    assert app_state.translate("zh_Hans", "help.not_understood") in reply


async def test_a_refusal_is_translated_and_keeps_the_flow(resident, app_state):
    await resident.say("进入")
    assert await resident.say("留下") == app_state.translate("zh_Hans", "help.empty")
    assert await resident.say("还在吗") == "仍在流程"


async def test_leave_before_a_refusal_ends_the_flow(resident, app_state):
    await resident.say("进入")
    assert await resident.say("离开") == app_state.translate("zh_Hans", "help.empty")
    assert await resident.say("还在吗") != "仍在流程"
