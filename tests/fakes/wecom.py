"""A local fake of WeCom's customer-contact API: customer groups and mass-sending tasks.

What ``bot.push.wecom_customer`` must cope with: tokens that expire (``42001``) or are
invalid (``40014``), a task that waits for its owner to confirm it in their WeCom client,
chats the owner is no longer in (status 2) or that already had their mass messages
(status 3), pages (``next_cursor``), and injected faults for the next N calls of an API,
among them an answer lost after the task was created (``deliver=True`` with a delay).
Tests drive it: ``confirm(msgid, owner)`` is the owner pressing send.

    fake = FakeWeCom({"wwcorp": "secret"}, chats={"wrOgQh": "owner.zhang"})
    async with serve(fake) as base_url:
        ...  # CustomerGroupClient.for_corp(..., base_url=base_url)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.wechat import Fault

APIS = ("gettoken", "add_msg_template", "get_groupmsg_task", "get_groupmsg_send_result", "list")
ERRMSG = {
    0: "ok",
    -1: "system busy",
    40001: "invalid secret",
    40003: "invalid userid",
    40013: "invalid corpid",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    44004: "empty content",
    47001: "data format error",
    41063: "msgid not found",
}


@dataclass
class Task:
    """One mass-sending task: its owner's part and each chat's fate."""

    msgid: str
    sender: str
    content: str
    created: int
    chats: list[str]
    confirmed: int | None = None  # the owner's send time
    results: dict[str, int] = field(default_factory=dict)


@dataclass
class FakeWeCom:
    """``corps`` maps corp ids to the customer-contact secret; ``chats`` maps each customer
    group's chat id to its owner's userid. ``page`` is the fake's page size."""

    corps: Mapping[str, str] = field(default_factory=dict)
    chats: Mapping[str, str] = field(default_factory=dict)
    expires_in: int = 7200
    page: int = 1000
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.corps = dict(self.corps)
        self.chats = dict(self.chats)
        self.tokens: dict[str, float] = {}
        self.token_fetches = 0
        self.tasks: dict[str, Task] = {}
        self.left: set[str] = set()  # chats the owner is no longer in (status 2)
        self.full: set[str] = set()  # chats that had their mass messages (status 3)
        self.requests: Counter[str] = Counter()
        self.errors: Counter[int] = Counter()
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._ids = count(1)
        self._closing = asyncio.Event()

    # --- what tests drive and look at ------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        api: str,
        errcode: int | None = None,
        status: int | None = None,
        delay: float = 0.0,
        deliver: bool = False,
    ) -> None:
        """The next ``n`` calls of ``api`` (one of ``APIS``) fail as described; with
        ``deliver`` a task is still created first (its answer is what is lost)."""
        if api not in APIS:
            raise ValueError(f"unknown api {api}")
        for _ in range(n):
            self._faults[api].append(Fault(errcode, status, delay, deliver))

    def expire_tokens(self) -> None:
        """Every token issued so far now gets ``42001``."""
        for token in self.tokens:
            self.tokens[token] = 0.0

    def confirm(self, msgid: str, owner: str | None = None) -> Task:
        """The owner sends the task from their WeCom client: each chat gets its result."""
        task = self.tasks[msgid]
        if owner is not None and owner != task.sender:
            raise ValueError("not this task's owner")
        task.confirmed = int(self.clock())
        for chat in task.chats:
            task.results[chat] = 2 if chat in self.left else 3 if chat in self.full else 1
        return task

    def tasks_of(self, owner: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.sender == owner]

    def app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        base = "/cgi-bin/externalcontact/"
        app.router.add_post(base + "add_msg_template", self._add)
        app.router.add_post(base + "get_groupmsg_task", self._task)
        app.router.add_post(base + "get_groupmsg_send_result", self._result)
        app.router.add_post(base + "get_groupmsg_list_v2", self._list)
        app.on_shutdown.append(self._shutdown)
        return app

    # --- the APIs -----------------------------------------------------------------------------

    async def _shutdown(self, app: web.Application) -> None:
        self._closing.set()

    def _answer(self, errcode: int, **extra: Any) -> web.Response:
        if errcode:
            self.errors[errcode] += 1
        return web.json_response(
            {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"), **extra}
        )

    async def _faulty(self, fault: Fault) -> web.StreamResponse:
        if fault.delay:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        if fault.status is not None:
            return web.Response(status=fault.status, text="fake upstream failure")
        return self._answer(fault.errcode or 0)

    def _fault(self, api: str) -> Fault | None:
        return self._faults[api].popleft() if self._faults[api] else None

    async def _gettoken(self, request: web.Request) -> web.StreamResponse:
        self.requests["gettoken"] += 1
        fault = self._fault("gettoken")
        if fault is not None:
            return await self._faulty(fault)
        corp = request.query.get("corpid", "")
        if corp not in self.corps:
            return self._answer(40013)
        if request.query.get("corpsecret") != self.corps[corp]:
            return self._answer(40001)
        token = "WWTOKEN_" + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.expires_in
        self.token_fetches += 1
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.expires_in}
        )

    async def _authorised(
        self, request: web.Request, api: str
    ) -> tuple[dict[str, Any] | None, web.StreamResponse | None, Fault | None]:
        """The JSON body, or the answer to give instead (a fault, a token error)."""
        self.requests[api] += 1
        fault = self._fault(api)
        if fault is not None and not fault.deliver:
            return None, await self._faulty(fault), None
        token = request.query.get("access_token", "")
        if not token:
            return None, self._answer(41001), None
        expires = self.tokens.get(token)
        if expires is None:
            return None, self._answer(40014), None
        if expires <= self.clock():
            return None, self._answer(42001), None
        try:
            body = json.loads((await request.read()).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, self._answer(47001), None
        if not isinstance(body, dict):
            return None, self._answer(47001), None
        return body, None, fault

    def _paged(self, rows: list[dict[str, Any]], body: dict[str, Any], key: str) -> web.Response:
        start = int(body.get("cursor") or 0)
        limit = min(int(body.get("limit") or self.page), self.page)
        end = start + limit
        cursor = str(end) if end < len(rows) else ""
        return self._answer(0, **{key: rows[start:end], "next_cursor": cursor})

    async def _add(self, request: web.Request) -> web.StreamResponse:
        body, refusal, fault = await self._authorised(request, "add_msg_template")
        if refusal is not None or body is None:
            return refusal or self._answer(47001)
        sender = body.get("sender")
        content = (body.get("text") or {}).get("content")
        if body.get("chat_type") != "group" or not isinstance(sender, str):
            return self._answer(47001)
        if sender not in set(self.chats.values()):
            return self._answer(40003)
        if not content:
            return self._answer(44004)
        asked = body.get("chat_id_list") or [c for c, o in self.chats.items() if o == sender]
        mine = [c for c in asked if self.chats.get(c) == sender]
        msgid = f"msgGROUP{next(self._ids):04d}{secrets.token_hex(4)}"
        self.tasks[msgid] = Task(msgid, sender, str(content), int(self.clock()), mine)
        if fault is not None:  # created, but the answer is lost
            return await self._faulty(fault)
        return self._answer(0, msgid=msgid, fail_list=[c for c in asked if c not in mine])

    async def _task(self, request: web.Request) -> web.StreamResponse:
        body, refusal, _ = await self._authorised(request, "get_groupmsg_task")
        if refusal is not None or body is None:
            return refusal or self._answer(47001)
        task = self.tasks.get(str(body.get("msgid")))
        if task is None:
            return self._answer(41063)
        row: dict[str, Any] = {"userid": task.sender, "status": 1 if task.confirmed else 0}
        if task.confirmed:
            row["send_time"] = task.confirmed
        return self._paged([row], body, "task_list")

    async def _result(self, request: web.Request) -> web.StreamResponse:
        body, refusal, _ = await self._authorised(request, "get_groupmsg_send_result")
        if refusal is not None or body is None:
            return refusal or self._answer(47001)
        task = self.tasks.get(str(body.get("msgid")))
        if task is None:
            return self._answer(41063)
        if body.get("userid") != task.sender:
            return self._paged([], body, "send_list")
        rows = []
        for chat in task.chats:
            status = task.results.get(chat, 0)
            row: dict[str, Any] = {"chat_id": chat, "userid": task.sender, "status": status}
            if status == 1:
                row["send_time"] = task.confirmed
            rows.append(row)
        return self._paged(rows, body, "send_list")

    async def _list(self, request: web.Request) -> web.StreamResponse:
        body, refusal, _ = await self._authorised(request, "list")
        if refusal is not None or body is None:
            return refusal or self._answer(47001)
        start, end = int(body.get("start_time") or 0), int(body.get("end_time") or 0)
        rows = [
            {
                "msgid": t.msgid,
                "create_type": 0,
                "create_time": str(t.created),
                "text": {"content": t.content},
            }
            for t in self.tasks.values()
            if start <= t.created <= end
        ]
        return self._paged(rows, body, "group_msg_list")


def _base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@asynccontextmanager
async def serve(fake: FakeWeCom, *, port: int | None = None) -> AsyncIterator[str]:
    """Run ``fake`` on a local port (no access log: its URLs hold tokens and secrets)."""
    server = TestServer(fake.app(), port=port)
    await server.start_server(access_log=None)
    try:
        yield _base_url(server)
    finally:
        await server.close()


async def start(fake: FakeWeCom, aiohttp_server: Any) -> str:
    """The same with pytest-aiohttp's ``aiohttp_server`` fixture, which stops it."""
    server = await aiohttp_server(fake.app(), access_log=None)
    return _base_url(server)
