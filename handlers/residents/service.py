"""Database work on residents, shared by the chat and (later) the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from handlers.i18n import FALLBACK, language_of
from handlers.refusal import Refused
from handlers.residents.rules import CodeStatus, code_status, new_code, normalize_code
from handlers.roles import Who, actor, who_of
from handlers.types import KeyValueStore
from models.accounts import ConsoleLogin, MiniProgramUser
from models.audit import AuditLog, record
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


async def touch(community: int, openid: str, language: str = FALLBACK) -> Resident:
    """The resident behind an openid, created on first contact (concurrency-safe).

    A new resident reads the community's ``language`` until they choose one.
    """
    resident = await Resident.get_or_none(community_id=community, openid=openid)
    if resident is not None:
        return resident
    try:
        resident = await Resident.create(
            community_id=community, openid=openid, language=language_of(language)
        )
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


async def reading_language(resident: Resident, community_language: str) -> str:
    """The language the resident reads: the one they chose, else the community's.

    A resident now starts in the community's language (``touch``, mini-program sign-in,
    ``add-worker``), but those created before started as zh_Hans whatever the community's,
    so a zh_Hans there is a choice only if the resident made it; each choice
    (``set_language``, by chat or ``PATCH /me``) leaves its audit entry, which tells.
    """
    stored = language_of(resident.language)
    community = language_of(community_language)
    if stored != FALLBACK or community == FALLBACK:
        return stored
    chose = await AuditLog.filter(
        entity="resident", entity_id=str(resident.id), action="resident.language"
    ).exists()
    return stored if chose else community


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


# --- one person, one resident: unionids and merges --------------------------------------------

# Rows that only say what a person is allowed or wants (a role, a muted kind, a team
# membership, a console login): when both residents have the same one, the duplicate
# goes. Every other row that would collide with the keeper's (a second sign-up for the
# same shift, a second volunteer profile) stays with the retired resident, where it
# counts for no one: a duplicate is never moved, so nothing is counted twice.
DROP_DUPLICATES = frozenset({"RoleAssignment", "Mute", "TeamMember", "ConsoleLogin"})


@dataclass(frozen=True)
class Merged:
    """What a merge did: the resident kept, the one retired, and the rows moved, kept
    apart (duplicates left with the retired resident) and dropped, by table."""

    kept: int
    retired: int
    moved: dict[str, int]
    apart: dict[str, int]
    dropped: dict[str, int]


async def link_unionid(resident: Resident, unionid: str, now: datetime) -> tuple[Resident, int]:
    """WeChat told us ``resident``'s unionid (the official account's user info, or the
    mini-program's ``code2Session``): the person stays one resident.

    When no other resident of the community has that unionid, it is set on this one;
    otherwise the two (or more) are merged (``merge``) into the oldest. Returns the
    resident the person now is and how many others were merged into it. An erased
    resident is left alone.
    """
    fresh = await Resident.get_or_none(id=resident.id)
    if fresh is None or fresh.erased_at is not None or not unionid:
        return resident, 0
    others = (
        await Resident.filter(community_id=fresh.community_id, unionid=unionid, erased_at=None)
        .exclude(id=fresh.id)
        .order_by("id")
    )
    if not others:
        if fresh.unionid != unionid:
            before = fresh.unionid is not None
            fresh.unionid = unionid
            await fresh.save(update_fields=["unionid", "updated_at"])
            await record(
                actor(fresh),
                "resident.unionid_set",
                "resident",
                fresh.id,
                before={"unionid": before},
                after={"unionid": True},
            )
        return fresh, 0
    everyone = sorted([fresh, *others], key=lambda r: r.id)
    kept = everyone[0]
    for other in everyone[1:]:
        await merge(kept, other, now)
    merged = await Resident.get(id=kept.id)
    if merged.unionid != unionid:
        merged.unionid = unionid
        await merged.save(update_fields=["unionid", "updated_at"])
    return merged, len(everyone) - 1


async def merge(keep: Resident, gone: Resident, now: datetime, by: str = "system") -> Merged:
    """Make ``gone`` part of ``keep``: the same person reached two ways (the official
    account and the mini-program) before WeChat told us so.

    Everything ``gone`` did moves to ``keep``: votes and orders (they are the household's,
    one row per household and vote, so moving the voter counts nothing twice), tickets,
    comments, sign-ups, points, uploads, mini-program and WeCom links, roles. ``keep``
    takes ``gone``'s openid, unionid, name, phone and household when it has none of its own
    (its own household wins when both are bound: a person binds one household). ``gone``
    stays as a row, erased and pointing at nothing personal, with what could not move
    without counting twice (``DROP_DUPLICATES``, ``Merged``). An active sign-up of
    ``gone`` for a shift ``keep`` is on too is given up first, so its place goes to the
    waitlist. Sessions of ``gone`` stop working: the mini-program signs in again and
    lands on ``keep``.
    """
    if keep.id == gone.id:
        raise ValueError("a resident cannot be merged into themselves")
    await _give_up_double_signups(keep.id, gone.id, now)
    moved: dict[str, int] = {}
    apart: dict[str, int] = {}
    dropped: dict[str, int] = {}
    async with in_transaction() as conn:
        keeper = await Resident.filter(id=keep.id).using_db(conn).select_for_update().get()
        retired = await Resident.filter(id=gone.id).using_db(conn).select_for_update().get()
        if keeper.community_id != retired.community_id:
            raise ValueError("residents of two communities are two people")
        if keeper.erased_at is not None or retired.erased_at is not None:
            # Merged (or erased) meanwhile, by another process that found the same link.
            return Merged(keeper.id, retired.id, moved, apart, dropped)
        for name in sorted(Resident._meta.backward_fk_fields | Resident._meta.backward_o2o_fields):
            relation: Any = Resident._meta.fields_map[name]
            model, column = relation.related_model, relation.relation_field
            counts = await _move_rows(model, column, keeper.id, retired.id, conn)
            for bucket, n in zip((moved, apart, dropped), counts, strict=True):
                if n:
                    table = model._meta.db_table
                    bucket[table] = bucket.get(table, 0) + n
        await (
            Notification.filter(audience=f"resident:{retired.id}", sent_at=None)
            .using_db(conn)
            .update(audience=f"resident:{keeper.id}")
        )
        before = _identity(keeper)
        took_openid = keeper.openid is None and retired.openid is not None
        was = SimpleNamespace(**{f: getattr(retired, f) for f in RETIRED_FIELDS})
        conflict = (
            keeper.household_id is not None
            and retired.household_id is not None
            and keeper.household_id != retired.household_id
        )
        _retire(retired, now)
        await retired.save(using_db=conn)  # the openid is free before the keeper takes it
        if took_openid:
            keeper.openid, keeper.active = was.openid, was.active
        keeper.unionid = keeper.unionid or was.unionid
        keeper.name = keeper.name or was.name
        keeper.phone = keeper.phone or was.phone
        if keeper.household_id is None and was.household_id is not None:
            keeper.household_id, keeper.verified = was.household_id, was.verified
        elif keeper.household_id == was.household_id:
            keeper.verified = keeper.verified or was.verified
        await keeper.save(using_db=conn)
        summary = {"moved": moved, "apart": apart, "dropped": dropped}
        await record(
            by,
            "resident.merged",
            "resident",
            keeper.id,
            before=before,
            after={**_identity(keeper), "from": retired.id, **summary, "conflict": conflict},
            using_db=conn,
        )
        await record(
            by,
            "resident.merged_into",
            "resident",
            retired.id,
            after={"into": keeper.id},
            using_db=conn,
        )
    return Merged(keeper.id, retired.id, moved, apart, dropped)


def _identity(resident: Resident) -> dict[str, Any]:
    """What the audit may say of a resident's identity: whether, never what."""
    return {
        "openid": resident.openid is not None,
        "unionid": resident.unionid is not None,
        "phone": resident.phone is not None,
        "household": resident.household_id,
        "verified": resident.verified,
    }


RETIRED_FIELDS = ("openid", "unionid", "name", "phone", "household_id", "verified", "active")


def _retire(resident: Resident, now: datetime) -> None:
    resident.openid = resident.unionid = resident.name = resident.phone = None
    resident.household_id = None
    resident.verified = resident.active = False
    resident.erased_at = now


async def _move_rows(
    model: Any, column: str, keep_id: int, gone_id: int, conn: BaseDBAsyncClient
) -> tuple[int, int, int]:
    """Point ``model``'s rows of ``gone_id`` at ``keep_id``, except those that would
    duplicate one of the keeper's (by a unique constraint holding ``column``): those are
    dropped (``DROP_DUPLICATES``) or kept apart. Returns (moved, apart, dropped)."""
    mine = model.filter(**{column: gone_id}).using_db(conn)
    meta, fk = model._meta, column.removesuffix("_id")
    linked = meta.fk_fields | meta.o2o_fields
    keys = [
        [f"{f}_id" if f in linked else f for f in unique if f != fk]
        for unique in meta.unique_together
        if fk in unique
    ]
    if fk in meta.o2o_fields:
        keys.append([])  # one row per resident: any row of the keeper's clashes
    clashing: set[int] = set()
    for others in keys:
        keepers = model.filter(**{column: keep_id}).using_db(conn)
        theirs = {tuple(row) for row in await keepers.values_list("id", *others)}
        held = {row[1:] for row in theirs}
        for row in await mine.values_list("id", *others):
            if tuple(row[1:]) in held:
                clashing.add(row[0])
    dropped = apart = 0
    if clashing:
        if model.__name__ in DROP_DUPLICATES:
            dropped = await model.filter(id__in=list(clashing)).using_db(conn).delete()
        else:
            apart = len(clashing)
    moved = await mine.exclude(id__in=list(clashing)).update(**{column: keep_id})
    return moved, apart, dropped


async def _give_up_double_signups(keep_id: int, gone_id: int, now: datetime) -> None:
    """Both residents on one shift hold two places for one person: ``gone``'s is given
    up the usual way (the waitlist moves up). One that may no longer be given up (the
    shift started, the cancellation window) stays, apart, with the retired resident."""
    from handlers.volunteers import service as volunteers
    from models.volunteers import SignUp

    active = ["confirmed", "waitlisted"]
    theirs = [s.shift_id for s in await SignUp.filter(volunteer_id=keep_id)]
    for signup in await SignUp.filter(volunteer_id=gone_id, status__in=active, shift_id__in=theirs):
        try:
            await volunteers.cancel(signup.shift_id, gone_id, now)
        except Refused:
            continue
