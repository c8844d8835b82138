"""Conversation state in the database, beside the effect it leads to (``models.inbox``).

It used to live in the shared store, but a store that restarts empty turned a resident's
"1" (submit the complaint just described) into menu item 1. The dispatcher reads and
writes it inside the message's transaction, so the state and the effect commit together.
"""

from __future__ import annotations

from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.clock import Clock, utc_now
from handlers.types import ConversationState
from models.inbox import ConversationRow


class Conversations:
    def __init__(self, ttl: float, clock: Clock = utc_now) -> None:
        self._ttl = timedelta(seconds=ttl)
        self._clock = clock

    async def load(
        self, account: str, openid: str, conn: BaseDBAsyncClient | None = None
    ) -> ConversationState | None:
        row = await ConversationRow.filter(account=account, openid=openid).using_db(conn).first()
        if row is None or row.expires_at <= self._clock():
            return None
        return ConversationState(row.name, dict(row.data or {}))

    async def save(
        self,
        account: str,
        openid: str,
        state: ConversationState,
        conn: BaseDBAsyncClient | None = None,
    ) -> None:
        expires = self._clock() + self._ttl
        changed = (
            await ConversationRow.filter(account=account, openid=openid)
            .using_db(conn)
            .update(name=state.name, data=state.data, expires_at=expires)
        )
        if not changed:
            await ConversationRow.create(
                account=account,
                openid=openid,
                name=state.name,
                data=state.data,
                expires_at=expires,
                using_db=conn,
            )

    async def clear(self, account: str, openid: str, conn: BaseDBAsyncClient | None = None) -> None:
        await ConversationRow.filter(account=account, openid=openid).using_db(conn).delete()
