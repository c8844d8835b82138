"""Small files of every kind the upload takes, made here (no binary fixtures in the repo)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

# 深圳市民中心, roughly: where a photo was taken, as a phone writes it.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (22.0, 32.0, 40.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (114.0, 3.0, 30.0),
}


def image(fmt: str, size: tuple[int, int] = (40, 20), color: str = "red") -> bytes:
    out = io.BytesIO()
    mode = "P" if fmt == "GIF" else "RGB"
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (40, 20)) -> bytes:
    return image("JPEG", size)


def png(size: tuple[int, int] = (40, 20)) -> bytes:
    return image("PNG", size)


def webp() -> bytes:
    return image("WEBP")


def gif() -> bytes:
    """Two frames; the first is what is kept."""
    out = io.BytesIO()
    first, second = Image.new("P", (30, 10), 1), Image.new("P", (30, 10), 2)
    first.save(out, "GIF", save_all=True, append_images=[second], duration=100)
    return out.getvalue()


def phone_photo(orientation: int = 6, size: tuple[int, int] = (40, 20)) -> bytes:
    """A JPEG as a phone writes it: GPS, camera model, and an orientation tag (6: the
    pixels are stored lying on their side, shown turned 90°)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Linli"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = dict(GPS)
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(
        out, "JPEG", exif=exif.tobytes(), xmp=b"<x:xmpmeta>exif:GPSLatitude</x:xmpmeta>"
    )
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height``: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def wav() -> bytes:
    samples = b"\x00\x00" * 800
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data"
    body += struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


VOICE = {
    "audio/amr": b"#!AMR\n" + b"\x3c" + b"\x00" * 31,
    "audio/amr-wb": b"#!AMR-WB\n" + b"\x00" * 32,
    "audio/silk": b"\x02#!SILK_V3" + b"\x00" * 32,
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 32,
    "audio/mp4": b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom" + b"\x00" * 16,
    "audio/aac": b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 32,
    "audio/wav": wav(),
    "audio/ogg": b"OggS\x00\x02" + b"\x00" * 32 + b"OpusHead",
}
# An MP3 without tags starts with a frame: MPEG-1 layer III, 128 kbit/s, 44.1 kHz.
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413
# A Windows program: what a renamed ``photo.jpg.exe`` (or ``photo.jpg``) really is.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
