"""Pure rules for binding codes and residents' data. No I/O, no clock."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import unicodedata
from datetime import datetime
from enum import StrEnum

# No 0/O, 1/I/L: codes are read aloud and typed by elderly residents.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


class CodeStatus(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    MALFORMED = "malformed"


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def normalize_code(text: str) -> str | None:
    """What a resident typed → a code, or None when it cannot be one.

    Full-width letters, spaces, dashes and lower case are forgiven; letters a
    resident may confuse (O for 0 and so on) cannot occur in a code anyway.
    """
    cleaned = unicodedata.normalize("NFKC", text).upper()
    cleaned = cleaned.strip().rstrip(".。!！")  # voice recognition ends a code with 。
    cleaned = "".join(ch for ch in cleaned if ch not in " -_\t")
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_status(
    found: bool, used_at: datetime | None, expires_at: datetime | None, now: datetime
) -> CodeStatus:
    if not found:
        return CodeStatus.UNKNOWN
    if used_at is not None:
        return CodeStatus.USED
    if expires_at is not None and expires_at <= now:
        return CodeStatus.EXPIRED
    return CodeStatus.OK


def pseudonym(openid: str) -> str:
    """A stable, non-reversible handle for logs: never log an openid itself."""
    return "u_" + hashlib.sha256(openid.encode()).hexdigest()[:12]


def mask(value: str, keep: int = 4) -> str:
    """Show a resident their own identifier without echoing it whole."""
    if keep <= 0 or len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


# Checked in order: Edge and WeChat's browser also call themselves Chrome and Safari.
BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg", "Edge"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("Safari", "Safari"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)


def masked_address(address: str) -> str:
    """Enough of a client address to recognise one's own office, not to trace a person:
    the first two parts of an IPv4 address, the /32 network of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "*"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        first, second, *_ = str(ip).split(".")
        return f"{first}.{second}.*.*"
    return str(ipaddress.ip_network(f"{ip}/32", strict=False))


def device_of(user_agent: str) -> str:
    """A browser and system named from a fixed list ("Chrome · Windows"), or ``""``.

    Never the header itself: whoever starts a sign-in writes it, and a worker must not be
    shown words a stranger chose."""
    browser = next((name for token, name in BROWSERS if token in user_agent), "")
    system = next((name for token, name in SYSTEMS if token in user_agent), "")
    return " · ".join(part for part in (browser, system) if part)
