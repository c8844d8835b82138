"""WeCom customer-group mass sending (客户群群发), a client of WeCom's customer-contact API.

Residents' group chats are mostly external WeCom groups (客户群) of WeChat users, where
a group robot may not be allowed. There a message goes out as an enterprise mass-sending
task: ``add_msg_template`` (``chat_type="group"``, the owner as ``sender``, the chats in
``chat_id_list``) gives the group's owner (群主) a task, which they confirm in their WeCom
client; ``get_groupmsg_task`` then says whether each owner sent it (0 not yet, 1 sent) and
``get_groupmsg_send_result`` what became of each chat (0 unsent, 1 sent, 2 not a friend or
not in the group, 3 the chat already received its quota of mass messages).
``get_groupmsg_list_v2`` lists the tasks created in a time range, so that a task whose
``msgid`` was never recorded (the process died, or the answer was lost) is found again
rather than created twice.

The access token is the customer-contact application's (the corp id and that
application's secret), cached and refreshed like an official account's
(``bot.push.token``). WeCom refuses an expired or invalid token with ``42001``/``40014``:
the client drops it, fetches another and retries once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.push.errors import BAD_REQUEST, PermanentError, TokenError, TransientError, request_json
from bot.push.token import AccessTokens
from bot.push.wecom_robot import WECOM_API_BASE
from handlers.types import KeyValueStore

log = logging.getLogger(__name__)

GETTOKEN_PATH = "/cgi-bin/gettoken"
ADD_PATH = "/cgi-bin/externalcontact/add_msg_template"
TASK_PATH = "/cgi-bin/externalcontact/get_groupmsg_task"
RESULT_PATH = "/cgi-bin/externalcontact/get_groupmsg_send_result"
LIST_PATH = "/cgi-bin/externalcontact/get_groupmsg_list_v2"
# WeCom's codes for a token that is not (or no longer) valid; 41001: none was sent.
WECOM_TOKEN_CODES = frozenset({40014, 41001, 42001})
MAX_TEXT_BYTES = 4000
MAX_CHATS = 2000  # chat_id_list of one task
PAGE = 1000  # records per page of the result lists (WeCom's maximum)
LIST_PAGE = 100
MAX_PAGES = 50


@dataclass(frozen=True)
class Outcome:
    """What WeCom says of one owner (``get_groupmsg_task``) or one chat (``…send_result``)."""

    status: int
    send_time: int | None = None


class WeComTokens(AccessTokens):
    """The access token of one WeCom application: ``corpid`` and that application's secret.

    A corp has one secret per application, so the cache key names the secret by a hash.
    """

    api = "wecom"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        store: KeyValueStore,
        corpid: str,
        secret: str,
        *,
        base_url: str = WECOM_API_BASE,
        timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            session, store, corpid, secret, base_url=base_url, timeout=timeout, **kwargs
        )
        self._url = base_url.rstrip("/") + GETTOKEN_PATH
        self._key = f"wecom-token:{corpid}:{hashlib.sha256(secret.encode()).hexdigest()[:12]}"

    def __repr__(self) -> str:
        return f"WeComTokens(corpid={self.appid!r})"

    def _params(self) -> dict[str, str]:
        return {"corpid": self.appid, "corpsecret": self._secret}


class CustomerGroupClient:
    """Mass-sending tasks to customer groups, over a shared session and the token cache."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: WeComTokens,
        *,
        base_url: str = WECOM_API_BASE,
        timeout: float = 5.0,
    ) -> None:
        self._session = session
        self.tokens = tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    @classmethod
    def for_corp(
        cls,
        session: aiohttp.ClientSession,
        store: KeyValueStore,
        corpid: str,
        secret: str,
        *,
        base_url: str = WECOM_API_BASE,
        timeout: float = 5.0,
    ) -> CustomerGroupClient:
        tokens = WeComTokens(session, store, corpid, secret, base_url=base_url, timeout=timeout)
        return cls(session, tokens, base_url=base_url, timeout=timeout)

    async def add_msg_template(
        self, sender: str, chat_ids: Sequence[str], content: str
    ) -> tuple[str, list[str]]:
        """A task for ``sender`` (the owner) to send ``content`` to their ``chat_ids``:
        its ``msgid`` and the chats WeCom refused at once (``fail_list``)."""
        size = len(content.encode())
        if not content or size > MAX_TEXT_BYTES:
            raise PermanentError(BAD_REQUEST, f"text of {size} bytes (1..{MAX_TEXT_BYTES})")
        if not chat_ids or len(chat_ids) > MAX_CHATS:
            raise PermanentError(BAD_REQUEST, f"{len(chat_ids)} chats (1..{MAX_CHATS})")
        payload = {
            "chat_type": "group",
            "sender": sender,
            "chat_id_list": list(chat_ids),
            "allow_select": False,
            "text": {"content": content},
        }
        body = await self._call(ADD_PATH, payload)
        msgid = body.get("msgid")
        if not isinstance(msgid, str) or not msgid:
            raise TransientError("WeCom created a task without a msgid", ambiguous=True)
        failed = [str(c) for c in body.get("fail_list") or ()]
        log.info("mass-sending task for %d customer groups created", len(chat_ids))
        return msgid, failed

    async def task_status(self, msgid: str) -> dict[str, Outcome]:
        """Each sender of the task: 0 not yet sent (not confirmed), 1 sent."""
        found: dict[str, Outcome] = {}
        for row in await self._pages(TASK_PATH, {"msgid": msgid, "limit": PAGE}, "task_list"):
            found[str(row.get("userid", ""))] = Outcome(
                int(row.get("status") or 0), row.get("send_time")
            )
        return found

    async def send_results(self, msgid: str, userid: str) -> dict[str, Outcome]:
        """Each chat of ``userid``'s part of the task: 0 unsent, 1 sent, 2 not in the
        group (or not a friend), 3 it already received its mass messages."""
        payload = {"msgid": msgid, "userid": userid, "limit": PAGE}
        found: dict[str, Outcome] = {}
        for row in await self._pages(RESULT_PATH, payload, "send_list"):
            chat = row.get("chat_id")
            if chat:
                found[str(chat)] = Outcome(int(row.get("status") or 0), row.get("send_time"))
        return found

    async def find_tasks(self, content: str, start: int, end: int) -> list[str]:
        """The msgids of the enterprise's group tasks created from ``start`` to ``end``
        (Unix seconds) with exactly ``content``, oldest first."""
        payload = {
            "chat_type": "group",
            "start_time": start,
            "end_time": end,
            "filter_type": 0,  # 企业发表: the tasks of this API, not members' own
            "limit": LIST_PAGE,
        }
        rows = await self._pages(LIST_PATH, payload, "group_msg_list")
        matching = [
            r for r in rows if (r.get("text") or {}).get("content") == content and r.get("msgid")
        ]
        matching.sort(key=lambda r: int(r.get("create_time") or 0))
        return [str(r["msgid"]) for r in matching]

    async def _pages(self, path: str, payload: dict[str, Any], key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            body = await self._call(path, {**payload, **({"cursor": cursor} if cursor else {})})
            rows.extend(r for r in body.get(key) or () if isinstance(r, dict))
            cursor = str(body.get("next_cursor") or "")
            if not cursor:
                return rows
        raise TransientError(f"more than {MAX_PAGES} pages of {key}")

    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = await self.tokens.get()
        try:
            return await self._post(path, token, payload)
        except TokenError as exc:
            log.info("%s: token refused (%s); refreshing once", path, exc)
            await self.tokens.invalidate(token)
            return await self._post(path, await self.tokens.get(), payload)

    async def _post(self, path: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return await request_json(
                self._session,
                "POST",
                self._base + path,
                params={"access_token": token},
                payload=payload,
                timeout=self._timeout,
                api="wecom",
            )
        except PermanentError as exc:
            if exc.errcode in WECOM_TOKEN_CODES:
                raise TokenError(str(exc), errcode=exc.errcode, errmsg=exc.errmsg) from None
            raise
