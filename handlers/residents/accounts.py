"""Signing in outside the official account: console passwords, mini-program codes, login QR.

Each way ends in the same server-side session (``sessions.issue``). WeChat itself is
reached only through the callables the transport injects (``Code2Session``,
``LoginQr``), so nothing here knows WeChat's HTTP API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.clock import utc_now
from handlers.i18n import N_
from handlers.refusal import Refused
from handlers.residents import service
from handlers.roles import actor, who_of
from handlers.types import (
    Code2Session,
    CodeRefused,
    KeyValueStore,
    PhoneNumber,
    PhoneRefused,
    WeChatIdentity,
)
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import record
from models.residents import Resident

LOGIN_QR_SCENE = "login_"
LOGIN_QR_SECONDS = 300
CODE_MEMORY_SECONDS = 600
MIN_PASSWORD = 10
LOCKOUT_FAILURES = 10  # from one address
LOGIN_LOCKOUT_FAILURES = 100  # from every address together
LOCKOUT_SECONDS = 15 * 60
CODE_REFUSALS = {"used": "auth.error.code_used", "invalid": "auth.error.code_invalid"}
# Why no phone number came of a getPhoneNumber code: the refusal, and its status on its own.
PHONE_REFUSALS = {
    "invalid": (N_("residents.phone.error.code_invalid"), 422),
    "busy": (N_("residents.phone.error.wechat_unavailable"), 503),
    "unavailable": (N_("residents.phone.error.unavailable"), 503),
}
PHONE_MAX = 32  # Resident.phone
_hasher = PasswordHasher()


@cache
def dummy_hash() -> str:
    """Verified against when the login does not exist, so a wrong login costs as long as a
    wrong password and the answer time does not tell which logins exist. Made on first use:
    hashing costs 150 ms, which every process (``linli route`` too) paid at import."""
    return _hasher.hash(secrets.token_hex(16))


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
        async with in_transaction() as conn:
            if existing is None:
                await ConsoleLogin.create(
                    resident=resident, login=login, password_hash=hashed, using_db=conn
                )
            else:
                existing.login, existing.password_hash = login, hashed
                await existing.save(using_db=conn)
    except IntegrityError:
        raise SignInRefused("auth.error.login_taken", 409) from None
    await record(by, "console_login.set", "resident", resident.id)


def _failures_keys(login: str, address: str) -> tuple[str, str]:
    """The counters of one login from one address, and of the login from everywhere."""
    name = login.casefold()
    pair = hashlib.sha256(f"{name}\x00{address}".encode()).hexdigest()
    return "loginfail-from:" + pair, "loginfail:" + hashlib.sha256(name.encode()).hexdigest()


def _locked() -> SignInRefused:
    return SignInRefused(
        "auth.error.locked", 429, retry_after=LOCKOUT_SECONDS, minutes=LOCKOUT_SECONDS // 60
    )


async def sign_in_with_password(
    store: KeyValueStore, login: str, password: str, address: str = ""
) -> Resident:
    """The worker behind a login and password, or ``SignInRefused`` with one message for all
    wrong cases (no such login, wrong password, no longer a worker).

    Every attempt is counted before the password is checked (atomic increments in the
    shared store), so attempts sent at once get no more checks than the limit. The address
    limit slows one guesser; ``LOCKOUT_FAILURES`` attempts lock the login from that
    ``address`` only, so a stranger cannot lock a worker out of their own office; the
    login is locked everywhere only past ``LOGIN_LOCKOUT_FAILURES`` attempts from
    addresses not yet locked. It applies to logins that do not exist too, so it does not
    tell which ones do. A right password clears its address's count, not the login's.
    """
    pair_key, login_key = _failures_keys(login, address)
    if await store.incr(pair_key, ttl=LOCKOUT_SECONDS) > LOCKOUT_FAILURES:
        raise _locked()
    if await store.incr(login_key, ttl=LOCKOUT_SECONDS) > LOGIN_LOCKOUT_FAILURES:
        raise _locked()
    found = await ConsoleLogin.get_or_none(login=login).prefetch_related("resident")
    hashed = found.password_hash if found is not None else dummy_hash()
    try:
        await asyncio.to_thread(_hasher.verify, hashed, password)
        ok = found is not None
    except (VerificationError, InvalidHashError):
        ok = False
    resident = found.resident if ok and found is not None else None
    if resident is None or resident.erased_at is not None or not await is_worker(resident):
        raise SignInRefused("auth.error.bad_password")
    await store.delete(pair_key)
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
    now: datetime | None = None,
    language: str = "zh_Hans",
) -> Resident:
    """The resident behind a ``wx.login`` code: the same one as the official account's when
    WeChat gives both the same unionid, a new unverified one otherwise. A mini-program
    resident whose unionid WeChat tells only now (the accounts were bound to an open
    platform later) is merged with the follower who has it (``service.link_unionid``).

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
    resident = await _resident_of(appid, community_id, identity, language)
    if identity.unionid and resident.unionid != identity.unionid:
        resident, _ = await service.link_unionid(resident, identity.unionid, now or utc_now())
    return resident


async def _resident_of(
    appid: str, community_id: int, identity: WeChatIdentity, language: str
) -> Resident:
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
                    community_id=community_id, unionid=identity.unionid, language=language
                )
            await MiniProgramUser.create(appid=appid, openid=identity.openid, resident=resident)
            action = "resident.created" if created else "resident.linked_miniprogram"
            await record(actor(resident), action, "resident", resident.id)
    except IntegrityError:
        # Two first sign-ins at once: the other one linked it, and ours rolled back.
        link = await MiniProgramUser.get(appid=appid, openid=identity.openid)
        return await Resident.get(id=link.resident_id)
    return resident


# --- the resident's phone number, from the mini-program's getPhoneNumber button ----------------


def mask_phone(phone: str) -> str:
    """A phone number as its owner may see it echoed: the first three and last four digits
    of a mainland mobile (138****8000), only the last four of anything else."""
    digits = phone.removeprefix("+86")
    if len(digits) == 11 and digits.isdigit():
        return digits[:3] + "****" + digits[-4:]
    if len(phone) <= 4:
        return "*" * len(phone)
    return "*" * (len(phone) - 4) + phone[-4:]


def phone_refusal(reason: str) -> Refused:
    code, status = PHONE_REFUSALS.get(reason, PHONE_REFUSALS["unavailable"])
    return Refused(code, status)


async def save_phone(resident: Resident, phone_number: PhoneNumber | None, code: str) -> None:
    """Exchange a ``getPhoneNumber`` code for the resident's phone number and keep it on
    ``Resident.phone``; ``Refused`` (``PHONE_REFUSALS``) when WeChat gives none.

    The code is the resident's consent, given by tapping the button; it works once and
    for five minutes. The number is personal data: it goes into no log, no audit entry
    (the entry says only that a number was set) and no answer to anyone else; erasure
    clears it and "my data" shows it masked.
    """
    if phone_number is None:
        raise phone_refusal("unavailable")
    try:
        phone = await phone_number(code)
    except PhoneRefused as exc:
        raise phone_refusal(exc.reason) from None
    phone = phone[:PHONE_MAX]
    had = resident.phone is not None
    if resident.phone == phone:
        return
    resident.phone = phone
    await resident.save(update_fields=["phone", "updated_at"])
    await record(
        actor(resident),
        "resident.phone_set",
        "resident",
        resident.id,
        before={"phone": had},
        after={"phone": True},
    )


async def try_save_phone(
    resident: Resident, phone_number: PhoneNumber | None, code: str
) -> Refused | None:
    """``save_phone`` at sign-in, where a phone that fails must not fail the sign-in:
    the refusal to report beside the session, or ``None`` when the number is kept."""
    try:
        await save_phone(resident, phone_number, code)
    except Refused as refused:
        return refused
    return None


# --- login by scanning a QR code with the official account ------------------------------------


def _ticket_key(ticket: str) -> str:
    return "loginqr:" + hashlib.sha256(ticket.encode()).hexdigest()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class QrLogin:
    """A started QR sign-in: the ticket goes into the QR scene (anyone who sees the code
    may know it), the secret only to the page that started it, which polls with it."""

    ticket: str
    secret: str


@dataclass(frozen=True)
class QrScan:
    """What a scan of the login QR came to: ``confirm`` (ask the worker, naming where the
    sign-in came from), ``not_worker`` or ``expired``."""

    outcome: str
    address: str = ""
    device: str = ""


async def _ticket(store: KeyValueStore, ticket: str) -> dict[str, Any] | None:
    raw = await store.get(_ticket_key(ticket))
    if raw is None:
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


async def _keep(store: KeyValueStore, ticket: str, state: dict[str, Any]) -> None:
    await store.set(_ticket_key(ticket), json.dumps(state), ttl=LOGIN_QR_SECONDS)


async def start_qr_login(store: KeyValueStore, address: str = "", device: str = "") -> QrLogin:
    """A fresh ticket (its QR scene is ``LOGIN_QR_SCENE + ticket``) and the secret its page
    polls with. ``address`` (already masked) and ``device`` are what the worker who scans
    is shown before confirming."""
    ticket, secret = secrets.token_urlsafe(18), secrets.token_urlsafe(24)
    state = {"state": "pending", "secret": _digest(secret), "address": address, "device": device}
    await _keep(store, ticket, state)
    return QrLogin(ticket, secret)


async def scan_qr_login(store: KeyValueStore, ticket: str, resident: Resident) -> QrScan:
    """A scan of the login QR: it releases nothing. The worker who scanned is asked to
    confirm (``confirm_qr_login``); until then the ticket is theirs alone."""
    async with store.lock("loginqr-lock:" + _ticket_key(ticket)):
        state = await _ticket(store, ticket)
        if state is None or state.get("state") not in {"pending", "scanned"}:
            return QrScan("expired")
        if state.get("state") == "scanned" and state.get("by") != resident.id:
            return QrScan("expired")
        if not await is_worker(resident):
            return QrScan("not_worker")
        await _keep(store, ticket, {**state, "state": "scanned", "by": resident.id})
    await record(actor(resident), "console_login.qr_scanned", "resident", resident.id)
    return QrScan("confirm", str(state.get("address", "")), str(state.get("device", "")))


async def confirm_qr_login(store: KeyValueStore, ticket: str, resident: Resident) -> str:
    """The worker who scanned confirms in chat: ``ok`` (the page's next poll gets a session),
    ``not_worker`` or ``expired``."""
    async with store.lock("loginqr-lock:" + _ticket_key(ticket)):
        state = await _ticket(store, ticket)
        if state is None or state.get("state") != "scanned" or state.get("by") != resident.id:
            return "expired"
        if not await is_worker(resident):
            return "not_worker"
        await _keep(store, ticket, {**state, "state": "confirmed"})
    await record(actor(resident), "console_login.qr_confirmed", "resident", resident.id)
    return "ok"


async def cancel_qr_login(store: KeyValueStore, ticket: str, resident: Resident) -> None:
    """The worker who scanned said no: the ticket is gone, the page's poll answers 404."""
    async with store.lock("loginqr-lock:" + _ticket_key(ticket)):
        state = await _ticket(store, ticket)
        if state is None or state.get("by") != resident.id:
            return
        await store.delete(_ticket_key(ticket))
    await record(actor(resident), "console_login.qr_refused", "resident", resident.id)


async def poll_qr_login(store: KeyValueStore, ticket: str, secret: str) -> int | None:
    """The worker who scanned and confirmed, once; ``None`` until then. Unknown tickets,
    and a secret that is not the starting page's, refuse alike."""
    key = _ticket_key(ticket)
    state = await _ticket(store, ticket)
    if state is None or not hmac.compare_digest(str(state.get("secret", "")), _digest(secret)):
        raise SignInRefused("auth.error.qr_expired", 404)
    if state.get("state") != "confirmed":
        return None
    # Single use even when two polls see the confirmation at once.
    if not await store.set_if_absent(key + ":taken", "1", ttl=LOGIN_QR_SECONDS):
        raise SignInRefused("auth.error.qr_expired", 404)
    await store.delete(key)
    return int(state["by"])
