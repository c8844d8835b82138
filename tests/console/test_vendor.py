"""The console's one third-party script: ECharts, pinned by npm and served from node_modules."""

from __future__ import annotations

import json
import re

import pytest

from bot.console import CSP, NODE_MODULES, STATIC_DIR, VENDOR

PACKAGE = NODE_MODULES.parent / "package.json"
LOCK = NODE_MODULES.parent / "package-lock.json"


def test_echarts_is_pinned_to_one_version_and_locked():
    wanted = json.loads(PACKAGE.read_text())["dependencies"]["echarts"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), "an exact version, never a range"
    locked = json.loads(LOCK.read_text())["packages"]
    assert locked[""]["dependencies"]["echarts"] == wanted
    assert locked["node_modules/echarts"]["version"] == wanted
    assert locked["node_modules/echarts"]["integrity"].startswith("sha512-")


def test_the_page_loads_it_from_its_own_origin_under_a_strict_policy():
    html = (STATIC_DIR / "index.html").read_text()
    assert '<script defer src="vendor/echarts.min.js"></script>' in html
    assert html.index("vendor/echarts.min.js") < html.index("static/console.js")
    assert "script-src 'self';" in CSP and "style-src 'self';" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert "cdn" not in html.lower()


async def test_echarts_is_served_with_the_consoles_headers(client):
    installed = json.loads((NODE_MODULES / "echarts" / "package.json").read_text())
    assert installed["version"] == json.loads(PACKAGE.read_text())["dependencies"]["echarts"]
    resp = await client.get("/console/vendor/echarts.min.js")
    assert resp.status == 200, "run `npm ci --prefix bot/console`"
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Content-Security-Policy"] == CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    body = await resp.text()
    assert "Apache" in body[:400] and len(body) > 500_000
    again = await client.get(
        "/console/vendor/echarts.min.js", headers={"If-None-Match": resp.headers["ETag"]}
    )
    assert again.status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/console/vendor/echarts.js",
        "/console/vendor/zrender.js",
        "/console/vendor/..%2Fpackage.json",
        "/console/vendor/%2E%2E%2F%2E%2E%2F__init__.py",
    ],
)
async def test_nothing_else_of_node_modules_is_reachable(client, path):
    assert (await client.get(path)).status == 404


async def test_a_missing_file_says_what_to_run(client, caplog):
    vendored = client.server.app[VENDOR]
    vendored["echarts.min.js"] = NODE_MODULES / "echarts" / "dist" / "not-installed.min.js"
    resp = await client.get("/console/vendor/echarts.min.js")
    assert resp.status == 503
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert "npm ci --prefix bot/console" in await resp.text()
    assert "npm ci --prefix bot/console" in caplog.text
    assert "http" not in await resp.text()  # never a CDN to fetch it from instead
