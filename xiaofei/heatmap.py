"""Render a CAM as a PNG overlay on the image the user sent (the version we store and show)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .imaging import Box

OVERLAY_MAX_SIDE = 384


def _colormap() -> np.ndarray:
    """A 256-entry blue → cyan → yellow → red ramp (jet-like), uint8 [256, 3]."""
    x = np.linspace(0.0, 1.0, 256)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return (np.stack([r, g, b], axis=1) * 255).astype(np.uint8)


_LUT = _colormap()


def cam_on_image(
    cam: np.ndarray, box: Box, input_size: tuple[int, int], size: tuple[int, int]
) -> Image.Image:
    """Map a CAM from the model's input canvas back onto the image: an 8-bit "L" image of ``size`` (w, h).

    The CAM covers the whole input canvas (H, W); only ``box`` holds the image (the rest is letterbox
    padding), so crop that part — in CAM cells — and stretch it over the image.
    """
    in_h, in_w = input_size
    cam_h, cam_w = cam.shape
    sy, sx = cam_h / in_h, cam_w / in_w
    crop = (box.left * sx, box.top * sy, (box.left + box.width) * sx, (box.top + box.height) * sy)
    cells = Image.fromarray((np.clip(cam, 0.0, 1.0) * 255).astype(np.uint8), mode="L")
    return cells.transform(size, Image.Transform.EXTENT, crop, resample=Image.Resampling.BILINEAR)


def render_overlay(image: Image.Image, cam: np.ndarray, box: Box, input_size: tuple[int, int]) -> bytes:
    """The image (at most OVERLAY_MAX_SIDE px) tinted where the model looked; PNG bytes.

    All pixel work is in Pillow's C loops (palette lookup, composite): this is on every request's path.
    """
    base = image.copy()
    base.thumbnail((OVERLAY_MAX_SIDE, OVERLAY_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    heat = cam_on_image(cam, box, input_size, base.size)
    colour = heat.copy()
    colour.putpalette(_LUT.tobytes())
    alpha = heat.point(lambda v: v * 6 // 10)  # cold areas stay clear, hot ones are tinted
    blended = Image.composite(colour.convert("RGB"), base.convert("RGB"), alpha)
    out = io.BytesIO()
    blended.save(out, format="PNG", compress_level=1)
    return out.getvalue()
