"""Notices: creating them, expanding them to delivery rows exactly once, progress, muting.

Expansion is safe to repeat: the notice is taken from draft or scheduled to sending
by a conditional update, and the delivery rows are inserted ignoring the ones that
exist (unique per notice, channel and recipient), so a run that died halfway and is
run again adds only what is missing. ``expanded_at`` is set when the rows are all in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from tortoise.expressions import Q
from tortoise.functions import Count

from handlers.notices import rules
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import record
from models.community import Building, Grid, Household
from models.notices import CustomerGroup, Delivery, Group, GroupDelivery, Mute, Notice
from models.residents import Resident, RoleAssignment

EXPANDABLE = ("draft", "scheduled")
INSERT_BATCH = 1000
# A robot's key is a secret: only long keys show their last characters, to tell them apart.
KEY_SHOWN, KEY_SHOWN_FROM = 4, 16


def _require_sender(who: Who) -> None:
    """Community workers and admins (``MANAGERS``) of their own community send notices."""
    if not who.is_manager:
        raise Refused("notice.error.forbidden", 403)


async def approve(who: Who, notice_id: int) -> Notice:
    """An admin lets a notice go: to its schedule, or to be sent by its author."""
    notice = await visible_notice(who, notice_id)
    if not who.is_admin:
        raise Refused("notice.error.forbidden", 403)
    target = "scheduled" if notice.scheduled_at is not None else "draft"
    if not await Notice.filter(id=notice.id, status="pending_approval").update(status=target):
        raise Refused("notice.error.not_pending_approval", 409)
    await record(
        who.name,
        "notice.approved",
        "notice",
        notice.id,
        before={"status": "pending_approval"},
        after={"status": target},
    )
    return await Notice.get(id=notice.id)


async def clean_scope(community_id: int, scope: Mapping[str, Any]) -> dict[str, Any]:
    """A scope whose grids, buildings, households or groups all belong to the community.

    Ids are integers (``"3"`` is no id); ``roles`` names roles a notice may address.
    """
    kind = scope.get("kind")
    if kind not in rules.SCOPE_KINDS:
        raise Refused("notice.error.bad_scope")
    if kind in {"community", "volunteers"}:
        return {"kind": kind, "ids": []}
    raw = scope.get("ids")
    if not isinstance(raw, list | tuple) or not raw:
        raise Refused("notice.error.bad_scope")
    if kind == "roles":
        if any(name not in rules.ROLE_NAMES for name in raw):
            raise Refused("notice.error.bad_scope")
        return {"kind": "roles", "ids": sorted(set(raw))}
    if any(isinstance(i, bool) or not isinstance(i, int) or not 0 < i <= rules.MAX_ID for i in raw):
        raise Refused("notice.error.bad_scope")
    ids = sorted(set(raw))
    if kind == "groups":
        found = await Group.filter(community_id=community_id, id__in=ids, active=True).count()
    elif kind == "grids":
        found = await Grid.filter(community_id=community_id, id__in=ids).count()
    elif kind == "buildings":
        found = await Building.filter(community_id=community_id, id__in=ids).count()
    else:
        found = await Household.filter(building__community_id=community_id, id__in=ids).count()
    if found != len(ids):
        raise Refused("notice.error.bad_scope")
    return {"kind": kind, "ids": ids}


def _trimmed(text: str, limit: int) -> str:
    """A title, text or name without its surrounding spaces, neither empty nor too long."""
    trimmed = text.strip()
    if not trimmed or len(trimmed) > limit:
        raise Refused("notice.error.bad_text", limit=limit)
    return trimmed


async def create(
    author: Who,
    now: datetime,
    *,
    title: str,
    body: str,
    scope: Mapping[str, Any],
    kind: str = "general",
    emergency: bool = False,
    channels: Sequence[str] = ("oa",),
    scheduled_at: datetime | None = None,
    needs_approval: bool = False,
) -> Notice:
    """A new notice of a worker: a draft to send now, or scheduled for ``scheduled_at``
    (an instant with its offset, stored in UTC)."""
    notice = await draft(
        author,
        title=title,
        body=body,
        scope=scope,
        kind=kind,
        emergency=emergency,
        channels=channels,
    )
    if scheduled_at is not None:
        if not rules.plausible_schedule(scheduled_at):
            raise Refused("notice.error.bad_schedule")
        if scheduled_at <= now:
            raise Refused("notice.error.schedule_in_past")
        scheduled_at = scheduled_at.astimezone(UTC)
    notice.scheduled_at = scheduled_at
    notice.author_id = author.id
    notice.status = (
        "pending_approval"
        if needs_approval and not author.is_admin
        else "scheduled"
        if scheduled_at is not None
        else "draft"
    )
    await notice.save()
    return notice


async def visible_notice(who: Who, notice_id: int) -> Notice:
    """The notice, to a worker of its community; 404 to anyone else."""
    notice = await Notice.get_or_none(id=notice_id, community_id=who.community_id)
    if notice is None or not who.is_manager:
        raise Refused("notice.error.not_found", 404)
    return notice


async def list_notices(
    who: Who, status: str | None, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """The community's notices, newest first, each with its delivery progress."""
    _require_sender(who)
    query = Notice.filter(community_id=who.community_id)
    if status is not None:
        query = query.filter(status=status)
    total = await query.count()
    notices = await query.order_by("-id").offset((page - 1) * per_page).limit(per_page)
    tallies: dict[int, Counter[str]] = {n.id: Counter() for n in notices}
    for notice_id, state, n in (
        await Delivery.filter(notice_id__in=list(tallies))
        .annotate(n=Count("id"))
        .group_by("notice_id", "status")
        .values_list("notice_id", "status", "n")
    ):
        tallies[notice_id][state] += n
    for notice_id, state, n in (
        await GroupDelivery.filter(notice_id__in=list(tallies))
        .annotate(n=Count("id"))
        .group_by("notice_id", "status")
        .values_list("notice_id", "status", "n")
    ):
        tallies[notice_id][rules.as_progress_status(state)] += n
    items = [
        {
            "id": n.id,
            "title": n.title,
            "status": n.status,
            "scheduled_at": n.scheduled_at.isoformat() if n.scheduled_at else None,
            **rules.progress(tallies[n.id]),
            "kind": n.kind,
            "emergency": n.emergency,
            "channels": n.channels,
            "created_at": n.created_at.isoformat(),
        }
        for n in notices
    ]
    return items, total


async def _people(community_id: int) -> list[rules.Person]:
    rows = await Resident.filter(
        community_id=community_id, active=True, erased_at=None, openid__not_isnull=True
    ).values("id", "household_id", "household__building_id", "household__building__grid_id")
    roles: dict[int, set[str]] = {}
    for resident_id, role in await RoleAssignment.filter(community_id=community_id).values_list(
        "resident_id", "role"
    ):
        roles.setdefault(resident_id, set()).add(str(role))
    return [
        rules.Person(
            r["id"],
            r["household_id"],
            r["household__building_id"],
            r["household__building__grid_id"],
            frozenset(roles.get(r["id"], ())),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Recipients:
    """Who a notice reaches on each of its channels, as the sender will send it."""

    residents: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    customer_groups: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "oa": len(self.residents),
            "robot": len(self.groups),
            "customer_group": len(self.customer_groups),
        }


async def recipients(notice: Notice) -> Recipients:
    """The resident ids, robot group ids and customer group ids the notice goes to, by
    its channels: what ``expand`` stores and the preview counts."""
    community_id = notice.community_id
    residents: list[int] = []
    groups: list[int] = []
    customer: list[int] = []
    if "oa" in notice.channels:
        muted = (
            []
            if notice.emergency
            else cast(
                list[int],
                await Mute.filter(
                    kind=notice.kind, resident__community_id=community_id
                ).values_list("resident_id", flat=True),
            )
        )
        residents = rules.recipients(
            notice.scope,
            await _people(community_id),
            muted,
            emergency=notice.emergency,
        )
    if "robot" in notice.channels or "customer_group" in notice.channels:
        grid_of = dict(
            await Building.filter(community_id=community_id).values_list("id", "grid_id")
        )
    if "robot" in notice.channels:
        chosen = (
            set(notice.scope.get("ids") or ()) if notice.scope.get("kind") == "groups" else set()
        )
        groups = [
            g.id
            for g in await Group.filter(community_id=community_id, active=True).order_by("id")
            if g.id in chosen or rules.group_in_scope(notice.scope, g.scope, grid_of)
        ]
    if "customer_group" in notice.channels:
        customer = [
            g.id
            for g in await CustomerGroup.filter(community_id=community_id, active=True).order_by(
                "id"
            )
            if rules.group_in_scope(notice.scope, g.scope, grid_of)
        ]
    return Recipients(residents, groups, customer)


async def expand(notice_id: int, now: datetime) -> int:
    """Store the notice's delivery rows, once; the number of rows it has afterwards.

    Draft or scheduled → sending by one conditional update; a notice left in sending
    without ``expanded_at`` (its expansion died) is expanded again, adding only
    the rows that are missing.
    """
    taken = await Notice.filter(id=notice_id, status__in=EXPANDABLE).update(status="sending")
    notice = await Notice.get_or_none(id=notice_id)
    if notice is None:
        raise Refused("notice.error.not_found", 404)
    if not taken and (notice.status != "sending" or notice.expanded_at is not None):
        return await Delivery.filter(notice_id=notice_id).count()
    found = await recipients(notice)
    rows = [
        Delivery(notice_id=notice_id, channel="oa", recipient_key=f"r:{r}", resident_id=r)
        for r in found.residents
    ] + [
        Delivery(notice_id=notice_id, channel="robot", recipient_key=f"g:{g}", group_id=g)
        for g in found.groups
    ]
    if rows:
        await Delivery.bulk_create(rows, batch_size=INSERT_BATCH, ignore_conflicts=True)
    chats = [
        GroupDelivery(notice_id=notice_id, group_id=g.id, chat_id=g.chat_id, owner=g.owner)
        for g in await CustomerGroup.filter(id__in=found.customer_groups).order_by("id")
    ]
    if chats:
        await GroupDelivery.bulk_create(chats, batch_size=INSERT_BATCH, ignore_conflicts=True)
    await Notice.filter(id=notice_id, expanded_at=None).update(expanded_at=now)
    if await Notice.filter(id=notice_id, status="cancelled").exists():
        # Cancelled while the rows were being written: none of them goes out.
        await _fail_pending(notice_id, "cancelled")
    if not rows and not chats:
        await Notice.filter(id=notice_id, status="sending").update(status="done")
    return (
        await Delivery.filter(notice_id=notice_id).count()
        + await GroupDelivery.filter(notice_id=notice_id).count()
    )


async def _fail_pending(notice_id: int, reason: str) -> None:
    """Every row of the notice no sender has taken yet, on every channel, fails."""
    await Delivery.filter(notice_id=notice_id, status="pending").update(
        status="failed", failure=reason
    )
    await GroupDelivery.filter(notice_id=notice_id, status="pending").update(
        status="failed", failure=reason
    )


async def send_now(who: Who, notice_id: int, now: datetime) -> Notice:
    """A worker sends a draft (or a scheduled notice early)."""
    notice = await visible_notice(who, notice_id)
    if notice.status == "pending_approval":
        raise Refused("notice.error.pending_approval", 409)
    if notice.status not in EXPANDABLE:
        raise Refused("notice.error.already_sent", 409)
    await expand(notice_id, now)
    return await Notice.get(id=notice_id)


async def cancel(who: Who, notice_id: int) -> Notice:
    """Stop a notice: what is not yet claimed by a sender is never sent.

    Rows a sender already holds finish as they were going to: a message on its way
    cannot be called back.
    """
    notice = await visible_notice(who, notice_id)
    stopped = await Notice.filter(
        id=notice_id, status__in=[*EXPANDABLE, "sending", "pending_approval"]
    ).update(status="cancelled")
    if not stopped:
        raise Refused("notice.error.not_cancellable", 409)
    await _fail_pending(notice_id, "cancelled")
    return await Notice.get(id=notice.id)


async def register_group(who: Who, name: str, webhook_key: str, scope: Mapping[str, Any]) -> Group:
    """A group chat's robot (楼栋群, 志愿者群, 全体群) and the scope it speaks for."""
    _require_sender(who)
    community_id = who.community_id
    key = webhook_key.strip()
    if not key or len(key) > rules.MAX_WEBHOOK_KEY:
        raise Refused("notice.error.bad_webhook_key")
    clean = await clean_scope(community_id, scope)
    if clean["kind"] in {"groups", "roles"}:
        raise Refused("notice.error.bad_scope")
    title = _trimmed(name, rules.MAX_GROUP_NAME)
    group, created = await Group.get_or_create(
        community_id=community_id,
        name=title,
        defaults={"webhook_key": key, "scope": clean},
    )
    if not created:
        group.webhook_key, group.scope, group.active = key, clean, True
        await group.save(update_fields=["webhook_key", "scope", "active"])
    return group


def masked_key(key: str) -> str:
    """``…1a2b``: the last four characters of a long key, nothing of a short one."""
    return "…" + (key[-KEY_SHOWN:] if len(key) >= KEY_SHOWN_FROM else "")


async def list_groups(who: Who) -> list[dict[str, Any]]:
    """The community's robots; the webhook key shown only by its last four characters."""
    _require_sender(who)
    return [
        {
            "id": g.id,
            "name": g.name,
            "scope": g.scope,
            "active": g.active,
            "webhook_key": masked_key(g.webhook_key),
        }
        for g in await Group.filter(community_id=who.community_id).order_by("id")
    ]


async def due_notices(now: datetime) -> list[int]:
    """Scheduled notices whose time has come, and expansions that died halfway."""
    found = await Notice.filter(
        Q(status="scheduled", scheduled_at__lte=now) | Q(status="sending", expanded_at=None)
    ).values_list("id", flat=True)
    return cast(list[int], found)


async def expand_due(now: datetime) -> int:
    """Expand every due notice; how many were."""
    done = 0
    for notice_id in await due_notices(now):
        await expand(notice_id, now)
        done += 1
    return done


async def finish_sent() -> int:
    """Mark done the expanded notices with nothing left to send."""
    finished = 0
    for notice_id in await Notice.filter(
        status="sending", expanded_at__not_isnull=True
    ).values_list("id", flat=True):
        if (
            not await Delivery.filter(notice_id=notice_id, status__in=rules.OPEN_STATUSES).exists()
            and not await GroupDelivery.filter(
                notice_id=notice_id, status__in=rules.GROUP_OPEN
            ).exists()
        ):
            finished += await Notice.filter(id=notice_id, status="sending").update(status="done")
    return finished


async def counts(notice_id: int) -> Counter[str]:
    """The notice's rows by status, every channel together (a customer group's in the
    words of ``rules.progress``)."""
    return sum((await channel_counts(notice_id)).values(), Counter())


async def channel_counts(notice_id: int) -> dict[str, Counter[str]]:
    """Rows by status for each channel that has any."""
    by_channel: dict[str, Counter[str]] = {}
    for channel, state, n in (
        await Delivery.filter(notice_id=notice_id)
        .annotate(n=Count("id"))
        .group_by("channel", "status")
        .values_list("channel", "status", "n")
    ):
        by_channel.setdefault(str(channel), Counter())[str(state)] += int(n)
    for state, n in (
        await GroupDelivery.filter(notice_id=notice_id)
        .annotate(n=Count("id"))
        .group_by("status")
        .values_list("status", "n")
    ):
        by_channel.setdefault("customer_group", Counter())[
            rules.as_progress_status(str(state))
        ] += int(n)
    return by_channel


async def progress(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "title": notice.title,
        "status": notice.status,
        "scheduled_at": notice.scheduled_at.isoformat() if notice.scheduled_at else None,
        **rules.progress(await counts(notice.id)),
    }


async def failures(notice_id: int, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Deliveries that failed or may not have arrived, oldest first.

    A notice no worker wrote is the relay's word to the residents of a ticket or a vote
    (an anonymous reporter among them): it names no recipient to the managers.
    """
    query = Delivery.filter(notice_id=notice_id, status__in=["failed", "unknown"])
    total = await query.count()
    rows = (
        await query.order_by("id")
        .offset((page - 1) * per_page)
        .limit(per_page)
        .values("channel", "resident_id", "group_id", "status", "failure", "attempts")
    )
    if await Notice.filter(id=notice_id, author_id=None).exists():
        rows = [{**row, "resident_id": None} for row in rows]
    return rows, total


async def mute(resident: Resident, kind: str, muted: bool = True) -> list[str]:
    """Mute (or unmute) a kind of notice for the resident; the kinds muted afterwards."""
    kind = kind.strip()
    if not kind or len(kind) > rules.MAX_KIND:
        raise Refused("notice.error.bad_kind")
    if muted:
        await Mute.get_or_create(resident_id=resident.id, kind=kind)
    else:
        await Mute.filter(resident_id=resident.id, kind=kind).delete()
    kinds = await Mute.filter(resident_id=resident.id).values_list("kind", flat=True)
    return sorted(cast(list[str], kinds))


# --- preview and progress by channel -------------------------------------------------------


async def draft(
    who: Who,
    *,
    title: str,
    body: str,
    scope: Mapping[str, Any],
    kind: str = "general",
    emergency: bool = False,
    channels: Sequence[str] = ("oa",),
) -> Notice:
    """A notice as ``create`` would store it, checked the same way, but not saved."""
    _require_sender(who)
    kind = kind.strip()
    if not kind or len(kind) > rules.MAX_KIND:
        raise Refused("notice.error.bad_kind")
    if not channels or any(c not in rules.CHANNELS for c in channels):
        raise Refused("notice.error.bad_channels")
    return Notice(
        community_id=who.community_id,
        title=_trimmed(title, rules.MAX_TITLE),
        body=_trimmed(body, rules.MAX_BODY),
        kind=kind,
        emergency=emergency,
        scope=await clean_scope(who.community_id, scope),
        channels=sorted(set(channels)),
    )


async def preview(notice: Notice) -> dict[str, Any]:
    """What each channel of the notice will say, as the sender renders it, and to how many:
    the recipients ``expand`` would store now."""
    counts = (await recipients(notice)).counts()
    return {
        "channels": [
            {
                "channel": channel,
                "text": rules.rendered(channel, notice.title, notice.body),
                "recipients": counts[channel],
            }
            for channel in rules.CHANNELS
            if channel in notice.channels
        ]
    }


async def delivery(notice: Notice) -> dict[str, Any]:
    """The notice's progress on each of its channels, and each customer group's state."""
    from handlers.notices import customer

    by_channel = await channel_counts(notice.id)
    return {
        **await progress(notice),
        "channels": [
            {"channel": channel, **rules.progress(by_channel.get(channel, Counter()))}
            for channel in rules.CHANNELS
            if channel in notice.channels
        ],
        "customer_groups": await customer.deliveries(notice.id),
    }
