"""Benchmark the notice pipeline: 100,000 recipients through the fake WeChat server.

Usage::

    python bench/notices.py [--recipients 100000] [--rate 2000] [--database-url URL]

The fake server (``tests.fakes.FakeWeChat``, rate limit ``--rate`` messages/s, answering
``45009`` beyond) runs in its own process. This process makes a community of
``--recipients`` followers in a fresh database (SQLite in a temporary directory unless
``--database-url``), creates one community notice, expands it to delivery rows and times
``bot.deliver.deliver_notices`` until every row is sent (retries included). Figures:
deliveries/s, ``rate_share`` (deliveries/s over the allowed rate), the fake's duplicate
count and whether every recipient got exactly one message (``complete``), and
``peak_rss_mb``: this process's peak resident memory (``getrusage``), as the deliverer,
the code under test, runs here (the fake's process is not counted).

The exit code is nonzero if a recipient did not get exactly one message or the fake saw a
duplicate (``tests/bench`` runs this at a small size and asserts the same). The last line
is one JSON object: ``{"bench": "notices", "recipients", "rows", "expand_s", "seconds",
"deliveries_per_s", "rate_share", "duplicates", "quota_errors", "outcomes", "complete",
"peak_rss_mb"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _service import free_port

from bot.deliver import deliver_notices
from bot.push import OfficialAccountClient
from bot.store import MemoryStore
from handlers.notices import service
from models.community import Community
from models.db import close_database, open_database, using
from models.notices import Notice
from models.residents import Resident
from tests.fakes import FakeWeChat

APPID = "wxbenchnotices0001"
SECRET = "bench-notices-secret-0123456789ab"


def serve_fake(port: int, rate: float) -> None:
    fake = FakeWeChat(apps={APPID: SECRET}, rate_limit=rate)

    async def stats(request: web.Request) -> web.Response:
        per = Counter(len(v) for v in fake.messages.values())
        return web.json_response(
            {**fake.stats(), "openids": len(fake.messages), "per_openid": dict(per)}
        )

    app = fake.app()
    app.router.add_get("/_stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def wait_up(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(base + "/_stats") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the fake server did not start")


async def run(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = multiprocessing.Process(target=serve_fake, args=(port, args.rate), daemon=True)
    fake.start()
    url = args.database_url or f"sqlite://{Path(tempfile.mkdtemp(prefix='linli-bench-'))}/b.db"
    db = await open_database(url)
    try:
        await wait_up(base)
        with using(db):
            community = await Community.create(slug="bench", name="压测社区")
            author = await Resident.create(community=community, openid="o_bench_author")
            await Resident.bulk_create(
                [
                    Resident(community=community, openid=f"o_bench_{i:06d}")
                    for i in range(args.recipients - 1)
                ],
                batch_size=5000,
            )
            notice = await Notice.create(
                community=community,
                title="停水通知",
                body="明天9点到12点停水",
                scope={"kind": "community", "ids": []},
                channels=["oa"],
                author=author,
                status="draft",
            )
            started = time.monotonic()
            rows = await service.expand(notice.id, datetime.now(UTC))
            expand_s = time.monotonic() - started
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=args.concurrency)
            ) as session:
                client = OfficialAccountClient.for_account(
                    session,
                    MemoryStore(),
                    type("A", (), {"appid": APPID, "appsecret": SECRET})(),  # type: ignore[arg-type]
                    base_url=base,
                )
                await client.tokens.get()
                started = time.monotonic()
                done: Counter[str] = Counter()
                now = datetime.now(UTC)
                while True:
                    done.update(
                        await deliver_notices(
                            {community.id: client},
                            lambda key: None,  # type: ignore[arg-type,return-value]
                            now,
                            rate_per_second=args.rate * args.pace,
                            batch=args.batch,
                        )
                    )
                    progress = await service.progress(await Notice.get(id=notice.id))
                    if progress["finished"]:
                        break
                    now += timedelta(minutes=16)  # let retries become due
                elapsed = time.monotonic() - started
            async with session_stats(base) as stats:
                pass
    finally:
        await close_database(db)
        fake.terminate()
        fake.join(5)
    per = stats["per_openid"]
    complete = progress["sent"] == args.recipients and per == {"1": args.recipients}
    figures = {
        "bench": "notices",
        "recipients": args.recipients,
        "rows": rows,
        "expand_s": round(expand_s, 2),
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(progress["sent"] / elapsed, 1),
        "rate_share": round(progress["sent"] / elapsed / args.rate, 3),
        "duplicates": stats["duplicates"],
        "quota_errors": stats["errors"].get("45009", 0),
        "outcomes": dict(done),
        "complete": complete,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return figures


class session_stats:
    """``async with session_stats(base) as stats``: the fake's counters."""

    def __init__(self, base: str) -> None:
        self.base = base

    async def __aenter__(self) -> dict:  # type: ignore[type-arg]
        async with aiohttp.ClientSession() as session, session.get(self.base + "/_stats") as r:
            return await r.json()

    async def __aexit__(self, *exc: object) -> None:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--pace", type=float, default=0.98, help="share of --rate to aim at")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--database-url", default="")
    figures = asyncio.run(run(parser.parse_args()))
    for key, value in figures.items():
        if key != "bench":
            print(f"{key:>18}: {value}")
    print(json.dumps(figures, ensure_ascii=False), flush=True)
    return 0 if figures["complete"] and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
