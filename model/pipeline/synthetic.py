"""Deterministic synthetic images: chest radiographs, skin close-ups and images of neither kind.

The bundled demo models are trained on these because the real clinical sets cannot be downloaded
here. They are *not* medical images: they imitate the visible cues a reader looks for (a dense,
well-bounded lobar opacity for bacterial pneumonia, a diffuse bilateral reticular pattern for viral
pneumonia, a lesion's colour, border and surface for each skin class) so that the whole pipeline
(training, calibration, CAM, the input gate) has something real to learn and to be checked on.

Every generator takes an ``np.random.Generator``; the same seed gives the same pixels. The lesion
generators can return the lesion's mask so a test can check that a heatmap peaks over it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, overload

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._draw import (
    Array,
    blob,
    fractal_noise,
    gaussian_blur,
    grid,
    ridges,
    sample_noise,
    smoothstep,
    to_uint8,
    value_noise,
)

CHEST_LABELS = ("normal", "bacterial", "viral")
SKIN_LABELS = (
    "lichen_planus",
    "lupus_erythematosus",
    "basal_cell_carcinoma",
    "squamous_cell_carcinoma",
    "normal_skin",
    "pemphigus",
    "psoriasis",
    "seborrheic_keratosis",
)


def _size(rng: np.random.Generator, lo: int, hi: int, aspect: tuple[float, float]) -> tuple[int, int]:
    """(height, width) with the shorter side in [lo, hi] and width/height in ``aspect``."""
    short = int(rng.integers(lo, hi + 1))
    ratio = float(np.exp(rng.uniform(np.log(aspect[0]), np.log(aspect[1]))))
    if ratio >= 1:
        return short, round(short * ratio)
    return round(short / ratio), short


def mask_box(mask: Array) -> tuple[int, int, int, int] | None:
    """The (left, top, right, bottom) pixel box of a boolean mask, or None when it is empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# --------------------------------------------------------------------------------------------------
# Chest radiographs
# --------------------------------------------------------------------------------------------------


class _Thorax:
    """A patient frame: (u, v) body coordinates (u across, v down, ~1 unit = half the chest width)."""

    def __init__(self, rng: np.random.Generator, h: int, w: int) -> None:
        x, y = grid(h, w)
        scale = min(w * rng.uniform(0.40, 0.48), h / rng.uniform(1.9, 2.2))
        cx = w / 2 + rng.normal(0, 0.02) * w
        cy = h * rng.uniform(0.44, 0.52)
        theta = np.deg2rad(rng.uniform(-4, 4))
        c, s = np.cos(theta), np.sin(theta)
        self.u = (((x - cx) * c + (y - cy) * s) / scale).astype(np.float32)
        self.v = ((-(x - cx) * s + (y - cy) * c) / scale).astype(np.float32)
        self.scale = float(scale)
        self.h, self.w = h, w
        # Anatomy varies a little between patients.
        self.lung_w = rng.uniform(0.36, 0.42)
        self.lung_h = rng.uniform(0.66, 0.74)
        self.lung_cx = rng.uniform(0.45, 0.5)
        self.lung_cy = rng.uniform(-0.06, 0.0)
        self.dome = rng.uniform(0.42, 0.52)
        self.heart = (
            rng.uniform(0.10, 0.16),
            rng.uniform(0.26, 0.34),
            rng.uniform(0.28, 0.34),
            rng.uniform(0.22, 0.27),
        )

    def lung(self, side: int, u: Array | None = None, v: Array | None = None) -> Array:
        """Soft mask of one lung field (side -1: image left, +1: image right)."""
        u = self.u if u is None else u
        v = self.v if v is None else v
        cu = side * self.lung_cx
        # Narrow apex, widest just above the diaphragm; the medial edge is straighter than the lateral.
        half_w = self.lung_w * (0.6 + 0.4 * smoothstep(-0.85, -0.2, v))
        du = (u - cu) * side
        du = np.where(du < 0, du * 1.15, du)
        e = (du / half_w) ** 2 + ((v - self.lung_cy) / self.lung_h) ** 2
        lung = smoothstep(1.1, 0.9, e)
        dome = (
            self.dome
            + (0.05 if side > 0 else 0.0)
            + 0.55 * ((u - cu) * side / 0.45)
            - 0.9 * ((u - cu) / 0.4) ** 2
        )
        lung = lung * smoothstep(0.03, -0.03, v - np.minimum(dome, self.dome + 0.2))
        return lung * smoothstep(0.07, 0.12, np.abs(u))

    def heart_mask(self) -> Array:
        hu, hv, ha, hb = self.heart
        e = ((self.u - hu) / ha) ** 2 + ((self.v - hv) / hb) ** 2
        return smoothstep(1.08, 0.92, e)

    def heart_mask_at(self, u: float, v: float) -> float:
        hu, hv, ha, hb = self.heart
        return float(((u - hu) / ha) ** 2 + ((v - hv) / hb) ** 2 < 1.0)

    def contains(self, side: int, u: float, v: float) -> float:
        return float(self.lung(side, np.array([[u]], np.float32), np.array([[v]], np.float32))[0, 0])


def _anatomy(t: _Thorax, rng: np.random.Generator) -> tuple[Array, Array]:
    """Attenuation map of a normal chest (bright = dense) and the union of both lung fields."""
    u, v = t.u, t.v
    au = np.abs(u)
    # X-ray density grows with the tissue crossed: an elliptic chest cross-section.
    half_w = 0.98 - 0.6 * smoothstep(-0.92, -1.15, v) + 0.04 * smoothstep(-0.5, -0.85, v)
    soft = np.clip(1 - (u / half_w) ** 2, 0, 1) ** 0.45
    lungs = np.maximum(t.lung(-1), t.lung(1))
    heart = t.heart_mask()

    d = 0.05 + 0.68 * soft
    # Air in the lungs lets radiation through; the heart lies in front of the lungs' medial parts.
    d -= 0.52 * lungs * (1.0 - 0.7 * heart)
    d += 0.04 * heart * soft
    mediastinum = smoothstep(0.15, 0.1, au + 0.05 * smoothstep(0.0, 0.4, v)) * smoothstep(0.65, 0.5, v)
    d += 0.08 * mediastinum
    spine = smoothstep(0.075, 0.055, au)
    vertebrae = 0.5 + 0.5 * np.cos(2 * np.pi * (v + rng.uniform(0, 1)) / rng.uniform(0.085, 0.1))
    d += spine * (0.03 + 0.03 * vertebrae**3) * soft
    # Posterior ribs: arches that leave the spine and curve down laterally; fainter anterior ribs.
    lateral = np.maximum(au - 0.08, 0)
    posterior = v + 0.25 * lateral - 0.6 * lateral**2
    wobble = value_noise(rng, t.h, t.w, 3) - 0.5
    phase = (np.maximum(posterior + 0.9 + 0.04 * wobble, 0) / rng.uniform(0.11, 0.13)) ** rng.uniform(
        0.9, 1.0
    )
    rib = smoothstep(0.5, 0.85, 0.5 + 0.5 * np.cos(2 * np.pi * phase))
    zone = smoothstep(0.06, 0.12, au) * smoothstep(0.97, 0.85, au) * smoothstep(-0.1, 0.3, phase)
    zone = zone * smoothstep(10.5, 9.8, phase) * soft
    anterior = v - 0.45 * lateral
    phase2 = (anterior + 0.6) / rng.uniform(0.16, 0.19)
    rib2 = smoothstep(0.6, 0.9, 0.5 + 0.5 * np.cos(2 * np.pi * phase2)) * smoothstep(0.2, 0.4, lateral)
    zone2 = smoothstep(0.0, 0.4, phase2) * smoothstep(5.5, 4.8, phase2) * lungs
    d += (0.05 * rib * zone + 0.025 * rib2 * zone2) * (0.3 + 0.7 * lungs)
    # Clavicles and the humeral heads.
    clav = v + 0.66 + 0.2 * np.maximum(au - 0.1, 0) - 0.35 * np.maximum(au - 0.45, 0)
    d += 0.12 * smoothstep(0.035, 0.02, np.abs(clav)) * smoothstep(0.08, 0.12, au) * smoothstep(0.8, 0.72, au)
    humerus = smoothstep(1.1, 0.9, ((au - 0.98) / 0.13) ** 2 + ((v + 0.72) / 0.16) ** 2)
    d += 0.1 * humerus * soft
    # Vascular markings fan out from the hila and fade towards the periphery.
    field = value_noise(rng, 48, 48, 12)
    for side in (-1, 1):
        du, dv = u - side * 0.2, v + 0.02
        r = np.sqrt(du * du + dv * dv)
        ang = np.arctan2(dv, du * side)
        vessels = ridges(sample_noise(field, ang * 8 + 12 * (side + 1), np.log(r + 0.05) * 2.5 + 20), 0.08)
        d += 0.07 * vessels * np.exp(-r / 0.4) * lungs + 0.05 * lungs * smoothstep(-0.2, 0.5, v)
    hila = sum(np.exp(-((u - s * 0.17) ** 2 + (v + 0.0) ** 2) / 0.005) for s in (-1, 1))
    d += 0.05 * hila * (1 - heart)
    return d.astype(np.float32), lungs


def _consolidation(t: _Thorax, rng: np.random.Generator, severity: float) -> Array:
    """A dense, fairly well-bounded opacity confined to one lobe, at a random place in one lung."""
    side = int(rng.choice([-1, 1]))
    cu, cv = side * t.lung_cx, t.lung_cy
    for _ in range(200):
        cu = side * t.lung_cx + rng.uniform(-0.7, 0.7) * t.lung_w
        cv = t.lung_cy + rng.uniform(-0.75, 0.8) * t.lung_h
        if t.contains(side, cu, cv) > 0.9 and t.heart_mask_at(cu, cv) < 0.5:
            break
    radii = (rng.uniform(0.12, 0.24), rng.uniform(0.12, 0.26))
    region = blob(
        t.u,
        t.v,
        (cu, cv),
        radii,
        rng,
        wobble=0.35,
        edge=rng.uniform(0.06, 0.16),
        angle=rng.uniform(0, np.pi),
        pixel_grid=False,
    )
    # A lobar opacity stops at a fissure: cut it with a straight edge half of the time.
    if rng.random() < 0.5:
        cut_v = cv + rng.uniform(-0.5, 0.5) * radii[1]
        region = region * smoothstep(-0.01, 0.01, (t.v - cut_v) * (1 if rng.random() < 0.5 else -1))
    region = region * t.lung(side)
    texture = 0.85 + 0.15 * value_noise(rng, t.h, t.w, 24)
    # Air bronchograms: dark branching lines inside the opacity.
    bronchi = ridges(fractal_noise(rng, t.h, t.w, 8, 2), 0.03) * smoothstep(0.3, 0.8, region)
    return (severity * rng.uniform(0.3, 0.45) * region * texture - 0.06 * severity * bronchi).astype(
        np.float32
    )


def _interstitial(t: _Thorax, lungs: Array, rng: np.random.Generator, severity: float) -> Array:
    """Diffuse bilateral reticular (net-like) markings and patchy haze, heaviest around the hila."""
    h, w = t.h, t.w
    per_mesh = t.scale * rng.uniform(0.08, 0.11)  # one mesh every ~0.1 body units, any image size
    net = ridges(value_noise(rng, h, w, min(h, w) / per_mesh), rng.uniform(0.06, 0.09))
    haze = smoothstep(0.3, 0.75, fractal_noise(rng, h, w, 5, 2))
    hilar = sum(np.exp(-np.sqrt((t.u - s * 0.2) ** 2 + (t.v - 0.05) ** 2) / 0.45) for s in (-1, 1))
    weight = np.clip(0.3 + 0.8 * hilar, 0, 1.1) * lungs
    return (severity * weight * (0.15 * net + 0.12 * haze)).astype(np.float32)


def _expose(d: Array, rng: np.random.Generator, level: float, contrast: float) -> Array:
    """Map attenuation to film brightness: window, gamma, exposure level and contrast."""
    lo = rng.uniform(0.0, 0.06)
    hi = rng.uniform(0.88, 1.0)
    img = np.clip((d - lo) / (hi - lo), 0, 1)
    img = img ** rng.uniform(0.8, 1.25)
    return np.asarray(0.5 + (img - 0.5) * contrast + level, np.float32)


def _marker(img: Image.Image, rng: np.random.Generator) -> None:
    """A side marker in a corner, as on real films."""
    draw = ImageDraw.Draw(img)
    size = max(10, img.height // 22)
    font = ImageFont.load_default(size=size)
    x = int(rng.uniform(0.04, 0.12) * img.width)
    if rng.random() < 0.5:
        x = img.width - x - size
    y = int(rng.uniform(0.04, 0.12) * img.height)
    draw.text((x, y), str(rng.choice(["R", "L", "AP"])), fill=int(rng.integers(200, 256)), font=font)


def _upsample(a: Array, h: int, w: int) -> Array:
    if a.shape == (h, w):
        return a
    return np.asarray(Image.fromarray(a, "F").resize((w, h), Image.Resampling.BICUBIC), np.float32)


# The anatomy is smooth, so it is drawn at most this many pixels on the short side and enlarged.
_RENDER_SHORT = 224


@overload
def make_chest_xray(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = ...,
    exposure: float = ...,
    contrast: float = ...,
    return_mask: Literal[False] = ...,
) -> Image.Image: ...
@overload
def make_chest_xray(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = ...,
    exposure: float = ...,
    contrast: float = ...,
    return_mask: Literal[True],
) -> tuple[Image.Image, Array]: ...
def make_chest_xray(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = None,
    exposure: float = 0.0,
    contrast: float = 1.0,
    return_mask: bool = False,
) -> Image.Image | tuple[Image.Image, Array]:
    """A frontal chest radiograph (mode "L") of class ``label`` in :data:`CHEST_LABELS`.

    ``size`` is (height, width), random 256–512 px when None. ``exposure`` shifts the brightness
    (-0.5 very dark … +0.5 very bright) on top of a random exposure; ``contrast`` scales it.
    With ``return_mask`` also returns the lesion mask (bool [H, W]; empty for ``normal``).
    """
    if label not in CHEST_LABELS:
        raise ValueError(f"unknown chest label {label!r}")
    h, w = size or _size(rng, 256, 512, (0.7, 1.45))
    f = min(1.0, _RENDER_SHORT / min(h, w))
    rh, rw = max(16, round(h * f)), max(16, round(w * f))
    t = _Thorax(rng, rh, rw)
    d, lungs = _anatomy(t, rng)
    lesion = np.zeros((rh, rw), np.float32)
    severity = float(rng.uniform(0.45, 1.0))
    if label == "bacterial":
        lesion = _consolidation(t, rng, severity)
    elif label == "viral":
        lesion = _interstitial(t, lungs, rng, severity)
    level = exposure + rng.normal(0, 0.05)
    img = _upsample(_expose(d + lesion, rng, level, contrast * rng.uniform(0.85, 1.15)), h, w)
    img = img + rng.normal(0, rng.uniform(0.004, 0.025), img.shape).astype(np.float32)
    img = gaussian_blur(img, rng.uniform(0.3, 1.2) / f)
    out = Image.fromarray(to_uint8(img), "L")
    if rng.random() < 0.5:
        _marker(out, rng)
    if not return_mask:
        return out
    return out, _upsample(lesion, h, w) > 0.04 * severity


# --------------------------------------------------------------------------------------------------
# Skin close-ups
# --------------------------------------------------------------------------------------------------

_SKIN_TONES = np.array(
    [[0.95, 0.80, 0.70], [0.87, 0.68, 0.56], [0.76, 0.55, 0.41], [0.60, 0.41, 0.29], [0.42, 0.28, 0.20]],
    np.float32,
)


def _skin_base(rng: np.random.Generator, h: int, w: int) -> Array:
    """Healthy skin: a tone from light to dark, mottling, pores, fine lines and uneven lighting."""
    t = rng.uniform(0, len(_SKIN_TONES) - 1)
    i = int(t)
    tone = _SKIN_TONES[i] * (1 - (t - i)) + _SKIN_TONES[min(i + 1, len(_SKIN_TONES) - 1)] * (t - i)
    tone = tone * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    img = np.broadcast_to(tone, (h, w, 3)).copy()
    mottle = value_noise(rng, h, w, 4) - 0.5
    img *= (1 + 0.08 * mottle)[..., None]
    red = value_noise(rng, h, w, 3) - 0.5
    img[..., 0] *= 1 + 0.05 * red
    pores = rng.normal(0, 1, (h, w)).astype(np.float32)
    img *= (1 + 0.025 * gaussian_blur(pores, 0.7))[..., None]
    x, y = grid(h, w)
    angle = rng.uniform(0, np.pi)
    lines = np.cos(
        (x * np.cos(angle) + y * np.sin(angle)) / rng.uniform(3, 6) + 3 * value_noise(rng, h, w, 6)
    )
    img *= (1 - 0.02 * smoothstep(0.7, 1.0, lines))[..., None]
    return img


def _lighting(img: Array, rng: np.random.Generator) -> Array:
    h, w = img.shape[:2]
    x, y = grid(h, w)
    gx, gy = rng.normal(0, 0.25, 2)
    light = 1 + gx * (x / w - 0.5) + gy * (y / h - 0.5)
    r2 = ((x / w - 0.5) ** 2 + (y / h - 0.5) ** 2) * 2
    light *= 1 - rng.uniform(0, 0.3) * r2
    img = img * light[..., None] * rng.uniform(0.88, 1.1)
    img = img * rng.uniform(0.94, 1.06, 3).astype(np.float32)  # white balance
    img = img + rng.normal(0, rng.uniform(0.003, 0.015), img.shape).astype(np.float32)
    return gaussian_blur(img, rng.uniform(0.0, 1.2)) if rng.random() < 0.7 else img


def _hair(img: Image.Image, rng: np.random.Generator, count: int) -> None:
    draw = ImageDraw.Draw(img)
    w, h = img.size
    colour = tuple(int(c) for c in rng.integers(20, 70, 3))
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, 2 * np.pi)
        points = []
        for _step in range(12):
            points.append((x, y))
            angle += rng.normal(0, 0.12)
            x += np.cos(angle) * w / 30
            y += np.sin(angle) * w / 30
        draw.line(points, fill=colour, width=max(1, w // 300))


def _paint(img: Array, alpha: Array, colour: Array | tuple[float, float, float]) -> Array:
    """Alpha-blend a colour (a triple or an [H, W, 3] field) over the image."""
    a = np.clip(alpha, 0, 1)[..., None]
    return img * (1 - a) + np.asarray(colour, np.float32) * a


def _centre(rng: np.random.Generator, h: int, w: int, spread: float = 0.15) -> tuple[float, float]:
    return w * (0.5 + rng.uniform(-spread, spread)), h * (0.5 + rng.uniform(-spread, spread))


def _lesion_psoriasis(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    mask = np.zeros((h, w), np.float32)
    for i in range(int(rng.integers(1, 4))):
        c = _centre(rng, h, w, 0.12 if i == 0 else 0.3)
        r = s * rng.uniform(0.12, 0.26) * (1 if i == 0 else 0.6)
        mask = np.maximum(
            mask,
            blob(
                x,
                y,
                c,
                (r, r * rng.uniform(0.6, 1.0)),
                rng,
                wobble=0.3,
                edge=0.04,
                angle=rng.uniform(0, np.pi),
            ),
        )
    salmon = np.array([0.86, 0.42, 0.40], np.float32) * rng.uniform(0.85, 1.05)
    img = _paint(img, 0.85 * mask, salmon * (0.9 + 0.2 * value_noise(rng, h, w, 12))[..., None])
    scale = smoothstep(0.45, 0.6, fractal_noise(rng, h, w, 10, 3)) * smoothstep(0.4, 0.8, mask)
    flakes = 0.85 + 0.15 * rng.random((h, w), np.float32)
    img = _paint(img, 0.9 * scale, np.stack([flakes * 0.92, flakes * 0.92, flakes * 0.95], -1))
    return img, mask


def _lesion_lichen_planus(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    mask = np.zeros((h, w), np.float32)
    cx, cy = _centre(rng, h, w)
    spread = s * rng.uniform(0.15, 0.3)
    violet = np.array([0.55, 0.32, 0.50], np.float32) * rng.uniform(0.85, 1.1)
    for _ in range(int(rng.integers(8, 22))):
        c = (cx + rng.normal(0, spread), cy + rng.normal(0, spread))
        r = s * rng.uniform(0.025, 0.06)
        # Polygonal, flat-topped papules: a squarish blob.
        p = blob(x, y, c, (r, r), rng, wobble=0.5, edge=0.12, angle=rng.uniform(0, np.pi))
        mask = np.maximum(mask, p)
    img = _paint(img, 0.8 * mask, violet * (0.9 + 0.15 * value_noise(rng, h, w, 20))[..., None])
    # Wickham striae: a fine white net on the papules.
    striae = ridges(value_noise(rng, h, w, s / 10), 0.05) * smoothstep(0.5, 0.9, mask)
    img = _paint(img, 0.55 * striae, (0.93, 0.90, 0.93))
    shine = np.clip(rng.normal(0, 1, (h, w)), 2.2, 3) - 2.2
    img = img + 0.15 * (shine * mask)[..., None]
    return img, mask


def _lesion_lupus(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    mask = np.zeros((h, w), np.float32)
    for i in range(int(rng.integers(1, 3))):
        c = _centre(rng, h, w, 0.12 if i == 0 else 0.3)
        r = s * rng.uniform(0.14, 0.26) * (1 if i == 0 else 0.6)
        radii = (r, r * rng.uniform(0.7, 1.0))
        angle = rng.uniform(0, np.pi)
        outer = blob(x, y, c, radii, rng, wobble=0.25, edge=0.18, angle=angle)
        inner = blob(x, y, c, (radii[0] * 0.6, radii[1] * 0.6), rng, wobble=0.3, edge=0.25, angle=angle)
        # Discoid plaque: dark rim, red active border, pale atrophic scarred centre.
        rim = blob(x, y, c, (radii[0] * 1.12, radii[1] * 1.12), rng, wobble=0.2, edge=0.1, angle=angle)
        img = _paint(img, 0.6 * (rim - outer).clip(0, 1), (0.35, 0.20, 0.15))
        img = _paint(
            img, 0.85 * (outer - inner).clip(0, 1), np.array([0.80, 0.33, 0.38]) * rng.uniform(0.85, 1.05)
        )
        img = _paint(img, 0.8 * inner, (0.93, 0.82, 0.80))
        scale = smoothstep(0.55, 0.65, fractal_noise(rng, h, w, 14, 2)) * outer
        img = _paint(img, 0.5 * scale, (0.95, 0.93, 0.9))
        mask = np.maximum(mask, rim)
    return img, mask


def _telangiectasia(rng: np.random.Generator, h: int, w: int, s: int) -> Array:
    return ridges(fractal_noise(rng, h, w, s / 40, 2), 0.012)


def _lesion_bcc(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    c = _centre(rng, h, w)
    r = s * rng.uniform(0.12, 0.24)
    radii = (r, r * rng.uniform(0.75, 1.0))
    angle = rng.uniform(0, np.pi)
    mask = blob(x, y, c, radii, rng, wobble=0.15, edge=0.12, angle=angle)
    inner = blob(x, y, c, (radii[0] * 0.8, radii[1] * 0.8), rng, wobble=0.15, edge=0.2, angle=angle)
    # Pearly, translucent pink nodule with a raised rolled border.
    pearl = np.array([0.96, 0.80, 0.80], np.float32) * rng.uniform(0.9, 1.02)
    img = _paint(img, 0.65 * mask, pearl)
    img = img + 0.12 * (mask - inner).clip(0, 1)[..., None]
    vessels = _telangiectasia(rng, h, w, s) * mask
    img = _paint(img, 0.75 * vessels, (0.72, 0.12, 0.15))
    if rng.random() < 0.5:
        ulcer = blob(x, y, c, (radii[0] * 0.3, radii[1] * 0.3), rng, wobble=0.4, edge=0.2)
        img = _paint(img, 0.85 * ulcer, (0.40, 0.12, 0.10))
    dy = (y - c[1]) / radii[1]
    dx = (x - c[0]) / radii[0]
    highlight = np.exp(-((dx + 0.3) ** 2 + (dy + 0.35) ** 2) / 0.05) * mask
    img = img + 0.25 * highlight[..., None]
    return img, mask


def _lesion_scc(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    c = _centre(rng, h, w)
    r = s * rng.uniform(0.13, 0.26)
    radii = (r, r * rng.uniform(0.65, 1.0))
    angle = rng.uniform(0, np.pi)
    halo = blob(x, y, c, (radii[0] * 1.35, radii[1] * 1.35), rng, wobble=0.3, edge=0.35, angle=angle)
    mask = blob(x, y, c, radii, rng, wobble=0.45, edge=0.2, angle=angle)
    img = _paint(img, 0.45 * halo, (0.82, 0.40, 0.38))
    rough = fractal_noise(rng, h, w, s / 12, 3)
    red = np.array([0.74, 0.28, 0.26], np.float32) * rng.uniform(0.85, 1.05)
    img = _paint(img, 0.9 * mask, red * (0.75 + 0.4 * rough)[..., None])
    keratin = blob(x, y, c, (radii[0] * 0.6, radii[1] * 0.6), rng, wobble=0.5, edge=0.3, angle=angle)
    keratin *= smoothstep(0.35, 0.5, rough)
    img = _paint(img, 0.9 * keratin, np.array([0.90, 0.84, 0.66]) * (0.8 + 0.3 * rough)[..., None])
    if rng.random() < 0.4:
        ulcer = blob(x, y, c, (radii[0] * 0.25, radii[1] * 0.25), rng, wobble=0.5, edge=0.2)
        img = _paint(img, 0.8 * ulcer, (0.45, 0.10, 0.08))
    return img, mask


def _lesion_pemphigus(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(3, 9))):
        c = (w * rng.uniform(0.15, 0.85), h * rng.uniform(0.15, 0.85))
        r = s * rng.uniform(0.04, 0.11)
        radii = (r, r * rng.uniform(0.6, 1.0))
        angle = rng.uniform(0, np.pi)
        roof = blob(x, y, c, (radii[0] * 1.2, radii[1] * 1.2), rng, wobble=0.3, edge=0.08, angle=angle)
        core = blob(x, y, c, radii, rng, wobble=0.4, edge=0.15, angle=angle)
        if rng.random() < 0.35:
            # A flaccid blister: a pale, translucent dome with a bright rim.
            img = _paint(img, 0.55 * roof, (0.96, 0.92, 0.78))
            img = img + 0.12 * (roof - core).clip(0, 1)[..., None]
        else:
            # An erosion: raw, moist red base edged by the detached white roof, sometimes crusted.
            img = _paint(img, 0.7 * (roof - core).clip(0, 1), (0.95, 0.92, 0.9))
            img = _paint(img, 0.9 * core, np.array([0.88, 0.36, 0.36]) * rng.uniform(0.85, 1.05))
            if rng.random() < 0.5:
                crust = core * smoothstep(0.5, 0.65, value_noise(rng, h, w, s / 25))
                img = _paint(img, 0.9 * crust, (0.66, 0.48, 0.22))
            glint = np.clip(rng.normal(0, 1, (h, w)), 2.0, 3.0) - 2.0
            img = img + 0.2 * (glint * core)[..., None]
        mask = np.maximum(mask, roof)
    return img, mask


def _lesion_sk(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    s = min(h, w)
    mask = np.zeros((h, w), np.float32)
    for i in range(int(rng.integers(1, 3))):
        c = _centre(rng, h, w, 0.12 if i == 0 else 0.3)
        r = s * rng.uniform(0.12, 0.24) * (1 if i == 0 else 0.55)
        mask = np.maximum(
            mask,
            blob(
                x,
                y,
                c,
                (r, r * rng.uniform(0.6, 0.9)),
                rng,
                wobble=0.2,
                edge=0.04,
                angle=rng.uniform(0, np.pi),
            ),
        )
    brown = np.array([0.45, 0.30, 0.18], np.float32) * rng.uniform(0.5, 1.15)
    # "Stuck-on", verrucous, cerebriform surface: ridges and fissures.
    gyri = ridges(value_noise(rng, h, w, s / 14), 0.12)
    img = _paint(img, 0.95 * mask, brown * (0.8 + 0.35 * gyri)[..., None])
    cysts = (rng.random((h, w)) < 0.0015).astype(np.float32)
    cysts = np.clip(gaussian_blur(cysts, 1.2) * 12, 0, 1) * mask
    img = _paint(img, cysts, (0.95, 0.92, 0.75))
    pits = (rng.random((h, w)) < 0.001).astype(np.float32)
    pits = np.clip(gaussian_blur(pits, 1.0) * 12, 0, 1) * mask
    img = _paint(img, 0.8 * pits, (0.12, 0.08, 0.06))
    return img, mask


def _lesion_none(img: Array, rng: np.random.Generator, x: Array, y: Array) -> tuple[Array, Array]:
    h, w = img.shape[:2]
    if rng.random() < 0.3:  # a few freckles
        dots = (rng.random((h, w)) < 0.0004).astype(np.float32)
        img = _paint(img, np.clip(gaussian_blur(dots, 2.0) * 20, 0, 0.5), (0.55, 0.38, 0.26))
    return img, np.zeros((h, w), np.float32)


_SKIN_LESIONS: dict[str, Callable[[Array, np.random.Generator, Array, Array], tuple[Array, Array]]] = {
    "lichen_planus": _lesion_lichen_planus,
    "lupus_erythematosus": _lesion_lupus,
    "basal_cell_carcinoma": _lesion_bcc,
    "squamous_cell_carcinoma": _lesion_scc,
    "normal_skin": _lesion_none,
    "pemphigus": _lesion_pemphigus,
    "psoriasis": _lesion_psoriasis,
    "seborrheic_keratosis": _lesion_sk,
}


@overload
def make_skin(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = ...,
    exposure: float = ...,
    return_mask: Literal[False] = ...,
) -> Image.Image: ...
@overload
def make_skin(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = ...,
    exposure: float = ...,
    return_mask: Literal[True],
) -> tuple[Image.Image, Array]: ...
def make_skin(
    label: str,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = None,
    exposure: float = 0.0,
    return_mask: bool = False,
) -> Image.Image | tuple[Image.Image, Array]:
    """A colour close-up of skin (mode "RGB") showing class ``label`` in :data:`SKIN_LABELS`."""
    if label not in _SKIN_LESIONS:
        raise ValueError(f"unknown skin label {label!r}")
    h, w = size or _size(rng, 256, 448, (0.75, 1.34))
    f = min(1.0, _RENDER_SHORT / min(h, w))
    rh, rw = max(16, round(h * f)), max(16, round(w * f))
    x, y = grid(rh, rw)
    base = _skin_base(rng, rh, rw)
    lesioned, mask = _SKIN_LESIONS[label](base.copy(), rng, x, y)
    # Early or faint lesions: blend the lesion only partly over the skin (harder cases).
    img = base + rng.uniform(0.15, 1.0) * (lesioned - base)
    img = _lighting(img, rng) + exposure
    out = Image.fromarray(to_uint8(img), "RGB")
    if (rh, rw) != (h, w):
        out = out.resize((w, h), Image.Resampling.BICUBIC)
        grain = rng.normal(0, 2.0, (h, w, 1)).astype(np.float32)
        out = Image.fromarray(np.clip(np.asarray(out, np.float32) + grain, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3:
        _hair(out, rng, int(rng.integers(1, 6)))
    if not return_mask:
        return out
    return out, _upsample(mask.astype(np.float32), h, w) > 0.5
