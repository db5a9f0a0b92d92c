"""Evaluation: multi-class confusion matrix, per-class precision / recall / F1, macro-F1, accuracy, plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """[true, predicted] counts."""
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def report(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support, plus the confusion matrix."""
    k = len(labels)
    cm = confusion_matrix(y, pred, k)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for c, name in enumerate(labels):
        tp = float(cm[c, c])
        predicted = float(cm[:, c].sum())
        actual = float(cm[c, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[name] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(actual),
        }
    return {
        "n": len(y),
        "accuracy": round(float(np.mean(y == pred)) if len(y) else 0.0, 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(labels), "rows_true_cols_predicted": cm.tolist()},
    }


def plot_confusion(path: Path, cm: np.ndarray, labels: Sequence[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(labels)
    size = 2.2 + 0.55 * k
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=80)
    rows = cm.sum(axis=1, keepdims=True)
    share = cm / np.maximum(rows, 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    short = [name.replace("_", " ") for name in labels]
    ax.set_xticks(range(k), short, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), short, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (the rank statistic; ties share their mean rank)."""
    score, positive = np.asarray(score, np.float64), np.asarray(positive, bool)
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if not n1 or not n0:
        return float("nan")
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(score):  # mean rank for ties
        tied = score == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _binary(truth: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(predicted & truth))
    tn = float(np.sum(~predicted & ~truth))
    return {
        "n": len(truth),
        "accuracy": round(float(np.mean(predicted == truth)), 4),
        "sensitivity": round(tp / max(1.0, float(truth.sum())), 4),
        "specificity": round(tn / max(1.0, float((~truth).sum())), 4),
        "auc": round(auc(score, truth), 4),
    }


def pneumonia_binary(y: np.ndarray, probabilities: np.ndarray) -> dict[str, dict[str, float]]:
    """Kermany et al.'s two binary tasks from the 3-class answer (labels normal, bacterial, viral):
    pneumonia vs normal (score 1 − P(normal)) and, on the pneumonia films, viral vs bacterial."""
    p = np.asarray(probabilities, np.float64)
    pred = p.argmax(1)
    sick = y != 0
    pneumonia = _binary(sick, pred != 0, 1 - p[:, 0])
    ps, ys = p[sick], y[sick]
    viral_score = ps[:, 2] / np.maximum(ps[:, 1] + ps[:, 2], 1e-12)
    viral = _binary(ys == 2, viral_score >= 0.5, viral_score)
    return {"pneumonia_vs_normal": pneumonia, "viral_vs_bacterial": viral}
