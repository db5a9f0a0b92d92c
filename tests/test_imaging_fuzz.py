"""Property test of the decode boundary: thousands of random and mutated files, never an undocumented error.

Every outcome must be a ``DecodedImage`` (upright "L"/"RGB", within the pixel limit) or an ``ImageError``
with one of the five documented image codes; anything else (a Pillow, numpy, pydicom or Python exception)
fails the test. Peak resident memory over each run must stay under ``MEMORY_LIMIT_MB``.

Deterministic by default (``derandomize``: the same examples on every run, so CI is not flaky). Set
``XIAOFEI_FUZZ_RANDOM=1`` to explore new examples locally, and ``XIAOFEI_FUZZ_SCALE=10`` for ten times
more. The whole module is sized to run in well under 30 s on a slow shared CPU.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import imagegen
from xiaofei.errors import ALL_CODES, ImageError
from xiaofei.imaging.image_io import decode
from xiaofei.imaging.pixels import FORMATS, DecodedImage

# Pillow's bomb warning (headers between 89 and 179 MP) and pydicom's complaints about damaged headers are
# expected on this input; the test is about exceptions, and a warning turned into one is covered elsewhere.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning", "ignore::UserWarning"),
]  # fuzzes the decoders
IMAGE_CODES = {"unsupported_format", "payload_too_large", "image_too_large", "corrupt_image", "empty_image"}
MAX_BYTES = 10_000_000
MAX_PIXELS = 40_000_000  # the production defaults: forged sizes up to this are allowed to reach the decoder
MEMORY_LIMIT_MB = 200
SCALE = max(1, int(os.environ.get("XIAOFEI_FUZZ_SCALE", "1")))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        derandomize=os.environ.get("XIAOFEI_FUZZ_RANDOM") != "1",
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def check(data: bytes, min_side: int | None = None) -> DecodedImage | ImageError:
    """The property: a valid result, or a documented image error; any other exception propagates."""
    try:
        result = decode(data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, min_side=min_side)
    except ImageError as exc:
        assert exc.code in IMAGE_CODES, exc.code
        assert ALL_CODES[exc.code] == exc.status
        assert exc.en and exc.zh
        return exc
    assert isinstance(result, DecodedImage)
    assert result.format in FORMATS
    assert result.image.mode in ("L", "RGB")
    w, h = result.image.size
    assert w > 0 and h > 0 and w * h <= MAX_PIXELS
    ow, oh = result.original_size
    assert 0 < ow * oh <= MAX_PIXELS
    assert result.draft_scale in (1, 2, 4, 8)
    assert result.image.info == {}
    np.asarray(result.image)  # the pixels are really there
    return result


# --- memory -----------------------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


@contextmanager
def bounded_memory(limit_mb: int = MEMORY_LIMIT_MB) -> Iterator[None]:
    """Fail if the peak resident size during the block grows more than ``limit_mb`` over its start."""
    if not os.path.exists("/proc/self/status"):
        yield  # not Linux: nothing to measure
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (the peak) to the current RSS
        peak_field = "VmHWM"
    except OSError:
        peak_field = "VmRSS"  # no peak reset here: check the growth at the end instead
    start = _status_kb("VmRSS")
    yield
    grown_mb = (_status_kb(peak_field) - start) / 1024
    assert grown_mb < limit_mb, f"peak memory grew by {grown_mb:.0f} MB (limit {limit_mb} MB)"


# --- seeds: small real files of every kind ----------------------------------------------------------


@lru_cache(maxsize=1)
def seeds() -> tuple[bytes, ...]:
    files = [case.data for case in imagegen.valid_cases(size=(24, 16))]
    files += [
        imagegen.exif_jpeg(imagegen.quadrants((40, 30)), 6),
        imagegen.encode(
            imagegen.quadrants((40, 30)),
            "png",
            exif=imagegen.metadata_exif(8).tobytes(),
            icc_profile=imagegen.swapped_primaries_icc(),
        ),
        imagegen.encode(imagegen.pattern("RGB", (40, 30)), "jpeg", icc_profile=imagegen.srgb_icc()),
        imagegen.png16(100, 60000, (20, 10)),
        imagegen.palette_png(gray=True, transparent=True),
        imagegen.encode(imagegen.pattern("RGBA", (20, 10)), "webp", quality=60),
    ]
    ramp = np.tile(np.arange(0, 4000, 250, dtype=np.uint16), (8, 1))
    dicoms = [
        imagegen.dicom(ramp),
        imagegen.dicom(ramp, photometric="MONOCHROME1", window=(1500.0, 1000.0)),
        imagegen.dicom(ramp, voi_lut=True),
    ]
    files += [d for d in dicoms if d is not None]
    return tuple(files)


MAGICS = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"RIFF\x00\x01\x00\x00WEBPVP8 ",
    b"RIFF\x00\x01\x00\x00WEBPVP8L",
    b"RIFF\x00\x01\x00\x00WEBPVP8X",
    b"BM\x00\x01\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
    b"\x00" * 128 + b"DICM",
]
MIN_SIDES = st.sampled_from([None, 1, 8, 64])


# --- strategies -------------------------------------------------------------------------------------


@st.composite
def valid_images(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(["jpeg", "png", "webp", "bmp"]))
    modes = {"jpeg": ["L", "RGB", "CMYK"], "png": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
             "webp": ["RGB", "RGBA"], "bmp": ["1", "L", "P", "RGB"]}[fmt]  # fmt: skip
    mode = draw(st.sampled_from(modes))
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    image = imagegen.pattern(mode, size, seed=draw(st.integers(0, 2**16)))
    options: dict[str, Any] = {}
    if fmt == "jpeg":
        options = {"quality": draw(st.integers(5, 95)), "progressive": draw(st.booleans())}
    elif fmt == "webp":
        options = {"lossless": draw(st.booleans())}
    return imagegen.encode(image, fmt, **options)


def _mutate(data: bytes, op: str, at: int, length: int, payload: bytes) -> bytes:
    """One mutation at byte ``at`` (``length`` bytes long where that applies)."""
    i = min(at, len(data))
    if op == "flip":
        return imagegen.flip_bits(data, [i * 8 + length % 8, i * 8 + length % 61, i * 8 + length % 499])
    if op == "truncate":
        return data[:i]
    if op == "overwrite":
        return data[:i] + payload + data[i + len(payload) :]
    if op == "insert":
        return data[:i] + payload + data[i:]
    if op == "delete":
        return data[:i] + data[i + length :]
    if op == "duplicate":
        return data[: i + length] + data[i : i + length] + data[i + length :]
    if op == "byte":  # one byte set to an extreme: 0x00 / 0xFF / 0x7F often land on length fields
        return data[:i] + payload[:1] + data[i + 1 :]
    raise AssertionError(op)


OPS = st.sampled_from(["flip", "flip", "truncate", "overwrite", "insert", "delete", "duplicate", "byte"])
PAYLOADS = st.binary(min_size=1, max_size=16) | st.sampled_from(
    [b"\x00", b"\xff", b"\x7f", b"\xff\xff\xff\xff"]
)


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(seeds()))
    magic = 132 if data[128:132] == b"DICM" else 12
    for _ in range(draw(st.integers(1, 3))):
        # Mostly past the magic bytes (so the decoders, not the sniffer, see the damage), and half the
        # time within the first 300 bytes, where the headers are.
        start = draw(st.sampled_from([0, magic, magic, magic]))
        span = 300 if draw(st.booleans()) else len(data)
        at = start + draw(st.integers(0, max(0, span)))
        data = _mutate(data, draw(OPS), at, draw(st.integers(1, 64)), draw(PAYLOADS))
    return data


SIDES = st.integers(-5, 70_000) | st.sampled_from([0, 1, 16383, 16384, 65_535, 100_000, 2**31 - 1, 2**32 - 1])


@st.composite
def forged_headers(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["png", "png-bad-crc", "jpeg", "bmp", "webp"]))
    w, h = draw(SIDES), draw(SIDES)
    if kind == "png":
        return imagegen.forged_png(w, h)
    if kind == "png-bad-crc":
        return imagegen.forged_png(w, h, fix_crc=False)
    if kind == "jpeg":
        return imagegen.forged_jpeg(w, h, base=draw(st.sampled_from(_jpeg_bases())))
    if kind == "bmp":
        return imagegen.forged_bmp(max(-(2**31), min(w, 2**31 - 1)), max(-(2**31), min(h, 2**31 - 1)))
    return imagegen.forged_webp(max(1, min(w, 16384)), max(1, min(h, 16384)))


@lru_cache(maxsize=1)
def _jpeg_bases() -> tuple[bytes, ...]:
    return (
        imagegen.encode(imagegen.pattern("L", (16, 16)), "jpeg"),
        imagegen.encode(imagegen.pattern("RGB", (16, 16)), "jpeg", progressive=True),
        imagegen.encode(imagegen.pattern("CMYK", (16, 16)), "jpeg"),
    )


random_bytes = st.binary(max_size=600) | st.builds(
    lambda magic, tail: magic + tail, st.sampled_from(MAGICS), st.binary(max_size=600)
)


# --- the properties ---------------------------------------------------------------------------------


def run(examples: int, strategy: st.SearchStrategy[bytes]) -> Callable[[], None]:
    @fuzz_settings(examples)
    @given(data=strategy, min_side=MIN_SIDES)
    def prop(data: bytes, min_side: int | None) -> None:
        check(data, min_side)

    return prop


def test_valid_images_of_random_sizes_and_modes_always_decode() -> None:
    @fuzz_settings(300)
    @given(data=valid_images(), min_side=MIN_SIDES)
    def prop(data: bytes, min_side: int | None) -> None:
        result = check(data, min_side)
        assert isinstance(result, DecodedImage), result  # a valid file is never refused

    with bounded_memory():
        prop()


def test_mutated_files_decode_or_fail_with_a_documented_code() -> None:
    with bounded_memory():
        run(1500, mutated_images())()


def test_forged_header_sizes_never_allocate_or_escape() -> None:
    with bounded_memory():
        run(500, forged_headers())()


def test_random_bytes_with_and_without_magic() -> None:
    with bounded_memory():
        run(700, random_bytes)()


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "bmp"])
def test_every_truncation_point_of_a_small_file(fmt: str) -> None:
    # exhaustive, not sampled: every prefix of a small file of each format
    data = imagegen.encode(imagegen.pattern("RGB", (12, 9)), fmt)
    whole = np.asarray(decode(data).image)
    accepted = []
    for end in range(len(data)):
        outcome = check(data[:end])
        if isinstance(outcome, DecodedImage):
            # only a file whose pixels are all there may pass (a PNG missing its checksums and IEND):
            # never a partly grey picture
            assert np.array_equal(np.asarray(outcome.image), whole), end
            accepted.append(end)
    assert len(accepted) <= 24, accepted
