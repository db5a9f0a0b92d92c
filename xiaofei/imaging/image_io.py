"""Bytes in, a validated, upright 8-bit image out (the model-ready array: ``xiaofei.inference.preprocess``).

``decode`` is the only door for caller bytes. In order, and each step before any pixel is allocated:

1. size of the body (``payload_too_large``), empty body (``empty_image``);
2. format from the magic bytes only (``sniff_format``): JPEG, PNG, WebP, BMP, DICOM, else
   ``unsupported_format``; Pillow is then told to try that one format and nothing else;
3. the pixel count from the header (``image_too_large``), zero or implausible sides (``corrupt_image``);
   for JPEG also a scan too short for the declared size (``corrupt_image``: libjpeg would silently fill
   the missing blocks; a header enlarged only a little still gets through, as it does in every viewer);
4. JPEG only: DCT-domain reduction (``Image.draft``) to the smallest 1/2, 1/4, 1/8 scale that keeps the
   short side >= ``min_side``: a 4000×3000 photo with ``min_side=512`` decodes at 1/4 (1000×750),
   about 4× cheaper end to end than a full decode (5× at 1/8);
5. full decode; truncated or damaged data is ``corrupt_image`` (never a grey bottom half);
6. one deterministic colour rule (``normalize_mode``) → "L" for grayscale sources, "RGB" for colour;
7. EXIF orientation (all 8 values; XMP orientation too, via Pillow's ``getexif``).

Memory: a decode costs at most about 4 bytes × ``max_pixels`` in the decoder plus the 8-bit result
(libwebp allocates its whole canvas from the header, so a 100-byte forged WebP just under the limit can
reserve that much before it fails as ``corrupt_image``).

Every exception from Pillow, numpy or pydicom is translated here into an ``ImageError`` subclass with
``raise … from exc``; nothing else escapes ``decode`` for any input bytes.

Pillow global state: this module changes none. ``ImageFile.LOAD_TRUNCATED_IMAGES`` must stay False
(a test checks it). ``Image.MAX_IMAGE_PIXELS`` is left at Pillow's default (89 MP): our own ``max_pixels``
(40 MP by default) is the binding limit, and when Pillow's bomb check fires first (a header over 179 MP, or
a ``DecompressionBombWarning`` that a warnings filter turned into an error) it is reported as
``image_too_large`` too. So the effective limit is ``min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)``.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

from xiaofei.errors import CorruptImage, EmptyImage, PayloadTooLarge, UnsupportedFormat
from xiaofei.imaging.dicom import decode_dicom
from xiaofei.imaging.pixels import DecodedImage, check_dimensions, image_errors, stretch_to_l

_PIL_FORMATS = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"], "bmp": ["BMP"]}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_ARITHMETIC_SOF = {0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HIGH_DEPTH_GRAY = {"I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


FULL_IMAGE = (0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class Box:
    """Where the image content sits inside the model input canvas (after letterbox or crop), and which
    part of the image that content is: ``crop`` = (left, top, right, bottom) as fractions of the image's
    width and height (the whole image unless the policy is "center_crop")."""

    top: int
    left: int
    height: int
    width: int
    crop: tuple[float, float, float, float] = FULL_IMAGE


def sniff_format(data: bytes) -> str:
    """The format from the magic bytes alone (never the file name or content type)."""
    head = bytes(data[:132])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    # "BM" alone is two letters of text: also require a known DIB header size.
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head[128:132] == b"DICM":
        return "dicom"
    raise UnsupportedFormat()


def decode(
    data: bytes,
    *,
    max_bytes: int = 10_000_000,
    max_pixels: int = 40_000_000,
    min_side: int | None = None,
) -> DecodedImage:
    """Validate and decode caller bytes; raises only ``ImageError`` subclasses (see the module docstring).

    ``min_side``: JPEG draft mode may reduce the image, but never below this many pixels on the short side
    (None: always decode at full size).
    """
    size = memoryview(data).nbytes if data is not None else 0
    if size > max_bytes:
        raise PayloadTooLarge(
            f"The file is too large ({size} bytes; the limit is {max_bytes}).",
            f"文件太大（{size} 字节，上限 {max_bytes} 字节）。",
            details={"max_bytes": max_bytes},
        )
    if not size:
        raise EmptyImage()
    fmt = sniff_format(data)
    if fmt == "dicom":
        return decode_dicom(data, max_pixels=max_pixels)
    with image_errors():
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS[fmt]) as im:
            original_size = im.size
            source_mode = im.mode
            check_dimensions(original_size, max_pixels)
            if fmt == "jpeg":
                _check_jpeg_length(im, data)
            draft_scale = _draft(im, min_side) if fmt == "jpeg" else 1
            im.load()
            upright = _transpose(normalize_mode(im), _orientation(im))
            if upright is im:
                upright = im.copy()  # never hand out the file object, with its raw markers (EXIF, GPS)
        upright.info = {}
    return DecodedImage(upright, fmt, original_size, source_mode, draft_scale)


def _check_jpeg_length(im: Image.Image, data: bytes) -> None:
    """Refuse a JPEG whose scan data is too short for its declared size.

    libjpeg treats a scan that ends early (at an EOI marker) as a warning and fills the rest of the image
    with flat blocks, which Pillow cannot report: a forged or damaged header would decode as a mostly
    grey picture. With Huffman coding every 8×8 block of the first component costs at least one bit, so
    fewer bytes than blocks / 8 after the first scan header cannot be a whole image. (Arithmetic coding,
    which can go below a bit per block and which browsers do not display, is exempt.)
    """
    tiles = getattr(im, "tile", None)
    if not tiles:
        return
    scan_start = int(tiles[0][2])
    if _jpeg_frame_marker(data, scan_start) in _ARITHMETIC_SOF:
        return
    width, height = im.size
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    if (len(data) - scan_start) * 8 < blocks:
        raise CorruptImage(
            "The image file is too small for the size it declares: it is damaged or incomplete.",
            "图片文件的数据量与其声明的尺寸不符，文件已损坏或不完整。",
        )


def _jpeg_frame_marker(data: bytes, end: int) -> int | None:
    """The first start-of-frame marker (0xC0..0xCF, not DHT/JPG/DAC) among the segments before ``end``."""
    i = 2
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _draft(im: Image.Image, min_side: int | None) -> int:
    """Ask libjpeg for a DCT-scaled decode; returns the scale it chose (1, 2, 4 or 8)."""
    if not min_side or min_side < 1:
        return 1
    width = im.size[0]
    # Pillow picks the largest of 1/8, 1/4, 1/2 that keeps both sides >= the requested size, and returns
    # the original size divided by that scale as the box.
    result = im.draft(None, (min_side, min_side))
    if result is None or result[1][2] <= 0:
        return 1
    return max(1, round(width / result[1][2]))


def _orientation(im: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1 when absent or unreadable."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG)
    except Exception:
        # A damaged EXIF block does not make the pixels unreadable: show them as stored, as viewers do.
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _transpose(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


# --- colour modes -----------------------------------------------------------------------------------


def normalize_mode(image: Image.Image) -> Image.Image:
    """Any PIL mode → "L" (grayscale sources) or "RGB" (colour sources), 8-bit, the same way every time.

    - "1" → L (0/255); "L" as is; "LA"/"La" → L composited on black (X-rays have black backgrounds);
    - "P"/"PA" → L when every palette entry is gray, else RGB; transparency composited on black;
    - "RGB" as is, converted to sRGB when it carries a non-sRGB ICC profile (e.g. Display P3 phones);
    - "RGBA"/"RGBa"/"RGBX" → RGB on black; "CMYK" → RGB through its ICC profile when it has one;
    - "I;16", "I;16B", "I;16L", "I;16N", "I", "F" → L, stretched from the image's real min..max to
      0..255 (never clipped at 255; a flat image becomes black); NaN → black, ±inf → the finite extremes.
    A returned image may be ``image`` itself when nothing had to change.
    """
    mode = image.mode
    if mode in _HIGH_DEPTH_GRAY or mode.startswith("I;16"):
        return stretch_to_l(np.asarray(image))
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        return _from_palette(image)
    if mode in ("LA", "La"):
        return _on_black(image.convert("LA"))
    if mode == "L":
        return image
    icc = image.info.get("icc_profile")
    if mode == "CMYK":
        return _icc_to_srgb(image, icc) or image.convert("RGB")
    if mode != "RGB":
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        image = _on_black(rgba)
    return _icc_to_srgb(image, icc) or image


def _from_palette(image: Image.Image) -> Image.Image:
    palette = image.getpalette("RGB") or []
    gray = bool(palette) and all(
        palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3)
    )
    has_alpha = (
        image.mode == "PA" or "transparency" in image.info or (image.palette and image.palette.mode == "RGBA")
    )
    if has_alpha:
        rgb = _on_black(image.convert("RGBA"))
        return rgb.convert("L") if gray else rgb
    return image.convert("L" if gray else "RGB")


def _on_black(image: Image.Image) -> Image.Image:
    """Composite an LA / RGBA image over black: each channel times alpha / 255."""
    base = "L" if image.mode.startswith("L") else "RGB"
    out = Image.new(base, image.size, 0)
    out.paste(image.convert(base), (0, 0), image.getchannel("A"))
    return out


def _icc_to_srgb(image: Image.Image, icc: object) -> Image.Image | None:
    """Colour-manage an RGB or CMYK image to sRGB; None when there is no usable, non-sRGB profile."""
    if not isinstance(icc, bytes) or not icc:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        if space != image.mode or (
            space == "RGB" and "srgb" in (source.profile.profile_description or "").lower()
        ):
            return None
        return ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
    except Exception:
        # A broken profile is metadata, not pixels: fall back to the plain conversion.
        return None


_SRGB: ImageCms.ImageCmsProfile | None = None


def _srgb() -> ImageCms.ImageCmsProfile:
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB


# --- storage ----------------------------------------------------------------------------------------


def encode_for_storage(image: Image.Image, max_side: int = 1024, quality: int = 88) -> bytes:
    """A JPEG with no metadata at all (no EXIF, GPS, ICC, XMP or comment), longest side <= ``max_side``.

    Grayscale stays a one-channel JPEG. The input image is not modified.
    """
    if max_side < 1 or not 1 <= quality <= 95:
        raise ValueError("max_side must be >= 1 and quality in 1..95")
    out = image if image.mode in ("L", "RGB") else normalize_mode(image)
    w, h = out.size
    if max(w, h) > max_side:
        scale = max_side / max(w, h)
        size = (max(1, min(max_side, round(w * scale))), max(1, min(max_side, round(h * scale))))
        out = out.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # A fresh image: nothing of the source's info (comment, exif, icc_profile, dpi ...) can travel along.
    clean = Image.new(out.mode, out.size)
    clean.paste(out)
    buf = io.BytesIO()
    clean.save(buf, "JPEG", quality=quality, optimize=True, exif=b"", icc_profile=None, comment=b"")
    return buf.getvalue()


__all__ = ["FULL_IMAGE", "Box", "decode", "encode_for_storage", "normalize_mode", "sniff_format"]
