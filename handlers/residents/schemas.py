"""Request and response models of sign-in, ``/me`` and households (OpenAPI).

The request models are what the API middleware validates, strictly, before a handler runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from handlers.openapi import Page, Paging, absent_when_none


class PasswordSignIn(BaseModel):
    login: str = Field(
        min_length=1, max_length=64, pattern=r"\S", description="Surrounding spaces are ignored"
    )
    password: str = Field(min_length=1, max_length=256, pattern=r"\S")


class CodeSignIn(BaseModel):
    code: str = Field(
        min_length=1, max_length=128, pattern=r"\S", description="The code from wx.login()"
    )
    phone_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"\S",
        description=(
            "The code of a getPhoneNumber button tapped on the sign-in page, if any: the "
            "number is kept on the resident; a code WeChat refuses does not fail the sign-in"
        ),
    )


class PhoneCode(BaseModel):
    code: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"\S",
        description="The code of the getPhoneNumber button (bindgetphonenumber's e.detail.code)",
    )


class PhoneView(BaseModel):
    phone: str = Field(description="The number kept, masked (138****8000)")


class ErrorView(BaseModel):
    code: str
    message: str


class PhoneOutcome(BaseModel):
    saved: bool
    error: ErrorView | None = Field(
        default=None, description="Why no number was kept (the code of the refusal)"
    )


MAY = "The role sets held (console, managers, ...; see x-roles), for showing what to offer"


class SignedInPerson(BaseModel):
    id: int
    name: str | None
    roles: list[str]
    may: list[str] = Field(description=MAY)
    verified: bool


class SessionView(BaseModel):
    token: str = Field(description="Send as Authorization: Bearer <token>")
    expires_in: int = Field(description="Seconds the session lives unless revoked")
    resident: SignedInPerson
    phone: PhoneOutcome | None = Field(
        default=None, description="Only when the sign-in sent a phone_code: what came of it"
    )


class QrLoginStarted(BaseModel):
    ticket: str
    secret: str = Field(description="Only for the page that started: it polls with it")
    scene: str = Field(description="The QR scene the official account sends back on scan")
    qr_url: str | None = Field(description="The QR image, or null without an app secret")
    expires_in: int


class QrLoginPoll(BaseModel):
    secret: str = Field(min_length=1, max_length=64, description="From the start's answer")


class QrLoginStatus(BaseModel):
    status: Literal["pending", "signed_in"]
    session: SessionView | None = None


class MeView(BaseModel):
    id: int
    name: str | None
    language: str = Field(
        description="The language the person chose, or the community's while they chose none"
    )
    verified: bool
    household: str | None = Field(description="The caller's own household, e.g. 1栋 1 0301")
    roles: list[str]
    may: list[str] = Field(description=MAY)
    phone: str | None = Field(
        default=None, description="The phone number kept for the caller, masked (138****8000)"
    )


class MeChange(BaseModel):
    language: Literal["zh_Hans", "zh_Hant", "en"] = Field(
        description="The language to be answered in: chat, notices and the console"
    )


class BindingRequest(BaseModel):
    code: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"\S",
        description="8 letters and digits; spaces, dashes and full-width forms are forgiven",
    )


class HouseholdQuery(Paging):
    building: int | None = Field(
        default=None,
        ge=1,
        le=999_999_999,
        description="Only the households of this building",
        json_schema_extra=absent_when_none,
    )


class HouseholdView(BaseModel):
    id: int
    building: str
    unit: str
    room: str
    residents: int
    verified_residents: int
    code: str | None = Field(description="The binding code still open, if one is")
    code_expires_at: datetime | None


class HouseholdPage(Page):
    items: list[HouseholdView]


class BindingCodeView(BaseModel):
    code: str
    expires_at: datetime
