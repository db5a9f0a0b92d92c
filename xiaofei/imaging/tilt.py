"""How far a chest film is turned from upright, for the input gate's "rotated" warning.

A frontal chest radiograph is close to mirror-symmetric about the spine. The image is shrunk to
``SIDE`` px, turned by each of ``ANGLES`` (nearest-neighbour lookups, precomputed per shape) and compared
with its own mirror image, the mirror axis allowed to sit a little off centre; the turn that makes it most
symmetric undoes the tilt. About a millisecond; on synthetic films turned by 8° or more it warns in 85 % of
cases or more, and never for an upright one (tests/test_input_gate.py). Real films are less symmetric
(the heart, the stomach bubble, a patient turned on the detector): the estimate is a hint, never a refusal.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from PIL import Image

SIDE = 32
ANGLES = np.arange(-20, 21, 2)  # degrees; beyond 20° a film is turned on purpose, not slightly
# The mirror axis may sit this share of the width off centre (a film is rarely centred exactly).
AXIS_SLACK = 0.1


@functools.lru_cache(maxsize=16)
def _turn_lookups(height: int, width: int) -> NDArray[Any]:
    """For each angle, the flat index of each output pixel's source pixel (``height * width``: outside)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    t = np.radians(ANGLES)[:, None, None]
    xs = np.rint(cx + (xx - cx) * np.cos(t) - (yy - cy) * np.sin(t)).astype(np.int64)
    ys = np.rint(cy + (xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)).astype(np.int64)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    lookups = np.where(inside, ys * width + xs, height * width)
    lookups.flags.writeable = False  # shared by every call through the cache
    return lookups


def tilt_degrees(image: Image.Image) -> float:
    """The film's tilt in degrees (positive: turned counter-clockwise), a multiple of 2 in [-20, 20]."""
    small = image.convert("L")
    small.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32)
    height, width = pixels.shape
    if min(height, width) < 8:
        return 0.0
    turned = np.append(pixels.ravel(), np.float32(0))[_turn_lookups(height, width)]  # (angles, h, w)
    slack = max(2, round(width * AXIS_SLACK))
    view = turned[:, :, slack : width - slack]
    mirrors = sliding_window_view(turned[:, :, ::-1], width - 2 * slack, axis=2)  # (angles, h, offsets, w')
    view = view - view.mean(axis=(1, 2), keepdims=True)
    mirrors = mirrors - mirrors.mean(axis=(1, 3), keepdims=True)
    products = np.einsum("ahw,ahsw->as", view, mirrors)
    norms = np.sqrt((view * view).sum(axis=(1, 2))[:, None] * (mirrors * mirrors).sum(axis=(1, 3)))
    symmetry = (products / (norms + 1e-6)).max(axis=1)  # best mirror correlation per angle
    return float(-ANGLES[int(np.argmax(symmetry))])
