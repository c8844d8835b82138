"""The mini-program's server APIs: ``code2Session`` (a ``wx.login`` code becomes an openid
and unionid) and ``getuserphonenumber`` (a ``getPhoneNumber`` button's code becomes the
resident's phone number).

The app secret and the access token travel in the query string, so, as everywhere in
``bot.push``, no exception leaves here with the URL in it. Neither the session key nor a
phone number is ever logged.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot.push.errors import PermanentError, TokenError, TransientError, request_json
from bot.push.token import WECHAT_API_BASE, AccessTokens
from handlers.residents.accounts import CodeRefused, PhoneRefused, WeChatIdentity
from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

CODE2SESSION_PATH = "/sns/jscode2session"
PHONE_PATH = "/wxa/business/getuserphonenumber"
# 40029 invalid code, 40163 code already used, 40226 a risky user WeChat blocks.
REASONS = {40029: "invalid", 40163: "used", 40226: "invalid"}
# A phone code is the resident's to retry with a new tap: 40029 bad, expired (5 min) or
# spent. 1400001 is the mini-program's quota of the (paid) phone API: ours, not theirs.
PHONE_REASONS = {40029: "invalid", 40163: "invalid", 1400001: "unavailable"}


class MiniProgramClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        appid: str,
        secret: str,
        *,
        base_url: str = WECHAT_API_BASE,
        timeout: float = 3.0,
        store: KeyValueStore | None = None,
    ) -> None:
        self._session, self.appid, self._secret = session, appid, secret
        self._base, self._timeout = base_url.rstrip("/"), timeout
        # The mini-program's own access token (its appid and secret), cached in the shared
        # store like the official accounts' and refreshed once across processes.
        self.tokens = (
            None
            if store is None
            else AccessTokens(session, store, appid, secret, base_url=base_url, timeout=timeout)
        )

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

    async def phone_number(self, code: str) -> str:
        """The phone number behind a ``getPhoneNumber`` code (``phoneNumber``: the number,
        with its country code when it is not a mainland one), or ``PhoneRefused``."""
        if self.tokens is None:
            raise PhoneRefused("unavailable")
        try:
            token = await self.tokens.get()
            try:
                body = await self._phone(token, code)
            except TokenError:
                await self.tokens.invalidate(token)
                body = await self._phone(await self.tokens.get(), code)
        except TransientError:
            raise PhoneRefused("busy") from None
        except PermanentError as exc:
            reason = PHONE_REASONS.get(exc.errcode or 0, "unavailable")
            if reason == "unavailable":
                log.warning("phone number API refused: %s", exc.reason)
            raise PhoneRefused(reason) from None
        info = body.get("phone_info")
        phone = info.get("phoneNumber") if isinstance(info, dict) else None
        if not isinstance(phone, str) or not phone.strip():
            raise PhoneRefused("invalid")
        return phone.strip()

    async def _phone(self, token: str, code: str) -> dict[str, Any]:
        return await request_json(
            self._session,
            "POST",
            self._base + PHONE_PATH,
            params={"access_token": token},
            payload={"code": code},
            timeout=self._timeout,
        )
