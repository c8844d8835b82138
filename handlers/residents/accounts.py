"""Signing in outside the official account: console passwords, mini-program codes, login QR.

Each way ends in the same server-side session (``sessions.issue``). WeChat itself is
reached only through the callables the transport injects (``Code2Session``,
``LoginQr``), so nothing here knows WeChat's HTTP API.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import actor, who_of
from handlers.types import Code2Session, CodeRefused, KeyValueStore, WeChatIdentity
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import record
from models.residents import Resident

LOGIN_QR_SCENE = "login_"
LOGIN_QR_SECONDS = 300
CODE_MEMORY_SECONDS = 600
MIN_PASSWORD = 10
LOCKOUT_FAILURES = 10
LOCKOUT_SECONDS = 15 * 60
CODE_REFUSALS = {"used": "auth.error.code_used", "invalid": "auth.error.code_invalid"}
_hasher = PasswordHasher()
# Verified against when the login does not exist, so a wrong login costs as long as a
# wrong password and the answer time does not tell which logins exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class SignInRefused(Refused):
    """A sign-in refusal: 401 unless said otherwise; the API middleware translates it."""

    def __init__(self, code: str, status: int = 401, **kw: Any) -> None:
        super().__init__(code, status, **kw)


# --- passwords --------------------------------------------------------------------------------


async def set_password(resident: Resident, login: str, password: str, by: str = "system") -> None:
    """Give a worker a console login; only those who may sign in (``CONSOLE``) may have one."""
    if len(password) < MIN_PASSWORD:
        raise SignInRefused("auth.error.weak_password", 400, min=MIN_PASSWORD)
    if not await is_worker(resident):
        raise SignInRefused("auth.error.not_worker", 403)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    existing = await ConsoleLogin.get_or_none(resident_id=resident.id)
    try:
        if existing is None:
            await ConsoleLogin.create(resident=resident, login=login, password_hash=hashed)
        else:
            existing.login, existing.password_hash = login, hashed
            await existing.save()
    except IntegrityError:
        raise SignInRefused("auth.error.login_taken", 409) from None
    await record(by, "console_login.set", "resident", resident.id)


def _failures_key(login: str) -> str:
    return "loginfail:" + hashlib.sha256(login.casefold().encode()).hexdigest()


async def sign_in_with_password(store: KeyValueStore, login: str, password: str) -> Resident:
    """The worker behind a login and password, or ``SignInRefused`` with one message for all
    wrong cases (no such login, wrong password, no longer a worker).

    The address limit slows one guesser; this per-login lockout stops many guessers
    spread over addresses. It applies to logins that do not exist too, so it does not
    tell which ones do.
    """
    failures_key = _failures_key(login)
    if int(await store.get(failures_key) or 0) >= LOCKOUT_FAILURES:
        raise SignInRefused(
            "auth.error.locked", 429, retry_after=LOCKOUT_SECONDS, minutes=LOCKOUT_SECONDS // 60
        )
    found = await ConsoleLogin.get_or_none(login=login).prefetch_related("resident")
    hashed = found.password_hash if found is not None else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, hashed, password)
        ok = found is not None
    except (VerificationError, InvalidHashError):
        ok = False
    resident = found.resident if ok and found is not None else None
    if resident is None or resident.erased_at is not None or not await is_worker(resident):
        await store.incr(failures_key, ttl=LOCKOUT_SECONDS)
        raise SignInRefused("auth.error.bad_password")
    await store.delete(failures_key)
    if _hasher.check_needs_rehash(hashed) and found is not None:
        found.password_hash = await asyncio.to_thread(_hasher.hash, password)
        await found.save(update_fields=["password_hash", "updated_at"])
    await record(actor(resident), "console_login.signed_in", "resident", resident.id)
    return resident


async def is_worker(resident: Resident) -> bool:
    """Console staff (``CONSOLE``: grid workers, community workers, admins) of their own
    community: who may sign in to the console."""
    return (await who_of(resident)).is_console


# --- mini-program -----------------------------------------------------------------------------


def _code_key(code: str) -> str:
    return "mpcode:" + hashlib.sha256(code.encode()).hexdigest()


async def sign_in_with_code(
    store: KeyValueStore,
    code2session: Code2Session,
    appid: str,
    community_id: int,
    code: str,
) -> Resident:
    """The resident behind a ``wx.login`` code: the same one as the official account's when
    WeChat gives both the same unionid, a new unverified one otherwise.

    A code works once. We remember each one we saw, so a replayed code is refused here
    without asking WeChat (which would refuse it too, with 40163).
    """
    if not await store.set_if_absent(_code_key(code), "1", ttl=CODE_MEMORY_SECONDS):
        raise SignInRefused("auth.error.code_used")
    try:
        identity = await code2session(code)
    except CodeRefused as exc:
        if exc.reason in {"busy", "unreachable"}:
            # Not the code's fault: let the resident's retry with the same code through.
            await store.delete(_code_key(code))
            raise SignInRefused("auth.error.wechat_unavailable", 503) from None
        raise SignInRefused(CODE_REFUSALS.get(exc.reason, "auth.error.code_invalid")) from None
    return await _resident_of(appid, community_id, identity)


async def _resident_of(appid: str, community_id: int, identity: WeChatIdentity) -> Resident:
    link = await MiniProgramUser.get_or_none(appid=appid, openid=identity.openid).prefetch_related(
        "resident"
    )
    if link is not None:
        return link.resident
    try:
        async with in_transaction():
            resident = None
            if identity.unionid:
                resident = (
                    await Resident.filter(
                        community_id=community_id, unionid=identity.unionid, erased_at=None
                    )
                    .order_by("id")
                    .first()
                )
            created = resident is None
            if resident is None:
                resident = await Resident.create(
                    community_id=community_id, unionid=identity.unionid
                )
            await MiniProgramUser.create(appid=appid, openid=identity.openid, resident=resident)
            action = "resident.created" if created else "resident.linked_miniprogram"
            await record(actor(resident), action, "resident", resident.id)
    except IntegrityError:
        # Two first sign-ins at once: the other one linked it, and ours rolled back.
        link = await MiniProgramUser.get(appid=appid, openid=identity.openid)
        return await Resident.get(id=link.resident_id)
    return resident


# --- login by scanning a QR code with the official account ------------------------------------


def _ticket_key(ticket: str) -> str:
    return "loginqr:" + hashlib.sha256(ticket.encode()).hexdigest()


async def start_qr_login(store: KeyValueStore) -> str:
    """A fresh ticket; its QR scene is ``LOGIN_QR_SCENE + ticket``."""
    ticket = secrets.token_urlsafe(18)
    await store.set(_ticket_key(ticket), "pending", ttl=LOGIN_QR_SECONDS)
    return ticket


async def confirm_qr_login(store: KeyValueStore, ticket: str, resident: Resident) -> str:
    """A scan of the login QR: ``ok``, ``not_worker`` or ``expired``."""
    key = _ticket_key(ticket)
    if await store.get(key) != "pending":
        return "expired"
    if not await is_worker(resident):
        return "not_worker"
    await store.set(key, f"resident:{resident.id}", ttl=LOGIN_QR_SECONDS)
    await record(actor(resident), "console_login.qr_scanned", "resident", resident.id)
    return "ok"


async def poll_qr_login(store: KeyValueStore, ticket: str) -> int | None:
    """The worker who scanned, once; ``None`` while nobody has. Unknown tickets refuse."""
    key = _ticket_key(ticket)
    value = await store.get(key)
    if value is None:
        raise SignInRefused("auth.error.qr_expired", 404)
    if not value.startswith("resident:"):
        return None
    # Single use even when two polls see the scan at once.
    if not await store.set_if_absent(key + ":taken", "1", ttl=LOGIN_QR_SECONDS):
        raise SignInRefused("auth.error.qr_expired", 404)
    await store.delete(key)
    return int(value.removeprefix("resident:"))
