"""The mini-program's ``code2Session``: a ``wx.login`` code becomes an openid (and unionid).

The app secret travels in the query string, so, as everywhere in ``bot.push``, no
exception leaves here with the URL in it.
"""

from __future__ import annotations

import aiohttp

from bot.push.errors import PermanentError, TransientError, request_json
from bot.push.token import WECHAT_API_BASE
from handlers.residents.accounts import CodeRefused, WeChatIdentity

CODE2SESSION_PATH = "/sns/jscode2session"
# 40029 invalid code, 40163 code already used, 40226 a risky user WeChat blocks.
REASONS = {40029: "invalid", 40163: "used", 40226: "invalid"}


class MiniProgramClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        appid: str,
        secret: str,
        *,
        base_url: str = WECHAT_API_BASE,
        timeout: float = 3.0,
    ) -> None:
        self._session, self.appid, self._secret = session, appid, secret
        self._base, self._timeout = base_url.rstrip("/"), timeout

    async def code2session(self, code: str) -> WeChatIdentity:
        try:
            body = await request_json(
                self._session,
                "GET",
                self._base + CODE2SESSION_PATH,
                params={
                    "appid": self.appid,
                    "secret": self._secret,
                    "js_code": code,
                    "grant_type": "authorization_code",
                },
                timeout=self._timeout,
            )
        except TransientError:
            raise CodeRefused("busy") from None
        except PermanentError as exc:
            raise CodeRefused(REASONS.get(exc.errcode or 0, "invalid")) from None
        openid = body.get("openid")
        if not isinstance(openid, str) or not openid:
            raise CodeRefused("invalid")
        unionid = body.get("unionid")
        # session_key stays here: nothing we do needs to decrypt the mini-program's data.
        return WeChatIdentity(openid, unionid if isinstance(unionid, str) and unionid else None)
