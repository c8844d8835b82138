"""Runs the router: loads who is speaking and where they are in a flow, saves what changed.

One resident at a time: load, handle and save run under a lock on (account, openid)
in the shared store, so two messages sent at once (two photos in the proposal's photo
step) are handled one after the other, on whichever process they arrive, and neither
overwrites the other's state.

Once per message: given the message's key, load, handle and save are one database
transaction that also writes the key to the ledger (``models.inbox.HandledMessage``).
A message that comes back (WeChat's retry after a crash, the spool's replay, a copy on
another process) finds its key and gets the same reply with no second effect; if two
copies race, the ledger's unique key rolls the second back, effect and all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.capabilities import chat_router
from bot.conversation import Conversations
from bot.store import LockTimeout
from config.settings import Settings
from handlers.clock import Clock, utc_now
from handlers.help.chat import PASSIVE_EVENTS
from handlers.i18n import Translator, language_of
from handlers.refusal import Refused
from handlers.residents import service as residents
from handlers.router import Router, Skip, normalize
from handlers.types import NO_REPLY, Context, Event, KeyValueStore, Reply
from models.inbox import HandledMessage
from models.residents import Resident


class ResidentBusy(Exception):
    """Another message from the same resident held the lock past the wait.

    The callback spools the event (the spool replays it through the dispatcher and
    sends the answer late) and tells the resident so (``chat.queued``).
    """


class FirstContact(Exception):
    """The openid has no resident yet: leave the transaction and create them first."""


# A message comes back within minutes (WeChat's retries) or once the spool replays it
# (hours, when the database was down); a week covers both with room to spare.
LEDGER_DAYS = 7


async def prune_ledger(now: datetime) -> None:
    """Forget handled messages no copy of which can still arrive."""
    await HandledMessage.filter(handled_at__lt=now - timedelta(days=LEDGER_DAYS)).delete()


def build_router() -> Router:
    """Every capability's chat routes, in ``bot.capabilities`` order."""
    return chat_router()


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        store: KeyValueStore,
        translator: Translator,
        router: Router | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.translate = translator
        self.router = router or build_router()
        self.conversations = Conversations(settings.conversation_ttl_seconds, clock)
        self.menu = tuple((m.digit, m.key, m.label) for m in settings.menu())
        self._digits = {digit: key for digit, key, _ in self.menu}
        self._accounts = settings.all_accounts()
        self._community_ids: dict[str, int] = {}

    async def _community(self, account: str) -> tuple[str, int]:
        slug = self._accounts[account].community
        if slug not in self._community_ids:
            self._community_ids[slug] = await residents.community_id(slug)
        return slug, self._community_ids[slug]

    def _menu_key(self, event: Event, in_flow: bool) -> str:
        if event.kind == "event" and event.event == "click":
            return event.key
        if not in_flow and event.kind in {"text", "voice"}:
            return self._digits.get(normalize(event.text), "")
        return ""

    async def dispatch(self, event: Event, key: str = "") -> Reply:
        """The reply to ``event``; with ``key`` (the message's identity), at most one effect."""
        if event.kind == "event" and event.event in PASSIVE_EVENTS:
            return NO_REPLY
        lock = self.store.lock(
            f"resident:{event.account}:{event.openid}",
            timeout=self.settings.resident_lock_seconds,
            blocking_timeout=self.settings.resident_lock_wait_seconds,
        )
        held = False
        try:
            async with lock:
                held = True
                return await self._once(event, key)
        except LockTimeout:
            if held:  # a lock the handler itself took, not the resident's
                raise
            raise ResidentBusy(event.account) from None

    async def _once(self, event: Event, key: str, created: bool = False) -> Reply:
        slug, community = await self._community(event.account)
        try:
            async with in_transaction() as conn:
                if key:
                    done = await HandledMessage.filter(key=key).using_db(conn).first()
                    if done is not None:
                        return Reply(done.reply)
                # In the message's transaction: one connection from the pool, not two.
                resident = await residents.find(community, event.openid, conn)
                if resident is None:
                    raise FirstContact
                reply = await self._handle(event, slug, resident, conn)
                if key:
                    await HandledMessage.create(key=key, reply=reply.text, using_db=conn)
                return reply
        except FirstContact:
            if created:
                raise RuntimeError("a resident just created is not found") from None
            # Created outside the transaction (concurrency-safe), then handled as usual.
            await residents.touch(community, event.openid, self.settings.default_language)
            return await self._once(event, key, created=True)
        except IntegrityError:
            if not key:
                raise
            # Another copy of this message committed first: ours rolled back; its reply.
            done = await HandledMessage.get_or_none(key=key)
            if done is None:
                raise
            return Reply(done.reply)

    async def _handle(
        self, event: Event, slug: str, resident: Resident, conn: BaseDBAsyncClient
    ) -> Reply:
        """Load → handle → save, in the caller's transaction; the caller holds the lock."""
        account, openid = event.account, event.openid
        state = await self.conversations.load(account, openid, conn)
        ctx = Context(
            event=event,
            community=slug,
            language=language_of(resident.language),
            store=self.store,
            translate=self.translate,
            resident=resident,
            state=state,
            settings=self.settings,
            menu=self.menu,
            now=self.clock,
        )
        menu_key = self._menu_key(event, state is not None)
        for route, args in self.router.matching(event, ctx, menu_key):
            ctx.args = args
            try:
                reply = await route.handler(event, ctx)
            except Skip:
                continue
            except Refused as refused:
                # The one translation of a service's refusal for chat; the flow stays put
                # unless the handler said ``ctx.leave()`` before it.
                if ctx.left and state is not None:
                    await self.conversations.clear(account, openid, conn)
                return Reply(ctx.t(refused.code, **refused.params))
            break
        else:
            return NO_REPLY
        if ctx.next_state is not None:
            await self.conversations.save(account, openid, ctx.next_state, conn)
        elif state is not None:
            await self.conversations.clear(account, openid, conn)
        return reply
