"""The model-ready array the manifest asks for: an upright 8-bit image → float32 [1, C, H, W].

The geometry (letterbox, centre crop, stretch) and the normalisation come from the manifest's
``InputSpec``; ``Box`` (``xiaofei.imaging.image_io``) says where the image's content sits in the canvas,
so the heat layer can be mapped back onto the image. A training pipeline must resize with ``RESAMPLE``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from xiaofei.imaging.image_io import Box, normalize_mode
from xiaofei.inference.manifest import InputSpec

# The resampling filter of ``preprocess``: a training pipeline must use the same one.
RESAMPLE = Image.Resampling.BILINEAR


def preprocess(image: Image.Image, spec: InputSpec) -> tuple[NDArray[Any], Box]:
    """An image → float32 [1, C, H, W] for the model, and where the content sits in that canvas.

    Channels: 1 → "L", 3 → "RGB". Resize (``RESAMPLE``) by ``spec.resize``: "letterbox" keeps the aspect
    ratio and pads with ``spec.background`` (pixel units 0..255), "center_crop" scales the short side to
    fit then crops the centre, "stretch" ignores the aspect ratio. Then ``(pixel / scale - mean) / std``
    per channel (the padding too).
    """
    if spec.channels not in (1, 3):
        raise ValueError(f"unsupported channel count {spec.channels}")
    if image.mode not in ("L", "RGB"):
        image = normalize_mode(image)
    image = image.convert("L" if spec.channels == 1 else "RGB")
    height, width = spec.height, spec.width
    w, h = image.size
    if spec.resize == "letterbox":
        scale = min(width / w, height / h)
        nw = min(width, max(1, round(w * scale)))
        nh = min(height, max(1, round(h * scale)))
        box = Box((height - nh) // 2, (width - nw) // 2, nh, nw)
        content = image.resize((nw, nh), RESAMPLE)
    elif spec.resize == "center_crop":
        scale = max(width / w, height / h)
        cw, ch = width / scale, height / scale  # the source region that fills the canvas
        # Clamped: float rounding can put the box a hair outside the image, which Pillow refuses.
        x0, y0 = max(0.0, (w - cw) / 2), max(0.0, (h - ch) / 2)
        x1, y1 = min(w, x0 + cw), min(h, y0 + ch)
        content = image.resize((width, height), RESAMPLE, box=(x0, y0, x1, y1))
        box = Box(0, 0, height, width, crop=(x0 / w, y0 / h, x1 / w, y1 / h))
    elif spec.resize == "stretch":
        content = image.resize((width, height), RESAMPLE)
        box = Box(0, 0, height, width)
    else:
        raise ValueError(f"unknown resize policy {spec.resize!r}")
    canvas = np.full((height, width, spec.channels), spec.background, dtype=np.float32)
    pixels = np.asarray(content, dtype=np.float32).reshape(box.height, box.width, spec.channels)
    canvas[box.top : box.top + box.height, box.left : box.left + box.width] = pixels
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    normalized = (canvas / np.float32(spec.scale) - mean) / std
    return np.ascontiguousarray(normalized.transpose(2, 0, 1)[np.newaxis], dtype=np.float32), box
