"""Calibration: temperature scaling, expected calibration error, and the "uncertain" threshold.

- ``fit_temperature``: the T minimising the negative log-likelihood of softmax(logits / T) on the
  validation split (Guo et al. 2017). NLL is convex in 1/T, so a golden-section search is exact enough.
- ``ece``: expected calibration error with equal-width confidence bins (15 by default).
- ``pick_threshold``: the lowest confidence at which the answers the model keeps (confidence ≥ t)
  reach the target accuracy on validation; below it an answer is flagged ``uncertain``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from xiaofei.lifecycle.metrics import expected_calibration_error

T_MIN, T_MAX = 0.05, 20.0


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(logits: np.ndarray, y: np.ndarray, iterations: int = 80) -> float:
    """Golden-section search for the NLL-minimising temperature over [T_MIN, T_MAX] (in 1/T)."""
    lo, hi = 1.0 / T_MAX, 1.0 / T_MIN
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, y, 1 / a), nll(logits, y, 1 / b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, y, 1 / a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, y, 1 / b)
    return float(np.clip(2.0 / (lo + hi), T_MIN, T_MAX))


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of ``probs`` against labels ``y``: the same measure the registry's
    gate applies (``xiaofei.lifecycle.metrics``), so the model card and the gate cannot disagree."""
    return expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y, bins)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> list[dict[str, float]]:
    """Per-bin count, mean confidence and accuracy (the data behind a reliability diagram)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        out.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": int(mask.sum()),
                "confidence": float(conf[mask].mean()) if mask.any() else 0.0,
                "accuracy": float(correct[mask].mean()) if mask.any() else 0.0,
            }
        )
    return out


def pick_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float = 0.95, min_kept: int = 20
) -> dict[str, float]:
    """The lowest confidence t such that the answers with confidence ≥ t are ≥ ``target`` accurate.

    Scans answers from the most confident down and keeps the largest such set of at least ``min_kept``
    answers (``min_kept`` guards against a threshold fitted on a handful of cases). When no set reaches
    the target, t is the highest confidence seen (nearly everything is flagged uncertain).
    """
    order = np.argsort(-confidence, kind="stable")
    conf = confidence[order]
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero((running >= target) & (np.arange(1, len(order) + 1) >= min(min_kept, len(order))))[0]
    if len(ok) == 0:
        threshold = float(conf[0]) if len(conf) else 1.0
        kept: NDArray[np.bool_] = np.zeros(len(conf), bool)
    else:
        n = int(ok[-1]) + 1
        threshold = float(conf[n - 1])
        kept = confidence >= threshold
    return {
        "threshold": threshold,
        "target_accuracy": target,
        "coverage": float(kept.mean()) if len(kept) else 0.0,
        "accuracy_kept": float(correct[kept].mean()) if kept.any() else 0.0,
    }


def coverage_at(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, float]:
    kept = confidence >= threshold
    return {
        "coverage": float(kept.mean()) if len(kept) else 0.0,
        "accuracy_kept": float(correct[kept].mean()) if kept.any() else 0.0,
    }


def plot_reliability(path: Path, before: np.ndarray, after: np.ndarray, y: np.ndarray, title: str) -> None:
    """Reliability diagram (accuracy vs confidence per bin), before and after temperature scaling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=80, sharey=True)
    for ax, probs, name in ((axes[0], before, "before"), (axes[1], after, "after")):
        bins = reliability(probs, y)
        centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
        accs = [b["accuracy"] if b["count"] else 0 for b in bins]
        ax.bar(centres, accs, width=1 / len(bins), edgecolor="black", color="#6baed6", label="accuracy")
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        ax.set_title(f"{name} scaling, ECE {ece(probs, y):.3f}")
        ax.set_xlabel("confidence")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
