"""What ``/api/v1/notices`` reads and answers, for the OpenAPI document."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from handlers.notices import rules
from handlers.openapi import Page, Paging, absent_when_none


class NoticeStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


ScopeKind = StrEnum("ScopeKind", {k.upper(): k for k in rules.SCOPE_KINDS})  # type: ignore[misc]
Channel = StrEnum("Channel", {c.upper(): c for c in rules.CHANNELS})  # type: ignore[misc]


class Scope(BaseModel):
    """Who a notice (or a group chat) is for. ``community`` and ``volunteers`` take no ids;
    ``roles`` takes role names; the others take ids of the community's grids, buildings,
    households or group chats."""

    kind: ScopeKind
    ids: list[int] | list[str] = Field(
        default=[],
        max_length=1000,
        description="Ids (grids, buildings, households, groups) or role names (roles)",
    )


class NoticeBody(BaseModel):
    title: str = Field(min_length=1, max_length=rules.MAX_TITLE, pattern=r"\S")
    body: str = Field(min_length=1, max_length=rules.MAX_BODY, pattern=r"\S")
    scope: Scope
    kind: str = Field(
        default="general",
        min_length=1,
        max_length=rules.MAX_KIND,
        pattern=r"\S",
        description="What residents may mute (停水, activity...)",
    )
    emergency: bool = Field(default=False, description="Reaches also those who muted the kind")
    channels: list[Channel] = Field(default=["oa"], min_length=1, max_length=2)  # type: ignore[list-item]
    scheduled_at: str | None = Field(
        default=None,
        description="ISO 8601 with an offset, in the future; sent by the job then",
        json_schema_extra={"format": "date-time"},
    )
    send: bool = Field(default=False, description="Send at once (a draft only)")


class Progress(BaseModel):
    """A notice and how far its delivery got."""

    id: int
    title: str
    status: NoticeStatus
    scheduled_at: str | None
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    unknown: int = Field(ge=0, description="Handed over, but the platform did not confirm it")
    pending: int = Field(ge=0, description="Not yet sent (waiting or being sent)")
    total: int = Field(ge=0)
    finished: bool = Field(description="Nothing left to send")


class NoticeListed(Progress):
    kind: str
    emergency: bool
    channels: list[str]
    created_at: str


class NoticePage(Page):
    items: list[NoticeListed]


class NoticeQuery(Paging):
    status: NoticeStatus | None = Field(
        default=None, description="Only notices in this state", json_schema_extra=absent_when_none
    )


class MuteBody(BaseModel):
    kind: str = Field(min_length=1, max_length=rules.MAX_KIND, pattern=r"\S")
    muted: bool = Field(default=True, description="false unmutes")


class Muted(BaseModel):
    muted: list[str] = Field(description="The kinds the caller has muted afterwards")


class GroupScope(BaseModel):
    kind: ScopeKind
    ids: list[int]


class GroupView(BaseModel):
    id: int
    name: str
    scope: GroupScope
    active: bool
    webhook_key: str = Field(description="Masked: at most its last four characters")


class GroupPage(Page):
    items: list[GroupView]


class GroupBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"\S")
    webhook_key: str = Field(
        min_length=1, max_length=128, pattern=r"\S", description="The group robot's key"
    )
    scope: Scope = Field(description="community, volunteers, grids, buildings or households")


class GroupMade(BaseModel):
    id: int
    name: str
    scope: GroupScope


class Failure(BaseModel):
    channel: Channel
    resident_id: int | None
    group_id: int | None
    status: str
    failure: str | None
    attempts: int


class FailurePage(Page):
    items: list[Failure]
