"""Fixtures of the fault tests: PostgreSQL (a database per module and xdist worker), a Redis
per test, a proxy per test, the fake WeChat per module, services and WeChat's pushes.

Without PostgreSQL or ``redis-server`` the fault tests are skipped, except with
``CI=true``, where they fail. Select them with ``-m faults``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faults.harness import (
    PG_URL,
    Counts,
    FakeWeChatThread,
    Pusher,
    RedisProcess,
    Service,
    TcpProxy,
    create_database,
    drop_database,
    postgres_available,
    redis_available,
    seed_demo,
    service_env,
)

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: fault injection with real processes (Redis killed and hung, PostgreSQL "
        "paused and stopped through a proxy, the service killed with signals)",
    )


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"fault tests need {reason} in CI", pytrace=False)
    pytest.skip(f"fault tests need {reason}")


@pytest.fixture(scope="session")
def fault_services() -> None:
    """PostgreSQL answers and redis-server is installed (else skip; in CI, fail)."""
    if not redis_available():
        _missing("redis-server on PATH")
    if not asyncio.run(postgres_available()):
        _missing(f"PostgreSQL at {PG_URL.rsplit('@', 1)[-1]} (LINLI_TEST_DATABASE_URL)")


@pytest.fixture(scope="module")
def fault_database(
    fault_services: None, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of this module and xdist worker, migrated and seeded (``seed-demo``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"linli_faults_{worker}_{module}"[:63]
    url = asyncio.run(create_database(name))
    seed_demo(url, tmp_path_factory.mktemp("seed"))
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture(scope="module")
def fake_wechat(fault_services: None) -> Iterator[FakeWeChatThread]:
    fake = FakeWeChatThread()
    yield fake
    fake.close()


@pytest.fixture
def redis(fault_services: None, tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path / "redis").start()
    yield process
    process.close()


@pytest.fixture
def proxy(fault_services: None) -> Iterator[TcpProxy]:
    upstream = urlsplit(PG_URL)
    tcp = TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 5432)).start()
    yield tcp
    tcp.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def counts(fault_database: str) -> Counts:
    return Counts(fault_database)


ServiceFactory = Callable[..., Service]


@pytest.fixture
async def make_service(
    fault_database: str,
    redis: RedisProcess,
    proxy: TcpProxy,
    fake_wechat: FakeWeChatThread,
    data_dir: Path,
    tmp_path: Path,
) -> AsyncIterator[ServiceFactory]:
    """``make_service(name=..., **env)``: a service (not started yet) on the module's
    database through the proxy, on the test's Redis and data directory; every one made
    is killed after the test, and its log printed (pytest shows it when the test fails)."""
    made: list[Service] = []

    def make(name: str = "service", **extra: str) -> Service:
        env = service_env(
            proxy.url_for(fault_database), redis.url, data_dir, fake_wechat.base_url, extra
        )
        service = Service(env=env, log_path=tmp_path / f"{name}.log", name=name)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.close()
    for service in made:
        print(f"===== {service.name} log (tail) =====\n{service.log(4000)}")


@pytest.fixture
async def pusher() -> AsyncIterator[Pusher]:
    push = Pusher()
    yield push
    await push.close()
