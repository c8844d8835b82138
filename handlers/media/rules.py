"""What an upload is, told from its first bytes, and how big it may be.

The type comes from the bytes alone: a file name or a ``Content-Type`` header is what the
sender claims, and a renamed program is still a program. Anything not recognised here is
refused, so what the store keeps is only ever a photo or a voice message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.refusal import Refused

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB
VOICE_MAX_BYTES = 5 * MB
# The most a caller may send before we know what it is: the larger of the two limits.
MAX_BYTES = max(IMAGE_MAX_BYTES, VOICE_MAX_BYTES)
# Far past any phone camera (a 200 MP sensor bins to 50 MP at most by default, and 12 MP is
# the norm), yet a 40 MP RGBA frame decodes to 160 MB: the most we let one upload cost.
MAX_PIXELS = 40_000_000
# Enough for every signature below.
HEAD_BYTES = 16

# ISO base media ("ftyp") brands that are sound: an M4A from iOS or Android recorders.
# HEIC, AVIF and QuickTime share the box but are pictures or video: refused.
AUDIO_BRANDS = frozenset(
    {b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"3gp4", b"3gp5", b"3gp6", b"3g2a"}
)


class Kind(StrEnum):
    IMAGE = "image"
    VOICE = "voice"


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    content_type: str


JPEG = Sniffed(Kind.IMAGE, "image/jpeg")
PNG = Sniffed(Kind.IMAGE, "image/png")
WEBP = Sniffed(Kind.IMAGE, "image/webp")
GIF = Sniffed(Kind.IMAGE, "image/gif")
AMR = Sniffed(Kind.VOICE, "audio/amr")
AMR_WB = Sniffed(Kind.VOICE, "audio/amr-wb")
MP3 = Sniffed(Kind.VOICE, "audio/mpeg")
M4A = Sniffed(Kind.VOICE, "audio/mp4")
AAC = Sniffed(Kind.VOICE, "audio/aac")
WAV = Sniffed(Kind.VOICE, "audio/wav")
OGG = Sniffed(Kind.VOICE, "audio/ogg")
SILK = Sniffed(Kind.VOICE, "audio/silk")
# Every type an upload can be, and so every type it is served back as.
CONTENT_TYPES = tuple(
    s.content_type for s in (JPEG, PNG, WEBP, GIF, AMR, AMR_WB, MP3, M4A, AAC, WAV, OGG, SILK)
)


def _mpeg_frame(head: bytes) -> Sniffed | None:
    """An MPEG audio frame header: 11 sync bits, a version, layer, bitrate and sample rate
    that are none of the reserved values. Layer 0 with 12 sync bits is ADTS (raw AAC)."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if layer == 0:
        return AAC if head[1] & 0xF6 == 0xF0 else None
    if version == 0b01 or bitrate == 0xF or rate == 0b11:
        return None
    return MP3


def sniff(head: bytes) -> Sniffed:
    """The type of an upload from its first ``HEAD_BYTES`` bytes, else ``Refused``."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in {b"GIF87a", b"GIF89a"}:
        return GIF
    if head.startswith(b"#!AMR-WB\n"):
        return AMR_WB
    if head.startswith(b"#!AMR\n"):
        return AMR
    # WeChat's voice messages: SILK v3, often behind one 0x02 byte.
    if head.startswith((b"#!SILK_V3", b"\x02#!SILK_V3")):
        return SILK
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"OggS"):
        return OGG
    if head[4:8] == b"ftyp" and head[8:12] in AUDIO_BRANDS:
        return M4A
    if head.startswith(b"ID3"):
        return MP3
    found = _mpeg_frame(head)
    if found is not None:
        return found
    raise Refused("media.error.unknown_type", 415)


def limit_of(kind: Kind) -> int:
    return IMAGE_MAX_BYTES if kind is Kind.IMAGE else VOICE_MAX_BYTES


def check_size(size: int, kind: Kind | None = None) -> None:
    """``Refused`` past the kind's limit (past the larger one while the kind is unknown)."""
    if size <= 0:
        raise Refused("media.error.empty", 400)
    limit = MAX_BYTES if kind is None else limit_of(kind)
    if size > limit:
        raise Refused("media.error.too_large", 413, limit=limit // MB)


def check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise Refused("media.error.unreadable", 400)
    if width * height > MAX_PIXELS:
        raise Refused("media.error.too_many_pixels", 422, limit=MAX_PIXELS // 1_000_000)


def classify(data: bytes) -> Sniffed:
    """Sniff and size-check a whole upload."""
    check_size(len(data))
    found = sniff(data[:HEAD_BYTES])
    check_size(len(data), found.kind)
    return found
