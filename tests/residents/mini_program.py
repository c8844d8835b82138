"""One mini-program and one official account on the fake WeChat, for the identity tests."""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from tests.conftest import APPID
from tests.fakes import FakeWeChat, start

MP_APPID = "wxminiprogram00001"
MP_SECRET = "miniprogram-secret-0123456789abcd"
OA_SECRET = "official-account-secret-01234567"


async def fake_wechat(aiohttp_server: Any) -> FakeWeChat:
    made = FakeWeChat(apps={MP_APPID: MP_SECRET, APPID: OA_SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


def wired(settings: Settings, fake: FakeWeChat, **extra: Any) -> Settings:
    """The test settings pointed at the fake, with both apps' secrets."""
    return settings.model_copy(
        update={
            "api_sign_in_rate_per_address": 1000,
            "miniprogram_appid": MP_APPID,
            "miniprogram_secret": MP_SECRET,
            "miniprogram_community": "test",
            "wechat_appsecret": OA_SECRET,
            "wechat_api_base": fake.base_url,  # type: ignore[attr-defined]
            **extra,
        }
    )
