"""Database work on residents, shared by the chat and (later) the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.residents.rules import CodeStatus, code_status, new_code, normalize_code
from handlers.roles import actor, who_of
from handlers.types import KeyValueStore
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import record
from models.community import Community, Household
from models.residents import BindingCode, Resident, Role, RoleAssignment

BIND_FAILURE_WINDOW = 600.0


async def community_id(slug: str) -> int:
    community, _ = await Community.get_or_create(slug=slug, defaults={"name": slug})
    return community.id


async def touch(community: int, openid: str) -> Resident:
    """The resident behind an openid, created on first contact (concurrency-safe)."""
    resident = await Resident.get_or_none(community_id=community, openid=openid)
    if resident is not None:
        return resident
    try:
        resident = await Resident.create(community_id=community, openid=openid)
    except IntegrityError:
        return await Resident.get(community_id=community, openid=openid)
    await record(actor(resident), "resident.created", "resident", resident.id)
    return resident


async def set_active(resident: Resident, active: bool) -> None:
    if resident.active == active:
        return
    resident.active = active
    await resident.save(update_fields=["active", "updated_at"])
    action = "resident.subscribed" if active else "resident.unsubscribed"
    await record(
        actor(resident),
        action,
        "resident",
        resident.id,
        before={"active": not active},
        after={"active": active},
    )


@dataclass(frozen=True)
class BindOutcome:
    status: CodeStatus
    household: Household | None = None


async def bind(resident: Resident, typed: str, now: datetime) -> BindOutcome:
    """Spend a one-time code on this resident; the conditional update makes it single-use."""
    code = normalize_code(typed)
    if code is None:
        return BindOutcome(CodeStatus.MALFORMED)
    async with in_transaction() as conn:
        found = await BindingCode.get_or_none(code=code, using_db=conn).prefetch_related(
            "household__building"
        )
        if found is None:
            return BindOutcome(CodeStatus.UNKNOWN)
        status = code_status(True, found.used_at, found.expires_at, now)
        if status is CodeStatus.OK:
            if found.household.building.community_id != resident.community_id:
                return BindOutcome(CodeStatus.UNKNOWN)
            spent = (
                await BindingCode.filter(id=found.id, used_at=None)
                .using_db(conn)
                .update(used_at=now, used_by_id=resident.id)
            )
            if spent != 1:
                return BindOutcome(CodeStatus.USED)
            before = {"household": resident.household_id, "verified": resident.verified}
            resident.household_id = found.household_id
            resident.verified = True
            await resident.save(
                using_db=conn, update_fields=["household_id", "verified", "updated_at"]
            )
            await record(
                actor(resident),
                "resident.bound",
                "resident",
                resident.id,
                before=before,
                after={"household": found.household_id, "verified": True},
                using_db=conn,
            )
            return BindOutcome(CodeStatus.OK, found.household)
    return BindOutcome(status)


async def bind_guarded(
    store: KeyValueStore, resident: Resident, typed: str, now: datetime, limit: int
) -> BindOutcome | None:
    """``bind`` behind a lockout shared by every channel; ``None`` while locked out."""
    limit_key = f"bindfail:{resident.id}"
    if int(await store.get(limit_key) or 0) >= limit:
        return None
    outcome = await bind(resident, typed, now)
    if outcome.status is not CodeStatus.OK:
        await store.incr(limit_key, ttl=BIND_FAILURE_WINDOW)
    return outcome


async def issue_code(household: Household, now: datetime, days: int, by: str = "system") -> str:
    """A fresh code for a household; retried on the (rare) collision."""
    for _ in range(5):
        code = new_code()
        try:
            await BindingCode.create(
                code=code, household=household, expires_at=now + timedelta(days=days)
            )
        except IntegrityError:
            continue
        await record(by, "binding_code.issued", "household", household.id)
        return code
    raise RuntimeError("could not find a free binding code")


async def household_label(household_id: int | None) -> str:
    if household_id is None:
        return ""
    household = await Household.get(id=household_id).prefetch_related("building")
    return f"{household.building.name} {household.unit} {household.room}".replace("  ", " ")


async def set_language(resident: Resident, language: str) -> None:
    before = resident.language
    resident.language = language
    await resident.save(update_fields=["language", "updated_at"])
    await record(
        actor(resident),
        "resident.language",
        "resident",
        resident.id,
        before={"language": before},
        after={"language": language},
    )


async def roles_of(resident: Resident) -> list[Role]:
    """The roles the resident holds in their own community, each once, in ``Role`` order."""
    held = (await who_of(resident)).roles
    return [role for role in Role if role in held]


async def grant(resident: Resident, role: Role, by: str = "system") -> None:
    _, created = await RoleAssignment.get_or_create(
        resident_id=resident.id,
        role=role,
        community_id=resident.community_id,
    )
    if created:
        await record(by, "role.granted", "resident", resident.id, after={"role": role.value})


async def erase(resident: Resident, now: datetime) -> None:
    """PIPL deletion: personal fields go, the row stays so anonymous records still count."""
    async with in_transaction() as conn:
        resident.openid = None
        resident.unionid = None
        resident.name = None
        resident.phone = None
        resident.household_id = None
        resident.verified = False
        resident.active = False
        resident.erased_at = now
        await resident.save(using_db=conn)
        await RoleAssignment.filter(resident_id=resident.id).using_db(conn).delete()
        await ConsoleLogin.filter(resident_id=resident.id).using_db(conn).delete()
        await MiniProgramUser.filter(resident_id=resident.id).using_db(conn).delete()
        await record(actor(resident), "resident.erased", "resident", resident.id, using_db=conn)
