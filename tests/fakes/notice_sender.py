"""A notice sender in a process of its own, for the tests that kill it mid-batch.

``python -m tests.fakes.notice_sender DATABASE_URL API_BASE APPID SECRET COMMUNITY_ID RATE``
sends every due delivery through the real ``bot.deliver`` path, then exits.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import aiohttp

from bot.deliver import deliver_notices
from bot.push.official import OfficialAccountClient
from bot.push.token import AccessTokens
from bot.store import MemoryStore
from models.db import close_database, open_database, using


async def main(
    database_url: str, base: str, appid: str, secret: str, community: int, rate: float
) -> None:
    ctx = await open_database(database_url, auto_migrate=False)
    try:
        with using(ctx):
            async with aiohttp.ClientSession() as session:
                tokens = AccessTokens(session, MemoryStore(), appid, secret, base_url=base)
                client = OfficialAccountClient(session, tokens, base_url=base)
                print("sending", flush=True)
                await deliver_notices(
                    {community: client}, lambda key: None, datetime.now(UTC), rate_per_second=rate
                )
    finally:
        await close_database(ctx)


if __name__ == "__main__":
    url, base, appid, secret, community, rate = sys.argv[1:7]
    asyncio.run(main(url, base, appid, secret, int(community), float(rate)))
