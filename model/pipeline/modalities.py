"""What a real chest-film reader meets besides frontal chest films, drawn; and real films as users send them.

Two halves, both pure functions of an ``np.random.Generator``:

- ``make_modality(kind, rng)``: images of other modalities and views, drawn by their layout — an axial
  CT slice, a brain MRI slice, an ultrasound fan, a mammogram, a limb radiograph, a skull radiograph, a
  lateral chest film — and ``hemithorax(film, rng)``, one side of a real frontal film stretched to the
  whole frame (one lung field with the spine along an edge: the layout of a lateral view). They are the
  *negatives* of the input gate's kind model, beside the synthetic photos and documents of
  ``nontarget.py``; the real images of other kinds are kept for measuring it.
- ``photo_of_film(film, rng)``: a phone photo of a film on a light box or of a screen: perspective,
  vignetting, glare, moiré (screens), a colour cast, sensor noise and JPEG; ``burn_in(film, rng)``:
  side markers, text and arrows burnt into a film. The gate must accept both (positives).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ._draw import fractal_noise, gaussian_blur, grid, jpeg_roundtrip, smoothstep, to_uint8

Array = np.ndarray
MODALITY_KINDS = ("ct", "mri", "ultrasound", "mammogram", "limb", "skull")
VIEW_KINDS = ("lateral",)  # other views of the chest: negatives of the chest gate only


def _side(rng: np.random.Generator, lo: int = 256, hi: int = 640) -> tuple[int, int]:
    h = int(rng.integers(lo, hi + 1))
    return h, int(h * rng.uniform(0.8, 1.35))


def _ellipse(
    x: Array, y: Array, cx: float, cy: float | Array, rx: float, ry: float, soft: float = 0.03
) -> Array:
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    return smoothstep(1.0 + soft, 1.0 - soft, r)


def _finish(a: Array, rng: np.random.Generator, noise: float = 0.02) -> Image.Image:
    a = a + rng.normal(0, noise, a.shape).astype(np.float32)
    return Image.fromarray(to_uint8(np.clip(a, 0, 1)), "L")


def _ct(rng: np.random.Generator) -> Image.Image:
    """An axial slice: a body ellipse on black, fat rim, organs or lungs, a bright vertebra, the table."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    cx, cy = 0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.05, 0.05)
    rx, ry = rng.uniform(0.32, 0.45), rng.uniform(0.25, 0.38)
    body = _ellipse(x, y, cx, cy, rx, ry)
    a = body * (0.45 + 0.12 * fractal_noise(rng, h, w, 6))
    if rng.random() < 0.5:  # a chest slice: two dark lungs
        for s in (-1, 1):
            a -= 0.4 * _ellipse(x, y, cx + s * rx * 0.45, cy - ry * 0.05, rx * 0.33, ry * 0.6, 0.1)
    else:  # an abdominal slice: organ blobs
        for _ in range(int(rng.integers(3, 7))):
            a += (
                0.12
                * _ellipse(
                    x,
                    y,
                    cx + rng.uniform(-0.6, 0.6) * rx,
                    cy + rng.uniform(-0.5, 0.5) * ry,
                    rx * rng.uniform(0.1, 0.3),
                    ry * rng.uniform(0.1, 0.3),
                    0.2,
                )
                * rng.choice([-1.0, 1.0])
            )
    a += 0.5 * _ellipse(x, y, cx, cy + ry * 0.6, rx * 0.1, ry * 0.12, 0.1)  # vertebra
    a += 0.1 * (body - _ellipse(x, y, cx, cy, rx * 0.93, ry * 0.9))  # skin and fat rim
    if rng.random() < 0.6:  # the scanner table under the patient
        a += 0.35 * ((np.abs(y - (cy + ry + 0.04)) < 0.008) & (np.abs(x - cx) < 0.45))
    return _finish(np.clip(a, 0, 1) * body.clip(0.0, 1.0) + 0.4 * a * (1 - body), rng)


def _mri(rng: np.random.Generator) -> Image.Image:
    """A brain slice: an oval head on black, bright scalp, folded cortex, dark ventricles."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    cx, cy, rx, ry = 0.5, 0.5 + rng.uniform(-0.04, 0.04), rng.uniform(0.3, 0.4), rng.uniform(0.36, 0.46)
    head = _ellipse(x, y, cx, cy, rx, ry)
    brain = _ellipse(x, y, cx, cy, rx * 0.88, ry * 0.9)
    folds = fractal_noise(rng, h, w, 14)
    a = 0.75 * (head - brain) + brain * (0.35 + 0.35 * (folds > 0.5))
    for s in (-1, 1):
        a -= 0.3 * _ellipse(x, y, cx + s * rx * 0.12, cy, rx * 0.07, ry * 0.25, 0.2)
    if rng.random() < 0.5:
        a = 1.0 - a * 0.9 - 0.1 * brain  # a T2-like contrast: bright fluid
        a = a * head
    return _finish(gaussian_blur(np.clip(a, 0, 1), 1.0), rng)


def _ultrasound(rng: np.random.Generator) -> Image.Image:
    """A sector scan: a fan of speckle on black, with scale marks and text around it."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    apex_x, apex_y = 0.5, rng.uniform(0.02, 0.12)
    angle = np.arctan2(x - apex_x, y - apex_y)
    radius = np.sqrt((x - apex_x) ** 2 + (y - apex_y) ** 2)
    half = rng.uniform(0.45, 0.75)
    fan = smoothstep(half + 0.02, half - 0.02, np.abs(angle)) * smoothstep(0.9, 0.86, radius)
    fan *= smoothstep(0.04, 0.08, radius)
    speckle = rng.gamma(1.0, 1.0, (h, w)).astype(np.float32)
    tissue = 0.25 + 0.35 * fractal_noise(rng, h, w, 5) - 0.25 * (fractal_noise(rng, h, w, 3) > 0.7)
    a = fan * np.clip(tissue * speckle * 0.7, 0, 1)
    img = _finish(gaussian_blur(a, 0.8), rng, 0.01)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    for i in range(int(rng.integers(2, 6))):
        draw.text(
            (int(w * 0.03), int(h * (0.05 + 0.05 * i))), f"{rng.integers(1, 99)} dB", fill=200, font=font
        )
    return img


def _mammogram(rng: np.random.Generator) -> Image.Image:
    """A breast against one edge of a black frame, dense fibroglandular tissue, a bright skin line."""
    h, w = _side(rng)
    h, w = max(h, w), min(h, w)
    x, y = grid(h, w)
    x, y = x / w, y / h
    side = float(rng.choice([0.0, 1.0]))
    r = np.sqrt(((x - side) / rng.uniform(0.6, 0.85)) ** 2 + ((y - 0.5) / rng.uniform(0.35, 0.45)) ** 2)
    breast = smoothstep(1.02, 0.98, r)
    dense = fractal_noise(rng, h, w, 8) * smoothstep(0.9, 0.3, r)
    a = breast * (0.3 + 0.5 * dense)
    return _finish(gaussian_blur(a, 1.2), rng, 0.01)


def _limb(rng: np.random.Generator) -> Image.Image:
    """A hand, forearm or leg film: soft tissue on black, long bright bones, a joint or two."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    turn = rng.uniform(-0.5, 0.5)
    u = (x - 0.5) * np.cos(turn) + (y - 0.5) * np.sin(turn)
    v = -(x - 0.5) * np.sin(turn) + (y - 0.5) * np.cos(turn)
    width = rng.uniform(0.15, 0.3)
    tissue = smoothstep(width + 0.02, width - 0.02, np.abs(u))
    a = 0.3 * tissue
    bones = int(rng.integers(1, 4))
    for i in range(bones):
        offset = (i - (bones - 1) / 2) * width * 0.5
        shaft = smoothstep(0.035, 0.02, np.abs(u - offset)) * (np.abs(v) < rng.uniform(0.3, 0.6))
        a += 0.55 * shaft
    joint = rng.uniform(-0.3, 0.3)
    a += 0.3 * tissue * np.exp(-(((v - joint) / 0.03) ** 2))
    return _finish(gaussian_blur(np.clip(a, 0, 1), 1.5), rng)


def _skull(rng: np.random.Generator) -> Image.Image:
    """A skull film: a bright oval vault, the face and jaw below, on a dark frame."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    cx, cy, rx, ry = 0.5, 0.45, rng.uniform(0.3, 0.42), rng.uniform(0.3, 0.4)
    vault = _ellipse(x, y, cx, cy, rx, ry) - _ellipse(x, y, cx, cy, rx * 0.9, ry * 0.9)
    inside = _ellipse(x, y, cx, cy, rx * 0.9, ry * 0.9)
    jaw = _ellipse(x, y, cx, cy + ry * 1.0, rx * 0.55, ry * 0.35) * (y > cy + ry * 0.6)
    a = 0.8 * vault + 0.35 * inside * (0.7 + 0.3 * fractal_noise(rng, h, w, 6)) + 0.55 * jaw
    for s in (-1, 1):  # orbits
        a -= 0.2 * _ellipse(x, y, cx + s * rx * 0.35, cy + ry * 0.55, rx * 0.15, ry * 0.12, 0.2)
    return _finish(gaussian_blur(np.clip(a, 0, 1), 1.2), rng)


def _lateral(rng: np.random.Generator) -> Image.Image:
    """A lateral chest film: one lucent field (both lungs superimposed) between the sternum in front and
    a column of vertebrae behind, the heart low in front, the diaphragm's domes below, often the arms
    raised across the top. What sets it apart from a frontal film: no bright midline between two fields."""
    h, w = _side(rng)
    x, y = grid(h, w)
    x, y = x / w, y / h
    if rng.random() < 0.5:  # facing left or right
        x = 1.0 - x
    body = _ellipse(x, y, 0.5, 0.55, rng.uniform(0.45, 0.6), rng.uniform(0.6, 0.75), 0.08)
    a = body * (0.55 + 0.1 * fractal_noise(rng, h, w, 5))
    front, back = rng.uniform(0.2, 0.3), rng.uniform(0.66, 0.74)
    cx, ry = (front + back) / 2, rng.uniform(0.3, 0.38)
    dome = 0.75 + 0.05 * np.cos((x - front) / (back - front) * np.pi) + rng.uniform(-0.05, 0.05)
    lung = _ellipse(x, y, cx, 0.12 + ry, (back - front) / 2, ry, 0.12)
    lung = lung * smoothstep(dome + 0.02, dome - 0.04, y)
    a -= rng.uniform(0.3, 0.42) * lung * (0.8 + 0.2 * fractal_noise(rng, h, w, 12))
    a += 0.2 * _ellipse(x, y, front + 0.15, dome - 0.13, 0.14, 0.15, 0.3) * lung  # the heart, in front
    spine_x = back + 0.06 + 0.03 * np.sin(y * np.pi)  # a slight kyphosis
    vertebrae = smoothstep(0.05, 0.03, np.abs(x - spine_x)) * (
        0.6 + 0.4 * (np.sin(y * rng.uniform(38, 52)) > -0.5)
    )
    a += 0.2 * gaussian_blur(vertebrae * ((y > 0.05) & (y < 0.95)), 2.0)
    a += 0.15 * smoothstep(0.015, 0.005, np.abs(x - front + 0.03)) * (y > 0.15) * (y < 0.55)  # sternum
    if rng.random() < 0.6:  # the arms raised across the top
        for tilt in (rng.uniform(0.2, 0.5), rng.uniform(0.25, 0.55)):
            a += 0.12 * smoothstep(0.07, 0.03, np.abs(y - 0.1 - tilt * (x - 0.5)))
    for i in range(int(rng.integers(6, 10))):  # ribs: faint oblique arcs across the field
        a += 0.04 * lung * smoothstep(0.015, 0.005, np.abs(y - 0.15 - 0.07 * i - 0.3 * (x - front) ** 2))
    return _finish(gaussian_blur(np.clip(a, 0, 1), 1.3), rng)


_DRAW: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "ct": _ct,
    "mri": _mri,
    "ultrasound": _ultrasound,
    "mammogram": _mammogram,
    "limb": _limb,
    "skull": _skull,
    "lateral": _lateral,
}


def make_modality(kind: str, rng: np.random.Generator) -> Image.Image:
    """An "L" image of ``kind`` (one of :data:`MODALITY_KINDS` or :data:`VIEW_KINDS`), 256–640 px."""
    try:
        return _DRAW[kind](rng)
    except KeyError:
        raise ValueError(f"unknown modality {kind!r}") from None


def hemithorax(film: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One side of a frontal film (a lung and the spine) stretched to the frame: a lateral's layout."""
    film = film.convert("L")
    w, h = film.size
    keep = rng.uniform(0.45, 0.6)
    box = (0, 0, round(w * keep), h) if rng.random() < 0.5 else (round(w * (1 - keep)), 0, w, h)
    half = film.crop(box)
    side = max(w, h)
    return half.resize((round(side * rng.uniform(0.8, 1.0)), side), Image.Resampling.BILINEAR)


# --- real films as users send them --------------------------------------------------------------------


def _perspective(img: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """The film seen from a little off-axis: each corner moved by up to ``strength`` of the side."""
    w, h = img.size
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(px + rng.uniform(-1, 1) * strength * w, py + rng.uniform(-1, 1) * strength * h) for px, py in src]
    a = np.array(
        [[dx, dy, 1, 0, 0, 0, -sx * dx, -sx * dy] for (sx, _), (dx, dy) in zip(src, dst, strict=False)]
        + [[0, 0, 0, dx, dy, 1, -sy * dx, -sy * dy] for (_, sy), (dx, dy) in zip(src, dst, strict=False)],
        np.float64,
    )
    b = np.array([s[0] for s in src] + [s[1] for s in src], np.float64)
    coeffs = np.linalg.solve(a, b)
    return img.transform((w, h), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BILINEAR)


def photo_of_film(film: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone photo of ``film`` on a light box (or of a monitor showing it), as an RGB JPEG-decoded image."""
    film = film.convert("L")
    screen = rng.random() < 0.4
    w, h = film.size
    scale = rng.uniform(0.6, 1.2) * 1000 / max(w, h)
    film = film.resize((max(64, round(w * scale)), max(64, round(h * scale))), Image.Resampling.BILINEAR)
    w, h = film.size
    pad_x, pad_y = round(w * rng.uniform(0.02, 0.15)), round(h * rng.uniform(0.02, 0.15))
    surround = int(rng.integers(0, 50)) if screen else int(rng.integers(150, 256))
    canvas = Image.new("L", (w + 2 * pad_x, h + 2 * pad_y), surround)
    canvas.paste(film, (pad_x, pad_y))
    canvas = _perspective(canvas, rng, rng.uniform(0.0, 0.06))
    a = np.asarray(canvas, np.float32) / 255.0
    hh, ww = a.shape
    x, y = grid(hh, ww)
    x, y = x / ww - 0.5, y / hh - 0.5
    a = a * (1.0 - rng.uniform(0.0, 0.35) * (x * x + y * y) * 2)  # vignetting
    gx, gy, gs = rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(0.05, 0.2)
    a = a + rng.uniform(0.0, 0.35) * np.exp(-((x - gx) ** 2 + (y - gy) ** 2) / (2 * gs * gs))  # glare
    if screen:  # moiré: the camera's pixel grid beating against the screen's
        f, t = rng.uniform(40, 120), rng.uniform(0, np.pi)
        a = a * (1.0 + rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * f * (x * np.cos(t) + y * np.sin(t))))
    tint = 1.0 + rng.normal(0, 0.04, 3).astype(np.float32)
    noise = rng.standard_normal((hh, ww, 3), dtype=np.float32) * np.float32(0.015)
    rgb = np.clip(a[..., None] * tint[None, None, :] + noise, 0, 1)
    img = Image.fromarray(to_uint8(rgb.astype(np.float32)), "RGB")
    return jpeg_roundtrip(img, int(rng.integers(60, 93)))


def burn_in(film: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Side markers, a date or an institution's text, and arrows, burnt into the film."""
    img = film.convert("L").copy()
    w, h = img.size
    draw = ImageDraw.Draw(img)
    size = max(10, round(min(w, h) * rng.uniform(0.03, 0.07)))
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    fill = int(rng.integers(200, 256))
    draw.text(
        (round(w * rng.uniform(0.02, 0.15)), round(h * rng.uniform(0.02, 0.12))),
        str(rng.choice(["R", "L", "AP", "PA", "SUPINE", "PORTABLE"])),
        fill=fill,
        font=font,
    )
    if rng.random() < 0.6:
        draw.text(
            (round(w * 0.55), round(h * rng.uniform(0.85, 0.93))),
            f"{rng.integers(2015, 2026)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
            fill=fill,
            font=font,
        )
    for _ in range(int(rng.integers(0, 3))):  # arrows pointing at a finding
        x0, y0 = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        dx, dy = rng.uniform(-0.12, 0.12) * w, rng.uniform(-0.12, 0.12) * h
        line = max(2, round(min(w, h) * 0.008))
        draw.line((x0, y0, x0 + dx, y0 + dy), fill=fill, width=line)
        draw.polygon(
            [
                (x0, y0),
                (x0 + dx * 0.25 + dy * 0.12, y0 + dy * 0.25 - dx * 0.12),
                (x0 + dx * 0.25 - dy * 0.12, y0 + dy * 0.25 + dx * 0.12),
            ],
            fill=fill,
        )
    return img
