"""Liveness, readiness and a stop that fits inside Docker's 10 s grace."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

import bot.cli
from bot.access_log import PathOnlyAccessLogger
from bot.app import (
    APP_STATE,
    READY_DEADLINE_SECONDS,
    SHUTDOWN_TIMEOUT_SECONDS,
    STOP_BUDGET_SECONDS,
    create_app,
)
from bot.store import RedisStore

DOCKER_GRACE_SECONDS = 10.0


async def _stall(*args: Any, **kwargs: Any) -> Any:
    await asyncio.sleep(3600)


def _dead_store() -> RedisStore:
    return RedisStore("redis://127.0.0.1:9/0", op_timeout=0.2, prefix="dead:")


async def _client(settings, store, aiohttp_client):  # type: ignore[no-untyped-def]
    server = TestServer(create_app(settings, store=store))
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    return await aiohttp_client(server)


async def test_liveness_answers_while_the_store_is_down(settings, aiohttp_client):
    client = await _client(settings, _dead_store(), aiohttp_client)
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["ok"] is True


async def test_readiness_is_ok_when_the_database_and_the_store_answer(client):
    resp = await client.get("/readyz")
    assert resp.status == 200
    body = await resp.json()
    assert (body["ok"], body["database"], body["store"]) == (True, True, True)


async def test_readiness_is_503_naming_the_database_when_it_stalls(
    client, app_state, settings, monkeypatch
):
    monkeypatch.setattr(app_state.db.db(), "execute_query", _stall)
    started = time.monotonic()
    resp = await client.get("/readyz")
    assert time.monotonic() - started < READY_DEADLINE_SECONDS + 1.0
    assert resp.status == 503
    body = await resp.json()
    assert (body["ok"], body["database"], body["store"]) == (False, False, True)
    assert set(body) == {"ok", "database", "store", "spool", "ms"}
    text = await resp.text()
    assert settings.effective_database_url() not in text and "postgres" not in text


async def test_readiness_is_503_naming_the_store_when_it_is_down(settings, aiohttp_client):
    client = await _client(settings, _dead_store(), aiohttp_client)
    resp = await client.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert (body["ok"], body["database"], body["store"]) == (False, True, False)
    assert "redis://" not in await resp.text()


def test_the_stop_budget_fits_inside_dockers_grace():
    assert STOP_BUDGET_SECONDS < DOCKER_GRACE_SECONDS


def test_serve_bounds_the_wait_for_requests_in_flight(settings, monkeypatch):
    given: dict[str, Any] = {}
    monkeypatch.setattr(bot.cli.web, "run_app", lambda app, **kwargs: given.update(kwargs))
    bot.cli._serve(settings, "127.0.0.1", 0)
    assert given["shutdown_timeout"] == SHUTDOWN_TIMEOUT_SECONDS


async def test_a_stop_with_the_database_stalled_ends_inside_dockers_grace(
    settings, store, unused_tcp_port, monkeypatch
):
    """A request stuck on the database and a close that never returns: still out in time."""
    app = create_app(settings, store=store)
    entered = asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        entered.set()
        await request.app[APP_STATE].db.db().execute_query("SELECT 1")
        return web.json_response({})

    app.router.add_get("/stuck", stuck)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    state = app[APP_STATE]
    ctx = state.db
    close_for_real = ctx.close_connections
    monkeypatch.setattr(ctx.db(), "execute_query", _stall)
    monkeypatch.setattr(ctx, "close_connections", _stall)
    monkeypatch.setattr(state.store, "close", _stall)
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://127.0.0.1:{unused_tcp_port}/stuck"))
        await asyncio.wait_for(entered.wait(), 5)
        started = time.monotonic()
        await asyncio.wait_for(runner.cleanup(), DOCKER_GRACE_SECONDS * 2)
        took = time.monotonic() - started
        request.cancel()
        await asyncio.gather(request, return_exceptions=True)
    await close_for_real()
    assert took < STOP_BUDGET_SECONDS + 0.5, took
