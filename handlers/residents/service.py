"""Database work on residents, shared by the chat and (later) the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.residents.rules import CodeStatus, code_status, new_code, normalize_code
from handlers.roles import Who, actor, who_of
from handlers.types import KeyValueStore
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import record
from models.community import Community, Household
from models.outbox import Notification
from models.residents import BindingCode, Resident, Role, RoleAssignment

BIND_FAILURE_WINDOW = 600.0


async def community_id(slug: str) -> int:
    community, _ = await Community.get_or_create(slug=slug, defaults={"name": slug})
    return community.id


async def find(
    community: int, openid: str, conn: BaseDBAsyncClient | None = None
) -> Resident | None:
    """The resident behind an openid, if they have written before (on ``conn``)."""
    return await Resident.filter(community_id=community, openid=openid).using_db(conn).first()


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
            await _tell_the_household(found.household, resident, conn)
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
    """``bind`` behind a lockout shared by every channel; ``None`` while locked out.

    Every attempt is counted before its code is looked at (one atomic increment in the
    shared store), so attempts sent at once get ``limit`` checks between them, not one
    each. A success is an attempt too; it is not refunded."""
    attempts = await store.incr(f"bindfail:{resident.id}", ttl=BIND_FAILURE_WINDOW)
    if attempts > limit:
        return None
    return await bind(resident, typed, now)


async def _tell_the_household(household: Household, newcomer: Resident, conn: Any) -> None:
    """Whoever binds can speak (and vote) for the household: its residents already bound
    hear of it, in the transaction of the binding."""
    others = (
        await Resident.filter(household_id=household.id, verified=True, erased_at=None)
        .exclude(id=newcomer.id)
        .using_db(conn)
        .values_list("id", flat=True)
    )
    label = _label(household)
    for other in others:
        await Notification.create(
            community_id=newcomer.community_id,
            kind="household.bound",
            audience=f"resident:{other}",
            subject="household",
            subject_id=household.id,
            payload={"household": label},
            using_db=conn,
        )


def households_of(who: Who) -> QuerySet[Household]:
    """The households a worker looks after: every one of the community for managers
    (community workers and admins), those of their own grids for a grid worker."""
    query = Household.filter(building__community_id=who.community_id)
    if not who.is_manager:
        query = query.filter(building__grid_id__in=list(who.grids))
    return query


async def issue_code_for(who: Who, household_id: int, now: datetime, days: int) -> BindingCode:
    """A fresh code for a household the worker looks after (``households_of``); others are
    the same 404 as a household that does not exist."""
    household = await households_of(who).get_or_none(id=household_id)
    if household is None:
        raise Refused("api.error.not_found", 404)
    code = await issue_code(household, now, days, by=who.name)
    return await BindingCode.get(code=code)


async def issue_code(household: Household, now: datetime, days: int, by: str = "system") -> str:
    """A fresh code for a household; the household's codes still unused stop working (a
    code handed out earlier may have gone astray). Retried on the (rare) collision."""
    for _ in range(5):
        code = new_code()
        try:
            async with in_transaction() as conn:
                revoked = (
                    await BindingCode.filter(
                        household_id=household.id, used_at=None, expires_at__gt=now
                    )
                    .using_db(conn)
                    .update(expires_at=now)
                )
                await BindingCode.create(
                    code=code,
                    household=household,
                    expires_at=now + timedelta(days=days),
                    using_db=conn,
                )
                await record(
                    by,
                    "binding_code.issued",
                    "household",
                    household.id,
                    after={"revoked": revoked},
                    using_db=conn,
                )
        except IntegrityError:
            continue
        return code
    raise RuntimeError("could not find a free binding code")


def _label(household: Household) -> str:
    return f"{household.building.name} {household.unit} {household.room}".replace("  ", " ")


async def household_label(household_id: int | None) -> str:
    if household_id is None:
        return ""
    household = await Household.get(id=household_id).prefetch_related("building")
    return _label(household)


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
    return (await who_of(resident)).held


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
