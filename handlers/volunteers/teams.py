"""Registration (网上注册) and volunteer teams (志愿服务队)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.refusal import Refused
from handlers.roles import Who
from handlers.roles import actor as actor_name
from handlers.volunteers import rules
from handlers.volunteers.shared import SKILL_MAX, SKILLS_MAX, clean_text, forbid_unless
from models.audit import record
from models.residents import Resident, Role, RoleAssignment
from models.volunteers import TeamMember, VolunteerProfile, VolunteerTeam


def clean_skills(skills: Iterable[object]) -> list[str]:
    """Skills as kept: trimmed, at most ``SKILL_MAX`` characters, each once, at most
    ``SKILLS_MAX`` (the API's model refuses longer ones; the chat's words are cut)."""
    out: list[str] = []
    for raw in skills:
        skill = str(raw).strip()[:SKILL_MAX]
        if skill and skill.casefold() not in {s.casefold() for s in out}:
            out.append(skill)
    if len(out) > SKILLS_MAX:
        raise Refused("volunteer.error.too_many_skills", 400, limit=SKILLS_MAX)
    return out


async def profile_of(resident_id: int) -> VolunteerProfile | None:
    return await VolunteerProfile.get_or_none(resident_id=resident_id, active=True)


async def register(
    resident: Resident,
    now: datetime,
    skills: Iterable[object] | None = None,
    birth_year: int | None = None,
) -> tuple[VolunteerProfile, bool]:
    """网上注册: the profile and the volunteer role; registering again updates the profile.

    ``skills`` given (even none) replace the profile's; ``None`` keeps them, as an absent
    ``birth_year`` keeps the year. Returns the profile and whether it is new.
    """
    if resident.erased_at is not None:
        raise Refused("volunteer.error.forbidden", 403)
    cleaned = clean_skills(skills or ())
    if birth_year is not None and not 1900 <= birth_year <= now.year:
        raise Refused("volunteer.error.bad_birth_year", 400)
    existing = await VolunteerProfile.get_or_none(resident_id=resident.id)
    if existing is not None:
        changes: dict[str, Any] = {"active": True}
        if skills is not None:
            changes["skills"] = cleaned
        if birth_year is not None:
            changes["birth_year"] = birth_year
        await VolunteerProfile.filter(id=existing.id).update(**changes)
        for field, value in changes.items():
            setattr(existing, field, value)
        await _grant_role(resident, None)
        return existing, False
    try:
        async with in_transaction() as conn:
            profile = await VolunteerProfile.create(
                resident_id=resident.id,
                community_id=resident.community_id,
                skills=cleaned,
                birth_year=birth_year,
                registered_at=now,
                using_db=conn,
            )
            await _grant_role(resident, conn)
            await record(
                actor_name(resident),
                "volunteer.registered",
                "resident",
                resident.id,
                after={"skills": cleaned},
                using_db=conn,
            )
    except IntegrityError:
        return await VolunteerProfile.get(resident_id=resident.id), False
    return profile, True


async def _grant_role(resident: Resident, conn: Any) -> None:
    community_id = resident.community_id
    if not await (
        RoleAssignment.filter(
            resident_id=resident.id, role=Role.VOLUNTEER, community_id=community_id
        )
        .using_db(conn)
        .exists()
    ):
        await RoleAssignment.create(
            resident_id=resident.id, role=Role.VOLUNTEER, community_id=community_id, using_db=conn
        )


async def create_team(who: Who, name: str, category: str, leader_id: int | None) -> VolunteerTeam:
    forbid_unless(who.is_manager)
    name = clean_text(name, 64, "volunteer.error.bad_title")
    if category not in {c.value for c in rules.Category}:
        raise Refused("volunteer.error.bad_category", 400)
    if (
        leader_id is not None
        and not await Resident.filter(
            id=leader_id, community_id=who.community_id, erased_at=None
        ).exists()
    ):
        raise Refused("volunteer.error.bad_leader", 400)
    try:
        async with in_transaction() as conn:
            team = await VolunteerTeam.create(
                community_id=who.community_id,
                name=name,
                category=category,
                leader_id=leader_id,
                using_db=conn,
            )
            await record(
                who.name,
                "volunteer_team.created",
                "volunteer_team",
                team.id,
                after={"name": name, "leader": leader_id},
                using_db=conn,
            )
    except IntegrityError:
        raise Refused("volunteer.error.team_exists", 409, name=name) from None
    return team


async def join_team(resident: Resident, team_id: int) -> VolunteerTeam:
    team = await VolunteerTeam.get_or_none(
        id=team_id,
        community_id=resident.community_id,
    )
    if team is None:
        raise Refused("volunteer.error.team_not_found", 404, id=team_id)
    if await profile_of(resident.id) is None:
        raise Refused("volunteer.error.not_registered", 403)
    # Already a member: joining twice is joining. Its own (nested) transaction, so the
    # refused insert does not abort a transaction the chat holds around the message.
    with contextlib.suppress(IntegrityError):
        async with in_transaction() as conn:
            await TeamMember.create(team_id=team.id, resident_id=resident.id, using_db=conn)
    return team
