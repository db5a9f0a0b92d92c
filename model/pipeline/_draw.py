"""Small numpy drawing helpers shared by the synthetic generators: noise fields, soft shapes, blur.

Everything works on float32 arrays in [0, 1]-ish units and takes an explicit ``np.random.Generator``
so that every image is a pure function of its seed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

Array = np.ndarray


def grid(h: int, w: int) -> tuple[Array, Array]:
    """Pixel-centre coordinates (x, y), each of shape [h, w]."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + 0.5, ys + 0.5


def smoothstep(e0: float | Array, e1: float | Array, x: Array) -> Array:
    """0 below e0, 1 above e1, a smooth ramp between (e0 > e1 flips the ramp)."""
    t = np.clip((x - e0) / (np.asarray(e1) - e0 + 1e-12), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def value_noise(rng: np.random.Generator, h: int, w: int, cells: float) -> Array:
    """Smooth random field in [0, 1] with about ``cells`` blobs across the shorter side."""
    short = min(h, w)
    gh = max(2, round(cells * h / short) + 2)
    gw = max(2, round(cells * w / short) + 2)
    small = rng.random((gh, gw), dtype=np.float32)
    field = np.asarray(Image.fromarray(small, "F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / (hi - lo + 1e-6)


def fractal_noise(rng: np.random.Generator, h: int, w: int, cells: float, octaves: int = 3) -> Array:
    """Sum of value-noise octaves (each twice finer, half as strong), rescaled to [0, 1]."""
    total = np.zeros((h, w), np.float32)
    amp, norm = 1.0, 0.0
    for i in range(octaves):
        total += amp * value_noise(rng, h, w, cells * (2**i))
        norm += amp
        amp *= 0.5
    return total / norm


def ridges(noise: Array, width: float) -> Array:
    """Thin bright lines where a [0, 1] noise field crosses 0.5: a reticular (net-like) pattern."""
    return np.exp(-(((noise - 0.5) / width) ** 2)).astype(np.float32)


def sample_noise(field: Array, u: Array, v: Array) -> Array:
    """Bilinear lookup of ``field`` at fractional (column u, row v) positions, wrapping around."""
    h, w = field.shape
    u = np.mod(u, w - 1)
    v = np.mod(v, h - 1)
    u0 = np.floor(u).astype(np.int64)
    v0 = np.floor(v).astype(np.int64)
    fu = (u - u0).astype(np.float32)
    fv = (v - v0).astype(np.float32)
    u1 = np.minimum(u0 + 1, w - 1)
    v1 = np.minimum(v0 + 1, h - 1)
    top = field[v0, u0] * (1 - fu) + field[v0, u1] * fu
    bottom = field[v1, u0] * (1 - fu) + field[v1, u1] * fu
    return (top * (1 - fv) + bottom * fv).astype(np.float32)


def box_blur(a: Array, radius: int) -> Array:
    """Box blur along both axes (edge-padded) with a cumulative sum: O(pixels) for any radius."""
    if radius <= 0:
        return a
    out = a
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float32)
        n = out.shape[axis]
        hi = (
            c[2 * radius + 1 : 2 * radius + 1 + n] if axis == 0 else c[:, 2 * radius + 1 : 2 * radius + 1 + n]
        )
        lo = c[:n] if axis == 0 else c[:, :n]
        out = (hi - lo) * np.float32(1.0 / (2 * radius + 1))
    return out


def gaussian_blur(a: Array, sigma: float) -> Array:
    """Three box blurs approximate a Gaussian of the given sigma (in pixels)."""
    if sigma < 0.5:
        return a
    r = max(1, round((np.sqrt(12 * sigma * sigma / 3 + 1) - 1) / 2))
    for _ in range(3):
        a = box_blur(a, r)
    return a


def blob(
    x: Array,
    y: Array,
    centre: tuple[float, float],
    radii: tuple[float, float],
    rng: np.random.Generator,
    *,
    wobble: float = 0.2,
    edge: float = 0.1,
    angle: float = 0.0,
    pixel_grid: bool = True,
) -> Array:
    """A soft-edged irregular blob: an ellipse whose radius wobbles with a few random harmonics.

    With ``pixel_grid`` (``x``, ``y`` from :func:`grid`) only the blob's bounding box is computed;
    otherwise ``x``, ``y`` may be any coordinates (e.g. a rotated body frame) and all pixels are.
    """
    out = np.zeros(x.shape, np.float32)
    r0, r1, c0, c1 = 0, x.shape[0], 0, x.shape[1]
    if pixel_grid:
        reach = max(radii) * (1 + wobble * 1.1) * (1 + edge) + 2
        c0, c1 = max(0, int(centre[0] - reach)), min(x.shape[1], int(centre[0] + reach) + 1)
        r0, r1 = max(0, int(centre[1] - reach)), min(x.shape[0], int(centre[1] + reach) + 1)
    phases = [(rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)) for _ in (2, 3, 5)]
    if c1 <= c0 or r1 <= r0:
        return out
    x, y = x[r0:r1, c0:c1], y[r0:r1, c0:c1]
    ca, sa = np.cos(angle), np.sin(angle)
    dx, dy = x - centre[0], y - centre[1]
    px = (dx * ca + dy * sa) / radii[0]
    py = (-dx * sa + dy * ca) / radii[1]
    rho = np.sqrt(px * px + py * py)
    theta = np.arctan2(py, px)
    radius = np.ones_like(rho)
    for k, (amp, phase) in zip((2, 3, 5), phases, strict=True):
        radius += wobble / k * amp * np.cos(k * theta + phase)
    out[r0:r1, c0:c1] = smoothstep(1.0 + edge, 1.0 - edge, rho / radius)
    return out


def to_uint8(a: Array) -> Array:
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def jpeg_roundtrip(img: Image.Image, quality: int) -> Image.Image:
    """``img`` as it comes back from a JPEG file of that quality (a capture's compression artefacts)."""
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out
