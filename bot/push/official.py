"""Messages from an official account (公众号) to one follower.

- template messages (模板消息), the notices of the account's industry templates;
- subscribe notices (订阅通知, ``bizsend``), for templates a follower subscribed to;
- customer-service messages (客服消息), free text but only within 48 hours of the
  follower's last message: the fallback of replies that missed the 5-second window.

Each call gets the shared access token; when WeChat refuses it, the client drops
it, gets a fresh one and retries once. Openids are logged only as pseudonyms.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
import yarl

from bot.push.errors import TokenError, request_json
from bot.push.token import WECHAT_API_BASE, AccessTokens
from config.settings import AccountSettings
from handlers.residents.rules import pseudonym
from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

TEMPLATE_PATH = "/cgi-bin/message/template/send"
SUBSCRIBE_PATH = "/cgi-bin/message/subscribe/bizsend"
CUSTOM_PATH = "/cgi-bin/message/custom/send"
QRCODE_PATH = "/cgi-bin/qrcode/create"
USER_INFO_PATH = "/cgi-bin/user/info"
SHOW_QRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"


def template_data(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"thing1": "停水"}`` or ``{"thing1": {"value": "停水"}}`` → WeChat's shape."""
    return {
        name: dict(value) if isinstance(value, Mapping) else {"value": str(value)}
        for name, value in data.items()
    }


class OfficialAccountClient:
    """Sends as one official account over a shared ``aiohttp.ClientSession``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: AccessTokens,
        *,
        base_url: str = WECHAT_API_BASE,
        timeout: float = 5.0,
    ) -> None:
        self._session = session
        self.tokens = tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    @classmethod
    def for_account(
        cls,
        session: aiohttp.ClientSession,
        store: KeyValueStore,
        account: AccountSettings,
        *,
        base_url: str = WECHAT_API_BASE,
        timeout: float = 5.0,
    ) -> OfficialAccountClient:
        """The client of a configured account (``Settings.all_accounts()``)."""
        tokens = AccessTokens(
            session, store, account.appid, account.appsecret, base_url=base_url, timeout=timeout
        )
        return cls(session, tokens, base_url=base_url, timeout=timeout)

    async def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Any],
        url: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
        *,
        client_msg_id: str | None = None,
    ) -> int | None:
        """A template message; returns WeChat's ``msgid``.

        ``miniprogram`` is ``{"appid": ..., "pagepath": ...}``. ``client_msg_id``
        (防重入 id) makes WeChat drop a repeat for the same follower for 10 minutes:
        the delivery pipeline passes its delivery id.
        """
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": template_data(data),
        }
        if url:
            payload["url"] = url
        if miniprogram:
            payload["miniprogram"] = dict(miniprogram)
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id
        body = await self._send(TEMPLATE_PATH, payload, openid, "template message")
        msgid = body.get("msgid")
        return int(msgid) if msgid is not None else None

    async def send_subscribe(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, Any],
        page: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
    ) -> None:
        """A subscribe notice (``bizsend``); ``page`` is the web page it opens."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": template_data(data),
        }
        if page:
            payload["page"] = page
        if miniprogram:
            payload["miniprogram"] = dict(miniprogram)
        await self._send(SUBSCRIBE_PATH, payload, openid, "subscribe notice")

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (48-hour window, else ``window_closed``)."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        await self._send(CUSTOM_PATH, payload, openid, "customer-service message")

    async def create_qr(self, scene: str, expire_seconds: int) -> tuple[str, int]:
        """A temporary parametric QR code (``QR_STR_SCENE``): its image URL and lifetime."""
        payload = {
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        body = await self._send(QRCODE_PATH, payload, "-", "QR code")
        ticket = str(body.get("ticket") or "")
        url = str(yarl.URL(SHOW_QRCODE_URL).with_query(ticket=ticket))
        return url, int(body.get("expire_seconds") or expire_seconds)

    async def unionid_of(self, openid: str, timeout: float | None = None) -> str | None:
        """A follower's unionid from the user-info API (用户基本信息, UnionID机制): given only
        when the account is bound to an open platform, else ``None``. ``timeout`` bounds
        each call (callers that must not wait long pass a tight one)."""
        params = {"openid": openid, "lang": "zh_CN"}
        token = await self.tokens.get()
        try:
            body = await self._get(USER_INFO_PATH, token, params, timeout)
        except TokenError as exc:
            log.info("user info of %s: token refused (%s); refreshing once", pseudonym(openid), exc)
            await self.tokens.invalidate(token)
            body = await self._get(USER_INFO_PATH, await self.tokens.get(), params, timeout)
        unionid = body.get("unionid")
        return unionid if isinstance(unionid, str) and unionid else None

    async def _get(
        self, path: str, token: str, params: dict[str, str], timeout: float | None
    ) -> dict[str, Any]:
        return await request_json(
            self._session,
            "GET",
            self._base + path,
            params={"access_token": token, **params},
            timeout=self._timeout if timeout is None else timeout,
        )

    async def _send(
        self, path: str, payload: dict[str, Any], openid: str, what: str
    ) -> dict[str, Any]:
        token = await self.tokens.get()
        try:
            body = await self._post(path, token, payload)
        except TokenError as exc:
            log.info("%s to %s: token refused (%s); refreshing once", what, pseudonym(openid), exc)
            await self.tokens.invalidate(token)
            token = await self.tokens.get()
            body = await self._post(path, token, payload)
        log.debug("%s sent to %s", what, pseudonym(openid))
        return body

    async def _post(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await request_json(
            self._session,
            "POST",
            self._base + path,
            params={"access_token": token},
            payload=payload,
            timeout=self._timeout,
        )
