"""Images as data: named, seeded jobs rendered (in parallel), and turned into model input + statistics.

A *job* ``(family, kind, seed)`` names one image completely, so the same job always gives the same
pixels in any process and any order. ``encode`` turns images into what training and the gate need:
the model-input pixels (exactly
``xiaofei.inference.preprocess.preprocess``, the serving code, kept as uint8 before
the linear normalisation) and the gate's cheap statistics (``xiaofei.inference.input_gate.image_stats``).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from xiaofei.imaging import image_io
from xiaofei.inference.input_gate import image_stats
from xiaofei.inference.manifest import InputSpec
from xiaofei.inference.preprocess import preprocess

from .modalities import burn_in, hemithorax, make_modality, photo_of_film
from .nontarget import bad_exposure, capture_variant, make_bad_capture, make_non_target
from .synthetic import make_chest_xray, make_skin

Job = tuple[str, str, tuple[int, ...]]  # (family, kind or label, seed entropy)

# Real photographs shipped inside the scikit-image wheel (no download): a held-out set of natural images.
REAL_PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "color.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "logo.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)


def real_photo_dir() -> Path | None:
    """scikit-image's bundled sample folder, found without importing scikit-image; None if absent."""
    try:
        spec = importlib.util.find_spec("skimage")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return folder if all((folder / name).is_file() for name in REAL_PHOTOS) else None


def _real_photo(name: str, rng: np.random.Generator) -> Image.Image:
    folder = real_photo_dir()
    if folder is None:
        raise FileNotFoundError("scikit-image's sample images are not installed")
    with Image.open(folder / name) as im:
        im.load()
        img = image_io.normalize_mode(im).copy()
    # A random crop of at least 60% of each side: several distinct views of one photo.
    w, h = img.size
    cw, ch = round(w * rng.uniform(0.6, 1.0)), round(h * rng.uniform(0.6, 1.0))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img.crop((x0, y0, x0 + cw, y0 + ch))


def render(job: Job) -> Image.Image:
    """The image a job names (see the module docstring)."""
    family, kind, seed = job
    rng = np.random.default_rng(list(seed))
    if family == "chest":
        return make_chest_xray(kind, rng)
    if family == "skin":
        return make_skin(kind, rng)
    if family == "non_target":
        return make_non_target(kind, rng)
    if family in ("bad", "poor"):  # severe (measuring the gate) or moderate (fitting it)
        return make_bad_capture(kind, rng, severe=family == "bad")
    if family == "chest_variant":
        return capture_variant(make_chest_xray(kind, rng), rng, colour_cast=True)
    if family == "skin_variant":
        return capture_variant(make_skin(kind, rng), rng, colour_cast=False)
    if family == "photo":
        return _real_photo(kind, rng)
    if family == "file":
        return load_file(Path(kind))
    if family == "modality":
        return make_modality(kind, rng)
    if family == "film_photo":
        return photo_of_film(load_file(Path(kind)), rng)
    if family == "film_burn":
        return burn_in(load_file(Path(kind)), rng)
    if family == "hemithorax":
        return hemithorax(load_file(Path(kind)), rng)
    if family in ("file_variant", "file_variant_cast"):
        return capture_variant(load_file(Path(kind)), rng, colour_cast=family.endswith("_cast"))
    if family in ("file_bad", "file_poor"):
        fault, _, path = kind.partition("|")
        return bad_exposure(load_file(Path(path)), fault, rng, severe=family == "file_bad")
    raise ValueError(f"unknown image family {family!r}")


def load_file(path: Path) -> Image.Image:
    """An image file decoded exactly as the service decodes an upload (format, mode, EXIF, draft)."""
    return image_io.decode(path.read_bytes(), max_bytes=1 << 30, max_pixels=200_000_000, min_side=512).image


def pixel_spec(spec: InputSpec) -> InputSpec:
    """The same geometry with an identity normalisation: ``preprocess`` then returns pixel values."""
    return InputSpec(
        spec.name,
        spec.height,
        spec.width,
        spec.channels,
        spec.resize,
        1.0,
        (0.0,) * spec.channels,
        (1.0,) * spec.channels,
        spec.background,
    )


def to_pixels(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """Model-input pixels [C, H, W] uint8, by the serving code (resize policy, padding)."""
    batch, _box = preprocess(image, pixel_spec(spec))
    return np.clip(np.rint(batch[0]), 0, 255).astype(np.uint8)


def normalise(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 pixels [N, C, H, W] → the model's float input: (pixel / scale − mean) / std per channel."""
    mean = np.asarray(spec.mean, np.float32)[None, :, None, None]
    std = np.asarray(spec.std, np.float32)[None, :, None, None]
    return (pixels.astype(np.float32) / np.float32(spec.scale) - mean) / std


@dataclass
class Encoded:
    """A set of images as model-input pixels and gate statistics (labels: index, −1 for none)."""

    x: np.ndarray  # uint8 [N, C, H, W]
    y: np.ndarray  # int64 [N]
    kinds: list[str] = field(default_factory=list)
    stats: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: Sequence[int] | np.ndarray) -> Encoded:
        idx = np.asarray(index, dtype=np.int64)
        return Encoded(self.x[idx], self.y[idx], [self.kinds[i] for i in idx], [self.stats[i] for i in idx])

    @staticmethod
    def concat(parts: Sequence[Encoded]) -> Encoded:
        return Encoded(
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            [k for p in parts for k in p.kinds],
            [s for p in parts for s in p.stats],
        )


def _encode_one(args: tuple[Job, InputSpec]) -> tuple[np.ndarray, dict[str, float]]:
    job, spec = args
    image = render(job)
    return to_pixels(image, spec), image_stats(image)


def encode_jobs(
    jobs: Sequence[Job],
    labels: Sequence[int],
    spec: InputSpec,
    *,
    processes: int = 1,
    progress: Callable[
        [Iterable[tuple[np.ndarray, dict[str, float]]], int], Iterable[tuple[np.ndarray, dict[str, float]]]
    ]
    | None = None,
) -> Encoded:
    """Render and encode jobs, in ``processes`` worker processes (order and pixels do not depend on it)."""
    args = [(job, spec) for job in jobs]
    if processes > 1 and len(jobs) > 8:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = list(_wrap(pool.imap(_encode_one, args, chunksize=8), len(args), progress))
    else:
        results = list(_wrap(map(_encode_one, args), len(args), progress))
    x = (
        np.stack([r[0] for r in results])
        if results
        else np.zeros((0, spec.channels, spec.height, spec.width), np.uint8)
    )
    return Encoded(x, np.asarray(labels, np.int64), [f"{j[0]}:{j[1]}" for j in jobs], [r[1] for r in results])


def encode_images(
    images: Iterable[Image.Image], labels: Sequence[int], kinds: Sequence[str], spec: InputSpec
) -> Encoded:
    """Encode images already in memory (or read lazily from disk by the iterable)."""
    xs, stats = [], []
    for image in images:
        xs.append(to_pixels(image, spec))
        stats.append(image_stats(image))
    x = np.stack(xs) if xs else np.zeros((0, spec.channels, spec.height, spec.width), np.uint8)
    return Encoded(x, np.asarray(labels, np.int64), list(kinds), stats)


def _wrap(
    it: Iterable[tuple[np.ndarray, dict[str, float]]],
    total: int,
    progress: Callable[
        [Iterable[tuple[np.ndarray, dict[str, float]]], int], Iterable[tuple[np.ndarray, dict[str, float]]]
    ]
    | None,
) -> Iterable[tuple[np.ndarray, dict[str, float]]]:
    return progress(it, total) if progress else it
