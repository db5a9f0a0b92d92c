"""The input gate: is this the kind of image the model reads, and is it readable? Before any diagnosis.

``assess(image, pooled_features, logits, manifest)`` combines cheap image statistics (``image_stats``:
size, brightness, contrast, colour saturation, skin-coloured fraction, edge density, histogram entropy)
with two scores from the model itself: the Mahalanobis distance of the pooled last-conv features to the
nearest class mean (shared covariance), and the energy of the logits. Every threshold and every fitted
statistic comes from the manifest's ``quality`` object, which the pipeline (``model/pipeline/input_gate.py``)
fits on the training distribution; nothing here is tuned by hand.

The checks run in this order and the first failure is the reason:

1. ``blank``             contrast below ``blank_contrast`` (a uniform frame of any colour);
2. ``too_small``         shorter side below ``min_side``;
3. the refusal (below) when a colour statistic is *above* its range: exposure faults drain colour, they
   never add it, so a colour photo is not a radiograph however it is exposed;
4. washed out: contrast below ``exposure.washed_out_contrast`` → ``too_dark`` / ``too_bright`` when the
   brightness is outside ``exposure.brightness``, else ``low_contrast``; or more nearly black pixels than
   ``exposure.dark_fraction_max`` → ``too_dark``: nothing can be judged in such an image, not even its kind;
5. the refusal when a statistic is *above* its range in ``kind_ranges`` (more edges, colour or detail
   than the kind has: no exposure fault adds them);
6. for kinds told by colour (``EXPOSURE_DRAINS_KIND``: skin), ``too_dark`` / ``too_bright`` when the
   brightness is outside ``exposure.brightness``: bad exposure drains colour, detail and entropy and
   moves the model's features, so it explains whatever else is missing, and it is what the user can fix;
7. ``not_a_radiograph`` / ``not_skin`` (``refusal``): a statistic below its range, or a model score above
   its threshold (the features are unlike those of any image of the kind);
8. ``too_dark`` / ``too_bright``: brightness outside ``exposure.brightness`` (radiographs);
9. ``low_contrast``      contrast below ``exposure.contrast_min``.

With a *kind model* (``quality.kind_model``: a small network in the same ONNX graph, output
``manifest.kind_output``, trained by ``model/pipeline/kind.py`` on images of the kind against images of
other kinds) the kind is its decision instead: after checks 1–4, a colour statistic below its range is
the refusal; for skin (told by colour, which bad light drains) the exposure comes next; then P(kind)
below ``kind_model.threshold`` is the refusal; then ``too_dark`` (dark fraction), the exposure and the
contrast. The diagnostic model's Mahalanobis and energy scores no longer refuse: beyond their warn levels
they add the warning ``outside_training_data`` (the image is of the right kind but far from the training
population, e.g. an adult's film for a model trained on children; its text comes from
``kind_model.population_warning``). It is a distance on the diagnostic features, not a trained detector
of age or machine: it catches some such films, not all.

So a black or white film is ``too_dark`` / ``too_bright`` and so is a dim or overexposed skin photo,
while a white page of text or a screenshot, which keeps its contrast, is ``not_a_radiograph``.
The colour statistics are ratios (chroma / value, rg chromaticity), which do not change with a gain in
exposure (clipping and washing out still drain them). Non-blocking warnings (``low_resolution``,
``unusual_image``, ``colour_cast``, and for radiographs ``rotated``: see ``tilt.py``) are listed whatever
the outcome.
Schema of ``manifest.quality`` (version 1)::

    {version: 1, kind: "radiograph"|"skin", refusal: "not_a_radiograph"|"not_skin",
     blank_contrast, min_side, kind_ranges: {stat: [lo, hi]},
     exposure: {brightness: [lo, hi], contrast_min, washed_out_contrast, dark_fraction_max},
     mahalanobis: {means: [[C]] per label, precision: [[C]] (C×C), threshold, warn},
     energy: {threshold, warn}, warn: {min_side, saturation_max|null}, fit: {...how it was fitted},
     kind_model?: {output, threshold, population_warning?: {en, zh}, fit: {...}}}

numpy and Pillow only: this module runs in the serving function.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from xiaofei.errors import ManifestError
from xiaofei.imaging.tilt import tilt_degrees
from xiaofei.inference.manifest import Manifest

QUALITY_VERSION = 1
REASONS = ("blank", "too_small", "not_a_radiograph", "not_skin", "too_dark", "too_bright", "low_contrast")
# Statistics are measured on a copy whose longer side is at most this many pixels (cheap).
STATS_SIDE = 256
# A pixel is an edge when its horizontal plus vertical luminance step exceeds this (0..255 units).
EDGE_STEP = 24.0
# Colour statistics ignore nearly black pixels (their hue is noise).
MIN_LIT = 16.0
# The skin locus in normalised rgb chromaticity (r = R / (R+G+B), g = G / (R+G+B)), all skin tones.
SKIN_R = (0.36, 0.62)
SKIN_G = (0.24, 0.37)
# Exposure faults drain colour and never add it: too much colour is decided before the exposure checks.
COLOUR_STATS = ("saturation", "skin_fraction")
# A film turned by this much is worth a warning (the estimate moves in steps of 2°; see tilt.py).
TILT_WARN_DEGREES = 6.0
# Kinds told by colour, which bad exposure drains (with detail, entropy and the model's features): for
# them a brightness outside the range explains whatever else is missing, and "too dark" is what the user
# can fix. A radiograph is told by its grey, its shape and its edges, which exposure does not create.
EXPOSURE_DRAINS_KIND = ("skin",)

MESSAGES: dict[str, dict[str, str]] = {
    "blank": {
        "en": "The image is blank: it shows no detail at all. Please send the actual picture.",
        "zh": "图片是空白的，看不到任何内容。请上传实际的图片。",
    },
    "too_small": {
        "en": "The image is too small to be read. Please send a larger, original-resolution image.",
        "zh": "图片太小，无法判读。请上传更大的原始分辨率图片。",
    },
    "not_a_radiograph": {
        "en": "This does not look like a frontal chest X-ray, so no result is given. Please send a chest "
        "radiograph (the digital image, or a straight, well-lit photo of the film).",
        "zh": "这张图片看起来不是正位胸部X光片，因此不给出结果。"
        "请上传胸片（数字图像，或正对胶片、光线均匀的照片）。",
    },
    "not_skin": {
        "en": "This does not look like a close-up photo of skin, so no result is given. Please send a sharp, "
        "well-lit close-up of the affected skin.",
        "zh": "这张图片看起来不是皮肤近照，因此不给出结果。请在光线充足处拍摄清晰的患处皮肤近照。",
    },
    "too_dark": {
        "en": "The image is too dark to be read. Please retake it with more light or a better exposure.",
        "zh": "图片太暗，无法判读。请在更亮的环境下或调整曝光后重新拍摄。",
    },
    "too_bright": {
        "en": "The image is too bright (overexposed) to be read. Please retake it with less light or glare.",
        "zh": "图片过亮（曝光过度），无法判读。请减少光线或反光后重新拍摄。",
    },
    "low_contrast": {
        "en": "The image has too little contrast to be read. Please send a clearer image.",
        "zh": "图片对比度太低，无法判读。请上传更清晰的图片。",
    },
}
WARNINGS: dict[str, dict[str, str]] = {
    "low_resolution": {
        "en": "The image has a low resolution; fine detail may be missed.",
        "zh": "图片分辨率较低，可能漏掉细微的表现。",
    },
    "unusual_image": {
        "en": "This image is unusual for this model; read the result with extra care.",
        "zh": "这张图片与模型见过的图片差别较大，请更谨慎地看待结果。",
    },
    "colour_cast": {
        "en": "The image has a colour cast (a photo of a film?); the original digital image reads better.",
        "zh": "图片有偏色（可能是翻拍的胶片），原始数字图像的判读效果更好。",
    },
    "rotated": {
        "en": "The film looks turned by several degrees; a straight film reads better.",
        "zh": "胶片看起来倾斜了几度，摆正后的图片判读效果更好。",
    },
    "outside_training_data": {
        "en": "This image is unlike the images the model was trained on; the model was not validated on "
        "such images. Read the result with extra care.",
        "zh": "这张图片与模型训练所用的图片差别较大，模型未在此类图片上验证过，请更谨慎地看待结果。",
    },
    "no_input_gate": {
        "en": "This model has no input check: it cannot tell whether the image is of the right kind.",
        "zh": "该模型没有输入检查，无法判断图片类型是否正确。",
    },
}


@dataclass(frozen=True)
class QualityReport:
    ok: bool
    reason: str | None  # one of REASONS, None when ok
    message: dict[str, str] | None  # {"en", "zh"} for the reason
    warnings: list[dict[str, str]] = field(default_factory=list)  # [{"code", "en", "zh"}], non-blocking
    scores: dict[str, float] = field(default_factory=dict)  # the statistics, for logs and transparency


# --- cheap statistics -------------------------------------------------------------------------------


def _small(image: Image.Image) -> Image.Image:
    """A box-reduced copy, longer side in (STATS_SIDE / 2, STATS_SIDE]: one cheap integer reduction."""
    factor = -(-max(image.size) // STATS_SIDE)
    return image.reduce(factor) if factor > 1 else image


def image_stats(image: Image.Image) -> dict[str, float]:
    """Cheap statistics of a decoded "L" or "RGB" image (about a millisecond for a megapixel)."""
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    w, h = image.size
    small = _small(image)
    a = np.asarray(small, dtype=np.float32)
    if a.ndim == 3:
        # Channel planes, not reductions over the last axis of 3: many times faster in numpy.
        r, g, b = (np.ascontiguousarray(a[..., i]) for i in range(3))
        lum = 0.299 * r + 0.587 * g + 0.114 * b
        top = np.maximum(np.maximum(r, g), b)
        lit = top >= MIN_LIT
        # Both colour statistics are ratios, so they do not change when the exposure does.
        chroma = (top - np.minimum(np.minimum(r, g), b)) / np.maximum(top, 1.0)
        saturation = float(chroma[lit].mean()) if lit.any() else 0.0
        total = np.maximum(r + g + b, 1.0)
        rr, gg = r / total, g / total
        skin = lit & (rr >= SKIN_R[0]) & (rr <= SKIN_R[1]) & (gg >= SKIN_G[0]) & (gg <= SKIN_G[1])
        skin_fraction = float(skin.sum() / max(1, int(lit.sum())))
    else:
        lum = a
        saturation = 0.0
        skin_fraction = 0.0
    if min(lum.shape) > 1:
        step = np.abs(np.diff(lum, axis=1))[:-1, :] + np.abs(np.diff(lum, axis=0))[:, :-1]
        edge_density = float(np.mean(step > EDGE_STEP))
    else:
        edge_density = 0.0
    hist = np.bincount(np.clip(lum, 0, 255).astype(np.int64).ravel() // 4, minlength=64).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return {
        "width": float(w),
        "height": float(h),
        "min_side": float(min(w, h)),
        "aspect": float(max(w, h) / max(1, min(w, h))),
        "brightness": float(lum.mean()),
        "contrast": float(lum.std()),
        "dark_fraction": float(np.mean(lum < 16)),
        "bright_fraction": float(np.mean(lum > 239)),
        "saturation": saturation,
        "skin_fraction": skin_fraction,
        "edge_density": edge_density,
        "entropy": float(-(p * np.log2(p)).sum()),
    }


# --- model scores -----------------------------------------------------------------------------------


def energy(logits: NDArray[Any]) -> float:
    """Free energy −log Σ exp(logit): low for inputs like the training data, high for others."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    top = float(z.max())
    return -(top + float(np.log(np.exp(z - top).sum())))


def mahalanobis(pooled: NDArray[Any], means: NDArray[Any], precision: NDArray[Any]) -> float:
    """Squared Mahalanobis distance to the nearest class mean, with a shared precision matrix."""
    diff = np.asarray(pooled, dtype=np.float64).ravel()[None, :] - means
    return float(np.min(np.einsum("kc,cd,kd->k", diff, precision, diff)))


# --- the manifest's quality object ------------------------------------------------------------------


@dataclass(frozen=True)
class GateConfig:
    kind: str
    refusal: str
    blank_contrast: float
    min_side: float
    kind_ranges: dict[str, tuple[float, float]]
    brightness: tuple[float, float]
    contrast_min: float
    washed_out_contrast: float
    dark_fraction_max: float
    means: NDArray[Any] | None
    precision: NDArray[Any] | None
    mahalanobis_threshold: float
    mahalanobis_warn: float
    energy_threshold: float | None
    energy_warn: float | None
    warn_min_side: float
    warn_saturation: float | None
    kind_threshold: float | None = None  # the kind model's least P(target), when the model has one
    population_message: dict[str, str] | None = None  # the "outside_training_data" text for this model


def _bad(path: str) -> ManifestError:
    return ManifestError(
        f"manifest field 'quality.{path}' is missing or malformed",
        f"模型清单字段 'quality.{path}' 缺失或格式错误",
        details={"field": f"quality.{path}"},
    )


def _num(node: dict[str, Any], key: str, path: str) -> float:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise _bad(path)
    return float(value)


def _pair(value: Any, path: str) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or value[0] > value[1]
    ):
        raise _bad(path)
    return float(value[0]), float(value[1])


def _matrix(value: Any, path: str, rows: int | None, cols: int) -> NDArray[Any]:
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _bad(path) from exc
    if (
        m.ndim != 2
        or m.shape[1] != cols
        or (rows is not None and m.shape[0] != rows)
        or not np.isfinite(m).all()
    ):
        raise _bad(path)
    return m


def parse_config(manifest: Manifest) -> GateConfig | None:
    """The manifest's ``quality`` object, validated; None when the model has no gate. Cached per version."""
    q = manifest.quality
    if not q:
        return None
    key = (manifest.name, manifest.version, manifest.sha256)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached[0] is q:
            _CACHE.move_to_end(key)
            return cached[1]
    config = _parse(q, manifest)
    with _LOCK:
        _CACHE[key] = (q, config)
        while len(_CACHE) > 16:
            _CACHE.popitem(last=False)
    return config


def _parse(q: dict[str, Any], manifest: Manifest) -> GateConfig:
    if q.get("version") != QUALITY_VERSION:
        raise _bad("version")
    kind, refusal = q.get("kind"), q.get("refusal")
    if not isinstance(kind, str) or refusal not in ("not_a_radiograph", "not_skin"):
        raise _bad("refusal")
    ranges_raw = q.get("kind_ranges", {})
    if not isinstance(ranges_raw, dict):
        raise _bad("kind_ranges")
    ranges = {str(k): _pair(v, f"kind_ranges.{k}") for k, v in ranges_raw.items()}
    exposure = q.get("exposure")
    warn = q.get("warn", {})
    if not isinstance(exposure, dict) or not isinstance(warn, dict):
        raise _bad("exposure")
    means = precision = None
    m_threshold = m_warn = float("inf")
    maha = q.get("mahalanobis")
    if maha is not None:
        if not isinstance(maha, dict):
            raise _bad("mahalanobis")
        width = len(manifest.cam_weights[0])
        means = _matrix(maha.get("means"), "mahalanobis.means", len(manifest.labels), width)
        precision = _matrix(maha.get("precision"), "mahalanobis.precision", width, width)
        m_threshold = _num(maha, "threshold", "mahalanobis.threshold")
        m_warn = _num(maha, "warn", "mahalanobis.warn")
    e_threshold = e_warn = None
    en = q.get("energy")
    if en is not None:
        if not isinstance(en, dict):
            raise _bad("energy")
        e_threshold = _num(en, "threshold", "energy.threshold")
        e_warn = _num(en, "warn", "energy.warn")
    sat = warn.get("saturation_max")
    kind_threshold, population = _kind_model(q, manifest)
    return GateConfig(
        kind=kind,
        refusal=str(refusal),
        blank_contrast=_num(q, "blank_contrast", "blank_contrast"),
        min_side=_num(q, "min_side", "min_side"),
        kind_ranges=ranges,
        brightness=_pair(exposure.get("brightness"), "exposure.brightness"),
        contrast_min=_num(exposure, "contrast_min", "exposure.contrast_min"),
        washed_out_contrast=_num(exposure, "washed_out_contrast", "exposure.washed_out_contrast"),
        dark_fraction_max=_num(exposure, "dark_fraction_max", "exposure.dark_fraction_max"),
        means=means,
        precision=precision,
        mahalanobis_threshold=m_threshold,
        mahalanobis_warn=m_warn,
        energy_threshold=e_threshold,
        energy_warn=e_warn,
        warn_min_side=_num(warn, "min_side", "warn.min_side") if "min_side" in warn else 0.0,
        warn_saturation=None if sat is None else _num(warn, "saturation_max", "warn.saturation_max"),
        kind_threshold=kind_threshold,
        population_message=population,
    )


def _kind_model(q: dict[str, Any], manifest: Manifest) -> tuple[float | None, dict[str, str] | None]:
    node = q.get("kind_model")
    if node is None:
        return None, None
    if not isinstance(node, dict) or manifest.kind_output is None:
        raise _bad("kind_model")  # a kind threshold needs the graph's kind output
    threshold = _num(node, "threshold", "kind_model.threshold")
    if not 0.0 < threshold < 1.0:
        raise _bad("kind_model.threshold")
    message = node.get("population_warning")
    if message is not None and not (
        isinstance(message, dict) and all(isinstance(message.get(k), str) for k in ("en", "zh"))
    ):
        raise _bad("kind_model.population_warning")
    return threshold, message


_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple[str, str, str], tuple[dict[str, Any], GateConfig]] = OrderedDict()


def check_manifest(manifest: Manifest) -> None:
    """Raise ``ManifestError`` when the manifest's quality object is malformed (call at model load)."""
    parse_config(manifest)


# --- the decision -----------------------------------------------------------------------------------


def _warning(code: str) -> dict[str, str]:
    return {"code": code, **WARNINGS[code]}


def _refuse(reason: str, warnings: list[dict[str, str]], scores: dict[str, float]) -> QualityReport:
    return QualityReport(False, reason, dict(MESSAGES[reason]), warnings, scores)


def assess(
    image: Image.Image,
    pooled_features: NDArray[Any],
    logits: NDArray[Any],
    manifest: Manifest,
    kind_logits: NDArray[Any] | None = None,
) -> QualityReport:
    """Decide whether ``image`` may be read by the model of ``manifest`` (see the module docstring).

    ``image``: the decoded, upright "L"/"RGB" image before preprocessing; ``pooled_features``: the global
    average of the model's last feature map, shape [C]; ``logits``: shape [K]; ``kind_logits``: the kind
    model's (target, other), shape [2], for a model that has one.
    """
    stats = image_stats(image)
    config = parse_config(manifest)
    if config is not None and config.kind == "radiograph":  # skin photos have no upright
        stats["tilt_degrees"] = tilt_degrees(image)
    return decide(stats, pooled_features, logits, manifest, kind_logits)


def kind_probabilities(kind_logits: NDArray[Any]) -> NDArray[Any]:
    """P(target) per row of the kind model's (target, other) logits, [N, 2] (or [2]) → [N]. The pipeline
    fits the threshold on this same function."""
    z = np.asarray(kind_logits, dtype=np.float64).reshape(-1, 2)
    return np.asarray(1.0 / (1.0 + np.exp(np.clip(z[:, 1] - z[:, 0], -60, 60))))


def kind_probability(kind_logits: NDArray[Any]) -> float:
    """P(target) from one image's (target, other) logits."""
    return float(kind_probabilities(kind_logits)[0])


def decide(
    stats: dict[str, float],
    pooled_features: NDArray[Any],
    logits: NDArray[Any],
    manifest: Manifest,
    kind_logits: NDArray[Any] | None = None,
) -> QualityReport:
    """``assess`` for statistics already measured with ``image_stats`` (the pipeline evaluates with it)."""
    config = parse_config(manifest)
    if config is None:
        return QualityReport(True, None, None, [_warning("no_input_gate")], dict(stats))
    scores = dict(stats)
    if config.means is not None and config.precision is not None:
        scores["mahalanobis"] = mahalanobis(pooled_features, config.means, config.precision)
    if config.energy_threshold is not None:
        scores["energy"] = energy(logits)
    if config.kind_threshold is not None:
        if kind_logits is None:
            raise ManifestError("the model's kind output is missing", "模型缺少类型输出")
        scores["kind_p"] = kind_probability(kind_logits)
    warnings = _warnings(config, scores)
    reason = _reason(config, scores)
    if reason is not None:
        # "Unusual" adds nothing to a refusal for being of the wrong kind.
        kept = [
            w
            for w in warnings
            if not (reason == config.refusal and w["code"] in ("unusual_image", "outside_training_data"))
        ]
        return _refuse(reason, kept, scores)
    return QualityReport(True, None, None, warnings, scores)


def _reason(config: GateConfig, s: dict[str, float]) -> str | None:
    if s["contrast"] < config.blank_contrast:
        return "blank"
    if s["min_side"] < config.min_side:
        return "too_small"
    for name in COLOUR_STATS:
        if name in config.kind_ranges and s.get(name, 0.0) > config.kind_ranges[name][1]:
            return config.refusal
    lo, hi = config.brightness
    exposure = "too_dark" if s["brightness"] < lo else "too_bright" if s["brightness"] > hi else None
    if s["contrast"] < config.washed_out_contrast:
        return exposure or "low_contrast"
    if config.kind_threshold is not None:
        return _reason_with_kind_model(config, s, exposure)
    if s["dark_fraction"] > config.dark_fraction_max:
        return "too_dark"
    below = False
    for name, (low, high) in config.kind_ranges.items():
        value = s.get(name)
        if value is not None and value > high:
            return config.refusal  # more edges, colour or detail than the kind has: no exposure adds them
        below = below or (value is not None and value < low)
    if exposure and config.kind in EXPOSURE_DRAINS_KIND:
        return exposure
    if below or s.get("mahalanobis", 0.0) > config.mahalanobis_threshold:
        return config.refusal
    if config.energy_threshold is not None and s.get("energy", 0.0) > config.energy_threshold:
        return config.refusal
    if exposure:
        return exposure
    if s["contrast"] < config.contrast_min:
        return "low_contrast"
    return None


def _reason_with_kind_model(config: GateConfig, s: dict[str, float], exposure: str | None) -> str | None:
    """The kind model decides the kind (it was trained on poorly exposed images of the kind too), before
    the exposure checks: a mammogram's black frame is not a dark chest film. The diagnostic model's scores
    only say how far the image is from the training population (a warning, see ``_warnings``)."""
    if any(s.get(n, 0.0) < low for n, (low, _) in config.kind_ranges.items()):
        return config.refusal
    if exposure and config.kind in EXPOSURE_DRAINS_KIND:  # a badly lit photo loses the look of skin too
        return exposure
    if config.kind_threshold is not None and s["kind_p"] < config.kind_threshold:
        return config.refusal
    if s["dark_fraction"] > config.dark_fraction_max:
        return "too_dark"
    if exposure:
        return exposure
    if s["contrast"] < config.contrast_min:
        return "low_contrast"
    return None


def _outside_population(config: GateConfig, s: dict[str, float]) -> bool:
    """Beyond the thresholds fitted on the training population's own images (clean and re-captured)."""
    far = s.get("mahalanobis", 0.0) > config.mahalanobis_threshold
    return far or (config.energy_threshold is not None and s.get("energy", 0.0) > config.energy_threshold)


def _warnings(config: GateConfig, s: dict[str, float]) -> list[dict[str, str]]:
    out = []
    if s["min_side"] < config.warn_min_side:
        out.append(_warning("low_resolution"))
    unusual = s.get("mahalanobis", 0.0) > config.mahalanobis_warn or (
        config.energy_warn is not None and s.get("energy", 0.0) > config.energy_warn
    )
    if config.kind_threshold is not None and (unusual or _outside_population(config, s)):
        # The kind model decides the kind, so the diagnostic model's scores only say how far the image is
        # from the training films: from the warn level on (a few % of them), the population warning.
        out.append(
            {
                "code": "outside_training_data",
                **(config.population_message or WARNINGS["outside_training_data"]),
            }
        )
    elif unusual:
        out.append(_warning("unusual_image"))
    if config.warn_saturation is not None and s["saturation"] > config.warn_saturation:
        out.append(_warning("colour_cast"))
    if abs(s.get("tilt_degrees", 0.0)) >= TILT_WARN_DEGREES:
        out.append(_warning("rotated"))
    return out


__all__ = [
    "COLOUR_STATS",
    "MESSAGES",
    "REASONS",
    "WARNINGS",
    "GateConfig",
    "QualityReport",
    "assess",
    "check_manifest",
    "decide",
    "energy",
    "image_stats",
    "kind_probabilities",
    "kind_probability",
    "mahalanobis",
    "parse_config",
]
