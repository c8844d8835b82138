"""The shared store: dedup keys, conversation state, rate limits and locks.

Production uses Redis so that any process can continue any conversation; the
embedded default is an in-process dictionary with the same semantics (values
expire, ``set_if_absent`` is atomic, locks exclude). Both satisfy
``handlers.types.KeyValueStore``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import LockError

from handlers.types import StoreUnavailable

__all__ = ["LockTimeout", "MemoryStore", "RedisStore", "StoreUnavailable", "open_store"]


class LockTimeout(Exception):
    """Another holder kept the lock past ``blocking_timeout``."""


class MemoryStore:
    """Single-process store for the embedded default and tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, tuple[str, float]] = {}

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._data[key] = (value, self._expiry(ttl))

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        self._data[key] = (value, self._expiry(ttl))
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, ttl: float | None = None) -> int:
        current = self._live(key)
        value = int(current or 0) + 1
        expires = self._expiry(ttl) if current is None else self._data[key][1]
        self._data[key] = (str(value), expires)
        return value

    async def incr_many(self, keys: list[str], ttl: float | None = None) -> list[int]:
        return [await self.incr(key, ttl) for key in keys]

    @asynccontextmanager
    async def lock(
        self, name: str, timeout: float = 10.0, blocking_timeout: float = 5.0
    ) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        deadline = self._clock() + blocking_timeout
        while True:
            holder = self._locks.get(name)
            if holder is None or holder[1] <= self._clock():
                self._locks[name] = (token, self._clock() + timeout)
                break
            if self._clock() >= deadline:
                raise LockTimeout(name)
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            if self._locks.get(name, ("", 0))[0] == token:
                del self._locks[name]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


class RedisStore:
    """Redis-backed store; every call is bounded by ``op_timeout`` seconds."""

    def __init__(self, url: str, op_timeout: float = 0.5, prefix: str = "linli:") -> None:
        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            socket_timeout=op_timeout,
            socket_connect_timeout=op_timeout,
            health_check_interval=30,
        )
        self._timeout = op_timeout
        self._prefix = prefix

    @property
    def client(self) -> aioredis.Redis:
        return self._redis

    async def _call(self, coro: Awaitable[Any]) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await coro
        except (TimeoutError, aioredis.RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    @staticmethod
    def _px(ttl: float | None) -> int | None:
        return None if ttl is None else max(1, int(ttl * 1000))

    async def get(self, key: str) -> str | None:
        return await self._call(self._redis.get(self._prefix + key))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._call(self._redis.set(self._prefix + key, value, px=self._px(ttl)))

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        done = await self._call(
            self._redis.set(self._prefix + key, value, px=self._px(ttl), nx=True)
        )
        return bool(done)

    async def delete(self, key: str) -> None:
        await self._call(self._redis.delete(self._prefix + key))

    async def incr(self, key: str, ttl: float | None = None) -> int:
        full = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            if ttl is not None:
                pipe.pexpire(full, self._px(ttl), nx=True)
            result = await self._call(pipe.execute())
        return int(result[0])

    async def incr_many(self, keys: list[str], ttl: float | None = None) -> list[int]:
        """Several counters in one round trip (each with its own expiry, set once)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.incr(self._prefix + key)
                if ttl is not None:
                    pipe.pexpire(self._prefix + key, self._px(ttl), nx=True)
            result = await self._call(pipe.execute())
        step = 1 if ttl is None else 2
        return [int(value) for value in result[::step]]

    @asynccontextmanager
    async def lock(
        self, name: str, timeout: float = 10.0, blocking_timeout: float = 5.0
    ) -> AsyncIterator[None]:
        """A redis-py ``Lock``: owner-only release, expires if the holder dies."""
        lock = self._redis.lock(
            self._prefix + "lock:" + name, timeout=timeout, blocking_timeout=blocking_timeout
        )
        try:
            acquired = await lock.acquire()
        except (aioredis.RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from exc
        if not acquired:
            raise LockTimeout(name)
        try:
            yield
        finally:
            with suppress(LockError):
                await lock.release()

    async def ping(self) -> bool:
        try:
            return bool(await self._call(self._redis.ping()))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def open_store(redis_url: str, op_timeout: float) -> MemoryStore | RedisStore:
    return RedisStore(redis_url, op_timeout) if redis_url else MemoryStore()
