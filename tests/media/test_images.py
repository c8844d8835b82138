"""Photos are kept upright and without what the camera wrote, the location only if asked."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from handlers.media import images
from handlers.refusal import Refused
from tests.media import samples


def reopened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_a_phone_photo_loses_its_location_camera_and_xmp():
    cleaned = images.clean(samples.phone_photo(), "image/jpeg")
    photo = reopened(cleaned.data)
    assert photo.format == "JPEG"
    exif = photo.getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert ExifTags.Base.Model not in exif and ExifTags.Base.Make not in exif
    assert "xmp" not in photo.info
    assert b"GPSLatitude" not in cleaned.data and b"Phone 12" not in cleaned.data


def test_the_orientation_is_applied_to_the_pixels():
    # Stored 40 x 20 with orientation 6: shown, and now kept, 20 wide and 40 high.
    cleaned = images.clean(samples.phone_photo(orientation=6), "image/jpeg")
    photo = reopened(cleaned.data)
    assert (cleaned.width, cleaned.height) == (20, 40) == photo.size
    assert ExifTags.Base.Orientation not in photo.getexif()


def test_keep_location_keeps_the_gps_block_and_nothing_else():
    cleaned = images.clean(samples.phone_photo(), "image/jpeg", keep_location=True)
    exif = reopened(cleaned.data).getexif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert gps[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert tuple(float(v) for v in gps[ExifTags.GPS.GPSLongitude]) == (114.0, 3.0, 30.0)
    assert ExifTags.Base.Model not in exif and ExifTags.Base.Orientation not in exif


@pytest.mark.parametrize(
    ("content_type", "data", "size"),
    [
        ("image/png", samples.png(), (40, 20)),
        ("image/webp", samples.webp(), (40, 20)),
        ("image/gif", samples.gif(), (30, 10)),
    ],
)
def test_each_format_is_encoded_again_in_its_own(content_type, data, size):
    cleaned = images.clean(data, content_type)
    photo = reopened(cleaned.data)
    assert photo.format == images.FORMATS[content_type]
    assert (cleaned.width, cleaned.height) == size == photo.size
    assert getattr(photo, "n_frames", 1) == 1  # a GIF keeps its first frame


def test_a_small_file_declaring_huge_dimensions_is_refused_before_decoding():
    # 7000 x 7000 is 49 MP: past our limit, under Pillow's own refusal (twice the limit).
    for width, height in [(7000, 7000), (30000, 30000)]:
        bomb = samples.png_claiming(width, height)
        assert len(bomb) < 200
        with pytest.raises(Refused) as refused:
            images.clean(bomb, "image/png")
        assert refused.value.code == "media.error.too_many_pixels"


def test_a_broken_image_is_refused_as_unreadable():
    truncated = samples.jpeg((400, 300))[:300]
    with pytest.raises(Refused) as refused:
        images.clean(truncated, "image/jpeg")
    assert (refused.value.code, refused.value.status) == ("media.error.unreadable", 400)
