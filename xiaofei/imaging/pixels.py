"""What every decoder shares: the decoded image, the size check before anything is allocated, the
translation of decoder exceptions into ``ImageError`` codes, and the stretch of wide values to 8 bits.

``image_io`` (JPEG, PNG, WebP, BMP) and ``dicom`` both build on this module, so neither needs the other's
internals (``image_io.decode`` hands DICOM bytes to ``dicom.decode_dicom``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from xiaofei.errors import CorruptImage, ImageError, ImageTooLarge

FORMATS = ("jpeg", "png", "webp", "bmp", "dicom")
# No format we accept is wider or taller than this in practice (JPEG's own limit); beyond it a header lies.
MAX_SIDE = 65_535


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # upright, mode "L" (grayscale sources) or "RGB" (colour sources), 8-bit, no metadata
    format: str  # one of FORMATS
    original_size: tuple[int, int]  # (width, height) as stored in the file, before orientation and draft
    source_mode: str  # the PIL mode of the file ("1", "L", "P", "RGBA", "CMYK", "I;16", ...)
    draft_scale: int  # 1 if fully decoded, 2/4/8 if JPEG draft mode reduced it


def check_dimensions(size: tuple[int, int], max_pixels: int) -> None:
    """Refuse a header's size before anything is allocated: too many pixels, or a size no image has."""
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"The image has {width}×{height} pixels; the limit is {max_pixels} pixels.",
            f"图片为 {width}×{height} 像素，超过上限 {max_pixels} 像素。",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )
    if width <= 0 or height <= 0 or width > MAX_SIDE or height > MAX_SIDE:
        raise CorruptImage(
            "The image header gives an impossible size.",
            "图片文件头中的尺寸无效。",
        )


@contextmanager
def image_errors() -> Iterator[None]:
    """Translate whatever a decoder raises into the documented ``ImageError`` codes."""
    try:
        yield
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageTooLarge() from exc
    except Exception as exc:
        # Decoders signal damage with OSError, SyntaxError, ValueError, EOFError, struct.error,
        # IndexError, zlib.error, KeyError ...: for untrusted bytes all of them mean a damaged file.
        raise CorruptImage() from exc


def stretch_to_l(values: NDArray[Any], lo: float | None = None, hi: float | None = None) -> Image.Image:
    """A 2-D array of any numeric type → an "L" image, ``lo``..``hi`` (default: the real range) → 0..255.

    Works in row bands so a 40 MP 16-bit image never needs a full float64 copy.
    """
    arr = values
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.any():
            return Image.fromarray(np.zeros(arr.shape, np.uint8))
        if not finite.all():
            fin = arr[finite]
            arr = np.nan_to_num(arr, nan=fin.min(), posinf=fin.max(), neginf=fin.min())
    lo = float(arr.min()) if lo is None else lo
    hi = float(arr.max()) if hi is None else hi
    out = np.zeros(arr.shape, np.uint8)
    if hi > lo:
        gain = 255.0 / (hi - lo)
        rows = max(1, (1 << 20) // max(1, arr.shape[1]))
        for top in range(0, arr.shape[0], rows):
            band = (arr[top : top + rows].astype(np.float64) - lo) * gain
            out[top : top + rows] = np.rint(np.clip(band, 0.0, 255.0))
    return Image.fromarray(out)
