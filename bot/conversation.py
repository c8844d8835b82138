"""Conversation state in the shared store, with an expiry, so any process can continue it."""

from __future__ import annotations

import json

from handlers.types import ConversationState, KeyValueStore


class Conversations:
    def __init__(self, store: KeyValueStore, ttl: float) -> None:
        self._store = store
        self._ttl = ttl

    @staticmethod
    def _key(account: str, openid: str) -> str:
        return f"state:{account}:{openid}"

    async def load(self, account: str, openid: str) -> ConversationState | None:
        raw = await self._store.get(self._key(account, openid))
        if not raw:
            return None
        data = json.loads(raw)
        return ConversationState(data["name"], data.get("data", {}))

    async def save(self, account: str, openid: str, state: ConversationState) -> None:
        payload = json.dumps({"name": state.name, "data": state.data}, ensure_ascii=False)
        await self._store.set(self._key(account, openid), payload, ttl=self._ttl)

    async def clear(self, account: str, openid: str) -> None:
        await self._store.delete(self._key(account, openid))
