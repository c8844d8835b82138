"""Pure rules of notices: who a scope selects, muting, retry backoff, progress counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SCOPE_KINDS = ("community", "grids", "buildings", "households", "volunteers", "roles", "groups")
# Roles a notice may address by name (志愿者, 网格员, 社区工作者...).
ROLE_NAMES = ("resident", "volunteer", "grid_worker", "community_worker", "admin", "handler")
CHANNELS = ("oa", "robot", "customer_group")
# The channels whose rows ``bot.deliver`` sends; customer groups go by WeCom's
# mass-sending tasks (``handlers.notices.customer``), which their owners confirm.
PUSH_CHANNELS = ("oa", "robot")
OPEN_STATUSES = ("pending", "claimed", "sending")
# A customer group's delivery (客户群群发): waiting, the intent recorded just before the
# task is created, the task created (the owner has not confirmed it yet), the owner
# confirmed it, then what WeCom reports for the group.
GROUP_OPEN = ("pending", "submitting", "submitted", "confirmed")
GROUP_FINAL = ("sent", "failed", "not_in_group")
GROUP_STATUSES = GROUP_OPEN + GROUP_FINAL
MAX_CHAT_ID = 64
MAX_USERID = 64
MAX_TITLE = 100
MAX_BODY = 1500
MAX_KIND = 32
MAX_GROUP_NAME = 64
MAX_WEBHOOK_KEY = 128
MAX_SCOPE_IDS = 1000
MAX_ID = 2**31 - 1  # the database's int column
# A schedule outside these years is a typo; the bound also keeps UTC conversion in range.
MIN_YEAR, MAX_YEAR = 2000, 2999

BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(minutes=15)


@dataclass(frozen=True)
class Person:
    """A resident as a scope sees them: where they live, if anywhere known."""

    resident_id: int
    household_id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    roles: frozenset[str] = frozenset()


def in_scope(scope: Mapping[str, Any], person: Person) -> bool:
    """Whether ``person`` is among those a notice to ``scope`` reaches.

    A community notice reaches every follower; the others only residents bound to a
    household inside the scope.
    """
    kind, ids = scope.get("kind"), set(scope.get("ids") or ())
    if kind == "community":
        return True
    if kind == "grids":
        return person.grid_id is not None and person.grid_id in ids
    if kind == "buildings":
        return person.building_id is not None and person.building_id in ids
    if kind == "households":
        return person.household_id is not None and person.household_id in ids
    if kind == "residents":  # the system's own notices to named people (ticket updates...)
        return person.resident_id in ids
    if kind == "volunteers":
        return "volunteer" in person.roles
    if kind == "roles":
        return bool(person.roles & ids)
    return False


def recipients(
    scope: Mapping[str, Any],
    people: Iterable[Person],
    muted: Iterable[int] = (),
    *,
    emergency: bool = False,
) -> list[int]:
    """The resident ids a notice goes to, in id order: in scope and, unless it is an
    emergency, not muting the notice's kind."""
    silent = set() if emergency else set(muted)
    return sorted(
        {p.resident_id for p in people if in_scope(scope, p) and p.resident_id not in silent}
    )


def group_in_scope(
    scope: Mapping[str, Any],
    group_scope: Mapping[str, Any],
    grid_of_building: Mapping[int, int | None] | None = None,
) -> bool:
    """Whether a group chat speaking for ``group_scope`` gets a notice to ``scope``.

    Every group gets a community notice; a grid or building notice goes to the groups
    of those grids or buildings (a building group also when its grid is addressed).
    Household notices go to no group: the rest of a building need not read them.
    """
    kind, ids = scope.get("kind"), set(scope.get("ids") or ())
    group_kind, group_ids = group_scope.get("kind"), set(group_scope.get("ids") or ())
    if kind == "community":
        return True
    if kind == "volunteers":  # the volunteers' group (志愿者群), registered with that scope
        return group_kind == "volunteers"
    if kind == "groups":  # chosen group chats by id: decided by the caller, not by scope
        return False
    if kind in {"households", "roles"} or not group_ids:
        return False
    if kind == group_kind:
        return bool(ids & group_ids)
    if kind == "grids" and group_kind == "buildings":
        grids = grid_of_building or {}
        return any(grids.get(b) in ids for b in group_ids)
    return False


def oa_text(title: str, body: str) -> str:
    """An official-account message as the resident reads it (a customer-service text)."""
    return f"【{title}】\n{body}"


def robot_text(title: str, body: str) -> str:
    """A group robot's message (WeCom markdown: the title in bold)."""
    return f"**{title}**\n{body}"


def customer_group_text(title: str, body: str) -> str:
    """A customer group's message: plain text, as WeChat users in the group see it."""
    return f"【{title}】\n{body}"


RENDERERS = {"oa": oa_text, "robot": robot_text, "customer_group": customer_group_text}


def rendered(channel: str, title: str, body: str) -> str:
    """What a notice says on ``channel``: the one text both the preview and the sender use."""
    return RENDERERS[channel](title, body)


# WeCom's get_groupmsg_send_result status of one chat → our delivery status and failure.
SEND_RESULT = {
    0: ("confirmed", None),  # not sent (yet): the owner may still send it, or left it out
    1: ("sent", None),
    2: ("not_in_group", "not_in_group"),
    3: ("failed", "already_received"),
}


def group_result(status: int) -> tuple[str, str | None]:
    """The delivery status and failure of a chat WeCom reports with ``status``."""
    return SEND_RESULT.get(status, ("failed", "rejected"))


def group_expired(submitted_at: datetime, now: datetime, window: timedelta) -> bool:
    """A task its owner has not sent within ``window`` is given up (never sent twice)."""
    return now - submitted_at >= window


def as_progress_status(group_status: str) -> str:
    """A customer group's status in the vocabulary of ``progress``."""
    if group_status in GROUP_OPEN:
        return "pending"
    return "sent" if group_status == "sent" else "failed"


def plausible_schedule(when: datetime) -> bool:
    """A schedule with its UTC offset, within the years a worker can have meant."""
    return when.tzinfo is not None and MIN_YEAR <= when.year <= MAX_YEAR


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before attempt ``attempts + 1``: doubling from 15 s, at most
    15 minutes, and never shorter than the server's ``retry_after`` hint."""
    wait = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def progress(counts: Mapping[str, int]) -> dict[str, Any]:
    """Counts by delivery status → what a worker sees: sent, failed, pending, unknown."""
    pending = sum(counts.get(s, 0) for s in OPEN_STATUSES)
    out = {
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "unknown": counts.get("unknown", 0),
        "pending": pending,
    }
    out["total"] = sum(out.values())
    out["finished"] = pending == 0
    return out
