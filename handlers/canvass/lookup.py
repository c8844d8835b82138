"""Finding a door of a vote by what a worker types in chat: "3栋-2-301", "3栋2单元301", "3-2-301".

Typed labels are matched part by part against the vote's own doors (building, unit, room),
never by a pattern of the register, so "3栋" finds the building named "3栋" or "3号楼" and
"0301" finds room "301". A label that fits two doors is refused rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from handlers.canvass import service
from handlers.canvass.doors import doors
from handlers.canvass.rules import Door
from handlers.refusal import Refused
from handlers.roles import Who

LABEL_MAX = 40
# Where a typed label splits: separators, and after the word that ends a building or a unit.
_SEPARATORS = re.compile(r"[\s\-－—–_/\\·.,，、]+")
_MARKS = re.compile(r"(号楼|號樓|栋|棟|幢|座|单元|單元)")
_BUILDING_SUFFIXES = ("号楼", "號樓", "栋", "棟", "幢", "座", "楼", "樓", "号", "號")
_UNIT_SUFFIXES = ("单元", "單元")
_ROOM_SUFFIXES = ("室", "房", "号", "號")


@dataclass(frozen=True)
class Label:
    """A typed door: building and room, and the unit when it was given."""

    building: str
    unit: str | None
    room: str


def _key(text: str, suffixes: tuple[str, ...]) -> str:
    """One part as compared: half-width, case-folded, its marker word and leading zeros off."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    for suffix in suffixes:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return (text.lstrip("0") or "0") if text.isdigit() else text


def parse(typed: str) -> Label | None:
    """The parts of a typed label, or None when it is not building-[unit-]room."""
    text = unicodedata.normalize("NFKC", typed).casefold().strip()
    if not text or len(text) > LABEL_MAX:
        return None
    parts = [p for p in _SEPARATORS.split(_MARKS.sub(r"\1 ", text)) if p]
    if len(parts) == 3:
        building, unit, room = parts
    elif len(parts) == 2:
        (building, room), unit = parts, None
    else:
        return None
    return Label(
        _key(building, _BUILDING_SUFFIXES),
        None if unit is None else _key(unit, _UNIT_SUFFIXES),
        _key(room, _ROOM_SUFFIXES),
    )


def fits(door: Door, label: Label) -> bool:
    return (
        _key(door.building, _BUILDING_SUFFIXES) == label.building
        and _key(door.room, _ROOM_SUFFIXES) == label.room
        and (label.unit is None or _key(door.unit, _UNIT_SUFFIXES) == label.unit)
    )


async def find_door(who: Who, proposal_id: int, typed: str) -> Door:
    """The one door of the vote ``typed`` names, among those ``who`` may record for.

    Refused as the service refuses (not staff, no such vote, not a household vote), and:
    a label that is none, fits no door, fits several, or fits only doors of other grids.
    """
    service._require_staff(who)
    proposal = await service._voting(proposal_id, who)
    label = parse(typed)
    if label is None:
        raise Refused("canvass.error.bad_label", 400)
    async with in_transaction() as conn:
        found = [d for d in await doors(conn, proposal.id) if fits(d, label)]
    mine = [d for d in found if service.serves(who, d.grid_id)]
    if len(mine) > 1:
        raise Refused("canvass.error.ambiguous_door", 409)
    if mine:
        return mine[0]
    if found:
        raise Refused("canvass.error.outside_grid", 403)
    raise Refused("canvass.error.no_such_door", 404, id=proposal.id)
