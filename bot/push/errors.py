"""What can go wrong when pushing, as three types the delivery pipeline can act on.

- ``TransientError``: try again later with backoff (timeouts, 5xx, ``45009`` quota,
  WeChat's ``-1`` system busy). ``ambiguous`` says the request may have reached
  WeChat, so the message may already be delivered.
- ``TokenError`` (a ``TransientError``): the access token was refused
  (``40001``/``42001``/``40014``); clients refresh it and retry once themselves.
- ``PermanentError``: never retry this message; ``reason`` says why
  (``unsubscribed`` for ``43004``, ``blocked``, ``bad_request``...).

This module is also the one place where an HTTP exchange becomes a typed error, so
that no exception carries a URL: WeChat's URLs hold the access token, the app
secret or a robot's webhook key.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

# Reasons of a PermanentError that concern one recipient only; the others mean
# the channel itself is misconfigured and every message on it will fail alike.
UNSUBSCRIBED = "unsubscribed"  # 43004: not (or no longer) following the account
BLOCKED = "blocked"  # 43019/43101: the resident blocked the account or refused messages
INVALID_RECIPIENT = "invalid_recipient"  # 40003: not an openid of this account
WINDOW_CLOSED = "window_closed"  # 45015/45047: outside the 48-hour customer-service window
RECIPIENT_REASONS = frozenset({UNSUBSCRIBED, BLOCKED, INVALID_RECIPIENT, WINDOW_CLOSED})

BAD_REQUEST = "bad_request"  # template id, payload, message type, content length
CREDENTIALS = "credentials"  # wrong appid/secret, or our IP is not on the allow list
FORBIDDEN = "forbidden"  # the account may not call this API
INVALID_KEY = "invalid_key"  # a WeCom robot webhook key that does not exist
REJECTED = "rejected"  # any other error code: do not retry blindly

TOKEN_CODES = frozenset({40001, 40014, 42001})
TRANSIENT_CODES = frozenset({-1, 45009, 45011})

WECHAT_PERMANENT = {
    43004: UNSUBSCRIBED,
    43019: BLOCKED,
    43101: BLOCKED,
    40003: INVALID_RECIPIENT,
    45015: WINDOW_CLOSED,
    45047: WINDOW_CLOSED,
    40002: BAD_REQUEST,
    40008: BAD_REQUEST,
    40037: BAD_REQUEST,
    41028: BAD_REQUEST,
    41030: BAD_REQUEST,
    44002: BAD_REQUEST,
    44003: BAD_REQUEST,
    45002: BAD_REQUEST,
    47001: BAD_REQUEST,
    47003: BAD_REQUEST,
    40013: CREDENTIALS,
    40125: CREDENTIALS,
    40164: CREDENTIALS,
    41002: CREDENTIALS,
    41004: CREDENTIALS,
    48001: FORBIDDEN,
    50001: FORBIDDEN,
}

WECOM_PERMANENT = {
    93000: INVALID_KEY,
    40008: BAD_REQUEST,
    40058: BAD_REQUEST,
    44004: BAD_REQUEST,
    45002: BAD_REQUEST,
    93017: FORBIDDEN,
}


class PushError(Exception):
    """A message did not go out. ``errcode``/``errmsg`` are WeChat's when it answered."""

    def __init__(self, message: str, *, errcode: int | None = None, errmsg: str = "") -> None:
        super().__init__(message)
        self.errcode = errcode
        self.errmsg = errmsg


class TransientError(PushError):
    """Retry later; ``retry_after`` (seconds) is a hint when the client knows better."""

    def __init__(
        self,
        message: str,
        *,
        errcode: int | None = None,
        errmsg: str = "",
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message, errcode=errcode, errmsg=errmsg)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class TokenError(TransientError):
    """WeChat refused the access token; it survived one refresh if a client raises it."""


class PermanentError(PushError):
    """This message will never go out; ``reason`` is one of the constants above."""

    def __init__(
        self, reason: str, message: str = "", *, errcode: int | None = None, errmsg: str = ""
    ) -> None:
        super().__init__(message or reason, errcode=errcode, errmsg=errmsg)
        self.reason = reason

    @property
    def recipient_only(self) -> bool:
        """True when only this recipient is concerned, not every message on the channel."""
        return self.reason in RECIPIENT_REASONS


def error_for(errcode: int, errmsg: str = "", *, api: str = "wechat") -> PushError:
    """The typed error for a non-zero ``errcode`` of WeChat (``api="wechat"``) or WeCom."""
    text = f"errcode {errcode}: {errmsg}".rstrip(": ")
    if errcode in TRANSIENT_CODES:
        return TransientError(text, errcode=errcode, errmsg=errmsg, ambiguous=errcode == -1)
    if api == "wecom":
        reason = WECOM_PERMANENT.get(errcode, REJECTED)
    elif errcode in TOKEN_CODES:
        return TokenError(text, errcode=errcode, errmsg=errmsg)
    else:
        reason = WECHAT_PERMANENT.get(errcode, REJECTED)
    return PermanentError(reason, text, errcode=errcode, errmsg=errmsg)


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    params: dict[str, str],
    payload: dict[str, Any] | None = None,
    timeout: float,
    api: str = "wechat",
) -> dict[str, Any]:
    """One call to WeChat or WeCom; its JSON answer when ``errcode`` is 0, else a typed error.

    The body is sent as UTF-8 JSON without ``\\u`` escapes (WeChat shows escapes
    literally in some messages). Exceptions are raised ``from None`` so that no
    aiohttp exception, whose text may hold the full URL, travels with them.
    """
    data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    headers = None if data is None else {"Content-Type": "application/json; charset=utf-8"}
    try:
        async with session.request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
            text = await resp.text(encoding="utf-8", errors="replace")
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        # Never connected (refused, DNS, connect timeout): nothing was sent.
        raise TransientError(f"cannot connect ({type(exc).__name__})") from None
    except TimeoutError:
        raise TransientError(f"no answer within {timeout:g} s", ambiguous=True) from None
    except aiohttp.ClientError as exc:
        raise TransientError(f"connection failed ({type(exc).__name__})", ambiguous=True) from None
    if status >= 500 or status == 429:
        raise TransientError(f"HTTP {status}", ambiguous=status != 429)
    if status >= 400:
        raise PermanentError(BAD_REQUEST, f"HTTP {status}")
    try:
        body = json.loads(text)
    except ValueError:
        raise TransientError(f"HTTP {status} without JSON", ambiguous=True) from None
    if not isinstance(body, dict):
        raise TransientError(f"HTTP {status} with unexpected JSON", ambiguous=True)
    errcode = int(body.get("errcode") or 0)
    if errcode:
        raise error_for(errcode, str(body.get("errmsg", "")), api=api)
    return body
