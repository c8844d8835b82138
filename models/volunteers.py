"""Volunteers (志愿者): profiles, teams, activities and shifts, sign-ups, check-ins, points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.audit import AppendOnlyError

if TYPE_CHECKING:
    from models.community import Community
    from models.residents import Resident


class VolunteerProfile(Model):
    """A resident registered as a volunteer (网上注册), with skills and a birth year.

    Hours are summed from attended sign-ups and the points balance from the ledger, so
    neither is stored twice. Every ledger write of a volunteer locks this row first.
    """

    id = fields.IntField(primary_key=True)
    resident: fields.OneToOneRelation[Resident] = fields.OneToOneField(
        "models.Resident", related_name="volunteer_profile"
    )
    resident_id: int
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="volunteer_profiles"
    )
    community_id: int
    skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    birth_year = fields.SmallIntField(null=True)
    active = fields.BooleanField(default=True)
    registered_at = fields.DatetimeField()

    class Meta:
        table = "volunteer_profile"


class VolunteerTeam(Model):
    """志愿服务队: patrol, cleaning, elderly care and the like, with a leader."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="volunteer_teams"
    )
    community_id: int
    name = fields.CharField(max_length=64)
    category = fields.CharField(max_length=24, default="event")
    leader: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="led_teams", null=True, on_delete=fields.SET_NULL
    )
    leader_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "volunteer_team"
        unique_together = (("community", "name"),)


class TeamMember(Model):
    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[VolunteerTeam] = fields.ForeignKeyField(
        "models.VolunteerTeam", related_name="members"
    )
    team_id: int
    resident: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="team_memberships"
    )
    resident_id: int
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "volunteer_team_member"
        unique_together = (("team", "resident"),)


class Activity(Model):
    """A volunteer activity at a place: coordinates and a radius for check-in by location."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="volunteer_activities"
    )
    community_id: int
    team: fields.ForeignKeyNullableRelation[VolunteerTeam] = fields.ForeignKeyField(
        "models.VolunteerTeam", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    team_id: int | None
    title = fields.CharField(max_length=100)
    description = fields.TextField(default="")
    category = fields.CharField(max_length=24, default="event")
    place = fields.CharField(max_length=100, default="")
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    radius_m = fields.IntField(default=200)
    required_skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    status = fields.CharField(max_length=16, default="open")
    created_by: fields.ForeignKeyNullableRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="volunteer_activities", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    # The key of the site's QR codes (their HMAC), issued when a leader first asks for them.
    scene_secret = fields.CharField(max_length=64, null=True)

    shifts: fields.ReverseRelation[Shift]

    class Meta:
        table = "volunteer_activity"


class Shift(Model):
    """One time slot of an activity with a capacity.

    The two counts are kept under the row lock that every sign-up and cancellation
    takes, so confirmed_count never passes capacity and the waitlist stays 1..n.
    """

    id = fields.IntField(primary_key=True)
    activity: fields.ForeignKeyRelation[Activity] = fields.ForeignKeyField(
        "models.Activity", related_name="shifts"
    )
    activity_id: int
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField(db_index=True)
    capacity = fields.IntField()
    confirmed_count = fields.IntField(default=0)
    waitlist_count = fields.IntField(default=0)
    min_age = fields.SmallIntField(null=True)
    skills: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "volunteer_shift"


class SignUp(Model):
    """A volunteer on a shift: confirmed, waitlisted at a position, cancelled, no-show, attended.

    One row per shift and volunteer. Signing up again after cancelling reuses it.
    The reminder columns are set by a conditional update, so each reminder goes once.
    """

    id = fields.IntField(primary_key=True)
    shift: fields.ForeignKeyRelation[Shift] = fields.ForeignKeyField(
        "models.Shift", related_name="signups"
    )
    shift_id: int
    volunteer: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="volunteer_signups"
    )
    volunteer_id: int
    status = fields.CharField(max_length=16, db_index=True)
    position = fields.IntField(null=True)
    signed_up_at = fields.DatetimeField()
    confirmed_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    checked_in_at = fields.DatetimeField(null=True)
    checked_out_at = fields.DatetimeField(null=True)
    minutes = fields.IntField(null=True)
    points = fields.IntField(null=True)
    reminded_day_at = fields.DatetimeField(null=True)
    reminded_hour_at = fields.DatetimeField(null=True)

    class Meta:
        table = "volunteer_signup"
        unique_together = (("shift", "volunteer"),)
        indexes = (("volunteer_id", "status"),)


class CheckRecord(Model):
    """签到 and 签退, kept for inspection (留档备查): when, how, and where from."""

    id = fields.BigIntField(primary_key=True)
    signup: fields.ForeignKeyRelation[SignUp] = fields.ForeignKeyField(
        "models.SignUp", related_name="checks"
    )
    signup_id: int
    kind = fields.CharField(max_length=8)
    at = fields.DatetimeField()
    method = fields.CharField(max_length=16)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    distance_m = fields.IntField(null=True)

    class Meta:
        table = "volunteer_check"


class PointsEntry(Model):
    """One line of the points ledger: earned, bonus, redeemed or adjusted, never changed.

    The balance is the sum of a volunteer's lines.
    """

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="points_entries"
    )
    community_id: int
    volunteer: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="points_entries"
    )
    volunteer_id: int
    kind = fields.CharField(max_length=16)
    points = fields.IntField()
    signup: fields.ForeignKeyNullableRelation[SignUp] = fields.ForeignKeyField(
        "models.SignUp", related_name="points_entries", null=True, on_delete=fields.SET_NULL
    )
    signup_id: int | None
    redemption: fields.ForeignKeyNullableRelation[Redemption] = fields.ForeignKeyField(
        "models.Redemption", related_name="points_entries", null=True, on_delete=fields.SET_NULL
    )
    redemption_id: int | None
    reason = fields.TextField(default="")
    actor = fields.CharField(max_length=64)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "volunteer_points"
        indexes = (("volunteer_id", "at"), ("community_id", "at"))

    async def save(self, *args: Any, **kwargs: Any) -> None:
        if self._saved_in_db:
            raise AppendOnlyError("points entries are append-only")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        raise AppendOnlyError("points entries are append-only")


class Reward(Model):
    """Something volunteers exchange points for (积分兑换), with what is left in stock."""

    id = fields.IntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="rewards"
    )
    community_id: int
    name = fields.CharField(max_length=64)
    description = fields.TextField(default="")
    cost = fields.IntField()
    stock = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "volunteer_reward"


class Redemption(Model):
    id = fields.IntField(primary_key=True)
    reward: fields.ForeignKeyRelation[Reward] = fields.ForeignKeyField(
        "models.Reward", related_name="redemptions"
    )
    reward_id: int
    volunteer: fields.ForeignKeyRelation[Resident] = fields.ForeignKeyField(
        "models.Resident", related_name="redemptions"
    )
    volunteer_id: int
    cost = fields.IntField()
    at = fields.DatetimeField()

    class Meta:
        table = "volunteer_redemption"
