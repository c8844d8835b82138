"""Followers' unionids, fetched after the follow, so that one person stays one resident.

A follow is answered at once and never waits for WeChat's user-info API: the resident
row exists from the first contact, and this job (every round, on any process) asks the
user-info API for the unionid of those who followed or came back recently and do not
have one yet. WeChat gives it when the official account is bound to an open platform;
``handlers.residents.service.link_unionid`` then sets it, or merges the follower with
the mini-program resident who already has it.

A slow or unreachable WeChat costs one tight timeout per round and account (the round
stops asking that account there, and the next round tries again); a follower WeChat
answered for is not asked again until their row changes (a new follow), at most for
``CHECKED_SECONDS``. Openids are logged only as pseudonyms.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.push import OfficialAccountClient, PermanentError, TransientError
from bot.push.errors import INVALID_RECIPIENT
from bot.store import LockTimeout
from config.settings import AccountSettings
from handlers.residents import service
from handlers.residents.rules import pseudonym
from handlers.types import KeyValueStore
from models.community import Community
from models.residents import Resident

log = logging.getLogger(__name__)

# Who is asked about: followers whose row changed (a first contact, a follow again)
# within this window. A unionid WeChat could not give in a day is left to the next follow.
RECENT = timedelta(days=1)
CHECKED_SECONDS = 2 * 24 * 3600.0
BATCH = 50  # user-info calls per round and account
TIMEOUT = 3.0  # each call: WeChat answers in well under a second when it is well
LOCK_WAIT = 1.0


def checked_key(resident_id: int, account: str = "") -> str:
    """Set once WeChat answered for a follower (for ``account`` only: not its follower),
    to the row's ``updated_at`` then."""
    return f"unionid-checked:{resident_id}" + (f":{account}" if account else "")


async def link_followers(
    clients: Mapping[str, OfficialAccountClient],
    accounts: Mapping[str, AccountSettings],
    store: KeyValueStore,
    now: datetime,
    *,
    lock_seconds: float = 10.0,
    timeout: float = TIMEOUT,
) -> Counter[str]:
    """One round: ask each account with a client about its community's recent followers."""
    done: Counter[str] = Counter()
    for name, client in clients.items():
        slug = accounts[name].community
        community = await Community.get_or_none(slug=slug)
        if community is None:
            continue
        done += await _round(name, client, community.id, store, now, lock_seconds, timeout)
    return done


async def _round(
    account: str,
    client: OfficialAccountClient,
    community_id: int,
    store: KeyValueStore,
    now: datetime,
    lock_seconds: float,
    timeout: float,
) -> Counter[str]:
    done: Counter[str] = Counter()
    candidates = (
        await Resident.filter(
            community_id=community_id,
            openid__not_isnull=True,
            unionid=None,
            erased_at=None,
            active=True,
            updated_at__gte=now - RECENT,
        )
        .order_by("-updated_at", "id")
        .limit(20 * BATCH)
    )
    asked = 0
    for resident in candidates:
        if asked >= BATCH:
            break
        openid = resident.openid or ""
        # The mark holds the row's updated_at when WeChat answered: a new follow (or any
        # change of the row) since asks again.
        seen = resident.updated_at.isoformat()
        if await store.get(checked_key(resident.id)) == seen:
            continue
        if await store.get(checked_key(resident.id, account)) == seen:
            continue
        asked += 1
        try:
            unionid = await client.unionid_of(openid, timeout=timeout)
        except TransientError as exc:
            # WeChat is slow or down: the rest of this round would wait the same.
            log.info("user info of %s: %s; next round", pseudonym(openid), exc)
            done["later"] += 1
            break
        except PermanentError as exc:
            if not exc.recipient_only:
                log.warning("user info refused for account %s: %s", account, exc.reason)
                done["refused"] += 1
                break
            # 40003: an openid of another account of the community; that one will answer.
            mine = exc.reason == INVALID_RECIPIENT
            key = checked_key(resident.id, account if mine else "")
            await store.set(key, seen, ttl=CHECKED_SECONDS)
            done["not_follower"] += 1
            continue
        if unionid is None:
            await store.set(checked_key(resident.id), seen, ttl=CHECKED_SECONDS)
            done["no_unionid"] += 1
            continue
        try:
            # Under the lock the dispatcher takes for this follower's messages, so no message
            # of theirs is half handled on the row being merged.
            async with store.lock(
                f"resident:{account}:{openid}", timeout=lock_seconds, blocking_timeout=LOCK_WAIT
            ):
                _, merged = await service.link_unionid(resident, unionid, now)
        except LockTimeout:
            done["busy"] += 1
            continue
        await store.set(checked_key(resident.id), seen, ttl=CHECKED_SECONDS)
        done["merged" if merged else "linked"] += 1
    return done
