"""A local fake of WeChat's and WeCom's HTTP APIs, speaking their JSON.

WeChat's servers are not reachable from tests or the benchmark, so the push
clients are pointed at this one by their base URL. It does what the clients must
cope with: tokens that expire or are revoked (``40001``), followers who left
(``43004``) or blocked the account (``43101``), the 48-hour window (``45015``), a
per-second rate limit and the robots' 20 messages a minute (``45009``), and
injected faults (an errcode, a 5xx, or an answer slower than the client's timeout)
for the next N calls. It records every accepted message, and counts repeats of a
``client_msg_id`` as duplicates.

    fake = FakeWeChat({"wxappid": "secret"}, robot_keys={"key"}, rate_limit=2000)
    async with serve(fake) as base_url:
        ...  # AccessTokens(..., base_url=base_url), GroupRobot(..., base_url=base_url)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

SEND_APIS = ("template", "subscribe", "custom")
ERRMSG = {
    0: "ok",
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40029: "invalid code",
    40163: "code been used",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45009: "api freq out of limit",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
    93000: "invalid webhook url",
    1400001: "feature usage limit reached",
}


@dataclass
class Fault:
    """What the next call of an API gets instead of the normal answer.

    ``delay`` longer than the client's timeout is a timeout; with ``deliver`` the
    message is still recorded first, as when WeChat sent it but the answer was lost.
    """

    errcode: int | None = None
    status: int | None = None
    delay: float = 0.0
    deliver: bool = False


@dataclass
class Sent:
    """One accepted message: ``to`` is the openid, or the robot's key for ``api="robot"``."""

    api: str
    to: str
    body: dict[str, Any]
    raw: bytes
    at: float
    msgid: int


@dataclass
class _Token:
    appid: str
    expires_at: float
    revoked: bool = False


class _Window:
    """Exactly at most ``limit`` admissions in any ``period`` seconds (a sliding log)."""

    def __init__(self, limit: float, period: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._times: deque[float] = deque()

    def admit(self) -> bool:
        now = self._clock()
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


@dataclass
class FakeWeChat:
    """The fake's configuration and everything it saw; ``app()`` serves it.

    ``apps`` maps appids to secrets. ``robot_keys`` (``None``: any key) are the
    valid webhook keys. ``rate_limit`` is messages per second per app over the
    three send APIs (``None``: unlimited). ``token_delay`` slows the token
    endpoint, widening the window in which a stampede would fetch twice.
    """

    apps: Mapping[str, str] = field(default_factory=dict)
    robot_keys: Iterable[str] | None = None
    expires_in: int = 7200
    rate_limit: float | None = None
    robot_limit: int = 20
    robot_window: float = 60.0
    token_delay: float = 0.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.apps = dict(self.apps)
        self.robot_keys = None if self.robot_keys is None else set(self.robot_keys)
        self.unsubscribed: set[str] = set()
        self.blocked: set[str] = set()
        self.window_closed: set[str] = set()
        self.token_fetches: Counter[str] = Counter()
        self.tokens: dict[str, _Token] = {}
        self.sent: list[Sent] = []
        self.messages: defaultdict[str, list[Sent]] = defaultdict(list)
        self.robot_messages: defaultdict[str, list[Sent]] = defaultdict(list)
        self.accepted = 0
        self.duplicates = 0
        self.requests: Counter[str] = Counter()
        self.errors: Counter[int] = Counter()
        self._client_ids: dict[tuple[str, str, str], int] = {}
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._rates: dict[str, _Window] = {}
        self._robot_rates: dict[str, _Window] = {}
        self._msgids = count(1000)
        self._closing = asyncio.Event()
        self._login_codes: dict[str, tuple[str, str, str | None]] = {}
        self._spent_codes: set[str] = set()
        self.qr_scenes: list[str] = []
        # getuserphonenumber: one-time phone codes (appid, phone) the tests hand out.
        self._phone_codes: dict[str, tuple[str, str]] = {}
        # cgi-bin/user/info: the followers of each appid, with their unionid (None when
        # the account is not bound to an open platform).
        self.followers: dict[tuple[str, str], str | None] = {}

    # --- what tests set up and look at ---------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        api: str = "send",
        errcode: int | None = None,
        status: int | None = None,
        delay: float = 0.0,
        deliver: bool = False,
    ) -> None:
        """The next ``n`` calls of ``api`` ("token", "template", "subscribe", "custom",
        "robot", "code2session", "phone", "user_info", or "send" for any of the three
        sends) fail as described."""
        if errcode is None and status is None and delay <= 0:
            raise ValueError("a fault needs an errcode, a status or a delay")
        for _ in range(n):
            self._faults[api].append(Fault(errcode, status, delay, deliver))

    def wx_login(self, appid: str, openid: str, unionid: str | None = None) -> str:
        """What ``wx.login()`` gives the mini-program on a phone: a one-time code."""
        code = "CODE_" + secrets.token_urlsafe(16)
        self._login_codes[code] = (appid, openid, unionid)
        return code

    def phone_code(self, appid: str, phone: str) -> str:
        """What a ``getPhoneNumber`` button gives the mini-program: a one-time code."""
        code = "PHONE_" + secrets.token_urlsafe(16)
        self._phone_codes[code] = (appid, phone)
        return code

    def follow(self, appid: str, openid: str, unionid: str | None = None) -> None:
        """A follower of official account ``appid``, as ``cgi-bin/user/info`` will tell."""
        self.followers[(appid, openid)] = unionid

    def revoke_tokens(self, appid: str | None = None) -> int:
        """Every token issued so far (to ``appid``) now gets ``40001``."""
        revoked = 0
        for token in self.tokens.values():
            if appid in (None, token.appid) and not token.revoked:
                token.revoked = True
                revoked += 1
        return revoked

    def issued(self, appid: str | None = None) -> list[str]:
        return [t for t, info in self.tokens.items() if appid in (None, info.appid)]

    def stats(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "token_fetches": sum(self.token_fetches.values()),
            "errors": dict(self.errors),
            "requests": dict(self.requests),
        }

    def app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/template/send", self._template)
        app.router.add_post("/cgi-bin/message/subscribe/bizsend", self._subscribe)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom)
        app.router.add_post("/cgi-bin/webhook/send", self._robot)
        app.router.add_get("/sns/jscode2session", self._code2session)
        app.router.add_post("/cgi-bin/qrcode/create", self._qrcode)
        app.router.add_post("/wxa/business/getuserphonenumber", self._phone_number)
        app.router.add_get("/cgi-bin/user/info", self._user_info)
        app.on_shutdown.append(self._shutdown)
        return app

    # --- the APIs -------------------------------------------------------------------------

    def _answer(self, errcode: int, **extra: Any) -> web.Response:
        if errcode:
            self.errors[errcode] += 1
        body = {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error"), **extra}
        return web.json_response(body)

    def _fault(self, *apis: str) -> Fault | None:
        for api in apis:
            if self._faults[api]:
                return self._faults[api].popleft()
        return None

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _shutdown(self, app: web.Application) -> None:
        self._closing.set()

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.requests["token"] += 1
        fault = self._fault("token")
        if fault is not None:
            return await self._faulty(fault)
        query = request.query
        if query.get("grant_type") != "client_credential":
            return self._answer(40002)
        appid = query.get("appid", "")
        if appid not in self.apps:
            return self._answer(40013)
        if query.get("secret") != self.apps[appid]:
            return self._answer(40125)
        if self.token_delay:
            await self._pause(self.token_delay)
        token = f"ACCESS_{secrets.token_urlsafe(32)}"
        self.tokens[token] = _Token(appid, self.clock() + self.expires_in)
        self.token_fetches[appid] += 1
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def _code2session(self, request: web.Request) -> web.StreamResponse:
        self.requests["code2session"] += 1
        fault = self._fault("code2session")
        if fault is not None:
            return await self._faulty(fault)
        query = request.query
        appid, code = query.get("appid", ""), query.get("js_code", "")
        if query.get("grant_type") != "authorization_code":
            return self._answer(40002)
        if appid not in self.apps:
            return self._answer(40013)
        if query.get("secret") != self.apps[appid]:
            return self._answer(40125)
        if code in self._spent_codes:
            return self._answer(40163)
        issued = self._login_codes.pop(code, None)
        if issued is None or issued[0] != appid:
            return self._answer(40029)
        self._spent_codes.add(code)
        _, openid, unionid = issued
        answer = {"openid": openid, "session_key": secrets.token_urlsafe(16)}
        if unionid:
            answer["unionid"] = unionid
        return web.json_response(answer)

    def _token_app(self, request: web.Request) -> tuple[str, int]:
        """The appid behind the request's access token, or the errcode refusing it."""
        token = request.query.get("access_token", "")
        if not token:
            return "", 41001
        info = self.tokens.get(token)
        if info is None or info.revoked:
            return "", 40001
        if info.expires_at <= self.clock():
            return "", 42001
        return info.appid, 0

    async def _phone_number(self, request: web.Request) -> web.StreamResponse:
        self.requests["phone"] += 1
        _, body = await self._body(request)
        fault = self._fault("phone")
        if fault is not None:
            return await self._faulty(fault)
        appid, refused = self._token_app(request)
        if refused:
            return self._answer(refused)
        if isinstance(body, int):
            return self._answer(body)
        issued = self._phone_codes.pop(str(body.get("code", "")), None)
        if issued is None or issued[0] != appid:
            return self._answer(40029)
        phone = issued[1]
        pure = phone.removeprefix("+86")
        info = {
            "phoneNumber": phone,
            "purePhoneNumber": pure,
            "countryCode": "86",
            "watermark": {"timestamp": int(time.time()), "appid": appid},
        }
        return self._answer(0, phone_info=info)

    async def _user_info(self, request: web.Request) -> web.StreamResponse:
        self.requests["user_info"] += 1
        fault = self._fault("user_info")
        if fault is not None:
            return await self._faulty(fault)
        appid, refused = self._token_app(request)
        if refused:
            return self._answer(refused)
        openid = request.query.get("openid", "")
        if (appid, openid) not in self.followers:
            return self._answer(40003)
        answer: dict[str, Any] = {
            "subscribe": 1,
            "openid": openid,
            "language": request.query.get("lang", "zh_CN"),
            "subscribe_time": int(time.time()),
        }
        unionid = self.followers[(appid, openid)]
        if unionid:
            answer["unionid"] = unionid
        return web.json_response(answer)

    async def _qrcode(self, request: web.Request) -> web.StreamResponse:
        self.requests["qrcode"] += 1
        _, body = await self._body(request)
        info = self.tokens.get(request.query.get("access_token", ""))
        if info is None or info.revoked:
            return self._answer(40001)
        if isinstance(body, int):
            return self._answer(body)
        scene = body.get("action_info", {}).get("scene", {}).get("scene_str")
        if body.get("action_name") != "QR_STR_SCENE" or not scene:
            return self._answer(40002)
        self.qr_scenes.append(scene)
        ticket = "gQ" + secrets.token_urlsafe(24)
        seconds = int(body.get("expire_seconds") or 60)
        return web.json_response(
            {"ticket": ticket, "expire_seconds": seconds, "url": f"http://weixin.qq.com/q/{ticket}"}
        )

    async def _faulty(self, fault: Fault) -> web.StreamResponse:
        if fault.delay:
            await self._pause(fault.delay)
        if fault.status is not None:
            return web.Response(status=fault.status, text="fake upstream failure")
        if fault.errcode is not None:
            return self._answer(fault.errcode)
        return self._answer(0)

    async def _body(self, request: web.Request) -> tuple[bytes, dict[str, Any] | int]:
        raw = await request.read()
        if not raw:
            return raw, 44002
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return raw, 47001
        return raw, body if isinstance(body, dict) else 47001

    async def _send(self, request: web.Request, api: str) -> web.StreamResponse:
        self.requests[api] += 1
        raw, body = await self._body(request)
        fault = self._fault(api, "send")
        if fault is not None and not fault.deliver:
            return await self._faulty(fault)
        token = request.query.get("access_token", "")
        if not token:
            return self._answer(41001)
        info = self.tokens.get(token)
        if info is None or info.revoked:
            return self._answer(40001)
        if info.expires_at <= self.clock():
            return self._answer(42001)
        if self.rate_limit is not None:
            window = self._rates.setdefault(info.appid, _Window(self.rate_limit, 1.0, self.clock))
            if not window.admit():
                return self._answer(45009)
        if isinstance(body, int):
            return self._answer(body)
        errcode = self._invalid(api, body)
        if errcode:
            return self._answer(errcode)
        openid = body["touser"]
        if openid in self.unsubscribed:
            return self._answer(43004)
        if openid in self.blocked:
            return self._answer(43101)
        if api == "custom" and openid in self.window_closed:
            return self._answer(45015)
        client_id = body.get("client_msg_id")
        if client_id:
            seen = self._client_ids.get((info.appid, openid, str(client_id)))
            if seen is not None:
                self.duplicates += 1
                return self._answer(0, msgid=seen)
        msgid = next(self._msgids)
        if client_id:
            self._client_ids[(info.appid, openid, str(client_id))] = msgid
        sent = Sent(api, openid, body, raw, self.clock(), msgid)
        self.sent.append(sent)
        self.messages[openid].append(sent)
        self.accepted += 1
        if fault is not None:
            return await self._faulty(fault)
        return self._answer(0, msgid=msgid) if api == "template" else self._answer(0)

    @staticmethod
    def _invalid(api: str, body: dict[str, Any]) -> int:
        if not isinstance(body.get("touser"), str) or not body["touser"]:
            return 40003
        if api == "custom":
            if body.get("msgtype") != "text":
                return 40008
            text = body.get("text")
            if not isinstance(text, dict) or not text.get("content"):
                return 44002
            return 0
        if not body.get("template_id"):
            return 40037
        data = body.get("data")
        if not isinstance(data, dict) or not all(
            isinstance(v, dict) and "value" in v for v in data.values()
        ):
            return 47001
        return 0

    async def _template(self, request: web.Request) -> web.StreamResponse:
        return await self._send(request, "template")

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        return await self._send(request, "subscribe")

    async def _custom(self, request: web.Request) -> web.StreamResponse:
        return await self._send(request, "custom")

    async def _robot(self, request: web.Request) -> web.StreamResponse:
        self.requests["robot"] += 1
        raw, body = await self._body(request)
        key = request.query.get("key", "")
        if not key or (self.robot_keys is not None and key not in self.robot_keys):
            return self._answer(93000)
        fault = self._fault("robot")
        if fault is not None:
            return await self._faulty(fault)
        if isinstance(body, int):
            return self._answer(body)
        kind = body.get("msgtype")
        if kind not in ("text", "markdown"):
            return self._answer(40008)
        part = body.get(kind)
        if not isinstance(part, dict) or not part.get("content"):
            return self._answer(44004)
        window = self._robot_rates.setdefault(
            key, _Window(self.robot_limit, self.robot_window, self.clock)
        )
        if not window.admit():
            return self._answer(45009)
        sent = Sent("robot", key, body, raw, self.clock(), next(self._msgids))
        self.sent.append(sent)
        self.robot_messages[key].append(sent)
        self.accepted += 1
        return self._answer(0)


def _base_url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@asynccontextmanager
async def serve(fake: FakeWeChat, *, port: int | None = None) -> AsyncIterator[str]:
    """Run ``fake`` on a local port; yields its base URL for the clients.

    No access log: the URLs it would print hold tokens, secrets and keys.
    """
    server = TestServer(fake.app(), port=port)
    await server.start_server(access_log=None)
    try:
        yield _base_url(server)
    finally:
        await server.close()


async def start(fake: FakeWeChat, aiohttp_server: Any) -> str:
    """The same with pytest-aiohttp's ``aiohttp_server`` fixture, which stops it."""
    server = await aiohttp_server(fake.app(), access_log=None)
    return _base_url(server)
