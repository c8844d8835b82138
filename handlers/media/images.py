"""Photos re-encoded before they are kept: the pixels stay, what the camera wrote does not.

A phone's EXIF says where the photo was taken (often the resident's own door), on which
device and when. Every photo is decoded and encoded afresh, which also drops XMP, text
chunks and whatever a polyglot file hid after the image; only the GPS block survives, and
only when the uploader asks (``keep_location``: a resident showing where a pothole is).
The camera's orientation is applied to the pixels, so a photo without its EXIF is not
shown lying on its side.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps

from handlers.media import rules
from handlers.refusal import Refused

# Pillow's own bomb guard, at our limit: past it a warning (raised below as an error),
# past twice it Pillow refuses by itself, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = rules.MAX_PIXELS

FORMATS = {
    rules.JPEG.content_type: "JPEG",
    rules.PNG.content_type: "PNG",
    rules.WEBP.content_type: "WEBP",
    rules.GIF.content_type: "GIF",
}
# What the encoder needs from the decoder's info; all else (XMP, comments, text) is dropped.
KEPT_INFO = ("transparency", "icc_profile")
# The encoders' modes; anything else is converted.
MODES = {
    "JPEG": {"RGB", "L", "CMYK"},
    "WEBP": {"RGB", "RGBA"},
    "PNG": {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"},
    "GIF": {"P", "L"},
}
QUALITY = 90


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    width: int
    height: int


def _opened(data: bytes) -> Image.Image:
    """The image with its header read, no pixel decoded yet; refused past the pixel limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused(
                "media.error.too_many_pixels", 422, limit=rules.MAX_PIXELS // 1_000_000
            ) from None
        except Exception:  # not an image Pillow can read, whatever the first bytes said
            raise Refused("media.error.unreadable", 400) from None
    rules.check_pixels(*image.size)
    return image


def _location(image: Image.Image) -> bytes | None:
    """Only the GPS block of the photo's EXIF, as EXIF bytes; ``None`` if it has none."""
    gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    kept = Image.Exif()
    kept[ExifTags.IFD.GPSInfo] = dict(gps)
    return kept.tobytes()


def _encoded(image: Image.Image, fmt: str, exif: bytes | None) -> bytes:
    info = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    if image.mode not in MODES[fmt]:
        alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if alpha and fmt != "JPEG" else "RGB")
        info.pop("transparency", None)
    image.info = {}
    options: dict[str, Any] = {}
    if "icc_profile" in info and fmt != "GIF":
        options["icc_profile"] = info["icc_profile"]
    if "transparency" in info and fmt in {"PNG", "GIF"}:
        options["transparency"] = info["transparency"]
    if fmt in {"JPEG", "WEBP"}:
        options["quality"] = QUALITY
    if exif is not None and fmt != "GIF":
        options["exif"] = exif
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def clean(data: bytes, content_type: str, *, keep_location: bool = False) -> Cleaned:
    """The photo decoded (its first frame, for GIF and animated WebP), turned upright and
    encoded again in its own format, without metadata but the GPS block if asked for.

    CPU-bound (up to ``MAX_PIXELS``): callers run it in a thread.
    """
    fmt = FORMATS[content_type]
    image = _opened(data)
    if image.format != fmt:
        raise Refused("media.error.unreadable", 400)
    try:
        location = _location(image) if keep_location else None
        image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image)
        encoded = _encoded(upright, fmt, location)
    except Refused:
        raise
    except Exception:  # the bytes are the sender's: a broken file breaks decoders in many ways
        raise Refused("media.error.unreadable", 400) from None
    return Cleaned(encoded, upright.width, upright.height)
