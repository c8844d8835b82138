"""The type of an upload comes from its bytes; its size and pixels have limits."""

from __future__ import annotations

import pytest

from handlers.media import rules
from handlers.refusal import Refused
from tests.media import samples

IMAGES = {
    "image/jpeg": samples.jpeg(),
    "image/png": samples.png(),
    "image/webp": samples.webp(),
    "image/gif": samples.gif(),
}


@pytest.mark.parametrize("content_type", sorted(IMAGES))
def test_each_image_type_is_told_from_its_bytes(content_type):
    found = rules.sniff(IMAGES[content_type][: rules.HEAD_BYTES])
    assert (found.kind, found.content_type) == (rules.Kind.IMAGE, content_type)


@pytest.mark.parametrize("content_type", sorted(samples.VOICE))
def test_each_voice_type_is_told_from_its_bytes(content_type):
    found = rules.sniff(samples.VOICE[content_type][: rules.HEAD_BYTES])
    assert (found.kind, found.content_type) == (rules.Kind.VOICE, content_type)


def test_an_mp3_without_tags_is_told_by_its_frame_header():
    assert rules.sniff(samples.MP3_FRAME[:16]) == rules.MP3


@pytest.mark.parametrize(
    "data",
    [
        samples.EXE,
        b"%PDF-1.7\n" + b"\x00" * 16,
        b"PK\x03\x04" + b"\x00" * 16,  # a zip (or a .docx)
        b"<html><script>alert(1)</script>",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",  # an iPhone HEIC: a picture, not sound
        b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00",  # a QuickTime video
        b"RIFF\x00\x00\x00\x00AVI LIST",
        b"\xff\xea\x90\x00" + b"\x00" * 12,  # MPEG sync bits with a reserved version
    ],
    ids=["exe", "pdf", "zip", "html", "heic", "mov", "avi", "reserved-mpeg"],
)
def test_anything_else_is_refused_whatever_its_name(data):
    with pytest.raises(Refused) as refused:
        rules.classify(data)
    assert (refused.value.code, refused.value.status) == ("media.error.unknown_type", 415)


def test_a_png_named_jpeg_is_still_a_png():
    # Neither a file name nor a Content-Type reaches the sniffer: only the bytes do.
    assert rules.classify(samples.png()).content_type == "image/png"


def test_images_may_be_ten_megabytes_and_voice_five():
    jpeg = samples.jpeg()
    padded_image = jpeg + b"\x00" * (rules.IMAGE_MAX_BYTES - len(jpeg))
    assert rules.classify(padded_image).kind is rules.Kind.IMAGE
    with pytest.raises(Refused) as refused:
        rules.classify(padded_image + b"\x00")
    assert (refused.value.code, refused.value.status) == ("media.error.too_large", 413)
    assert refused.value.params == {"limit": 10}

    amr = samples.VOICE["audio/amr"]
    assert rules.classify(amr + b"\x00" * (rules.VOICE_MAX_BYTES - len(amr))).kind == "voice"
    with pytest.raises(Refused) as refused:
        rules.classify(amr + b"\x00" * (rules.VOICE_MAX_BYTES - len(amr) + 1))
    assert refused.value.code == "media.error.too_large"
    assert refused.value.params == {"limit": 5}


def test_nothing_at_all_is_refused_as_empty():
    with pytest.raises(Refused) as refused:
        rules.classify(b"")
    assert refused.value.code == "media.error.empty"


def test_forty_megapixels_pass_and_one_more_does_not():
    rules.check_pixels(8000, 5000)
    with pytest.raises(Refused) as refused:
        rules.check_pixels(8000, 5001)
    assert (refused.value.code, refused.value.status) == ("media.error.too_many_pixels", 422)
    assert refused.value.params == {"limit": 40}
