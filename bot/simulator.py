"""Talk to a running service exactly as WeChat's servers do: signed, and encrypted when an
AES key is set. Used by ``linli chat``, the tests and the benchmark."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from itertools import count
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.replies import cdata_safe

_ids = count(int(time.time() * 1000) % 10**9 * 1000)


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def message_xml(
    openid: str,
    account_id: str,
    msg_type: str,
    fields: dict[str, str],
    created: int | None = None,
    msg_id: int | None = None,
) -> str:
    created = int(time.time()) if created is None else created
    body = "".join(f"<{k}><![CDATA[{cdata_safe(v)}]]></{k}>" for k, v in fields.items())
    ident = (
        "" if msg_type == "event" else f"<MsgId>{next(_ids) if msg_id is None else msg_id}</MsgId>"
    )
    return (
        f"<xml><ToUserName><![CDATA[{escape(account_id)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{escape(openid)}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{body}{ident}</xml>"
    )


@dataclass
class WeChatServer:
    """Signs (and encrypts) pushes for one official account."""

    token: str
    appid: str = "wxlinlidemo000000"
    aes_key: str = ""
    mode: str = "auto"  # "plain", "compat", "safe"; auto = safe when an AES key is set
    crypto: WeChatCrypto | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.aes_key:
            self.crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
        if self.mode == "auto":
            self.mode = "safe" if self.aes_key else "plain"

    def request(self, xml: str, timestamp: int | None = None) -> tuple[dict[str, str], str]:
        """Query parameters and body of the POST WeChat would make (openid in the URL too)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(5)
        try:
            openid = xmltodict.parse(xml)["xml"].get("FromUserName") or ""
        except (ValueError, KeyError, TypeError, ExpatError):  # tests push hostile XML too
            openid = ""
        params = {
            "signature": sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": openid,
        }
        if self.mode == "plain":
            return params, xml
        assert self.crypto is not None, "compat and safe modes need an AES key"
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        encrypt = envelope["Encrypt"]
        params.update(encrypt_type="aes", msg_signature=sign(self.token, ts, nonce, encrypt))
        if self.mode == "safe":
            inner = f"<ToUserName><![CDATA[{self.appid}]]></ToUserName>"
        else:
            inner = xml[len("<xml>") : -len("</xml>")]
        return params, f"<xml>{inner}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"

    def read_reply(self, params: dict[str, str], body: str) -> str:
        """The plaintext XML of a reply ("success" and empty bodies are returned as they are)."""
        if body in ("", "success") or "<Encrypt>" not in body:
            return body
        assert self.crypto is not None
        envelope = xmltodict.parse(body)["xml"]
        return self.crypto.decrypt_message(
            body, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
        )


def reply_text(xml: str) -> str:
    if not xml or xml == "success":
        return ""
    return xmltodict.parse(xml)["xml"].get("Content") or ""


async def push(
    session: aiohttp.ClientSession, url: str, server: WeChatServer, xml: str
) -> tuple[int, str]:
    params, body = server.request(xml)
    async with session.post(url, params=params, data=body.encode()) as resp:
        raw = await resp.text()
        return resp.status, server.read_reply(params, raw) if resp.status == 200 else raw
