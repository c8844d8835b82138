"""The official-account callback: ``GET``/``POST /wechat[/{account}]``.

Plaintext, compatible and safe (AES) modes; forged, stale, oversized and
dangerous requests are refused before any handler runs; every genuine push gets
a valid answer inside WeChat's 5-second window.

WeChat's ``signature`` covers token, timestamp and nonce but not the body, so a
recent push's query string would sign any body. Hence: an account with an AES key
takes only encrypted pushes (``msg_signature`` covers the ciphertext) unless its
``allow_plaintext`` says otherwise, and each signed (timestamp, nonce) is
remembered in the shared store with its content's digest for the timestamp
window: the same content again is WeChat's retry, another content is refused.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.utils import check_signature

from bot.dispatcher import ResidentBusy
from bot.messages import BadPayload, check_xml, dedup_key, parse, to_event
from bot.once import BUSY, QUEUED, Outcome
from bot.replies import SUCCESS, render_text
from bot.store import StoreUnavailable
from config.settings import AccountSettings
from handlers.residents.rules import pseudonym
from handlers.types import Event, KeyValueStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    name: str
    settings: AccountSettings
    crypto: WeChatCrypto | None

    @classmethod
    def build(cls, name: str, settings: AccountSettings) -> Account:
        crypto = None
        if settings.aes_key:
            crypto = WeChatCrypto(settings.token, settings.aes_key, settings.appid)
        return cls(name, settings, crypto)

    @property
    def takes_plaintext(self) -> bool:
        """Unencrypted pushes (whose body no signature covers) are accepted."""
        return self.crypto is None or self.settings.allow_plaintext


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def claim_nonce(store: KeyValueStore, key: str, content: str, ttl: float) -> bool:
    """True the first time ``key`` (a signed timestamp and nonce) is seen, or again with the
    same ``content`` (a retry); False when it comes back with another content.

    Store failures propagate (``StoreUnavailable``)."""
    digest = hashlib.sha256(content.encode()).hexdigest()
    if await store.set_if_absent(key, digest, ttl=ttl):
        return True
    return await store.get(key) == digest


class Callback:
    """Binds the transport checks to the dispatcher; one instance per app."""

    def __init__(self, state: Any) -> None:
        self.state = state
        settings = state.settings
        self.accounts = {
            name: Account.build(name, acc) for name, acc in settings.all_accounts().items()
        }
        self.max_body = settings.max_body_bytes
        self.max_age = settings.timestamp_max_age_seconds
        self.max_skew = settings.timestamp_max_skew_seconds
        self.window = settings.reply_deadline_seconds
        # A (timestamp, nonce) is remembered as long as its timestamp is accepted.
        self.nonce_ttl = float(self.max_age + self.max_skew + 1)

    def _account(self, request: web.Request) -> Account:
        name = request.match_info.get("account", "default")
        account = self.accounts.get(name)
        if account is None:
            raise Refused(404, "unknown account")
        return account

    def _check_request(self, request: web.Request, account: Account) -> str:
        query = request.query
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            check_signature(account.settings.token, query.get("signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            raise Refused(403, "bad signature") from None
        try:
            age = time.time() - int(timestamp)
        except ValueError:
            raise Refused(403, "bad timestamp") from None
        if age > self.max_age or age < -self.max_skew:
            raise Refused(403, "stale timestamp")
        return timestamp

    async def _claim(
        self, account: Account, request: web.Request, content: str, signed: bool
    ) -> None:
        """Refuse a signed query string coming back with other content.

        ``signed``: the content is covered by a signature of its own (``msg_signature``);
        if the store is down such a request goes on, an unsigned one is refused (503,
        WeChat retries)."""
        query = request.query
        key = f"nonce:{account.name}:{query.get('timestamp', '')}:{query.get('nonce', '')}"
        try:
            fresh = await claim_nonce(self.state.store, key, content, self.nonce_ttl)
        except StoreUnavailable:
            if signed:
                return
            raise Refused(503, "store unavailable") from None
        if not fresh:
            raise Refused(403, "reused nonce")

    async def verify(self, request: web.Request) -> web.Response:
        """WeChat's URL check when the server address is saved in the console."""
        try:
            account = self._account(request)
            self._check_request(request, account)
            # A URL check's query signs a push just as well: it may not come back as one.
            echo = "GET " + request.query.get("echostr", "")
            await self._claim(account, request, echo, signed=not account.takes_plaintext)
        except Refused as refused:
            log.warning("callback check refused: %s", refused.reason)
            return web.Response(status=refused.status, text="")
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            account = self._account(request)
            timestamp = self._check_request(request, account)
            body = await self._read_body(request)
            encrypted = request.query.get("encrypt_type", "raw") == "aes"
            if not encrypted and not account.takes_plaintext:
                raise Refused(403, "not encrypted")
            xml = self._decrypt(account, request, body, timestamp) if encrypted else body
            # Encrypted: the plaintext, so a retry WeChat encrypts anew is still a retry.
            await self._claim(account, request, xml, signed=encrypted)
            message = parse(xml)
        except Refused as refused:
            log.warning("push refused: %s", refused.reason)
            return web.Response(status=refused.status, text=refused.reason)
        except BadPayload as bad:
            log.warning("push refused: malformed XML (%s)", bad)
            return web.Response(status=400, text="bad request")
        event = to_event(account.name, message)
        text = await self._answer(account, message, event, started)
        if text is None:
            return web.Response(status=503, text="busy")
        if not text:
            return web.Response(text=SUCCESS)
        reply = render_text(message, text)
        if encrypted and account.crypto is not None:
            reply = account.crypto.encrypt_message(reply, request.query.get("nonce", ""))
        return web.Response(text=reply, content_type="application/xml")

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

    def _decrypt(self, account: Account, request: web.Request, body: str, timestamp: str) -> str:
        if account.crypto is None:
            raise Refused(400, "encryption not configured")
        check_xml(body)
        try:
            return account.crypto.decrypt_message(
                body,
                request.query.get("msg_signature", ""),
                timestamp,
                request.query.get("nonce", ""),
            )
        except InvalidSignatureException:
            raise Refused(403, "bad msg_signature") from None
        except Exception as exc:  # bad base64, padding, app id: not a genuine push
            raise BadPayload(type(exc).__name__) from None

    async def _answer(
        self, account: Account, message: BaseMessage, event: Event, started: float
    ) -> str | None:
        """The reply text, once per message, within the window; ``""`` means ``success``.

        None: the message could not be handled now and could not be kept either; the
        caller answers 503 so that WeChat tries again.
        """
        state = self.state
        key = f"{account.name}:{dedup_key(message)}"
        spool = state.spool

        async def work() -> Outcome:
            if spool.holds(event.account, event.openid):
                # Earlier messages of theirs wait in the spool: this one goes behind them.
                return QUEUED
            try:
                return (await state.dispatcher.dispatch(event, key)).text
            except ResidentBusy:
                # Their previous message is still being handled: this one waits its turn.
                return QUEUED
            except Exception as exc:
                log.warning(
                    "handler failed for %s (%s)", pseudonym(event.openid), type(exc).__name__
                )
                return BUSY

        claimed = True
        try:
            outcome = await state.once.run(key, work, started + self.window)
        except StoreUnavailable:
            # No dedup without the store: keep it; the replay's ledger takes it once.
            claimed, outcome = False, BUSY
        if isinstance(outcome, str):
            return outcome
        try:
            await spool.append(key, event)
        except Exception as exc:
            log.critical(
                "ALERT: could not keep a message from %s in the spool (%s): answered 503 so "
                "WeChat retries; check the spool directory",
                pseudonym(event.openid),
                type(exc).__name__,
            )
            if claimed:
                await state.once.release(key)
            return None
        log.info("message from %s spooled (%s)", pseudonym(event.openid), outcome.msgid)
        text = state.translate("zh_Hans", outcome.msgid)
        if claimed:
            await state.once.settle(key, text)
        return text
