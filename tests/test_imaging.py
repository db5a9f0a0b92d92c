"""xiaofei.imaging (image_io, dicom): every format, colour mode, orientation and bad input, on real files."""

from __future__ import annotations

import io
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps, PngImagePlugin

from tests import imagegen
from xiaofei.errors import (
    ALL_CODES,
    EmptyImage,
    ImageError,
    ImageTooLarge,
    PayloadTooLarge,
    UnsupportedFormat,
)
from xiaofei.imaging.image_io import Box, decode, encode_for_storage, normalize_mode, sniff_format
from xiaofei.inference.manifest import InputSpec
from xiaofei.inference.preprocess import preprocess

IMAGE_CODES = {"unsupported_format": 415, "payload_too_large": 413, "image_too_large": 413,
               "corrupt_image": 400, "empty_image": 400}  # fmt: skip
HAS_PYDICOM = imagegen.dicom() is not None
needs_pydicom = pytest.mark.skipif(not HAS_PYDICOM, reason="pydicom is not installed")


def refused(data: bytes, error: type[ImageError], **kwargs: Any) -> ImageError:
    """Decode ``data``, expect ``error``, and check it is a documented, bilingual error."""
    with pytest.raises(error) as info:
        decode(data, **kwargs)
    exc = info.value
    assert IMAGE_CODES[exc.code] == exc.status == ALL_CODES[exc.code]
    assert exc.en and exc.zh and exc.en != exc.zh
    return exc


def spec(
    channels: int = 1, resize: str = "letterbox", size: tuple[int, int] = (32, 32), **kw: Any
) -> InputSpec:
    mean = kw.pop("mean", (0.5,) * channels)
    std = kw.pop("std", (0.25,) * channels)
    return InputSpec("input", size[0], size[1], channels, resize, kw.pop("scale", 255.0), mean, std, **kw)


def quadrant_means(image: Image.Image) -> dict[str, tuple[float, ...]]:
    """Mean colour of the inner half of each quadrant (away from JPEG edge ringing)."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float64)
    h, w = arr.shape[:2]
    qh, qw = h // 2, w // 2
    inner = {"top_left": (0, 0), "top_right": (0, qw), "bottom_left": (qh, 0), "bottom_right": (qh, qw)}
    return {
        name: tuple(arr[t + qh // 4 : t + 3 * qh // 4, x + qw // 4 : x + 3 * qw // 4].mean(axis=(0, 1)))
        for name, (t, x) in inner.items()
    }


# --- sniffing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", imagegen.valid_cases(), ids=lambda c: c.name)
def test_sniff_valid_formats(case: imagegen.Case) -> None:
    assert sniff_format(case.data) == case.format


@pytest.mark.parametrize("name", sorted(imagegen.not_images()))
def test_non_images_are_unsupported_format(name: str) -> None:
    data = imagegen.not_images()[name]
    with pytest.raises(UnsupportedFormat):
        sniff_format(data)
    refused(data, UnsupportedFormat)


# --- valid images: every format and colour mode -----------------------------------------------------


@pytest.mark.parametrize("case", imagegen.valid_cases(), ids=lambda c: c.name)
def test_every_format_and_mode_decodes(case: imagegen.Case) -> None:
    result = decode(case.data)
    assert result.format == case.format
    assert result.source_mode == case.source_mode
    assert result.image.mode == case.mode
    assert result.image.size == result.original_size == case.size
    assert result.draft_scale == 1
    assert result.image.info == {}
    assert not isinstance(result.image, ImageFile.ImageFile)  # not the file object with its raw markers


def test_one_bit_is_black_and_white() -> None:
    result = decode(imagegen.encode(imagegen.pattern("1"), "png"))
    assert set(np.unique(np.asarray(result.image)).tolist()) <= {0, 255}


def test_rgba_is_composited_on_black() -> None:
    # GIVEN (200, 100, 50) at alpha 128 → THEN each channel × 128/255; alpha 0 → black
    pixel = decode(imagegen.rgba_png((200, 100, 50), 128)).image.getpixel((0, 0))
    assert pixel == pytest.approx((100, 50, 25), abs=1)
    assert decode(imagegen.rgba_png((255, 255, 255), 0)).image.getpixel((0, 0)) == (0, 0, 0)
    assert decode(imagegen.rgba_png((10, 20, 30), 255)).image.getpixel((0, 0)) == (10, 20, 30)


def test_la_is_composited_on_black() -> None:
    la = Image.merge("LA", [Image.new("L", (4, 4), 200), Image.new("L", (4, 4), 64)])
    result = decode(imagegen.encode(la, "png"))
    assert result.image.mode == "L"
    assert result.image.getpixel((1, 1)) == pytest.approx(200 * 64 / 255, abs=1)


def test_palette_with_transparency_is_black_where_transparent() -> None:
    result = decode(imagegen.palette_png(gray=False, transparent=True))
    arr = np.asarray(result.image)
    assert arr[:, :2].max() == 0  # palette index 0 (x < 2) is transparent
    assert tuple(arr[0, 15]) == (7 * 36, 255 - 7 * 30, (7 * 70) % 256)


def test_gray_palette_is_grayscale() -> None:
    result = decode(imagegen.palette_png(gray=True))
    assert result.image.mode == "L"
    assert [result.image.getpixel((x, 0)) for x in (0, 2, 15)] == [0, 36, 7 * 36]


def test_cmyk_jpeg_becomes_rgb() -> None:
    red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    result = decode(imagegen.encode(red, "jpeg", quality=95))
    assert result.source_mode == "CMYK" and result.image.mode == "RGB"
    assert result.image.getpixel((8, 8)) == pytest.approx((255, 0, 0), abs=6)


def test_sixteen_bit_png_keeps_its_dynamic_range() -> None:
    # GIVEN a 16-bit ramp whose real values span only 1000..1800 (Pillow's own convert clips it to 255)
    data = imagegen.png16(1000, 1800, size=(400, 4))
    assert set(np.asarray(Image.open(io.BytesIO(data)).convert("L")).ravel().tolist()) == {255}
    result = decode(data)
    row = np.asarray(result.image)[0].astype(int)
    assert result.source_mode == "I;16" and result.image.mode == "L"
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)
    assert len(np.unique(row)) == 256  # 801 input levels fill all 256 output levels


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "F"])
def test_high_depth_modes_stretch_to_full_range(mode: str) -> None:
    image = imagegen.pattern(mode, (40, 20))
    out = normalize_mode(image)
    arr = np.asarray(out)
    assert out.mode == "L" and out.size == (40, 20)
    assert arr.min() == 0 and arr.max() == 255
    source = np.asarray(image, dtype=np.float64)
    # order is kept: the brightest source pixel is white, the darkest black
    assert arr.ravel()[source.argmax()] == 255 and arr.ravel()[source.argmin()] == 0


def test_float_with_nan_and_inf_and_flat_images() -> None:
    values = np.array([[0.5, np.nan, 1.5], [np.inf, -np.inf, 1.0]], dtype=np.float32)
    arr = np.asarray(normalize_mode(Image.fromarray(values)))
    assert arr.tolist() == [[0, 0, 255], [255, 0, 128]]
    assert np.asarray(normalize_mode(Image.fromarray(np.full((3, 3), 700, np.uint16)))).max() == 0
    assert np.asarray(normalize_mode(Image.fromarray(np.full((2, 2), np.nan, np.float32)))).max() == 0


def test_rgb_with_icc_profile_is_colour_managed_to_srgb() -> None:
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    # sRGB-tagged: unchanged; a profile whose "red" is sRGB blue: converted; a broken profile: ignored
    assert decode(imagegen.encode(red, "png", icc_profile=imagegen.srgb_icc())).image.getpixel((0, 0)) == (
        255,
        0,
        0,
    )
    swapped = decode(imagegen.encode(red, "png", icc_profile=imagegen.swapped_primaries_icc()))
    assert swapped.image.getpixel((0, 0)) == pytest.approx((0, 0, 255), abs=3)
    broken = decode(imagegen.encode(red, "png", icc_profile=b"not an icc profile" * 10))
    assert broken.image.getpixel((0, 0)) == (255, 0, 0)


# --- orientation and draft --------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_size_and_placement(orientation: int) -> None:
    data = imagegen.exif_jpeg(imagegen.quadrants((64, 48)), orientation)
    result = decode(data)
    assert result.image.size == (64, 48)
    stored = Image.open(io.BytesIO(data)).size
    assert result.original_size == stored == ((48, 64) if orientation >= 5 else (64, 48))
    for name, mean in quadrant_means(result.image).items():
        assert mean == pytest.approx(imagegen.QUADRANT_COLOURS[name], abs=12), name
    # and it agrees with Pillow's own implementation of the EXIF rule
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    diff = np.abs(np.asarray(reference, dtype=int) - np.asarray(result.image, dtype=int))
    assert diff.max() == 0


def test_png_exif_orientation_is_applied() -> None:
    stored = imagegen.quadrants((64, 48)).transpose(Image.Transpose.ROTATE_90)
    data = imagegen.encode(stored, "png", exif=imagegen.metadata_exif(6).tobytes())
    result = decode(data)
    assert result.image.size == (64, 48)
    assert quadrant_means(result.image)["top_left"] == pytest.approx((255, 0, 0), abs=1)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_damaged_exif_does_not_make_the_image_unreadable() -> None:
    data = imagegen.encode(imagegen.quadrants(), "jpeg", exif=b"Exif\x00\x00MM\x00*garbage")
    assert decode(data).image.size == (64, 48)


@pytest.mark.parametrize(
    ("min_side", "scale", "size"),
    [(224, 8, (375, 500)), (400, 4, (750, 1000)), (1024, 2, (1500, 2000)), (3000, 1, (3000, 4000))],
)
def test_large_jpeg_decodes_in_draft_mode(min_side: int, scale: int, size: tuple[int, int]) -> None:
    # GIVEN a 12 MP phone photo stored 4000×3000 with orientation 6 (portrait)
    result = decode(imagegen.phone_photo(), min_side=min_side)
    assert result.original_size == (4000, 3000)
    assert result.draft_scale == scale
    assert result.image.size == size  # upright, and the short side never below min_side
    assert min(result.image.size) >= min_side
    assert result.image.mode == "RGB"


def test_draft_is_only_for_jpeg() -> None:
    data = imagegen.encode(imagegen.pattern("L", (400, 300)), "png")
    assert decode(data, min_side=32).draft_scale == 1


# --- refused inputs ---------------------------------------------------------------------------------


def test_empty_body() -> None:
    refused(imagegen.EMPTY, EmptyImage)
    refused(None, EmptyImage)  # type: ignore[arg-type]


def test_payload_size_is_checked_before_anything_else() -> None:
    refused(b"x" * 101, PayloadTooLarge, max_bytes=100)  # garbage: still 413, not 415
    exc = refused(imagegen.phone_photo(), PayloadTooLarge, max_bytes=1_000_000)
    assert exc.details == {"max_bytes": 1_000_000}
    assert (
        decode(b"\xff" * 0 + imagegen.encode(imagegen.pattern("L"), "png"), max_bytes=10_000).format == "png"
    )


@pytest.mark.parametrize("case", imagegen.valid_cases(), ids=lambda c: c.name)
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.8])
def test_truncated_files_are_corrupt(case: imagegen.Case, keep: float) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    exc = refused(imagegen.truncated(case.data, keep), ImageError)
    assert exc.code == "corrupt_image"
    assert exc.__cause__ is not None


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("png 100000x100000", imagegen.forged_png(100_000, 100_000)),
        ("png 8000x6000", imagegen.forged_png(8000, 6000)),
        ("jpeg 65000x65000", imagegen.forged_jpeg(65_000, 65_000)),
        ("jpeg 8000x8000", imagegen.forged_jpeg(8000, 8000)),
        ("bmp 100000x100000", imagegen.forged_bmp(100_000, 100_000)),
        ("bmp 9000x-9000", imagegen.forged_bmp(9000, -9000)),
        ("webp 16384x16384", imagegen.forged_webp(16384, 16384)),
    ],
)
def test_forged_huge_headers_are_image_too_large(name: str, data: bytes) -> None:
    refused(data, ImageTooLarge)


def test_pixel_limit_is_checked_before_pixels_are_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Any] = []
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: loads.append(self))
    exc = refused(imagegen.forged_png(8000, 6000), ImageTooLarge)
    assert loads == []
    assert exc.details == {"width": 8000, "height": 6000, "max_pixels": 40_000_000}
    refused(imagegen.encode(imagegen.pattern("L", (100, 100)), "png"), ImageTooLarge, max_pixels=9_999)
    assert loads == []


def test_pillow_bomb_warning_as_error_is_image_too_large() -> None:
    # 100 MP is over Pillow's warning threshold (89 MP) but under its error threshold (179 MP)
    data = imagegen.forged_webp(10_000, 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refused(data, ImageTooLarge)
    with pytest.warns(Image.DecompressionBombWarning):
        refused(data, ImageTooLarge)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("png zero width", imagegen.forged_png(0, 16)),
        ("png 70000x1", imagegen.forged_png(70_000, 1)),
        ("png 3000x3000, 16x16 of data", imagegen.forged_png(3000, 3000)),
        ("png bad crc", imagegen.forged_png(32, 32, fix_crc=False)),
        ("jpeg 6000x6000, 16x16 of data", imagegen.forged_jpeg(6000, 6000)),
        ("jpeg 0x0", imagegen.forged_jpeg(0, 0)),
        ("bmp 0x8", imagegen.forged_bmp(0, 8)),
        ("bmp 2000x2000", imagegen.forged_bmp(2000, 2000)),
        ("webp 4000x4000", imagegen.forged_webp(4000, 4000)),
        ("magic only", b"\x89PNG\r\n\x1a\n"),
        ("jpeg soi only", b"\xff\xd8\xff"),
        ("riff webp header only", b"RIFF\x10\x00\x00\x00WEBPVP8L"),
        ("bmp header only", imagegen.encode(imagegen.pattern("RGB", (8, 8)), "bmp")[:30]),
    ],
)
def test_damaged_or_impossible_files_are_corrupt(name: str, data: bytes) -> None:
    exc = refused(data, ImageError)
    assert exc.code == "corrupt_image", name


def test_flipped_bits_in_the_pixel_data_never_escape() -> None:
    base = imagegen.encode(imagegen.pattern("RGB", (64, 64)), "jpeg", quality=90)
    for start in range(0, len(base) * 8, 997):
        try:
            decode(imagegen.flip_bits(base, [start, start + 3]))
        except ImageError as exc:
            assert exc.code in IMAGE_CODES


def test_pillow_global_state_is_untouched() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's default: imaging does not change it


# --- DICOM ------------------------------------------------------------------------------------------


def dicom_row(**kwargs: Any) -> np.ndarray:
    data = imagegen.dicom(**kwargs)
    assert data is not None
    result = decode(data)
    assert (result.format, result.image.mode, result.original_size) == ("dicom", "L", (64, 48))
    return np.asarray(result.image)[0].astype(int)


@needs_pydicom
def test_dicom_monochrome2_and_monochrome1() -> None:
    mono2 = dicom_row()
    assert mono2[0] == 0 and mono2[-1] == 255 and np.all(np.diff(mono2) >= 0)
    mono1 = dicom_row(photometric="MONOCHROME1")
    assert np.array_equal(mono1, 255 - mono2)  # MONOCHROME1: 0 is white


@needs_pydicom
def test_dicom_matches_its_16_bit_png_export() -> None:
    values = np.tile(np.linspace(100, 3000, 64).round().astype(np.uint16), (48, 1))
    png = np.asarray(decode(imagegen.encode(Image.fromarray(values), "png")).image)
    data = imagegen.dicom(values)
    assert data is not None
    assert np.array_equal(np.asarray(decode(data).image), png)


@needs_pydicom
def test_dicom_window_voi_lut_rescale_and_frames() -> None:
    # window centre 1500, width 1000 (LINEAR): 1000 → 0, 1999 → 255, (x - 1000) / 999 * 255 between
    windowed = dicom_row(window=(1500, 1000))
    values = np.linspace(100, 3000, 64).round()
    expected = np.rint(np.clip((values - 1000) / 999, 0, 1) * 255)
    assert np.array_equal(windowed, expected)
    assert np.array_equal(dicom_row(voi_lut=True), 255 - dicom_row())  # the test LUT inverts
    assert np.array_equal(dicom_row(rescale=(2.0, -1000.0)), dicom_row())  # linear: same picture
    assert np.array_equal(dicom_row(frames=3), dicom_row())  # first frame only


@needs_pydicom
def test_dicom_bits_stored_and_source_mode() -> None:
    data = imagegen.dicom(bits_stored=16)
    assert data is not None
    assert decode(data).source_mode == "I;16"


@needs_pydicom
@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"pixel_data": False}, UnsupportedFormat, "no image"),
        ({"photometric": "PALETTE COLOR"}, UnsupportedFormat, "grayscale"),
        ({"transfer_syntax": "1.2.840.10008.1.2.4.100"}, UnsupportedFormat, "compression"),  # MPEG-2 video
    ],
)
def test_dicom_without_a_grayscale_image(kwargs: dict[str, Any], error: type[ImageError], words: str) -> None:
    data = imagegen.dicom(**kwargs)
    assert data is not None
    assert words in refused(data, error).en


@needs_pydicom
def test_damaged_compressed_dicom_is_corrupt() -> None:
    data = imagegen.dicom(transfer_syntax="1.2.840.10008.1.2.4.80")  # JPEG-LS: a plugin is installed
    assert data is not None
    assert refused(data, ImageError).code == "corrupt_image"


@needs_pydicom
def test_colour_dicom_decodes_to_rgb_for_the_input_gate() -> None:
    data = imagegen.dicom(photometric="RGB")
    assert data is not None
    result = decode(data)
    assert (result.format, result.image.mode, result.original_size) == ("dicom", "RGB", (64, 48))


@needs_pydicom
def test_dicom_limits_and_damage() -> None:
    data = imagegen.dicom()
    assert data is not None
    refused(data, ImageTooLarge, max_pixels=1000)
    for keep in (0.3, 0.7, 0.97):
        assert refused(imagegen.truncated(data, keep), ImageError).code == "corrupt_image"


@needs_pydicom
def test_dicom_without_pydicom_is_unsupported_format(monkeypatch: pytest.MonkeyPatch) -> None:
    data = imagegen.dicom()
    assert data is not None
    monkeypatch.setitem(sys.modules, "pydicom", None)  # what a serving install without the extra sees
    monkeypatch.setitem(sys.modules, "pydicom.pixels", None)
    assert "not installed" in refused(data, UnsupportedFormat).en


# --- preprocess -------------------------------------------------------------------------------------


def test_preprocess_hand_checked_normalisation() -> None:
    # GIVEN a flat 200 image and mean 0.5, std 0.25: (200 / 255 - 0.5) / 0.25 = 1.1372549
    batch, box = preprocess(Image.new("L", (64, 32), 200), spec(1, "letterbox"))
    assert batch.shape == (1, 1, 32, 32) and batch.dtype == np.float32 and batch.flags.c_contiguous
    assert box == Box(top=8, left=0, height=16, width=32)
    assert batch[0, 0, 16, 16] == pytest.approx(1.1372549, abs=1e-6)
    assert batch[0, 0, 0, 0] == pytest.approx(-2.0)  # padding: background 0 → (0 - 0.5) / 0.25
    assert np.all(batch[0, 0, 8:24] == batch[0, 0, 16, 16])
    assert np.all(batch[0, 0, :8] == -2.0) and np.all(batch[0, 0, 24:] == -2.0)


def test_preprocess_rgb_per_channel_mean_and_std() -> None:
    imagenet = spec(3, "stretch", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    batch, box = preprocess(Image.new("RGB", (50, 40), (255, 128, 0)), imagenet)
    assert batch.shape == (1, 3, 32, 32) and box == Box(0, 0, 32, 32)
    expected = [
        (1 - 0.485) / 0.229,
        (128 / 255 - 0.456) / 0.224,
        (0 - 0.406) / 0.225,
    ]  # 2.2489, 0.2052, -1.8044
    assert batch[0, :, 5, 5] == pytest.approx(expected, abs=1e-5)


def test_preprocess_converts_channels_both_ways() -> None:
    gray_to_rgb, _ = preprocess(Image.new("L", (20, 20), 100), spec(3, "stretch"))
    assert np.array_equal(gray_to_rgb[0, 0], gray_to_rgb[0, 1]) and np.array_equal(
        gray_to_rgb[0, 1], gray_to_rgb[0, 2]
    )
    rgb_to_gray, _ = preprocess(
        Image.new("RGB", (20, 20), (255, 0, 0)), spec(1, "stretch", scale=1.0, mean=(0,), std=(1,))
    )
    assert rgb_to_gray[0, 0, 3, 3] == pytest.approx(76, abs=0.5)  # ITU-R 601-2 luma of pure red: 0.299 × 255


def test_preprocess_letterbox_background_and_tall_image() -> None:
    # a tall 20×80 white image in a 32×64 (H×W) canvas: scaled to 8×32, centred left-right
    batch, box = preprocess(Image.new("L", (20, 80), 255), spec(1, "letterbox", (32, 64), background=128.0))
    assert box == Box(top=0, left=28, height=32, width=8)
    assert batch[0, 0, 10, 30] == pytest.approx((1 - 0.5) / 0.25)
    assert batch[0, 0, 10, 0] == pytest.approx((128 / 255 - 0.5) / 0.25, abs=1e-6)


def test_preprocess_center_crop_keeps_the_middle() -> None:
    # 90×30: red | green | blue thirds; a square centre crop sees only the green middle third
    image = Image.new("RGB", (90, 30), (255, 0, 0))
    image.paste((0, 255, 0), (30, 0, 60, 30))
    image.paste((0, 0, 255), (60, 0, 90, 30))
    batch, box = preprocess(image, spec(3, "center_crop", scale=255.0, mean=(0, 0, 0), std=(1, 1, 1)))
    assert box.top == box.left == 0 and (box.height, box.width) == (32, 32)
    assert box.crop == pytest.approx((1 / 3, 0.0, 2 / 3, 1.0))  # the heatmap covers only this part
    assert batch[0, :, 16, 16] == pytest.approx([0, 1, 0], abs=1e-6)
    assert batch[0, 1, :, 2:30].min() == pytest.approx(1.0)  # green almost edge to edge


def test_preprocess_stretch_ignores_aspect() -> None:
    image = Image.new("L", (100, 10), 0)
    image.paste(255, (50, 0, 100, 10))
    batch, box = preprocess(image, spec(1, "stretch", scale=255.0, mean=(0,), std=(1,)))
    assert box == Box(0, 0, 32, 32)
    assert batch[0, 0, :, :15].max() == 0 and batch[0, 0, :, 17:].min() == 1


def test_preprocess_accepts_any_mode() -> None:
    rgba = Image.new("RGBA", (10, 10), (200, 100, 50, 0))
    batch, _ = preprocess(rgba, spec(3, "stretch", scale=255.0, mean=(0, 0, 0), std=(1, 1, 1)))
    assert batch.max() == 0  # fully transparent → black
    batch16, _ = preprocess(imagegen.pattern("I;16"), spec(1, "letterbox"))
    assert batch16.shape == (1, 1, 32, 32)


# --- storage ----------------------------------------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of every segment before the first scan."""
    markers, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return markers


def assert_no_metadata(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not set(image.info) & {"exif", "icc_profile", "comment", "xmp", "photoshop"}
    assert len(image.getexif()) == 0
    markers = jpeg_markers(data)
    assert not {0xE1, 0xE2, 0xED, 0xFE} & set(markers), [hex(m) for m in markers]  # APP1/2/13, COM
    for secret in (b"Exif", b"XiaofeiPhone", b"Zhang San", b"sRGB"):
        assert secret not in data


def test_encode_for_storage_strips_all_metadata() -> None:
    # GIVEN a phone JPEG with EXIF orientation, GPS, camera make, a comment and an ICC profile
    source = imagegen.exif_jpeg(orientation=6)
    assert b"XiaofeiPhone" in source and b"Zhang San" in source
    stored = encode_for_storage(decode(source).image)
    assert_no_metadata(stored)
    assert Image.open(io.BytesIO(stored)).size == (64, 48)  # upright: orientation was applied


def test_encode_for_storage_strips_metadata_from_any_pil_image() -> None:
    raw = Image.open(io.BytesIO(imagegen.exif_jpeg(orientation=3)))
    raw.load()
    assert "exif" in raw.info and "comment" in raw.info
    assert_no_metadata(encode_for_storage(raw))


def test_encode_for_storage_downscales_and_keeps_grayscale() -> None:
    photo = decode(imagegen.phone_photo(), min_side=1024).image  # 1500×2000
    stored = Image.open(io.BytesIO(encode_for_storage(photo, max_side=1024)))
    assert stored.size == (768, 1024) and stored.mode == "RGB"
    gray = Image.open(io.BytesIO(encode_for_storage(Image.new("L", (300, 200), 90), max_side=1024)))
    assert gray.size == (300, 200) and gray.mode == "L"
    rgba = Image.open(io.BytesIO(encode_for_storage(Image.new("RGBA", (4, 4), (255, 255, 255, 0)))))
    assert rgba.mode == "RGB" and rgba.getpixel((1, 1)) == pytest.approx((0, 0, 0), abs=2)
    with pytest.raises(ValueError):
        encode_for_storage(gray, quality=0)
