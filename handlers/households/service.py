"""The household register (台账) against the database: dry run, apply, export.

The file is read in a thread (an .xlsx of 20,000 rows is seconds of CPU), the
community's register loaded, and ``register.plan`` decides every row. The apply plans
again inside its one transaction and writes only when no row is refused: the worker
fixes the file, never half of it lands. Households the file does not name are left
alone. The audit log gets each created or changed household, never a phone or a name.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.households import register as rules
from handlers.households import sheets
from handlers.households.register import Home, Listed, Plan, Register
from handlers.refusal import Refused
from handlers.roles import Who
from models.audit import AuditLog
from models.community import Building, Community, Grid, Household

INSERT_BATCH = 1000
CLI_ACTOR = "cli"
SHEET_TITLE = "台账"


class NotApplied(Refused):
    """The apply found refused rows and wrote nothing; ``plan`` says which and why."""

    def __init__(self, plan: Plan) -> None:
        super().__init__("register.error.has_refusals", 422, count=plan.count("refuse"))
        self.plan = plan


async def community_of(slug: str) -> int:
    """The id of an existing community (an import never creates one from a typo)."""
    found = await Community.get_or_none(slug=slug)
    if found is None:
        raise Refused("register.error.no_community", 404, slug=slug[:64])
    return found.id


async def _rows(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    limit = rules.MAX_ROWS + rules.HEADER_WINDOW + 1
    return await asyncio.to_thread(sheets.read, data, filename, limit)


@dataclass
class Ids:
    """The ids of the community's grids and buildings by name, for the apply's writes."""

    grids: dict[str, int] = field(default_factory=dict)
    buildings: dict[str, int] = field(default_factory=dict)


async def load(community_id: int, conn: Any = None) -> tuple[Register, Ids]:
    """The community's register, and the ids of its grids and buildings by name."""
    grids = dict(
        await Grid.filter(community_id=community_id).using_db(conn).values_list("name", "id")
    )
    buildings = await (
        Building.filter(community_id=community_id)
        .using_db(conn)
        .values_list("id", "name", "grid_id")
    )
    grid_names = {gid: name for name, gid in grids.items()}
    building_names = {bid: name for bid, name, _ in buildings}
    homes = await (
        Household.filter(building__community_id=community_id)
        .using_db(conn)
        .values_list("id", "building_id", "unit", "room", "floor_area", "head_name", "head_phone")
    )
    register = Register(
        grids=frozenset(grids),
        buildings={name: grid_names.get(gid) if gid else None for _, name, gid in buildings},
        homes={
            (building_names[bid], unit, room): Home(hid, _decimal(area), name, phone)
            for hid, bid, unit, room, area, name, phone in homes
        },
    )
    return register, Ids(grids, {name: bid for bid, name, _ in buildings})


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def plan_import(community_id: int, data: bytes, filename: str) -> Plan:
    """The dry run: what an apply of this file would do, row by row; nothing written."""
    rows = await _rows(data, filename)
    register, _ = await load(community_id)
    return rules.plan(rows, register)


async def apply_import(who: Who | None, community_id: int, data: bytes, filename: str) -> Plan:
    """All rows or none: ``NotApplied`` (with the plan) when any row is refused."""
    rows = await _rows(data, filename)
    actor = who.name if who is not None else CLI_ACTOR
    try:
        async with in_transaction() as conn:
            register, ids = await load(community_id, conn)
            plan = rules.plan(rows, register)
            if plan.refused:
                raise NotApplied(plan)
            await _carry_out(plan, community_id, ids, actor, conn)
    except IntegrityError:
        # Another import (or a worker) added the same building or room meanwhile.
        raise Refused("register.error.conflict", 409) from None
    return plan.done()


async def _carry_out(plan: Plan, community_id: int, ids: Ids, actor: str, conn: Any) -> None:
    audit = await _create_buildings(plan, community_id, ids, actor, conn)
    audit += await _create_households(plan, ids, actor, conn)
    audit += await _change_households(plan, actor, conn)
    # One insert per thousand entries: a first import is thousands of households.
    await AuditLog.bulk_create(audit, batch_size=INSERT_BATCH, using_db=conn)


async def _create_buildings(
    plan: Plan, community_id: int, ids: Ids, actor: str, conn: Any
) -> list[AuditLog]:
    audit = []
    for name, grid in plan.new_buildings:
        building = await Building.create(
            community_id=community_id,
            grid_id=ids.grids[grid] if grid is not None else None,
            name=name,
            using_db=conn,
        )
        ids.buildings[name] = building.id
        after = {"name": name, "grid": grid}
        audit.append(_entry(actor, "building.created", "building", building.id, None, after))
    return audit


async def _create_households(plan: Plan, ids: Ids, actor: str, conn: Any) -> list[AuditLog]:
    created = [line.entry for line in plan.lines if line.action == "create" and line.entry]
    await Household.bulk_create(
        [
            Household(
                building_id=ids.buildings[entry.building],
                unit=entry.unit,
                room=entry.room,
                floor_area=entry.area,
                head_name=entry.head_name,
                head_phone=entry.phone,
            )
            for entry in created
        ],
        batch_size=INSERT_BATCH,
        using_db=conn,
    )
    made = await _ids_of({ids.buildings[e.building] for e in created}, conn)
    audit = []
    for entry in created:
        # Whether a head's name and phone were given, never what they are.
        after = {
            "building": entry.building,
            "unit": entry.unit,
            "room": entry.room,
            "floor_area": rules.display_area(entry.area),
            "head_name": "set" if entry.head_name else None,
            "phone": "set" if entry.phone else None,
        }
        key = (ids.buildings[entry.building], entry.unit, entry.room)
        audit.append(_entry(actor, "household.imported", "household", made[key], None, after))
    return audit


async def _change_households(plan: Plan, actor: str, conn: Any) -> list[AuditLog]:
    audit = []
    for line in plan.lines:
        if line.action != "change" or line.entry is None or line.home_id is None:
            continue
        update: dict[str, Any] = {}
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for change in line.changes:
            if change.field == "area":
                update["floor_area"] = line.entry.area
                before["floor_area"], after["floor_area"] = change.old, change.new
            elif change.field == "head_name":
                update["head_name"] = line.entry.head_name
                after["head_name"] = "changed"
            else:
                update["head_phone"] = line.entry.phone
                after["phone"] = "changed"
        await Household.filter(id=line.home_id).using_db(conn).update(**update)
        audit.append(_entry(actor, "household.changed", "household", line.home_id, before, after))
    return audit


async def _ids_of(building_ids: set[int], conn: Any) -> dict[tuple[int, str, str], int]:
    if not building_ids:
        return {}
    rows = await (
        Household.filter(building_id__in=sorted(building_ids))
        .using_db(conn)
        .values_list("id", "building_id", "unit", "room")
    )
    return {(bid, unit, room): hid for hid, bid, unit, room in rows}


def _entry(
    actor: str,
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditLog:
    """What ``models.audit.record`` writes, for one bulk insert."""
    return AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before or None,
        after=after,
    )


async def listed(community_id: int) -> list[Listed]:
    register, _ = await load(community_id)
    return [
        Listed(register.buildings.get(b), b, unit, room, home.area, home.head_name, home.phone)
        for (b, unit, room), home in register.homes.items()
    ]


async def export_register(community_id: int, fmt: sheets.Format) -> bytes:
    """The community's register as a file the import takes back unchanged."""
    rows = rules.export_rows(await listed(community_id))
    return await asyncio.to_thread(sheets.write, rows, fmt, SHEET_TITLE)
