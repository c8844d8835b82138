"""The spool is replayed whoever wrote it, and each entry once across processes."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestServer

from bot.access_log import PathOnlyAccessLogger
from bot.app import APP_STATE, create_app, replay_one
from bot.spool import Spool
from handlers.types import Event
from models.db import using
from models.residents import Resident as ResidentRow


async def _server(settings, store) -> TestServer:  # type: ignore[no-untyped-def]
    server = TestServer(create_app(settings, store=store))
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    return server


async def test_a_spool_written_under_another_hostname_is_replayed(
    settings, store, aiohttp_client, monkeypatch
):
    """A recreated container has a new hostname: what the old one spooled still comes back."""
    monkeypatch.setattr(socket, "gethostname", lambda: "linli-old-container")
    old = await aiohttp_client(await _server(settings, store))
    # What the callback does when it cannot handle a message (bot/callback.py).
    subscribe = Event(
        account="default",
        openid="o_old_host_1",
        kind="event",
        event="subscribe",
        created_at=datetime.now(UTC),
    )
    await old.server.app[APP_STATE].spool.append("old-host-key", subscribe)
    await old.close()

    monkeypatch.setattr(socket, "gethostname", lambda: "linli-new-container")
    up = await aiohttp_client(await _server(settings, store))
    state = up.server.app[APP_STATE]
    with using(state.db):
        assert await state.spool.pending() == 1
        assert await state.spool.replay(lambda k, e: replay_one(state, k, e)) == 1
        assert await ResidentRow.filter(openid="o_old_host_1", active=True).exists()
        assert await state.spool.pending() == 0


@pytest.mark.parametrize("writers", [["linli-1"], ["linli-1", "linli-2", "linli-gone"]])
async def test_two_processes_replaying_at_once_handle_each_entry_once(
    settings, store, aiohttp_client, monkeypatch, writers
):
    """Two apps over one data directory stand in for two replicas sharing the volume."""
    monkeypatch.setattr(socket, "gethostname", lambda: "linli-1")
    first = (await aiohttp_client(await _server(settings, store))).server.app[APP_STATE]
    second = (await aiohttp_client(await _server(settings, store))).server.app[APP_STATE]
    keys = []
    for n, writer in enumerate(writers * 3):
        key = f"k{n}"
        keys.append(key)
        spool = first.spool if writer == "linli-1" else Spool(first.spool.directory, writer)
        await spool.append(key, _event(n))
    handled: list[str] = []

    async def slow(key: str, event: Event) -> None:
        await asyncio.sleep(0.05)
        handled.append(key)

    counts = await asyncio.gather(first.spool.replay(slow), second.spool.replay(slow))
    counts_again = await asyncio.gather(first.spool.replay(slow), second.spool.replay(slow))
    assert sorted(handled) == sorted(keys)
    assert sum(counts) == len(keys) and counts_again == [0, 0]


def _event(n: int) -> Event:
    return Event(
        account="default",
        openid=f"o_spool_{n}",
        kind="text",
        text="帮助",
        msg_id=str(880000 + n),
        created_at=datetime.now(UTC),
    )
