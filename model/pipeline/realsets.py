"""A built package judged on the real images of ``shared/data``, through the serving code.

Every image goes through what a prediction does (``xiaofei.inference.reading.read_image``: decode →
preprocess → the ONNX session → calibration → the input gate), so the figures are the product's, not the
training loop's. The model card prints them and ``tests/test_real_data.py`` holds the package to them;
both skip where the data is absent. ``photo`` sets are phone photos of the films simulated by
``modalities.photo_of_film``.

Which folder is what (see ``shared/data/README.md``): ``kermany-native`` (films of the training
hospital at native size), ``cxr-other/frontal`` and ``/lateral`` (adults, other hospitals: for testing
only), ``not-chest`` (other modalities and body parts; the share ``kind.held_out`` marks was never
used to fit), ``skin-photos`` (clinical skin photos: for the skin gate only).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xiaofei.errors import ImageError
from xiaofei.inference.onnx_model import OnnxModel
from xiaofei.inference.reading import read_image

from .data import IMAGE_SUFFIXES

SUFFIXES = (*IMAGE_SUFFIXES, ".dcm")
# The research sets hold films larger than an upload may be: the decoder's limits are raised, nothing else.
MAX_BYTES = 1 << 30
MAX_PIXELS = 200_000_000


def shared_data() -> Path | None:
    """``shared/data`` beside the checkout (or ``XIAOFEI_SHARED_DATA``); None where it is absent."""
    env = os.environ.get("XIAOFEI_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return root if (root / "README.md").is_file() else None


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


@dataclass
class Reading:
    path: str
    outcome: str  # "ok", a refusal reason, or an error code (the file could not be read)
    label: str | None
    probabilities: np.ndarray | None
    warnings: list[str] = field(default_factory=list)


def read(model: OnnxModel, data: bytes, name: str = "") -> Reading:
    """One upload read as serving reads it (``xiaofei.inference.reading.read_image``, without the heatmap)."""
    try:
        reading = read_image(model, data, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    except ImageError as exc:
        return Reading(name, exc.code, None, None)
    report = reading.report
    label = model.manifest.labels[reading.result.top].id
    return Reading(
        name,
        "ok" if report.ok else str(report.reason),
        label,
        reading.result.probabilities,
        [w["code"] for w in report.warnings],
    )


def read_files(model: OnnxModel, paths: Iterable[Path]) -> list[Reading]:
    return [read(model, p.read_bytes(), str(p)) for p in paths]


def summary(readings: list[Reading], expected: str | None = None) -> dict[str, Any]:
    """Acceptance, the reasons given and (``expected``: the right refusal) how often it was right."""
    n = len(readings)
    outcomes = Counter(r.outcome for r in readings)
    out: dict[str, Any] = {
        "n": n,
        "accepted": round(outcomes.get("ok", 0) / n, 4) if n else None,
        "outcomes": dict(sorted(outcomes.items())),
    }
    if expected is not None and n:
        out["right_reason"] = round(outcomes.get(expected, 0) / n, 4)
    warned = Counter(w for r in readings if r.outcome == "ok" for w in r.warnings)
    if warned:
        out["warnings_when_accepted"] = dict(sorted(warned.items()))
    return out


def photos_of(paths: list[Path], seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """JPEG phone photos of ``count`` of the films (``modalities.photo_of_film``), with their names."""
    import io

    from .modalities import photo_of_film
    from .sources import load_file

    rng = np.random.default_rng([seed, 77])
    for i in rng.permutation(len(paths))[:count]:
        image = photo_of_film(load_file(paths[int(i)]), np.random.default_rng([seed, 78, int(i)]))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        yield f"photo of {paths[int(i)].name}", buf.getvalue()


NOT_CHEST_KINDS = ("ct", "mri", "ultrasound", "mammogram", "pelvis_xray")


def _native_pairs(root: Path) -> list[tuple[Path, Path]]:
    """(native film, its stored 224×224 copy) for every ``kermany-native`` film."""
    pairs = []
    for native in images(root / "kermany-native"):
        stored = root / "kermany224" / native.relative_to(root / "kermany-native")
        if stored.is_file():
            pairs.append((native, stored))
    return pairs


def native_agreement(model: OnnxModel, root: Path) -> dict[str, Any]:
    """Does a native-resolution film get the answer its stored 224 copy gets?"""
    pairs = _native_pairs(root)
    same, gaps, both_ok = 0, [], 0
    for native, stored in pairs:
        a, b = read(model, native.read_bytes()), read(model, stored.read_bytes())
        if a.probabilities is None or b.probabilities is None:
            continue
        same += a.label == b.label
        both_ok += a.outcome == b.outcome == "ok"
        gaps.append(float(np.abs(a.probabilities - b.probabilities).max()))
    n = len(gaps)
    return {
        "n": n,
        "same_label": round(same / n, 4) if n else None,
        "both_accepted": round(both_ok / n, 4) if n else None,
        "max_probability_gap_median": round(float(np.median(gaps)), 4) if n else None,
        "max_probability_gap_p95": round(float(np.quantile(gaps, 0.95)), 4) if n else None,
    }


def cam_on_lungs(model: OnnxModel, root: Path) -> dict[str, Any]:
    """Where the CAM falls on ``kermany-native`` films: its share on the lung fields against their area.

    Without lung masks, the lung fields are approximated as the darker half of the smoothed film inside
    the thorax box (the lungs are the dark parts of a chest film; bones, heart and the belly are bright).
    A ratio above 1 means the heat sits on the lungs more than an even spread would."""
    from PIL import Image, ImageFilter

    spec = model.manifest.input
    shares, areas, peaks = [], [], 0
    for native, _ in _native_pairs(root):
        reading = read_image(model, native.read_bytes(), max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        cam = model.cam(reading.raw.features, reading.result.top)
        film = reading.image.convert("L").resize((spec.width, spec.height), Image.Resampling.BILINEAR)
        smooth = np.asarray(film.filter(ImageFilter.GaussianBlur(spec.width / 40)), np.float32)
        h, w = smooth.shape
        box = np.zeros_like(smooth, dtype=bool)
        box[int(0.08 * h) : int(0.88 * h), int(0.08 * w) : int(0.92 * w)] = True
        lungs = box & (smooth < np.median(smooth[box]))
        heat = np.asarray(Image.fromarray(cam).resize((w, h), Image.Resampling.BILINEAR), np.float32)
        if heat.sum() <= 0:
            continue
        shares.append(float(heat[lungs].sum() / heat.sum()))
        areas.append(float(lungs.mean()))
        peaks += bool(lungs.ravel()[int(np.argmax(heat))])
    n = len(shares)
    return {
        "n": n,
        "heat_share_on_lungs_median": round(float(np.median(shares)), 4) if n else None,
        "lung_area_share_median": round(float(np.median(areas)), 4) if n else None,
        "ratio_median": round(float(np.median(np.divide(shares, areas))), 3) if n else None,
        "peak_on_lungs": round(peaks / n, 4) if n else None,
    }


def chest_report(model: OnnxModel, root: Path, test_files: list[Path], seed: int = 0) -> dict[str, Any]:
    """Every chest figure of the model card, on shared/data (see the module docstring)."""
    refusal = model.manifest.quality.get("refusal", "not_a_radiograph")
    frontal = images(root / "cxr-other" / "frontal")
    report: dict[str, Any] = {
        "kermany_test": summary(read_files(model, test_files)),
        "kermany_native": summary(read_files(model, images(root / "kermany-native"))),
        "native_vs_224": native_agreement(model, root),
        "cxr_other_frontal": summary(read_files(model, frontal)),
        "cxr_other_lateral": summary(read_files(model, images(root / "cxr-other" / "lateral")), refusal),
        "photos_of_kermany_test_films": summary(
            [read(model, data, name) for name, data in photos_of(test_files, seed, 60)]
        ),
        "photos_of_cxr_other_frontal": summary(
            [read(model, data, name) for name, data in photos_of(frontal, seed, 40)]
        ),
        "cam_on_lungs_kermany_native": cam_on_lungs(model, root),
    }
    from .kind import held_out

    for kind in NOT_CHEST_KINDS:
        files = images(root / "not-chest" / kind)
        report[f"not_chest_{kind}"] = {
            "held_out": summary(read_files(model, [p for p in files if held_out(p)]), refusal),
            "fitted": summary(read_files(model, [p for p in files if not held_out(p)]), refusal),
        }
    return report


def skin_report(model: OnnxModel, root: Path) -> dict[str, Any]:
    """The skin gate on real images: clinical skin photos (the held-out share) and images of other kinds."""
    from .kind import held_out

    refusal = model.manifest.quality.get("refusal", "not_skin")
    photos = images(root / "skin-photos")
    others = images(root / "not-chest") + images(root / "cxr-other")
    return {
        "skin_photos_held_out": summary(read_files(model, [p for p in photos if held_out(p)])),
        "skin_photos_fitted": summary(read_files(model, [p for p in photos if not held_out(p)])),
        "other_kinds_held_out": summary(read_files(model, [p for p in others if held_out(p)]), refusal),
    }
