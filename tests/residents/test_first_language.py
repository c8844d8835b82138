"""A resident's first message creates them in the community's language, not always zh_Hans."""

from __future__ import annotations

import pytest

from models.db import using
from models.residents import Resident


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"default_language": "zh_Hant"})


async def test_a_first_message_in_a_zh_hant_community_is_answered_in_zh_hant(app_state, resident):
    reply = await resident.say("语言")
    assert reply == app_state.translate("zh_Hant", "language.prompt")
    assert reply != app_state.translate("zh_Hans", "language.prompt")
    with using(app_state.db):
        row = await Resident.get(openid=resident.openid)
    assert row.language == "zh_Hant"


async def test_a_resident_who_chooses_simplified_keeps_it(app_state, resident):
    await resident.say("语言")
    assert await resident.say("简体") == app_state.translate("zh_Hans", "language.ok")
    with using(app_state.db):
        row = await Resident.get(openid=resident.openid)
    assert row.language == "zh_Hans"
