"""Classification metrics for the evaluation gate, in numpy: confusion matrix, accuracy, per-class
precision / recall / F1, macro-F1, expected calibration error."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

ECE_BINS = 15


def confusion_matrix(truth: NDArray[Any], predicted: NDArray[Any], classes: int) -> NDArray[Any]:
    """Rows: the true class; columns: the predicted one."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def expected_calibration_error(
    confidence: NDArray[Any], correct: NDArray[Any], bins: int = ECE_BINS
) -> float:
    """Σ_b (n_b / N) · |accuracy_b − mean confidence_b| over equal-width confidence bins."""
    if confidence.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(correct[mask].mean()) - float(confidence[mask].mean()))
    return float(total)


def ece_noise(
    confidence: NDArray[Any], bins: int = ECE_BINS, draws: int = 400, q: float = 95, seed: int = 0
) -> float:
    """The ECE a perfectly calibrated model with these confidences shows by chance on this many images:
    the ``q``-th percentile over ``draws`` simulated outcomes (correct with probability = confidence).
    A small golden set has a large one, so only the ECE beyond it is held against a model."""
    if confidence.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    draws_ece = [
        expected_calibration_error(confidence, rng.random(confidence.size) < confidence, bins)
        for _ in range(draws)
    ]
    return float(np.percentile(draws_ece, q))


def classification_metrics(
    truth: NDArray[Any], probabilities: NDArray[Any], labels: list[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support, confusion matrix and ECE."""
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(truth, predicted, len(labels))
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, label in enumerate(labels):
        tp = float(matrix[i, i])
        support = float(matrix[i].sum())
        predicted_i = float(matrix[:, i].sum())
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(support),
        }
        if support:
            f1s.append(f1)
    correct = predicted == truth
    return {
        "accuracy": round(float(correct.mean()), 4) if truth.size else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "ece": round(expected_calibration_error(probabilities.max(axis=1), correct), 4),
        "ece_noise95": round(ece_noise(probabilities.max(axis=1)), 4),
        "per_class": per_class,
        "confusion_matrix": {"labels": labels, "rows": matrix.tolist()},
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0
