"""Storing a client's JPEG without decoding it: the metadata goes, the pixels stay bit-identical, and
anything that needs a decode (a turned photo, a colour profile, CMYK, a big image) is left to it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests import imagegen
from tests.test_imaging import assert_no_metadata, jpeg_markers
from xiaofei.imaging.jpegclean import clean_jpeg, exif_orientation, is_srgb


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def with_segments(data: bytes, *segments: tuple[int, bytes]) -> bytes:
    """``data`` with extra APPn/COM segments right after SOI."""
    extra = b"".join(bytes((0xFF, m)) + (len(p) + 2).to_bytes(2, "big") + p for m, p in segments)
    return data[:2] + extra + data[2:]


def client_jpeg(progressive: bool = False, mode: str = "RGB") -> bytes:
    """What a client sends: upright, downscaled, and here given every kind of metadata to strip."""
    exif = imagegen.metadata_exif(1).tobytes()
    image = imagegen.pattern(mode, (320, 240))
    base = imagegen.encode(
        image, "jpeg", quality=90, progressive=progressive, exif=exif, comment=b"Zhang San"
    )
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>XiaofeiPhone</x:xmpmeta>"
    return with_segments(base, (0xE1, xmp), (0xED, b"Photoshop 3.0\x00Zhang San"), (0xEF, b"vendor"))


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_metadata_goes_and_pixels_stay(progressive: bool, mode: str) -> None:
    source = client_jpeg(progressive, mode)
    assert b"XiaofeiPhone" in source and b"Zhang San" in source
    cleaned = clean_jpeg(source)
    assert cleaned is not None
    assert_no_metadata(cleaned)
    assert not {m for m in jpeg_markers(cleaned) if 0xE0 <= m <= 0xEF or m == 0xFE}
    np.testing.assert_array_equal(pixels(cleaned), pixels(source))  # no re-encode: bit-identical
    assert len(cleaned) < len(source)


def test_comment_between_progressive_scans_is_dropped_too() -> None:
    source = imagegen.encode(imagegen.pattern("RGB", (64, 48)), "jpeg", progressive=True)
    second_sos = source.index(b"\xff\xda", source.index(b"\xff\xda") + 2)
    spliced = source[:second_sos] + b"\xff\xfe\x00\x0bZhang San" + source[second_sos:]
    cleaned = clean_jpeg(spliced)
    assert cleaned is not None and b"Zhang San" not in cleaned
    np.testing.assert_array_equal(pixels(cleaned), pixels(source))


def test_what_needs_a_decode_is_left_to_it() -> None:
    # a turned photo (orientation 6): without EXIF it would show on its side
    assert clean_jpeg(imagegen.exif_jpeg(orientation=6, metadata=False)) is None
    # an ICC profile other than sRGB: without it the colours would change
    odd = imagegen.encode(imagegen.pattern("RGB"), "jpeg", icc_profile=imagegen.swapped_primaries_icc())
    assert clean_jpeg(odd) is None
    # CMYK, and a side over the limit
    assert clean_jpeg(imagegen.encode(imagegen.pattern("CMYK"), "jpeg")) is None
    assert clean_jpeg(imagegen.encode(imagegen.pattern("RGB", (300, 200)), "jpeg"), max_side=299) is None
    # not a JPEG, cut short, no end marker
    good = imagegen.encode(imagegen.pattern("RGB"), "jpeg")
    assert clean_jpeg(b"\x89PNG\r\n\x1a\n") is None
    assert clean_jpeg(good[: len(good) // 2]) is None
    assert clean_jpeg(good[:-2]) is None


def test_an_srgb_profile_is_dropped_since_untagged_means_srgb() -> None:
    # Browsers' canvases tag their JPEGs with a small sRGB profile; Pillow's sRGB has another name and size
    tagged = imagegen.encode(imagegen.pattern("RGB", (64, 48)), "jpeg", icc_profile=imagegen.srgb_icc())
    cleaned = clean_jpeg(tagged)
    assert cleaned is not None and b"ICC_PROFILE" not in cleaned
    np.testing.assert_array_equal(pixels(cleaned), pixels(tagged))
    assert is_srgb(imagegen.srgb_icc()) and not is_srgb(imagegen.swapped_primaries_icc())
    assert not is_srgb(b"") and not is_srgb(b"\x00" * 200)


def test_trailing_junk_after_the_end_marker_is_not_kept() -> None:
    good = imagegen.encode(imagegen.pattern("RGB"), "jpeg")
    cleaned = clean_jpeg(good + b"Zhang San GPS 31.2N")
    assert cleaned is not None and cleaned.endswith(b"\xff\xd9") and b"Zhang San" not in cleaned


def test_exif_orientation_reader() -> None:
    for orientation in (1, 3, 6, 8):
        exif = imagegen.metadata_exif(orientation).tobytes()
        assert exif_orientation(exif if exif.startswith(b"Exif") else b"Exif\x00\x00" + exif) == orientation
    assert exif_orientation(b"http://ns.adobe.com/xap/1.0/\x00") == 1


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000), flips=st.lists(st.integers(0, 4000), max_size=4))
def test_never_raises_on_damaged_bytes(cut: int, flips: list[int]) -> None:
    data = bytearray(client_jpeg())
    for i in flips:
        data[i % len(data)] ^= 0x5A
    result = clean_jpeg(bytes(data[: max(2, len(data) - cut)]))
    assert result is None or result.startswith(b"\xff\xd8")
