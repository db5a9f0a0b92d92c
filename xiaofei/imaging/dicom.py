"""DICOM → an 8-bit grayscale image, when ``pydicom`` is installed (the optional ``dicom`` extra).

Only grayscale radiographs are served: MONOCHROME2 as stored, MONOCHROME1 inverted (its 0 is white).
Values are read as the header says (BitsStored, signedness: pydicom masks the unused high bits), the
modality LUT (RescaleSlope/Intercept) is applied, then:

- a VOI LUT sequence, if present, through pydicom, and the result's real range → 0..255;
- else the first WindowCenter/WindowWidth pair, LINEAR as in PS3.3 C.11.2.1.2.1 → 0..255;
- else the pixel values' real range → 0..255 (the same rule as 16-bit PNGs, so a DICOM and its 16-bit
  PNG export give the same picture).

Multi-frame files: the first frame only (decoded alone). Compressed transfer syntaxes need a decoder
plugin (pylibjpeg, gdcm …); without one the file is ``unsupported_format``. A DICOM with no pixel data
(a report, a structured document) or one in another colour space is ``unsupported_format`` with a
message saying so. 8-bit colour DICOMs (ultrasound, secondary captures) decode to RGB, so that the input
gate, not the decoder, says that they are not radiographs. JPEG and JPEG 2000 need pylibjpeg's plugins
(the ``dicom`` extra installs them).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from xiaofei.errors import CorruptImage, UnsupportedFormat
from xiaofei.imaging.pixels import DecodedImage, check_dimensions, image_errors, stretch_to_l

_PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# pydicom's pixel_array returns these as RGB (YBR is converted).
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT")


def decode_dicom(data: bytes, *, max_pixels: int) -> DecodedImage:
    try:
        import pydicom
        from pydicom.pixels.decoders.base import get_decoder
        from pydicom.pixels.processing import apply_modality_lut, apply_voi_lut
        from pydicom.pixels.utils import pixel_array
    except ImportError as exc:
        raise UnsupportedFormat(
            "DICOM support is not installed on this server. Please send a JPEG or PNG export.",
            "服务器未安装 DICOM 支持，请上传导出的 JPEG 或 PNG 图片。",
        ) from exc

    with image_errors():
        ds = pydicom.dcmread(io.BytesIO(data))
        _check_kind(ds)
        rows, columns = _int(ds, "Rows"), _int(ds, "Columns")
        check_dimensions((columns, rows), max_pixels)
        syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
        if syntax is not None and syntax.is_compressed:
            try:
                available = get_decoder(syntax).is_available
            except NotImplementedError:
                available = False
            if not available:
                raise UnsupportedFormat(
                    "This DICOM compression is not supported here. Please send a JPEG or PNG.",
                    "该 DICOM 文件的压缩方式无法读取，请上传 JPEG 或 PNG 图片。",
                )
        frame = pixel_array(ds, index=0)
        if frame.ndim == 3 and frame.shape[-1] == 3 and _colour(ds):
            # A colour DICOM (ultrasound, photos, secondary captures): decoded so that the input gate can
            # say what it is, rather than refusing the file format.
            colour = Image.fromarray(_to_uint8(frame), "RGB")
            return DecodedImage(colour, "dicom", (columns, rows), "RGB", 1)
        if frame.ndim != 2:
            raise CorruptImage(
                "The DICOM pixel data is not a single grayscale plane.", "DICOM 像素数据不是单通道灰度图。"
            )
        values = apply_modality_lut(frame, ds)  # float only when a rescale is present
        image = _to_display(values, ds, apply_voi_lut)
        if str(ds.PhotometricInterpretation).strip().upper() == "MONOCHROME1":
            image = ImageOps.invert(image)
        image.info = {}
        return DecodedImage(image, "dicom", (columns, rows), _source_mode(ds), 1)


def _check_kind(ds: Any) -> None:
    if not any(tag in ds for tag in _PIXEL_TAGS):
        raise UnsupportedFormat(
            "This DICOM file holds no image (no pixel data).",
            "该 DICOM 文件不包含图像（没有像素数据）。",
        )
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    grey = photometric in ("MONOCHROME1", "MONOCHROME2") and int(ds.get("SamplesPerPixel", 1) or 1) == 1
    if not grey and not _colour(ds):
        raise UnsupportedFormat(
            f"Only grayscale or RGB/YBR DICOM images are supported (this one is {photometric or 'unknown'}).",
            f"仅支持灰度或 RGB/YBR 彩色 DICOM 图像（此文件为 {photometric or '未知'}）。",
        )


def _colour(ds: Any) -> bool:
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    return photometric in _COLOUR and int(ds.get("SamplesPerPixel", 1) or 1) == 3


def _to_uint8(frame: NDArray[Any]) -> NDArray[Any]:
    if frame.dtype == np.uint8:
        return np.ascontiguousarray(frame)
    top = float(frame.max()) if frame.size else 0.0
    return np.ascontiguousarray(
        np.clip(frame.astype(np.float64) * (255.0 / max(top, 1.0)), 0, 255).astype(np.uint8)
    )


def _int(ds: Any, name: str) -> int:
    value = ds.get(name)
    if value is None:
        raise CorruptImage(f"The DICOM header has no {name}.", f"DICOM 文件头缺少 {name}。")
    return int(value)


def _to_display(values: NDArray[Any], ds: Any, apply_voi_lut: Any) -> Any:
    if "VOILUTSequence" in ds:
        return stretch_to_l(np.asarray(apply_voi_lut(values, ds, prefer_lut=True)))
    window = _window(ds)
    if window is not None:
        center, width = window
        # LINEAR: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clamped; the bounds are c - 0.5 ± (w - 1) / 2.
        lo, hi = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
        return stretch_to_l(values, lo, hi)
    return stretch_to_l(values)


def _window(ds: Any) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    # Several windows may be listed (e.g. lung, bone): the first is the default view.
    first = [
        v[0] if isinstance(v, Sequence) and not isinstance(v, str) and len(v) else v for v in (center, width)
    ]
    try:
        c, w = float(first[0]), float(first[1])
    except (TypeError, ValueError):
        return None  # an unreadable window is ignored: the real range still gives a picture
    return (c, w) if w > 1 and np.isfinite(c) and np.isfinite(w) else None


def _source_mode(ds: Any) -> str:
    bits = int(ds.get("BitsAllocated", 16) or 16)
    if bits <= 8:
        return "L"
    return "I" if bits > 16 or int(ds.get("PixelRepresentation", 0) or 0) == 1 else "I;16"
