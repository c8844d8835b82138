"""The household register (台账) from a spreadsheet: rows in, a plan out, no I/O.

``sheets`` turns a file into numbered rows of text and ``service`` loads what the
community already holds into a ``Register``; here every row is read, checked and
compared, so the dry run and the apply are one plan. Each row gets exactly one line:
create, change (field by field, the phone masked), unchanged, or refuse with a
catalogue id. A blank cell keeps what the register holds: a sheet made for one purpose
(areas for a vote, say) must not wipe the phones it never carried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from handlers.i18n import N_
from handlers.refusal import Refused

MAX_ROWS = 20_000
# A title row or two ("幸福里社区住户台账") may stand above the header.
HEADER_WINDOW = 10
# The export's header, in its column order; the import also takes the English names.
EXPORT_HEADER = ("网格", "楼栋", "单元", "房号", "面积", "户主", "电话")
FIELDS = ("grid", "building", "unit", "room", "area", "head_name", "phone")
HEADERS = {
    **dict(zip(EXPORT_HEADER, FIELDS, strict=True)),
    **{name: name for name in FIELDS},
}
REQUIRED = ("building", "room")
# The model's column lengths (models/community.py).
LIMITS = {"grid": 64, "building": 32, "unit": 16, "room": 16, "head_name": 64, "phone": 32}
AREA_MAX = Decimal("1000000")  # Decimal(8, 2)
CENT = Decimal("0.01")
AREA_UNITS = ("平方米", "平米", "㎡", "m²", "m2")

Action = Literal["create", "change", "unchanged", "refuse"]
ACTIONS: tuple[Action, ...] = ("create", "change", "unchanged", "refuse")
Key = tuple[str, str, str]  # building, unit, room

MISSING_BUILDING = N_("register.refuse.missing_building")
MISSING_ROOM = N_("register.refuse.missing_room")
DUPLICATE_ROOM = N_("register.refuse.duplicate_room")
BAD_TEXT = N_("register.refuse.bad_text")
BAD_AREA = N_("register.refuse.bad_area")
BAD_PHONE = N_("register.refuse.bad_phone")
UNKNOWN_GRID = N_("register.refuse.unknown_grid")
OTHER_GRID = N_("register.refuse.other_grid")
NO_GRID = N_("register.refuse.no_grid")


# --- single values ---------------------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LOCAL = re.compile(r"[1-9]\d{6,7}")
_PHONE_NOISE = re.compile(r"[\s\-()（）]")


def phone(raw: str) -> str:
    """A Chinese mobile (13812345678) or landline (0755-12345678, 12345678), spaces,
    dashes and brackets stripped; the area code is put back behind its dash (010 and
    02x have three digits, all others four). ``ValueError`` if it is no phone."""
    digits = _PHONE_NOISE.sub("", raw).removeprefix("+86")
    if _MOBILE.fullmatch(digits):
        return digits
    if _LOCAL.fullmatch(digits):
        return digits
    if len(digits) > 1 and digits[0] == "0" and digits[1] != "0":
        split = 3 if digits[1] in "12" else 4
        if _LOCAL.fullmatch(digits[split:]):
            return f"{digits[:split]}-{digits[split:]}"
    raise ValueError("not a phone number")


def masked(number: str | None) -> str | None:
    """What a report shows of a phone: 138****5678, 0755-****5678."""
    if not number:
        return number
    area, dash, local = number.rpartition("-")
    if len(local) == 11 and local.isdigit():
        return f"{local[:3]}****{local[-4:]}"
    return f"{area}{dash}****{local[-4:]}" if len(local) > 4 else "****"


def area(raw: str) -> Decimal:
    """A positive floor area in m² with at most two decimals (85, 85.5, 85.50㎡)."""
    text = raw.strip()
    for unit in AREA_UNITS:
        text = text.removesuffix(unit).strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not value.is_finite() or value <= 0 or value >= AREA_MAX:
        raise ValueError("not a positive area")
    if value.quantize(CENT) != value:
        raise ValueError("more than two decimals")
    return value.quantize(CENT)


def text(raw: str, limit: int) -> str:
    """A cell as the register keeps it: whitespace runs made one space; ``ValueError``
    if too long or holding what the database cannot keep (NUL, control characters)."""
    value = " ".join(raw.split())
    if len(value) > limit or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("not storable text")
    return value


def header_field(cell: str) -> str | None:
    """The field a header cell names (网格 or grid, Head Name or head_name), if any."""
    words = cell.replace("-", " ").replace("_", " ").lower().split()
    return HEADERS.get("_".join(words)) or HEADERS.get("".join(words))


# --- the file as a whole ---------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where each field's cells are, and how the file names them (for refusals)."""

    index: Mapping[str, int]
    names: Mapping[str, str]
    header_row: int


def columns(rows: Sequence[tuple[int, Sequence[str]]]) -> Columns:
    """The header: the first of the first rows that names a known column."""
    for number, cells in rows[:HEADER_WINDOW]:
        index: dict[str, int] = {}
        names: dict[str, str] = {}
        for position, cell in enumerate(cells):
            found = header_field(cell)
            if found is None:
                continue
            if found in index:
                raise Refused("register.file.duplicate_column", 400, column=cell.strip()[:32])
            index[found], names[found] = position, cell.strip()
        if not index:
            continue
        for needed in REQUIRED:
            if needed not in index:
                raise Refused(
                    "register.file.missing_column",
                    400,
                    column=EXPORT_HEADER[FIELDS.index(needed)],
                )
        return Columns(index, names, number)
    raise Refused("register.file.no_header", 400)


# --- what the database holds -----------------------------------------------------------------


@dataclass(frozen=True)
class Home:
    """One household as the register holds it."""

    id: int
    area: Decimal | None
    head_name: str | None
    phone: str | None


@dataclass(frozen=True)
class Register:
    """A community's register: grid names, each building's grid name, the households."""

    grids: frozenset[str] = frozenset()
    buildings: Mapping[str, str | None] = field(default_factory=dict)
    homes: Mapping[Key, Home] = field(default_factory=dict)


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A row that reads well: ``None`` for a blank cell (the register's value stays)."""

    grid: str | None
    building: str
    unit: str
    room: str
    area: Decimal | None = None
    head_name: str | None = None
    phone: str | None = None

    @property
    def key(self) -> Key:
        return (self.building, self.unit, self.room)


@dataclass(frozen=True)
class Change:
    """One field of a household, old → new as the report shows them (phones masked)."""

    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Line:
    """One row of the file in the report."""

    row: int
    action: Action
    building: str
    unit: str
    room: str
    changes: tuple[Change, ...] = ()
    reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # What the apply writes (the phone in clear): never part of the report.
    entry: Entry | None = field(default=None, repr=False, compare=False)
    home_id: int | None = field(default=None, repr=False, compare=False)

    @property
    def place(self) -> str:
        return " ".join(part for part in (self.building, self.unit, self.room) if part)


@dataclass(frozen=True)
class Plan:
    lines: tuple[Line, ...]
    not_in_file: int = 0
    # Buildings the apply creates, with the grid (name) they go under.
    new_buildings: tuple[tuple[str, str | None], ...] = ()
    applied: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for line in self.lines if line.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {**{a: self.count(a) for a in ACTIONS}, "not_in_file": self.not_in_file}

    @property
    def refused(self) -> bool:
        return any(line.action == "refuse" for line in self.lines)

    def done(self) -> Plan:
        return replace(self, applied=True)


def _cell(cells: Sequence[str], cols: Columns, name: str) -> str | None:
    """The cell of a field, ``None`` when the file has no such column."""
    position = cols.index.get(name)
    if position is None:
        return None
    return cells[position] if position < len(cells) else ""


def _clip(value: str | None, name: str) -> str:
    return " ".join((value or "").split())[: LIMITS[name]]


@dataclass(frozen=True)
class _Read:
    row: int
    place: tuple[str, str, str]
    entry: Entry | None = None
    reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def _read(number: int, cells: Sequence[str], cols: Columns) -> _Read:
    """One row's cells as an ``Entry``, or the first thing wrong with them."""
    raw = {name: _cell(cells, cols, name) for name in FIELDS}
    place = (
        _clip(raw["building"], "building"),
        _clip(raw["unit"], "unit"),
        _clip(raw["room"], "room"),
    )
    values: dict[str, str | None] = {}
    for name in ("grid", "building", "unit", "room", "head_name"):
        try:
            values[name] = None if raw[name] is None else text(raw[name] or "", LIMITS[name])
        except ValueError:
            return _Read(number, place, reason=BAD_TEXT, params={"column": cols.names[name]})
    if not values["building"]:
        return _Read(number, place, reason=MISSING_BUILDING)
    if not values["room"]:
        return _Read(number, place, reason=MISSING_ROOM)
    found_area = None
    if (raw["area"] or "").strip():
        try:
            found_area = area(raw["area"] or "")
        except ValueError:
            return _Read(number, place, reason=BAD_AREA)
    found_phone = None
    if (raw["phone"] or "").strip():
        try:
            found_phone = phone(raw["phone"] or "")
        except ValueError:
            return _Read(number, place, reason=BAD_PHONE)
    entry = Entry(
        grid=values["grid"] or None,
        building=values["building"] or "",
        unit=values["unit"] or "",
        room=values["room"] or "",
        area=found_area,
        head_name=values["head_name"] or None,
        phone=found_phone,
    )
    return _Read(number, entry.key, entry=entry)


def _grid_refusal(entry: Entry, register: Register, new: Mapping[str, str | None]) -> _Read | None:
    """Grids are never created, and buildings never moved, by an import."""
    if entry.grid is None:
        return None
    if entry.grid not in register.grids:
        return _Read(0, entry.key, reason=UNKNOWN_GRID, params={"grid": entry.grid})
    if entry.building in register.buildings:
        holds = register.buildings[entry.building]
    else:
        holds = new.get(entry.building)
    if holds == entry.grid:
        return None
    if holds is None:
        return _Read(0, entry.key, reason=NO_GRID, params={"building": entry.building})
    return _Read(
        0, entry.key, reason=OTHER_GRID, params={"building": entry.building, "grid": holds}
    )


def display_area(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(CENT)}"


def _changes(entry: Entry, home: Home) -> tuple[Change, ...]:
    found = []
    if entry.area is not None and entry.area != home.area:
        found.append(Change("area", display_area(home.area), display_area(entry.area)))
    if entry.head_name is not None and entry.head_name != home.head_name:
        found.append(Change("head_name", home.head_name, entry.head_name))
    if entry.phone is not None and entry.phone != home.phone:
        found.append(Change("phone", masked(home.phone), masked(entry.phone)))
    return tuple(found)


def plan(rows: Sequence[tuple[int, Sequence[str]]], register: Register) -> Plan:
    """Every data row's line, in file order; refuses the file as a whole when it is
    empty, has no header, lacks a required column or holds more than ``MAX_ROWS``."""
    if not rows:
        raise Refused("register.file.empty", 400)
    cols = columns(rows)
    data = [(n, cells) for n, cells in rows if n > cols.header_row]
    if not data:
        raise Refused("register.file.empty", 400)
    if len(data) > MAX_ROWS:
        raise Refused("register.file.too_many_rows", 422, limit=MAX_ROWS)
    read = [_read(number, cells, cols) for number, cells in data]
    # A new building goes under the first grid its rows name.
    new: dict[str, str | None] = {}
    for item in read:
        entry = item.entry
        if entry is None or entry.building in register.buildings:
            continue
        if entry.grid in register.grids and new.get(entry.building) is None:
            new[entry.building] = entry.grid
        new.setdefault(entry.building, None)
    first: dict[Key, int] = {}
    lines = []
    for item in read:
        key = item.place
        if key[0] and key[2]:
            if key not in first:
                first[key] = item.row
            elif item.reason is None:
                item = _Read(item.row, key, reason=DUPLICATE_ROOM, params={"first": first[key]})
        if item.entry is not None and item.reason is None:
            refused = _grid_refusal(item.entry, register, new)
            if refused is not None:
                item = replace(refused, row=item.row)
        lines.append(_line(item, register))
    used = {line.entry.building for line in lines if line.entry is not None}
    return Plan(
        lines=tuple(lines),
        not_in_file=sum(1 for key in register.homes if key not in first),
        new_buildings=tuple((name, grid) for name, grid in new.items() if name in used),
    )


def _line(item: _Read, register: Register) -> Line:
    building, unit, room = item.place
    if item.reason is not None or item.entry is None:
        return Line(
            item.row, "refuse", building, unit, room, reason=item.reason, params=item.params
        )
    entry = item.entry
    home = register.homes.get(entry.key)
    if home is None:
        return Line(item.row, "create", building, unit, room, entry=entry)
    changes = _changes(entry, home)
    action: Action = "change" if changes else "unchanged"
    return Line(item.row, action, building, unit, room, changes, entry=entry, home_id=home.id)


# --- the export ------------------------------------------------------------------------------


def natural(value: str) -> tuple[Any, ...]:
    """Sort key putting 2栋 before 10栋 and 201 before 1001."""
    return tuple(
        (0, int(part), part) if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", value)
        if part
    )


@dataclass(frozen=True)
class Listed:
    """One household as the export writes it."""

    grid: str | None
    building: str
    unit: str
    room: str
    area: Decimal | None
    head_name: str | None
    phone: str | None

    def cells(self) -> list[Any]:
        return [
            self.grid or "",
            self.building,
            self.unit,
            self.room,
            self.area,
            self.head_name or "",
            self.phone or "",
        ]


def export_rows(listed: Iterable[Listed]) -> list[list[Any]]:
    """The header and one row per household: by grid (gridless last), building, unit, room."""

    def order(item: Listed) -> tuple[Any, ...]:
        grid = (1, ()) if item.grid is None else (0, natural(item.grid))
        return (grid, natural(item.building), natural(item.unit), natural(item.room))

    return [list(EXPORT_HEADER), *(item.cells() for item in sorted(listed, key=order))]
