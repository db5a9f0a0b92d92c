"""Fit the input gate (``manifest.quality``) on the training distribution, and measure it.

The fit sees only images of the model's own kind:

- *clean*: the training images;
- *wide*: the clean images plus harmless re-captures (rescaled, recompressed, photographed films with a
  colour cast, framed) and poorly (not hopelessly) exposed ones. The kind checks (statistic ranges,
  model scores) are fitted on this set, so a somewhat dark film is still "a radiograph";
- the brightness range is fitted on the clean images plus the re-captures, the lowest contrast on the
  wide set (the model is trained to read poor exposures); an image whose contrast is below
  ``washed_out_fraction`` of that is refused for its exposure before its kind is judged (a black frame
  cannot be recognised as anything).

Each range keeps the central ``quantile`` of its fit set, widened by ``margin`` of each end; the
model-score thresholds are the ``quantile`` plus ``score_margin``. ``POLICY`` holds these choices and is
written into the manifest next to the fitted numbers. Images of other kinds are used only to *measure*
the gate (held-out seeds, and real photos when scikit-image's samples are installed), never to fit it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from xiaofei.inference.input_gate import COLOUR_STATS, QUALITY_VERSION, decide, energy, mahalanobis
from xiaofei.inference.manifest import Manifest

POLICY = {
    "quantile": 0.995,
    "margin": 0.1,
    "score_margin": 0.1,
    "warn_quantile": 0.99,
    "blank_fraction": 0.05,
    "washed_out_fraction": 0.4,
    "dark_fraction_floor": 0.5,
    "min_side_fraction": 0.5,
    "shrinkage": 0.05,
}
KIND_STATS = {
    "radiograph": ("saturation", "aspect", "edge_density", "entropy"),
    "skin": ("saturation", "skin_fraction", "aspect", "edge_density", "entropy"),
}
# Natural bounds of each statistic: a fitted range is never widened past them.
_BOUNDS = {
    "saturation": (0.0, 1.0),
    "skin_fraction": (0.0, 1.0),
    "aspect": (1.0, 1e9),
    "edge_density": (0.0, 1.0),
    "entropy": (0.0, 6.0),
    "brightness": (0.0, 255.0),
    "contrast": (0.0, 255.0),
    "dark_fraction": (0.0, 1.0),
}


def _sig(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def fitted_range(values: Sequence[float], name: str, policy: dict[str, float] = POLICY) -> list[float]:
    """[lo, hi] keeping the central ``quantile`` of the values, each end moved out by ``margin`` of itself
    (all statistics are non-negative), and never past the statistic's natural bounds."""
    q = policy["quantile"]
    lo, hi = np.quantile(np.asarray(values, np.float64), [1 - q, q])
    low, high = _BOUNDS.get(name, (0.0, np.inf))
    return [_sig(max(low, lo * (1 - policy["margin"]))), _sig(min(high, hi * (1 + policy["margin"])))]


def fit_mahalanobis(
    pooled: np.ndarray, y: np.ndarray, k: int, shrinkage: float
) -> tuple[np.ndarray, np.ndarray]:
    """Class means and the shrunk shared precision matrix, rounded as they will be stored."""
    means = np.stack([pooled[y == c].mean(axis=0) for c in range(k)])
    centred = pooled - means[y]
    cov = centred.T @ centred / max(1, len(y) - k)
    c = cov.shape[0]
    cov = (1 - shrinkage) * cov + shrinkage * (np.trace(cov) / c) * np.eye(c)
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2
    round6 = np.vectorize(_sig)
    return round6(means), round6(precision)


def fit_quality(
    *,
    kind: str,
    refusal: str,
    input_size: tuple[int, int],
    clean_stats: list[dict[str, float]],
    recapture_stats: list[dict[str, float]],
    bad_stats: list[dict[str, float]],
    train_pooled: np.ndarray,
    train_y: np.ndarray,
    k: int,
    wide_pooled: np.ndarray,
    wide_logits: np.ndarray,
    clean_logits: np.ndarray,
    kind_model: dict[str, Any] | None = None,
    real_stats: list[dict[str, float]] | None = None,
    policy: dict[str, float] = POLICY,
) -> dict[str, Any]:
    """The manifest's ``quality`` object (schema in ``xiaofei/inference/input_gate.py``).

    With a kind model (``kind_model``: its output, threshold and fit report) the kind model decides the
    kind, so only the colour statistics keep a range (too much colour is never an exposure fault), and
    the diagnostic model's scores only warn that an image is far from the training population.

    ``real_stats``: real images of the kind (the kind model's fit share). They are a few among many drawn
    ones, so the central quantile would trim their tails: each colour range also covers their own range."""
    wide_stats = clean_stats + recapture_stats + bad_stats
    normal_stats = clean_stats + recapture_stats
    # Colour statistics on normal captures (a poor exposure drains colour: the gate checks exposure first);
    # the others on the wide set.
    kind_ranges = {
        name: fitted_range(
            [s[name] for s in (normal_stats if name in COLOUR_STATS else wide_stats)], name, policy
        )
        for name in KIND_STATS[kind]
        if kind_model is None or name in COLOUR_STATS
    }
    if kind_model is not None and real_stats:
        for name, (lo, hi) in kind_ranges.items():
            real_lo, real_hi = fitted_range([s[name] for s in real_stats], name, policy)
            kind_ranges[name] = [min(lo, real_lo), max(hi, real_hi)]
    brightness = fitted_range([s["brightness"] for s in normal_stats], "brightness", policy)
    # The lowest contrast: of the usable captures, poor exposures included, because the diagnostic model
    # is trained to read such films (train.py's bad-exposure share); refusing a film the model reads well
    # for its contrast alone refused real films of the training kind (3 of 838 of the own test split).
    contrast = fitted_range([s["contrast"] for s in wide_stats], "contrast", policy)
    means, precision = fit_mahalanobis(train_pooled, train_y, k, policy["shrinkage"])
    # Model scores: fitted on normal captures (clean + re-captured); poor exposures are out of scope.
    normal = slice(0, len(clean_stats) + len(recapture_stats))
    wide_d = np.array([mahalanobis(p, means, precision) for p in wide_pooled[normal]])
    clean_d = np.array([mahalanobis(p, means, precision) for p in train_pooled])
    wide_e = np.array([energy(z) for z in wide_logits[normal]])
    clean_e = np.array([energy(z) for z in clean_logits])
    q = policy["quantile"]
    lowest_contrast = float(np.quantile([s["contrast"] for s in wide_stats], 1 - q))
    saturation_warn = None
    if kind == "radiograph":  # films are gray: warn when a colour cast exceeds what the clean images show
        saturation_warn = _sig(float(np.max([s["saturation"] for s in clean_stats])) + 0.02)
    e_span = float(np.quantile(wide_e, q) - np.quantile(wide_e, 1 - q))
    fitted: dict[str, Any] = {
        "version": QUALITY_VERSION,
        "kind": kind,
        "refusal": refusal,
        "blank_contrast": _sig(policy["blank_fraction"] * lowest_contrast),
        "min_side": round(policy["min_side_fraction"] * min(input_size)),
        "kind_ranges": kind_ranges,
        "exposure": {
            "brightness": brightness,
            "contrast_min": contrast[0],
            "washed_out_contrast": _sig(policy["washed_out_fraction"] * contrast[0]),
            # At least half the frame nearly black is too dark, whatever the kind (skin photos have none).
            "dark_fraction_max": max(
                policy["dark_fraction_floor"],
                fitted_range([s["dark_fraction"] for s in normal_stats], "dark_fraction", policy)[1],
            ),
        },
        "mahalanobis": {
            "means": means.tolist(),
            "precision": precision.tolist(),
            "threshold": _sig(float(np.quantile(wide_d, q)) * (1 + policy["score_margin"])),
            "warn": _sig(float(np.quantile(clean_d, policy["warn_quantile"]))),
        },
        "energy": {
            "threshold": _sig(float(np.quantile(wide_e, q)) + policy["score_margin"] * e_span),
            "warn": _sig(float(np.quantile(clean_e, policy["warn_quantile"]))),
        },
        "warn": {"min_side": int(min(input_size)), "saturation_max": saturation_warn},
        "fit": {
            "policy": dict(policy),
            "clean": len(clean_stats),
            "recaptured": len(recapture_stats),
            "poorly_exposed": len(bad_stats),
            "note": "fitted on images of this model's kind only: training split, re-captures, poor exposures",
        },
    }
    if kind_model is not None:
        fitted["kind_model"] = kind_model
    return fitted


def outcomes(
    manifest: Manifest,
    stats: Sequence[dict[str, float]],
    pooled: np.ndarray,
    logits: np.ndarray,
    kind_logits: np.ndarray | None = None,
) -> list[str]:
    """The gate's verdict for each image: "ok" or the refusal reason."""
    kinds: Sequence[np.ndarray | None] = [None] * len(stats) if kind_logits is None else list(kind_logits)
    return [
        decide(s, p, z, manifest, k).reason or "ok"
        for s, p, z, k in zip(stats, pooled, logits, kinds, strict=True)
    ]


def summarise(verdicts: Sequence[str], expected: Sequence[str] | None = None) -> dict[str, Any]:
    """Acceptance (or rejection) rate, the reasons given and, when known, how often the reason was right."""
    n = len(verdicts)
    accepted = sum(v == "ok" for v in verdicts)
    out: dict[str, Any] = {
        "n": n,
        "accepted": round(accepted / n, 4) if n else 0.0,
        "rejected": round(1 - accepted / n, 4) if n else 0.0,
        "reasons": dict(sorted(Counter(v for v in verdicts if v != "ok").items())),
    }
    if expected is not None and n:
        out["right_reason"] = round(sum(v == e for v, e in zip(verdicts, expected, strict=True)) / n, 4)
    return out
