"""The console's files and strings over HTTP: headers, no path escapes, every message."""

from __future__ import annotations

import re

import pytest

from bot.console import CSP, STATIC_DIR
from bot.console.messages import MESSAGE_IDS


async def test_index_and_files_are_served_with_their_headers(client):
    index = await client.get("/console/")
    assert index.status == 200
    assert index.headers["Content-Type"].startswith("text/html")
    assert index.headers["Content-Security-Policy"] == CSP
    assert index.headers["Cache-Control"] == "no-cache"
    assert index.headers["X-Content-Type-Options"] == "nosniff"
    assert 'src="static/console.js"' in await index.text()
    script = await client.get("/console/static/console.js")
    assert script.status == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    etag = script.headers["ETag"]
    again = await client.get("/console/static/console.js", headers={"If-None-Match": etag})
    assert again.status == 304
    style = await client.get("/console/static/console.css")
    assert style.headers["Content-Type"].startswith("text/css")
    moved = await client.get("/console", allow_redirects=False)
    assert (moved.status, moved.headers["Location"]) == (302, "/console/")


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/nothing.js",
        "/console/static/..%2F__init__.py",
        "/console/static/%2E%2E%2Fmessages.py",
        "/console/static/.hidden.js",
    ],
)
async def test_nothing_else_is_reachable(client, path):
    assert (await client.get(path)).status == 404


def test_no_text_is_inline_in_the_pages():
    html = (STATIC_DIR / "index.html").read_text()
    body = html.split("<body>", 1)[1]
    # Between tags there is only whitespace: every word comes from strings.json.
    assert [t for t in re.findall(r">([^<]+)<", body) if t.strip()] == []
    for script in STATIC_DIR.glob("*.js"):
        # No Chinese in the code (a separator class in a regex aside).
        text = script.read_text().replace("[,，\\s]", "")
        assert re.findall(r"[\u3000-\u9fff\uff00-\uffef]", text) == [], script.name


async def test_strings_in_each_language(client):
    for lang in ("zh_Hans", "zh_Hant", "en"):
        resp = await client.get(f"/console/strings.json?lang={lang}")
        assert resp.status == 200
        data = await resp.json()
        assert data["lang"] == lang
        assert set(data["messages"]) == set(MESSAGE_IDS)
        assert all(isinstance(v, str) and v for v in data["messages"].values())
    # Chinese first: an English browser asking for nothing gets the community's language.
    fallback = await client.get("/console/strings.json?lang=xx", headers={"Accept-Language": "en"})
    assert (await fallback.json())["lang"] == "zh_Hans"
    plain = await client.get("/console/strings.json", headers={"Accept-Language": "en-US,en"})
    assert (await plain.json())["lang"] == "zh_Hans"
