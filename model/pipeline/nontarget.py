"""Images that are *not* what a model reads, and badly captured ones that are: for the input gate.

``make_non_target(kind, rng)`` draws scenes, objects, a face, grayscale photos and textures,
documents, app screenshots and blank frames. ``make_bad_capture(kind, rng)`` draws a chest film or
a skin photo that is too dark, too bright or too flat. ``capture_variant(image, rng)`` imitates the
harmless differences of a real upload (a phone photo of a film with a colour cast, JPEG, rescaling),
which the gate must keep accepting.

The pipeline trains with one seed range of these (outlier exposure) and measures the gate's
rejection rate on another, plus real photos when scikit-image's bundled samples are installed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from ._draw import fractal_noise, gaussian_blur, grid, jpeg_roundtrip, to_uint8, value_noise
from .synthetic import CHEST_LABELS, SKIN_LABELS, _size, make_chest_xray, make_skin

# kind → the refusal reason the gate should give (per model family).
NON_TARGET_KINDS = ("scene", "objects", "face", "gray_photo", "texture", "document", "screenshot", "blank")
CHEST_BAD_CAPTURES = {"xray_dark": "too_dark", "xray_bright": "too_bright", "xray_flat": "low_contrast"}
SKIN_BAD_CAPTURES = {"skin_dark": "too_dark", "skin_bright": "too_bright", "skin_flat": "low_contrast"}

_WORDS = (
    "the",
    "patient",
    "report",
    "page",
    "total",
    "date",
    "name",
    "please",
    "see",
    "table",
    "result",
    "normal",
    "value",
    "unit",
    "sample",
    "invoice",
    "order",
    "shipping",
    "meeting",
    "notes",
    "project",
    "budget",
    "summary",
    "chapter",
    "figure",
    "section",
    "reference",
    "hello",
    "thanks",
    "ok",
    "tomorrow",
    "lunch",
    "photo",
    "sent",
    "price",
    "address",
    "phone",
    "email",
    "login",
    "password",
    "settings",
)


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(lo, hi, 3))
    return r, g, b


def _finish(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Camera-like finish: a little blur and sensor noise."""
    a = np.asarray(img, np.float32) / 255.0
    a = gaussian_blur(a, rng.uniform(0.0, 1.2))
    a = a + rng.normal(0, rng.uniform(0.002, 0.02), a.shape).astype(np.float32)
    return Image.fromarray(to_uint8(a), img.mode)


def _scene(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Outdoor scene: sky, clouds, hills, ground, trees and houses."""
    _, y = grid(h, w)
    horizon = rng.uniform(0.35, 0.7) * h
    sky_top = np.array(_colour(rng, 40, 140), np.float32) / 255 * [0.6, 0.8, 1.0]
    sky_low = np.array([0.75, 0.85, 0.95], np.float32) * rng.uniform(0.8, 1.0)
    t = np.clip(y / horizon, 0, 1)[..., None]
    img = sky_top * (1 - t) + sky_low * t
    clouds = np.clip((fractal_noise(rng, h, w, 4) - 0.55) * 4, 0, 1)[..., None] * (y < horizon)[..., None]
    img = img * (1 - clouds) + clouds * 0.97
    hills = horizon + (value_noise(rng, 1, w, 3)[0] - 0.5) * h * 0.25
    ground = (y > hills[None, :]).astype(np.float32)[..., None]
    ground_col = np.array(rng.choice([[0.25, 0.5, 0.2], [0.55, 0.45, 0.3], [0.4, 0.4, 0.42]]), np.float32)
    tex = 0.8 + 0.4 * fractal_noise(rng, h, w, 30, 2)[..., None]
    img = img * (1 - ground) + ground * ground_col * tex
    out = Image.fromarray(to_uint8(img), "RGB")
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(0, 6))):
        cx, base = rng.uniform(0, w), rng.uniform(horizon, h)
        size = rng.uniform(0.05, 0.2) * h
        if rng.random() < 0.5:  # a tree
            draw.rectangle([cx - size * 0.08, base - size, cx + size * 0.08, base], fill=(90, 60, 30))
            draw.ellipse(
                [cx - size * 0.5, base - size * 1.7, cx + size * 0.5, base - size * 0.7],
                fill=_colour(rng, 20, 120),
            )
        else:  # a house
            draw.rectangle([cx - size, base - size, cx + size, base], fill=_colour(rng, 100, 240))
            draw.polygon(
                [(cx - size * 1.2, base - size), (cx, base - size * 1.8), (cx + size * 1.2, base - size)],
                fill=_colour(rng, 80, 200),
            )
            draw.rectangle([cx - size * 0.2, base - size * 0.5, cx + size * 0.2, base], fill=(60, 40, 30))
    if rng.random() < 0.4:
        r = rng.uniform(0.03, 0.08) * h
        sx, sy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.05, 0.3) * h
        draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 245, 200))
    return out


def _objects(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Things on a table: coloured shapes with shadows on a textured surface."""
    base = np.array(_colour(rng, 60, 230), np.float32) / 255
    tex = 0.85 + 0.3 * fractal_noise(rng, h, w, rng.uniform(3, 20), 3)
    img = Image.fromarray(to_uint8(base * tex[..., None]), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 9))):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        r = rng.uniform(0.05, 0.22) * min(h, w)
        box = [cx - r, cy - r * rng.uniform(0.5, 1.0), cx + r, cy + r]
        shadow = [box[0] + r * 0.15, box[1] + r * 0.15, box[2] + r * 0.15, box[3] + r * 0.15]
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.ellipse(shadow, fill=(30, 30, 30))
            draw.ellipse(box, fill=_colour(rng))
        elif shape == 1:
            draw.rectangle(shadow, fill=(30, 30, 30))
            draw.rectangle(box, fill=_colour(rng), outline=_colour(rng), width=max(1, int(r * 0.05)))
        else:
            pts = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.sort(rng.uniform(0, 2 * np.pi, 5))]
            draw.polygon(pts, fill=_colour(rng))
    return img


def _face(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A face-like portrait: background, hair, skin-toned face, eyes, brows, nose, mouth, shoulders."""
    img = Image.new("RGB", (w, h), _colour(rng, 30, 230))
    draw = ImageDraw.Draw(img)
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.55)
    fw, fh = min(h, w) * rng.uniform(0.2, 0.32), min(h, w) * rng.uniform(0.28, 0.4)
    tone = np.array([[235, 200, 175], [200, 150, 120], [150, 105, 75], [100, 70, 50]])[
        int(rng.integers(0, 4))
    ]
    skin = tuple(int(c) for c in tone)
    draw.rectangle([cx - fw * 2.2, cy + fh * 0.9, cx + fw * 2.2, h], fill=_colour(rng))  # shoulders
    draw.rectangle([cx - fw * 0.4, cy + fh * 0.5, cx + fw * 0.4, cy + fh * 1.1], fill=skin)  # neck
    hair = _colour(rng, 10, 90)
    draw.ellipse([cx - fw * 1.12, cy - fh * 1.15, cx + fw * 1.12, cy + fh * 0.4], fill=hair)
    draw.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=skin)
    for side in (-1, 1):
        ex, ey = cx + side * fw * 0.4, cy - fh * 0.15
        draw.ellipse([ex - fw * 0.18, ey - fh * 0.07, ex + fw * 0.18, ey + fh * 0.07], fill=(245, 245, 245))
        draw.ellipse(
            [ex - fw * 0.07, ey - fh * 0.07, ex + fw * 0.07, ey + fh * 0.07], fill=_colour(rng, 20, 120)
        )
        draw.line(
            [ex - fw * 0.2, ey - fh * 0.18, ex + fw * 0.2, ey - fh * 0.2],
            fill=hair,
            width=max(2, int(fw / 12)),
        )
    draw.line(
        [cx, cy - fh * 0.05, cx - fw * 0.08, cy + fh * 0.25, cx + fw * 0.05, cy + fh * 0.27],
        fill=tuple(int(c * 0.8) for c in skin),
        width=max(1, int(fw / 20)),
    )
    draw.chord([cx - fw * 0.35, cy + fh * 0.35, cx + fw * 0.35, cy + fh * 0.62], 0, 180, fill=(170, 60, 70))
    return img


def _texture(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Wood grain, fabric, stripes, checkerboard, bricks or noise; colour or gray."""
    x, y = grid(h, w)
    kind = int(rng.integers(0, 5))
    period = rng.uniform(6, 40)
    if kind == 0:
        a = 0.5 + 0.5 * np.sin((x + 15 * fractal_noise(rng, h, w, 3)) / period * 2 * np.pi)
    elif kind == 1:
        a = 0.5 + 0.25 * (np.sin(x / period * 6) + np.sin(y / period * 6))
    elif kind == 2:
        a = ((x // period + y // period) % 2).astype(np.float32)
    elif kind == 3:
        row = y // period
        a = (((x + (row % 2) * period) % (2 * period) > 2) & (y % period > 2)).astype(np.float32) * 0.7 + 0.2
    else:
        a = fractal_noise(rng, h, w, rng.uniform(4, 60), 4)
    a = a.astype(np.float32)
    if rng.random() < 0.5:
        return Image.fromarray(to_uint8(a), "L")
    c1, c2 = np.array(_colour(rng), np.float32) / 255, np.array(_colour(rng), np.float32) / 255
    return Image.fromarray(to_uint8(c1 * a[..., None] + c2 * (1 - a[..., None])), "RGB")


def _text_lines(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    box: tuple[float, float, float, float],
    size: int,
    fill: tuple[int, int, int] | int,
) -> None:
    font = ImageFont.load_default(size=size)
    x0, y0, _, y1 = box
    y = y0
    while y < y1 - size:
        words, line = int(rng.integers(2, 12)), ""
        for _ in range(words):
            line += str(rng.choice(_WORDS)) + " "
        draw.text((x0, y), line, fill=fill, font=font)
        y += size * rng.uniform(1.3, 1.8)


def _document(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A printed page: heading, paragraphs and sometimes a table; white or cream paper."""
    paper = (int(rng.integers(225, 256)), int(rng.integers(225, 256)), int(rng.integers(210, 256)))
    img = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(img)
    size = max(8, int(min(h, w) * rng.uniform(0.025, 0.05)))
    ink = int(rng.integers(0, 70))
    draw.text(
        (w * 0.08, h * 0.05),
        " ".join(rng.choice(_WORDS, 3)).upper(),
        fill=(ink, ink, ink),
        font=ImageFont.load_default(size=size * 2),
    )
    _text_lines(draw, rng, (w * 0.08, h * 0.15, w * 0.92, h * 0.6), size, (ink, ink, ink))
    if rng.random() < 0.5:
        rows, cols = int(rng.integers(3, 8)), int(rng.integers(2, 5))
        top, cell_h = h * 0.63, h * 0.3 / rows
        for r in range(rows + 1):
            draw.line([w * 0.08, top + r * cell_h, w * 0.92, top + r * cell_h], fill=(ink, ink, ink))
        for c in range(cols + 1):
            xx = w * 0.08 + c * w * 0.84 / cols
            draw.line([xx, top, xx, top + rows * cell_h], fill=(ink, ink, ink))
    else:
        _text_lines(draw, rng, (w * 0.08, h * 0.63, w * 0.92, h * 0.95), size, (ink, ink, ink))
    if rng.random() < 0.5:
        img = img.convert("L")
    if rng.random() < 0.5:  # photographed: slight rotation and uneven light
        img = img.rotate(
            rng.uniform(-8, 8),
            resample=Image.Resampling.BILINEAR,
            fillcolor=0 if img.mode == "L" else (40, 40, 40),
        )
    return img


def _screenshot(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A chat app or a web page: bars, bubbles or panels, text."""
    dark = rng.random() < 0.3
    bg = (30, 30, 35) if dark else _colour(rng, 225, 256)
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    bar = _colour(rng, 0, 200)
    draw.rectangle([0, 0, w, h * 0.08], fill=bar)
    size = max(8, int(min(h, w) * rng.uniform(0.025, 0.045)))
    ink = (230, 230, 230) if dark else (20, 20, 20)
    font = ImageFont.load_default(size=size)
    y = h * 0.11
    while y < h * 0.88:
        mine = rng.random() < 0.5
        bw = w * rng.uniform(0.3, 0.7)
        bh = size * int(rng.integers(1, 4)) * 1.5 + size
        x0 = w - bw - w * 0.05 if mine else w * 0.05
        colour = (150, 230, 110) if mine else ((60, 60, 65) if dark else (255, 255, 255))
        draw.rounded_rectangle([x0, y, x0 + bw, y + bh], radius=size // 2, fill=colour)
        draw.text((x0 + size * 0.5, y + size * 0.4), " ".join(rng.choice(_WORDS, 3)), fill=ink, font=font)
        y += bh + size
    draw.rectangle([0, h * 0.92, w, h], fill=_colour(rng, 200, 256))
    return img


def _blank(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """A frame with nothing on it: uniform, nearly uniform, or a gentle gradient, any colour."""
    colour = np.array(rng.choice([[0, 0, 0], [255, 255, 255], _colour(rng)]), np.float32) / 255
    x, _ = grid(h, w)
    a = colour + (x / w - 0.5)[..., None] * rng.uniform(0, 0.02)
    a = a + rng.normal(0, rng.uniform(0, 0.004), (h, w, 1)).astype(np.float32)
    img = Image.fromarray(to_uint8(a), "RGB")
    return img.convert("L") if rng.random() < 0.4 else img


_NON_TARGET: dict[str, Callable[[np.random.Generator, int, int], Image.Image]] = {
    "scene": _scene,
    "objects": _objects,
    "face": _face,
    "gray_photo": lambda rng, h, w: _NON_TARGET[str(rng.choice(["scene", "objects", "face", "texture"]))](
        rng, h, w
    ).convert("L"),
    "texture": _texture,
    "document": _document,
    "screenshot": _screenshot,
    "blank": _blank,
}


def make_non_target(kind: str, rng: np.random.Generator) -> Image.Image:
    """An image of ``kind`` (one of :data:`NON_TARGET_KINDS`) in mode "RGB" or "L", 256–640 px."""
    if kind not in _NON_TARGET:
        raise ValueError(f"unknown non-target kind {kind!r}")
    if kind == "screenshot":
        h, w = _size(rng, 280, 480, (0.45, 0.6))  # phone screens are tall
    elif kind == "document":
        h, w = _size(rng, 300, 560, (0.68, 0.8))
    else:
        h, w = _size(rng, 256, 560, (0.6, 1.6))
    img = _NON_TARGET[kind](rng, h, w)
    return img if kind in ("blank", "document", "screenshot") else _finish(img, rng)


def bad_exposure(
    img: Image.Image, kind: str, rng: np.random.Generator, *, severe: bool = True
) -> Image.Image:
    """A badly captured copy: ``dark`` (under-exposed), ``bright`` (over-exposed) or ``flat`` (no contrast).

    ``severe``: nothing can be read any more (the gate must say why); otherwise a poor but usable
    capture (the gate must still recognise the kind of image).
    """
    a = np.asarray(img, np.float32) / 255.0
    keep = rng.uniform(0.06, 0.16) if severe else rng.uniform(0.35, 0.6)
    if kind == "dark":
        a = a * keep + rng.uniform(0.0, 0.03)
    elif kind == "bright":
        a = 1.0 - (1.0 - a) * keep
    elif kind == "flat":
        a = a.mean() + (a - a.mean()) * keep
    else:
        raise ValueError(f"unknown exposure fault {kind!r}")
    a = a + rng.normal(0, 0.004, a.shape).astype(np.float32)
    return Image.fromarray(to_uint8(a), img.mode)


def make_bad_capture(kind: str, rng: np.random.Generator, *, severe: bool = True) -> Image.Image:
    """A chest film or a skin photo that is too dark, too bright or too flat (``*_BAD_CAPTURES``)."""
    family, _, fault = kind.partition("_")
    if family == "xray" and kind in CHEST_BAD_CAPTURES:
        return bad_exposure(make_chest_xray(str(rng.choice(CHEST_LABELS)), rng), fault, rng, severe=severe)
    if family == "skin" and kind in SKIN_BAD_CAPTURES:
        return bad_exposure(make_skin(str(rng.choice(SKIN_LABELS)), rng), fault, rng, severe=severe)
    raise ValueError(f"unknown bad-capture kind {kind!r}")


def capture_variant(img: Image.Image, rng: np.random.Generator, *, colour_cast: bool) -> Image.Image:
    """A harmless re-capture of an image: rescaled, recompressed and, for films, photographed in colour."""
    w, h = img.size
    f = rng.uniform(0.6, 1.6)
    img = img.resize((max(16, round(w * f)), max(16, round(h * f))), Image.Resampling.BILINEAR)
    if colour_cast and img.mode == "L" and rng.random() < 0.7:
        # A phone photo of a film on a light box: a warm or cool cast, slightly uneven.
        tint = np.array([1.0, 1.0, 1.0], np.float32) + rng.normal(0, 0.05, 3).astype(np.float32)
        a = np.asarray(img, np.float32)[..., None] * tint[None, None, :]
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    if colour_cast and rng.random() < 0.3:  # a film photo auto-levelled by the phone (skin has no such step)
        img = ImageOps.autocontrast(img, cutoff=float(rng.uniform(0, 1)), preserve_tone=True)
    if colour_cast and rng.random() < 0.3:
        # A phone photo of a film: the camera's 4:3 or 16:9 frame around it, light box or dark room.
        ratio = float(rng.choice([4 / 3, 16 / 9]))
        w, h = img.size
        frame = (round(max(w, h * ratio)), h) if rng.random() < 0.5 else (w, round(max(h, w * ratio)))
        fill = int(rng.integers(0, 40)) if rng.random() < 0.5 else int(rng.integers(200, 256))
        canvas = Image.new(img.mode, frame, fill if img.mode == "L" else (fill, fill, fill))
        canvas.paste(img, ((frame[0] - w) // 2, (frame[1] - h) // 2))
        img = canvas
    return jpeg_roundtrip(img, int(rng.integers(50, 96)))
