"""What ``/api/v1/households`` reads and answers, for the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from handlers.households.register import LIMITS
from handlers.openapi import absent_when_none

FILENAME_MAX = 255


class ImportQuery(BaseModel):
    apply: bool = Field(
        default=False, description="false: a dry run (the report only); true: write it all"
    )
    filename: str | None = Field(
        default=None,
        max_length=FILENAME_MAX,
        description="For a raw body: the file's name (.xlsx or .csv)",
        json_schema_extra=absent_when_none,
    )


class ExportQuery(BaseModel):
    format: Literal["xlsx", "csv"] = Field(default="xlsx", description="The file's format")


class ChangeView(BaseModel):
    field: Literal["area", "head_name", "phone"]
    old: str | None = Field(description="As the register held it (a phone masked)")
    new: str | None = Field(description="As the file has it (a phone masked)")


class ReasonView(BaseModel):
    code: str = Field(description="A message id, e.g. register.refuse.duplicate_room")
    message: str = Field(description="The same in the caller's language")


class RowView(BaseModel):
    row: int = Field(ge=1, description="The row number the spreadsheet program shows")
    action: Literal["create", "change", "unchanged", "refuse"]
    building: str = Field(max_length=LIMITS["building"])
    unit: str = Field(max_length=LIMITS["unit"])
    room: str = Field(max_length=LIMITS["room"])
    changes: list[ChangeView]
    reason: ReasonView | None = Field(description="Why the row is refused; null otherwise")


class Counts(BaseModel):
    create: int = Field(ge=0)
    change: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    refuse: int = Field(ge=0)
    not_in_file: int = Field(ge=0, description="Households the file leaves out: left alone")


class ImportReport(BaseModel):
    applied: bool = Field(description="Whether the register was written")
    counts: Counts
    new_buildings: list[str] = Field(description="Buildings the apply creates (or created)")
    rows: list[RowView]
