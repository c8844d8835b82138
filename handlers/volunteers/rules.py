"""Pure rules of volunteer service (志愿服务). No I/O, no database, no clock.

Places on a shift and the waitlist, overlapping shifts, the cancellation window,
the check-in window and radius, hours and points, reminders, the monthly
leaderboard (最美志愿者) and the registration share. Every instant is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

from handlers.clock import LOCAL

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), metres
MAX_SHIFT = timedelta(hours=24)
MAX_CAPACITY = 10_000
MAX_RADIUS_M = 5_000
SHIFT_SCENE = "shift_"
ACTIVITY_SCENE = "activity_"

_K = TypeVar("_K")


class SignUpStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"  # 候补, with a position from 1
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    ATTENDED = "attended"


ACTIVE = frozenset({SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED})


class Category(StrEnum):
    PATROL = "patrol"  # 治安巡逻
    CLEANING = "cleaning"  # 清洁家园
    ELDERLY_CARE = "elderly_care"  # 关爱老人 (低龄老人关爱高龄老人)
    CULTURE = "culture"
    MEDIATION = "mediation"  # 调解矛盾
    PROMOTION = "promotion"  # 文明城市宣传
    EVENT = "event"


class LedgerKind(StrEnum):
    EARNED = "earned"  # attended hours × the rate
    BONUS = "bonus"  # granted by a worker, with a reason
    REDEEMED = "redeemed"  # 积分兑换, negative
    ADJUSTED = "adjusted"  # a worker's correction, with a reason


class Window(StrEnum):
    EARLY = "early"
    OPEN = "open"
    CLOSED = "closed"


class ScanAction(StrEnum):
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    ALREADY_IN = "already_in"  # a second scan right after checking in: not a check-out
    DONE = "done"  # checked out already


class Reminder(StrEnum):
    DAY = "day"
    HOUR = "hour"


# --- policy ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """What a community may configure (config/volunteers.toml); these are the defaults."""

    points_per_hour: int = 10
    cancel_window: timedelta = timedelta(hours=2)
    check_in_opens: timedelta = timedelta(minutes=30)
    rescan_guard: timedelta = timedelta(minutes=10)
    default_radius_m: int = 200
    day_reminder: timedelta = timedelta(hours=24)
    hour_reminder: timedelta = timedelta(hours=1)
    scene_rotates: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.points_per_hour < 0:
            raise ValueError("points_per_hour cannot be negative")
        if not 0 < self.default_radius_m <= MAX_RADIUS_M:
            raise ValueError(f"default_radius_m must be in 1..{MAX_RADIUS_M}")
        for name in ("cancel_window", "check_in_opens", "rescan_guard"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} cannot be negative")
        if not timedelta(0) < self.hour_reminder < self.day_reminder:
            raise ValueError("the hour reminder must come after the day reminder")
        if not timedelta(minutes=1) <= self.scene_rotates <= timedelta(hours=24):
            raise ValueError("scene_rotates must be from 1 minute to 24 hours")


_POLICY_KEYS = {
    "points_per_hour": ("points_per_hour", None),
    "cancel_window_hours": ("cancel_window", "hours"),
    "check_in_opens_minutes": ("check_in_opens", "minutes"),
    "rescan_guard_minutes": ("rescan_guard", "minutes"),
    "default_radius_m": ("default_radius_m", None),
    "day_reminder_hours": ("day_reminder", "hours"),
    "hour_reminder_minutes": ("hour_reminder", "minutes"),
    "scene_rotates_minutes": ("scene_rotates", "minutes"),
}


def policy_from_mapping(data: Mapping[str, object]) -> Policy:
    """A Policy from parsed TOML; absent keys keep their defaults, unknown keys are refused."""
    unknown = set(data) - set(_POLICY_KEYS)
    if unknown:
        raise ValueError(f"unknown volunteer settings: {', '.join(sorted(map(str, unknown)))}")
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name, unit = _POLICY_KEYS[key]
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"{key} must be a number, not {raw!r}")
        if unit is None:
            if not isinstance(raw, int):
                raise ValueError(f"{key} must be a whole number, not {raw!r}")
            values[name] = raw
        else:
            values[name] = timedelta(**{unit: raw})
    return Policy(**values)


# --- places and the waitlist ----------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    status: SignUpStatus
    position: int | None = None


def place(capacity: int, confirmed: int, waitlisted: int) -> Placement:
    """Where the next arrival goes: a free place, else the end of the waitlist.

    The caller holds the shift's lock, so arrivals are placed one at a time in the
    order they took it, and a confirmed count never exceeds the capacity.
    """
    if min(capacity, confirmed, waitlisted) < 0:
        raise ValueError("counts cannot be negative")
    if confirmed < capacity:
        return Placement(SignUpStatus.CONFIRMED)
    return Placement(SignUpStatus.WAITLISTED, waitlisted + 1)


def promotions(capacity: int, confirmed: int, waitlisted: int) -> int:
    """How many from the head of the waitlist take the places that are free now."""
    if min(capacity, confirmed, waitlisted) < 0:
        raise ValueError("counts cannot be negative")
    return min(max(capacity - confirmed, 0), waitlisted)


def positions_after_leaving(positions: Iterable[int], left: Iterable[int]) -> dict[int, int]:
    """Old position → new position of those still waiting, when ``left`` leave the line.

    The line stays 1..n without gaps, in the same order.
    """
    gone = set(left)
    staying = sorted(p for p in positions if p not in gone)
    return {old: new for new, old in enumerate(staying, start=1)}


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Two shifts overlap when they share any time; back to back (10–12, 12–14) is fine."""
    return a_start < b_end and b_start < a_end


def first_overlap(
    start: datetime, end: datetime, taken: Iterable[tuple[_K, datetime, datetime]]
) -> _K | None:
    """The key of the first of ``taken`` (key, start, end) that overlaps [start, end), or None."""
    for key, other_start, other_end in taken:
        if overlaps(start, end, other_start, other_end):
            return key
    return None


def sign_up_open(starts_at: datetime, now: datetime) -> bool:
    """Sign-up closes when the shift starts."""
    return now < starts_at


def may_cancel(starts_at: datetime, now: datetime, policy: Policy) -> bool:
    """A confirmed volunteer may cancel until ``cancel_window`` before the start, inclusive.

    Closer than that, the leader must find someone: the volunteer asks the leader.
    """
    return now <= starts_at - policy.cancel_window


def check_shift(starts_at: datetime, ends_at: datetime, capacity: int, now: datetime) -> str | None:
    """What is wrong with a new shift, or None: it must end after it starts, within a day."""
    if ends_at <= starts_at or ends_at - starts_at > MAX_SHIFT:
        return "time"
    if starts_at <= now:
        return "past"
    if not 1 <= capacity <= MAX_CAPACITY:
        return "capacity"
    return None


class ShiftChange(StrEnum):
    """Why a shift cannot be changed as asked (``check_shift_change``)."""

    STARTED = "started"
    TIME = "time"
    PAST = "past"
    CAPACITY = "capacity"
    BELOW_CONFIRMED = "below_confirmed"


def check_shift_change(
    starts_at: datetime,
    new_starts: datetime,
    new_ends: datetime,
    new_capacity: int,
    confirmed: int,
    now: datetime,
) -> ShiftChange | None:
    """What is wrong with changing a shift to these times and places, or None.

    Only before it starts (``starts_at``, the shift's time as it stands): after that the
    time is what volunteers served and the places are who came. The new times are held
    to a new shift's rules. The places may not drop below those already confirmed: a
    volunteer told "you are confirmed" is not put back on the waitlist by a number
    typed in the office; the leader releases someone by name, with a reason, instead.
    """
    if now >= starts_at:
        return ShiftChange.STARTED
    wrong = check_shift(new_starts, new_ends, new_capacity, now)
    if wrong is not None:
        return ShiftChange(wrong)
    if new_capacity < confirmed:
        return ShiftChange.BELOW_CONFIRMED
    return None


def age_in(birth_year: int, year: int) -> int:
    """Age reached during ``year``: only the birth year is kept, not the date."""
    return year - birth_year


def missing_skills(required: Iterable[str], has: Iterable[str]) -> list[str]:
    owned = {s.strip().casefold() for s in has}
    return [s for s in required if s.strip().casefold() not in owned]


# --- check-in and check-out -----------------------------------------------------------------------


def check_in_window(
    starts_at: datetime, ends_at: datetime, now: datetime, policy: Policy
) -> Window:
    """Open from ``check_in_opens`` (30 min) before the start until the end, both inclusive."""
    if now < starts_at - policy.check_in_opens:
        return Window.EARLY
    if now > ends_at:
        return Window.CLOSED
    return Window.OPEN


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine); WeChat sends GCJ-02 for both points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def within_radius(distance: float, radius_m: int) -> bool:
    return distance <= radius_m


def scan_action(
    starts_at: datetime,
    checked_in_at: datetime | None,
    checked_out_at: datetime | None,
    now: datetime,
    policy: Policy,
) -> ScanAction:
    """What a scan (or a sent location) means for one sign-up: the same code does both.

    A repeat soon after checking in, or any scan before the shift has started, is not a
    check-out: it would end the service before it began.
    """
    if checked_out_at is not None:
        return ScanAction.DONE
    if checked_in_at is None:
        return ScanAction.CHECK_IN
    if now - checked_in_at < policy.rescan_guard or now < starts_at:
        return ScanAction.ALREADY_IN
    return ScanAction.CHECK_OUT


def served_minutes(
    starts_at: datetime, ends_at: datetime, checked_in_at: datetime, checked_out_at: datetime
) -> int:
    """Whole minutes on duty, capped by the shift: arriving early or leaving late adds nothing."""
    start = max(starts_at, checked_in_at)
    end = min(ends_at, checked_out_at)
    return max(0, int((end - start).total_seconds()) // 60)


def shift_minutes(starts_at: datetime, ends_at: datetime) -> int:
    return int((ends_at - starts_at).total_seconds()) // 60


def points_for(minutes: int, per_hour: int) -> int:
    """Points for attended minutes, pro rata by the minute and rounded down."""
    if minutes < 0 or per_hour < 0:
        raise ValueError("minutes and rate cannot be negative")
    return minutes * per_hour // 60


def check_out_time(starts_at: datetime, ends_at: datetime, now: datetime) -> datetime:
    """A check-out after the end counts as at the end (the automatic check-out's time)."""
    return max(starts_at, min(now, ends_at))


def pick(
    candidates: Iterable[tuple[_K, datetime, datetime, bool]], now: datetime, policy: Policy
) -> _K | None:
    """Which of a volunteer's shifts a scan or a location is for.

    ``candidates`` are (key, start, end, checked in). A shift checked in and not out
    comes first (the scan checks out), then the earliest one whose window is open,
    then the nearest one ahead (to say when it opens), then the latest one past.
    """
    rows = sorted(candidates, key=lambda c: (c[1], c[2]))
    for key, _, _, checked_in in rows:
        if checked_in:
            return key
    for key, start, end, _ in rows:
        if check_in_window(start, end, now, policy) is Window.OPEN:
            return key
    for key, start, end, _ in rows:
        if check_in_window(start, end, now, policy) is Window.EARLY:
            return key
    return rows[-1][0] if rows else None


# --- reminders ------------------------------------------------------------------------------------


def reminder_times(starts_at: datetime, policy: Policy) -> tuple[datetime, datetime]:
    """When the day-before and the hour-before reminders fall due."""
    return starts_at - policy.day_reminder, starts_at - policy.hour_reminder


def reminder_due(
    starts_at: datetime, now: datetime, day_sent: bool, hour_sent: bool, policy: Policy
) -> Reminder | None:
    """The reminder owed now, if any; each is sent once.

    The day reminder is owed from 24 h before until the hour reminder takes over;
    someone who signs up within the last hour gets only the hour reminder, and
    nothing is sent once the shift has started.
    """
    day_at, hour_at = reminder_times(starts_at, policy)
    if now >= starts_at:
        return None
    if now >= hour_at:
        return None if hour_sent else Reminder.HOUR
    if now >= day_at:
        return None if day_sent else Reminder.DAY
    return None


# --- recognition and registration -----------------------------------------------------------------


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The local calendar month holding ``now``, as [start, end) instants."""
    local = now.astimezone(LOCAL)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


def parse_month(text: str) -> datetime | None:
    """An instant inside the local month written like 2026-11, or None."""
    head, _, tail = text.strip().partition("-")
    digits = (head + tail).isascii() and head.isdigit() and tail.isdigit()
    if not (digits and len(head) == 4 and 1 <= len(tail) <= 2):
        return None
    month = int(tail)
    if not 1 <= month <= 12:
        return None
    return datetime(int(head), month, 15, 12, tzinfo=LOCAL)


@dataclass(frozen=True)
class Standing:
    rank: int
    volunteer: int
    points: int
    minutes: int


def leaderboard(rows: Iterable[tuple[int, int, int]], limit: int = 10) -> list[Standing]:
    """最美志愿者 of the month: (volunteer, points earned, minutes served) ranked.

    More points first, then more minutes; equal figures share a rank (1, 2, 2, 4), and
    the lower id is listed first among equals so the order is stable. Nobody with
    nothing to show is listed.
    """
    ordered = sorted(
        ((v, p, m) for v, p, m in rows if p > 0 or m > 0), key=lambda r: (-r[1], -r[2], r[0])
    )
    out: list[Standing] = []
    for index, (volunteer, points, minutes) in enumerate(ordered):
        if index >= limit:
            break
        same = out and (out[-1].points, out[-1].minutes) == (points, minutes)
        rank = out[-1].rank if same else index + 1
        out.append(Standing(rank, volunteer, points, minutes))
    return out


def registration_share(volunteers: int, residents: int) -> Fraction | None:
    """Registered volunteers as a share of the community's residents (the plans' target)."""
    if volunteers < 0 or residents < 0:
        raise ValueError("counts cannot be negative")
    if residents == 0:
        return None
    return Fraction(volunteers, residents)


def masked_name(name: str | None) -> str | None:
    """A name as public lists show it: its first and (from three characters) last kept."""
    if not name:
        return name
    if len(name) < 3:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# --- QR scene keys --------------------------------------------------------------------------------
#
# A scene key is ``shift_3_<window>_<mac>`` (or ``activity_2_…``): the window is a count of
# ``scene_rotates`` periods since the epoch and the mac an HMAC of kind, id and window under
# the activity's own secret. Nobody can make one without the secret, and one seen once is
# good only for its window and the next: a code photographed today checks no one in tomorrow.

SCENE_MAC_HEX = 20  # 80 bits; the whole key stays within WeChat's 64 characters


@dataclass(frozen=True)
class SceneKey:
    kind: str  # "shift" or "activity"
    ident: int
    window: int
    mac: str


def scene_window(now: datetime, policy: Policy) -> int:
    return int(now.timestamp() // policy.scene_rotates.total_seconds())


def _scene_mac(secret: str, kind: str, ident: int, window: int) -> str:
    message = f"{kind}:{ident}:{window}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:SCENE_MAC_HEX]


def scene_key(kind: str, ident: int, secret: str, now: datetime, policy: Policy) -> str:
    """The parametric QR code's scene string for a shift or a whole activity, made at ``now``."""
    prefix = {"shift": SHIFT_SCENE, "activity": ACTIVITY_SCENE}[kind]
    window = scene_window(now, policy)
    return f"{prefix}{ident}_{window}_{_scene_mac(secret, kind, ident, window)}"


def scene_expires(now: datetime, policy: Policy) -> datetime:
    """When a key made at ``now`` stops working: the end of the window after its own."""
    ends = (scene_window(now, policy) + 2) * policy.scene_rotates.total_seconds()
    return datetime.fromtimestamp(ends, tz=now.tzinfo)


def parse_scene(key: str) -> SceneKey | None:
    """The parts of ``shift_3_<window>_<mac>``; None for anything else (the mac unchecked)."""
    for kind, prefix in (("shift", SHIFT_SCENE), ("activity", ACTIVITY_SCENE)):
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split("_")
        if len(parts) != 3:
            return None
        ident, window, mac = parts
        if not (_digits(ident, 9) and int(ident) > 0 and _digits(window, 12)):
            return None
        if len(mac) != SCENE_MAC_HEX or not all(c in "0123456789abcdef" for c in mac):
            return None
        return SceneKey(kind, int(ident), int(window), mac)
    return None


def _digits(text: str, most: int) -> bool:
    return text.isascii() and text.isdigit() and 0 < len(text) <= most


def scene_genuine(scene: SceneKey, secret: str) -> bool:
    """Whether the key was made with ``secret`` (compared in constant time)."""
    expected = _scene_mac(secret, scene.kind, scene.ident, scene.window)
    return hmac.compare_digest(expected, scene.mac)


def scene_current(scene: SceneKey, now: datetime, policy: Policy) -> bool:
    """A key works in its own window and the next one, never before it was made."""
    return 0 <= scene_window(now, policy) - scene.window <= 1
