"""The plain objects that cross from transport to capabilities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The store did not answer in time or refused; callers degrade, never hang."""


class KeyValueStore(Protocol):
    """What handlers may ask of the shared store (``bot.store`` implements it)."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...
    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str, ttl: float | None = None) -> int: ...
    async def incr_many(self, keys: list[str], ttl: float | None = None) -> list[int]: ...
    def lock(
        self, name: str, timeout: float = 10.0, blocking_timeout: float = 5.0
    ) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    precision: float | None = None
    label: str = ""


@dataclass(frozen=True)
class Event:
    """What a resident did, whatever channel it came through.

    ``kind`` is the message type (text, image, voice, video, shortvideo,
    location, link, file, event, unknown); for events ``event`` names it
    (subscribe, unsubscribe, scan, location, click, view, ...) and ``key`` carries
    the menu key or the QR scene key (without WeChat's ``qrscene_`` prefix).
    ``text`` is the typed text, or WeChat's recognition of a voice message.
    """

    account: str
    openid: str
    kind: str
    created_at: datetime
    text: str = ""
    event: str = ""
    key: str = ""
    media_id: str = ""
    url: str = ""
    title: str = ""
    location: Location | None = None
    msg_id: str = ""


@dataclass(frozen=True)
class Reply:
    """A text for the resident; an empty text means answer nothing (``success``)."""

    text: str = ""

    @property
    def empty(self) -> bool:
        return not self.text


NO_REPLY = Reply()


@dataclass
class ConversationState:
    """Where a resident is in a multi-step flow; lives in the shared store."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """Everything a handler needs besides the event."""

    event: Event
    community: str
    language: str
    store: KeyValueStore
    translate: Callable[..., str]
    resident: Any = None
    args: str = ""
    menu: tuple[tuple[str, str, str], ...] = ()
    state: ConversationState | None = None
    next_state: ConversationState | None = None
    left: bool = False
    settings: Any = None
    now: Callable[[], datetime] = datetime.now

    def t(self, msgid: str, /, **params: Any) -> str:
        return self.translate(self.language, msgid, **params)

    @property
    def state_data(self) -> dict[str, Any]:
        """The data of the state a ``Router.state`` handler runs in (its route needs one)."""
        if self.state is None:
            raise RuntimeError("no conversation state: only Router.state handlers read it")
        return self.state.data

    def enter(self, name: str, **data: Any) -> None:
        """Continue the conversation in state ``name`` after this reply."""
        self.next_state = ConversationState(name, dict(data))

    def leave(self) -> None:
        """End the flow after this reply (also the default when ``enter`` is not called).

        Said before a service's ``Refused``, it ends the flow on the refusal too (which
        otherwise leaves the resident where they were)."""
        self.next_state = None
        self.left = True


@dataclass(frozen=True)
class WeChatIdentity:
    """What ``code2Session`` answers: the mini-program openid, and the unionid if any."""

    openid: str
    unionid: str | None = None


class CodeRefused(Exception):
    """WeChat refused a ``wx.login`` code: ``reason`` is invalid, used, busy or unreachable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Code2Session = Callable[[str], Awaitable[WeChatIdentity]]


class PhoneRefused(Exception):
    """WeChat gave no phone number for a ``getPhoneNumber`` code: ``reason`` is invalid
    (bad, expired or spent code), busy (WeChat down or slow) or unavailable (our side:
    quota, credentials, the API not granted)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# phone code -> the phone number (``phoneNumber``, with the country code if not +86)
PhoneNumber = Callable[[str], Awaitable[str]]
# scene string -> (URL of the QR image, seconds it lives)
LoginQr = Callable[[str], Awaitable[tuple[str, int]]]
