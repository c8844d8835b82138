"""What ``/api/v1/notices`` reads and answers, for the OpenAPI document.

The request models are what the API middleware validates (``@doc(body=..., query=...)``):
types, lengths and list sizes are refused here as ``api.error.bad_field``; what needs
the community's data (do these buildings exist, is it in the future) is ``service``'s.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)

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
ScopeId = Annotated[int, Field(ge=1, le=rules.MAX_ID)]
RoleName = Annotated[str, Field(min_length=1, max_length=rules.MAX_KIND)]
# Text a worker types: something besides spaces (the service keeps it trimmed).
Title = Annotated[str, Field(min_length=1, max_length=rules.MAX_TITLE, pattern=r"\S")]
Body = Annotated[str, Field(min_length=1, max_length=rules.MAX_BODY, pattern=r"\S")]
Kind = Annotated[
    str,
    Field(
        min_length=1,
        max_length=rules.MAX_KIND,
        pattern=r"\S",
        description="What residents may mute (停水, activity...)",
    ),
]


class Scope(BaseModel):
    """Who a notice (or a group chat) is for. ``community`` and ``volunteers`` take no ids;
    ``roles`` takes role names; the others take ids of the community's grids, buildings,
    households or group chats (unknown ones are refused as ``notice.error.bad_scope``)."""

    kind: ScopeKind
    ids: (
        Annotated[list[ScopeId], Field(max_length=rules.MAX_SCOPE_IDS)]
        | Annotated[list[RoleName], Field(max_length=rules.MAX_SCOPE_IDS)]
    ) = Field(
        default=[],
        description="Ids (grids, buildings, households, groups) or role names (roles)",
    )

    @field_validator("ids", mode="wrap")
    @classmethod
    def _ids_or_names(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One refusal naming ``scope.ids``, not one per branch of the union."""
        try:
            return handler(value)
        except ValidationError:
            raise ValueError("a list of ids or of role names") from None

    def stored(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "ids": list(self.ids)}


class NoticeBody(BaseModel):
    title: Title
    body: Body
    scope: Scope
    kind: Kind = "general"
    emergency: bool = Field(default=False, description="Reaches also those who muted the kind")
    channels: list[Channel] = Field(
        default=[Channel("oa")], min_length=1, max_length=len(rules.CHANNELS)
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "With its UTC offset (a time without one is refused), in the future and "
            f"in the years {rules.MIN_YEAR} to {rules.MAX_YEAR}; the job sends it then"
        ),
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
    unknown: int = Field(
        ge=0,
        description="May need a manual resend: handed over, but the platform did not confirm "
        "it, or the sender stopped while it was in flight (never resent by itself)",
    )
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
    kind: Kind
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
    name: str = Field(min_length=1, max_length=rules.MAX_GROUP_NAME, pattern=r"\S")
    webhook_key: str = Field(
        min_length=1,
        max_length=rules.MAX_WEBHOOK_KEY,
        pattern=r"\S",
        description="The group robot's key",
    )
    scope: Scope = Field(description="community, volunteers, grids, buildings or households")


class GroupMade(BaseModel):
    id: int
    name: str
    scope: GroupScope


class Failure(BaseModel):
    channel: Channel
    resident_id: int | None = Field(
        description="null for the relay's own notices (a ticket's reporter, a vote's households)"
    )
    group_id: int | None
    status: str
    failure: str | None
    attempts: int


class FailurePage(Page):
    items: list[Failure]


class NoticeDraft(BaseModel):
    """A notice being written, to preview before it is created."""

    title: Title
    body: Body
    scope: Scope
    kind: Kind = "general"
    emergency: bool = Field(default=False, description="Reaches also those who muted the kind")
    channels: list[Channel] = Field(
        default=[Channel("oa")], min_length=1, max_length=len(rules.CHANNELS)
    )


class ChannelPreview(BaseModel):
    channel: Channel
    text: str = Field(description="The message as the resident will read it on this channel")
    recipients: int = Field(
        ge=0, description="Residents (oa) or group chats (robot, customer_group) it goes to"
    )


class Preview(BaseModel):
    channels: list[ChannelPreview]


class ChannelProgress(BaseModel):
    channel: Channel
    sent: int = Field(ge=0)
    failed: int = Field(ge=0)
    unknown: int = Field(ge=0)
    pending: int = Field(ge=0)
    total: int = Field(ge=0)
    finished: bool


class GroupStatus(StrEnum):
    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    SENT = "sent"
    FAILED = "failed"
    NOT_IN_GROUP = "not_in_group"


class CustomerGroupDelivery(BaseModel):
    group_id: int
    name: str
    status: GroupStatus = Field(
        description="submitted: the owner has not confirmed the task yet; confirmed: sent "
        "by the owner, its result not known yet"
    )
    failure: str | None
    submitted_at: str | None
    confirmed_at: str | None
    sent_at: str | None


class Delivery(Progress):
    """A notice's progress on each of its channels and in each customer group."""

    channels: list[ChannelProgress]
    customer_groups: list[CustomerGroupDelivery]


ChatId = Annotated[str, Field(min_length=1, max_length=rules.MAX_CHAT_ID, pattern=r"^\S+$")]
UserId = Annotated[str, Field(min_length=1, max_length=rules.MAX_USERID, pattern=r"^\S+$")]


class CustomerGroupBody(BaseModel):
    chat_id: ChatId = Field(description="WeCom's id of the customer group (客户群)")
    name: str = Field(min_length=1, max_length=rules.MAX_GROUP_NAME, pattern=r"\S")
    owner: UserId = Field(description="The WeCom userid of the group's owner (群主)")
    scope: Scope = Field(description="community, volunteers, grids or buildings")


class CustomerGroupView(BaseModel):
    id: int
    chat_id: str
    name: str
    owner: str
    scope: GroupScope
    active: bool


class CustomerGroupPage(Page):
    items: list[CustomerGroupView]
