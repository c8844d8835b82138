"""The WeCom application callback: ``GET``/``POST /wecom/{corp}``.

Community workers write to the community's WeCom application ("通知 3号楼 ……");
WeCom pushes each message here encrypted (wechatpy's enterprise crypto). Forged,
stale, oversized and dangerous requests are refused like the official-account
callback's; a text message gets an encrypted passive text reply decided by
``handlers.notices.broadcast`` (or, for ``走访 N`` and its flow, by the chat router as
the linked resident), anything else ``success``. Unlike the official
account's, every push is encrypted and its ``msg_signature`` covers the ciphertext,
so a captured query string signs no other body; an exact replay is the same
message (``MsgId``) and gets the first answer.

A worker is the resident linked to their WeCom userid (``FromUserName``) by a
``models.notices.WeComUser`` row of this corp.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from wechatpy.enterprise import parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from bot.callback import Refused
from bot.dispatcher import ResidentBusy
from bot.messages import BadPayload, check_xml
from bot.once import BUSY, Deferred, Outcome
from bot.replies import SUCCESS, render_text
from handlers.canvass.chat import VISIT_WORDS
from handlers.notices import broadcast
from handlers.residents.rules import pseudonym
from handlers.types import Event
from models.notices import WeComUser
from models.residents import Resident

log = logging.getLogger(__name__)


class WeComCallback:
    """The WeCom application of one corp, bound to the broadcast flow."""

    def __init__(self, state: Any) -> None:
        self.state = state
        settings = state.settings
        self.corp_id = settings.wecom_corp_id
        self.community = settings.wecom_community
        self.crypto: WeChatCrypto | None = None
        if settings.wecom_corp_id and settings.wecom_token and settings.wecom_aes_key:
            self.crypto = WeChatCrypto(
                settings.wecom_token, settings.wecom_aes_key, settings.wecom_corp_id
            )
        # The official account of the corp's community, whose chat 走访 goes to.
        self.chat_account = next(
            (n for n, a in settings.all_accounts().items() if a.community == self.community), ""
        )
        self.max_body = settings.max_body_bytes
        self.max_age = settings.timestamp_max_age_seconds
        self.max_skew = settings.timestamp_max_skew_seconds

    def _check(self, request: web.Request) -> tuple[WeChatCrypto, str, str, str]:
        """The crypto, ``msg_signature``, timestamp and nonce of a request to a known corp."""
        if self.crypto is None or request.match_info.get("corp") != self.corp_id:
            raise Refused(404, "unknown corp")
        query = request.query
        timestamp = query.get("timestamp", "")
        try:
            age = time.time() - int(timestamp)
        except ValueError:
            raise Refused(403, "bad timestamp") from None
        if age > self.max_age or age < -self.max_skew:
            raise Refused(403, "stale timestamp")
        return self.crypto, query.get("msg_signature", ""), timestamp, query.get("nonce", "")

    async def verify(self, request: web.Request) -> web.Response:
        """WeCom's URL check: the decrypted ``echostr`` if the signature holds."""
        try:
            crypto, signature, timestamp, nonce = self._check(request)
            try:
                echo = crypto.check_signature(
                    signature, timestamp, nonce, request.query.get("echostr", "")
                )
            except InvalidSignatureException:
                raise Refused(403, "bad msg_signature") from None
            except Exception as exc:  # bad base64, padding, corp id
                raise Refused(400, type(exc).__name__) from None
        except Refused as refused:
            log.warning("wecom check refused: %s", refused.reason)
            return web.Response(status=refused.status, text="")
        if isinstance(echo, bytes):
            echo = echo.decode("utf-8")
        return web.Response(text=echo)

    async def receive(self, request: web.Request) -> web.Response:
        try:
            crypto, signature, timestamp, nonce = self._check(request)
            body = await self._read_body(request)
            check_xml(body)
            try:
                xml = crypto.decrypt_message(body, signature, timestamp, nonce)
            except InvalidSignatureException:
                raise Refused(403, "bad msg_signature") from None
            except Exception as exc:  # bad base64, padding, corp id: not a genuine push
                raise BadPayload(type(exc).__name__) from None
            check_xml(xml)
            try:
                message = parse_message(xml)
            except Exception as exc:  # wechatpy raises KeyError/ValueError on odd shapes
                raise BadPayload(type(exc).__name__) from None
        except Refused as refused:
            log.warning("wecom push refused: %s", refused.reason)
            return web.Response(status=refused.status, text=refused.reason)
        except BadPayload as bad:
            log.warning("wecom push refused: malformed (%s)", bad)
            return web.Response(status=400, text="bad request")
        if message.type != "text":
            return web.Response(text=SUCCESS)
        userid = str(message.source)
        key = f"wecom:{self.corp_id}:{message.id}"

        async def work() -> Outcome:
            worker = await self._worker(userid)
            account = await self._chat_account(worker, message.content or "")
            if account and worker is not None and worker.openid:
                # 走访 and its flow: the same chat router the official account reaches, as
                # the resident the WeCom userid is linked to.
                event = Event(
                    account=account,
                    openid=worker.openid,
                    kind="text",
                    created_at=datetime.now(UTC),
                    text=message.content or "",
                    msg_id=str(message.id),
                )
                try:
                    return (await self.state.dispatcher.dispatch(event, key)).text
                except ResidentBusy:
                    return BUSY
            return await broadcast.handle(
                self.state.store,
                self.state.translate,
                f"{self.corp_id}:{userid}",
                worker,
                message.content or "",
                datetime.now(UTC),
                needs_approval=self.state.settings.notices_need_approval,
            )

        # WeCom retries an unanswered push like WeChat does: a retried 确认 gets the first
        # answer, not "nothing pending".
        outcome = await self.state.once.run(
            key, work, time.monotonic() + self.state.settings.reply_deadline_seconds
        )
        if isinstance(outcome, Deferred):
            # Past the window the command was rolled back: the worker is asked to send it
            # again (WeCom has no late reply path), and the retry runs it.
            await self.state.once.release(key)
            outcome = self.state.translate("zh_Hans", outcome.msgid)
        text = outcome
        if not text:
            return web.Response(text=SUCCESS)
        log.info("wecom message from %s answered", pseudonym(userid))
        reply = render_text(message, text)
        reply = crypto.encrypt_message(reply, nonce, timestamp)
        return web.Response(text=reply, content_type="application/xml")

    async def _chat_account(self, worker: Resident | None, text: str) -> str:
        """The official account whose chat a worker's WeCom text goes to: the door-to-door
        survey's (``走访 N`` and the flow it starts); anything else stays with broadcasting."""
        if worker is None or not worker.openid:
            return ""
        account = self.chat_account
        if not account:
            return ""
        if text.strip().lower().startswith(VISIT_WORDS):
            return account
        state = await self.state.dispatcher.conversations.load(account, worker.openid)
        return account if state is not None and state.name.startswith("canvass.") else ""

    async def _worker(self, userid: str) -> Resident | None:
        link = await WeComUser.get_or_none(
            corp_id=self.corp_id,
            userid=userid,
            resident__community__slug=self.community,
            resident__active=True,
            resident__erased_at=None,
        ).prefetch_related("resident")
        return link.resident if link is not None else None

    async def _read_body(self, request: web.Request) -> str:
        if request.content_length is not None and request.content_length > self.max_body:
            raise Refused(413, "too large")
        body = await request.content.read(self.max_body + 1)
        if len(body) > self.max_body:
            raise Refused(413, "too large")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadPayload("encoding") from None


def add_routes(app: web.Application, state: Any) -> None:
    """``GET``/``POST /wecom/{corp}`` on ``app``."""
    callback = WeComCallback(state)
    app.router.add_get("/wecom/{corp}", callback.verify)
    app.router.add_post("/wecom/{corp}", callback.receive)
