"""WeChat's pushed XML → the plain ``handlers.types.Event``.

Parsing is wechatpy's; this module only refuses dangerous XML first and maps
wechatpy's message classes (and the types it does not know, such as ``file``
or ``view_miniprogram``) onto one flat event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from wechatpy import parse_message
from wechatpy.messages import BaseMessage

from handlers.types import Event, Location

REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# wechatpy folds a scan-to-subscribe into its own event name; ours keeps WeChat's.
EVENT_ALIASES = {"subscribe_scan": "subscribe"}


class BadPayload(ValueError):
    """Not XML we accept: malformed, with a DTD or entities, or missing WeChat's fields."""


def check_xml(body: bytes | str) -> None:
    """Refuse DOCTYPE, entities (XXE, billion laughs) and malformed XML before parsing."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ExpatError, ValueError, TypeError) as exc:
        raise BadPayload(type(exc).__name__) from None
    if root.tag != "xml":
        raise BadPayload("root")


def parse(xml: str) -> BaseMessage:
    check_xml(xml)
    try:
        message = parse_message(xml)
    except Exception as exc:  # wechatpy raises KeyError/ValueError/TypeError on odd shapes
        raise BadPayload(type(exc).__name__) from None
    if message is None or any(not message._data.get(field) for field in REQUIRED):
        raise BadPayload("fields")
    return message


def dedup_key(message: BaseMessage) -> str:
    """MsgId for messages; FromUserName + CreateTime + Event for events (they have no MsgId)."""
    data: dict[str, Any] = message._data
    if data.get("MsgId"):
        return f"m:{data['MsgId']}"
    return f"e:{data['FromUserName']}:{data['CreateTime']}:{data.get('Event', '')}"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def to_event(account: str, message: BaseMessage) -> Event:
    data: dict[str, Any] = message._data
    kind = str(data.get("MsgType", "unknown")).lower()
    created = datetime.fromtimestamp(int(_float(data.get("CreateTime"))), UTC)
    common: dict[str, Any] = {
        "account": account,
        "openid": str(data["FromUserName"]),
        "created_at": created,
        "msg_id": str(data.get("MsgId") or ""),
    }
    if kind == "text":
        return Event(kind="text", text=str(data.get("Content") or ""), **common)
    if kind == "voice":
        return Event(
            kind="voice",
            text=str(data.get("Recognition") or ""),
            media_id=str(data.get("MediaId") or ""),
            **common,
        )
    if kind in {"image", "video", "shortvideo"}:
        return Event(
            kind=kind,
            media_id=str(data.get("MediaId") or ""),
            url=str(data.get("PicUrl") or ""),
            **common,
        )
    if kind == "location":
        place = Location(
            latitude=_float(data.get("Location_X")),
            longitude=_float(data.get("Location_Y")),
            precision=_float(data.get("Scale")),
            label=str(data.get("Label") or ""),
        )
        return Event(kind="location", location=place, **common)
    if kind == "link":
        return Event(
            kind="link",
            title=str(data.get("Title") or ""),
            url=str(data.get("Url") or ""),
            **common,
        )
    if kind == "file":
        return Event(kind="file", title=str(data.get("Title") or ""), **common)
    if kind == "event":
        name = str(data.get("Event") or "").lower()
        name = EVENT_ALIASES.get(name, name)
        key = str(data.get("EventKey") or "")
        where = None
        if name == "location":
            where = Location(
                latitude=_float(data.get("Latitude")),
                longitude=_float(data.get("Longitude")),
                precision=_float(data.get("Precision")),
            )
        return Event(kind="event", event=name, key=key, location=where, **common)
    return Event(kind=kind or "unknown", **common)
