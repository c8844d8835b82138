"""The community workers' web console: static files and the text they show.

No build step and no CDN: ``static/`` holds plain ES modules, a stylesheet and one
HTML page, served as they are. The one third-party script, Apache ECharts, is pinned in
``package.json`` and installed by npm (``npm ci --prefix bot/console``); its prebuilt
``echarts.min.js`` is served from ``node_modules`` under ``/console/vendor/``. The console
is a client of the JSON API like any other; its only server-side piece besides the files
is ``strings.json``, every ``console.*`` message in the language asked for, through the
app's translator.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from bot.console.messages import MESSAGE_IDS
from bot.state import APP_STATE
from handlers.i18n import LANGUAGES, language_of

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# Third-party files the page loads, by the name it asks for: nothing else of node_modules.
VENDORED = {"echarts.min.js": NODE_MODULES / "echarts" / "dist" / "echarts.min.js"}
VENDOR_HINT = "run `npm ci --prefix bot/console` (the console's pinned ECharts)"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only the console's own origin (and WeChat's QR images); no inline script or style either.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    # The login QR image comes from WeChat (showqrcode), nothing else from elsewhere; an
    # upload's bytes are fetched with the bearer token and shown from a blob: URL.
    "img-src 'self' blob: https://mp.weixin.qq.com; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# No hashed file names, so the browser revalidates every time (ETag / Last-Modified)
# and gets a 304 when nothing changed: a deploy is seen at once.
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _served() -> dict[str, Path]:
    """The files that may be fetched, by name: nothing outside ``static/`` is reachable."""
    return {
        p.name: p
        for p in STATIC_DIR.iterdir()
        if p.is_file() and p.suffix in CONTENT_TYPES and not p.name.startswith(".")
    }


FILES = web.AppKey("linli_console_files", dict)
VENDOR = web.AppKey("linli_console_vendor", dict)


def _file(request: web.Request, name: str) -> web.FileResponse:
    path = request.app[FILES].get(name)
    if path is None:
        raise web.HTTPNotFound(headers=SECURITY_HEADERS)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            "Cache-Control": "no-cache",
            **SECURITY_HEADERS,
        },
    )


async def index(request: web.Request) -> web.FileResponse:
    return _file(request, "index.html")


async def static(request: web.Request) -> web.FileResponse:
    return _file(request, request.match_info["name"])


async def vendor(request: web.Request) -> web.StreamResponse:
    """A pinned third-party script from ``node_modules``; missing, a 503 that says what to run."""
    path = request.app[VENDOR].get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(headers=SECURITY_HEADERS)
    if not path.is_file():
        log.error("console: %s is missing: %s", path.name, VENDOR_HINT)
        # A script's type, so the page sees a missing file and not a refused MIME type.
        raise web.HTTPServiceUnavailable(
            text=f"/* {path.name} is not installed: {VENDOR_HINT}. */\n",
            content_type="text/javascript",
            headers=SECURITY_HEADERS,
        )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix],
            "Cache-Control": "no-cache",
            **SECURITY_HEADERS,
        },
    )


async def to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def strings(request: web.Request) -> web.Response:
    """``?lang=zh_Hans|zh_Hant|en``: every console message; without it, the community's.

    Chinese first: a worker's browser set to English still opens the console in the
    community's language (``default_language``), until the worker picks another.
    """
    asked = request.query.get("lang", "")
    state = request.app[APP_STATE]
    language = asked if asked in LANGUAGES else language_of(state.settings.default_language)
    translate = state.translate
    return web.json_response(
        {
            "lang": language,
            "languages": list(LANGUAGES),
            "messages": {msgid: translate(language, msgid) for msgid in MESSAGE_IDS},
        },
        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS},
    )


def add_routes(app: web.Application) -> None:
    app[FILES] = _served()
    app[VENDOR] = dict(VENDORED)
    for path in VENDORED.values():
        if not path.is_file():
            log.warning("console: %s is missing, charts will not draw: %s", path.name, VENDOR_HINT)
    app.router.add_get("/console", to_index)
    app.router.add_get("/console/", index)
    app.router.add_get("/console/strings.json", strings)
    app.router.add_get("/console/static/{name}", static)
    app.router.add_get("/console/vendor/{name}", vendor)
