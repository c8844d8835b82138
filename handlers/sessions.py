"""Server-side API sessions in the shared store: expiring and revocable.

Only a hash of the token is stored, so a leaked store dump holds no usable token.
"""

from __future__ import annotations

import hashlib
import secrets

from handlers.types import KeyValueStore

DEFAULT_TTL = 7 * 24 * 3600.0


def _key(token: str) -> str:
    return "session:" + hashlib.sha256(token.encode()).hexdigest()


async def issue(store: KeyValueStore, resident_id: int, ttl: float = DEFAULT_TTL) -> str:
    token = secrets.token_urlsafe(32)
    await store.set(_key(token), str(resident_id), ttl=ttl)
    return token


async def resolve(store: KeyValueStore, token: str) -> int | None:
    if not token or len(token) > 128:
        return None
    value = await store.get(_key(token))
    return int(value) if value and value.isdigit() else None


async def revoke(store: KeyValueStore, token: str) -> None:
    await store.delete(_key(token))
