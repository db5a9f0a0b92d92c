"""Training: class-weighted cross-entropy, augmentation, outlier exposure; seeded and deterministic.

Batches are augmented in torch from the cached model-input pixels (geometry, exposure, colour, noise),
then normalised exactly as serving does. With an outlier set (images that are not of the model's kind)
each step also pushes the model's softmax on a few of them towards uniform (outlier exposure,
Hendrycks et al. 2019), which separates the pooled features of such images from the training classes:
the input gate's Mahalanobis and energy scores rely on that.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xiaofei.inference.manifest import InputSpec

from .nets import CamNet
from .sources import Encoded

log = logging.getLogger("model.pipeline")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 2
    augment: str = "chest"  # "chest" | "skin": which augmentation recipe
    outlier_weight: float = 0.5  # weight of the outlier-exposure term (0: off)
    outlier_batch: int = 8
    bad_exposure_p: float = 0.1  # share of images given an extreme exposure (kept in their class)
    ema_decay: float = 0.0  # > 0: validate and keep an exponential moving average of the weights
    channels_last: bool = False  # NHWC tensors: the same math, ~25% faster convolutions on this CPU
    progress: bool | None = None  # None: only when stderr is a terminal


def set_determinism(seed: int, threads: int) -> None:
    """Same seed, same weights: fixed threads, seeded generators, deterministic kernels."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    torch.use_deterministic_algorithms(True)


def class_weights(y: np.ndarray, k: int) -> torch.Tensor:
    """Inverse class frequency, scaled so a balanced set gets weight 1 per class."""
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weights = len(y) / (k * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _geometry(x: torch.Tensor, gen: torch.Generator, recipe: str) -> torch.Tensor:
    n = x.shape[0]
    aspect = torch.ones(n)
    if recipe == "skin":
        angle = _uniform(n, -0.26, 0.26, gen) + torch.randint(0, 4, (n,), generator=gen) * (math.pi / 2)
        scale = _uniform(n, 0.85, 1.2, gen)
        shift = 0.08
        flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
        padding = "reflection"
    elif recipe == "chest_wide":  # the kind model: other hospitals' framing, tilt and proportions
        angle = _uniform(n, -0.2, 0.2, gen)
        scale = _uniform(n, 0.75, 1.3, gen)
        aspect = torch.exp(_uniform(n, -0.15, 0.15, gen))
        shift = 0.1
        flip = torch.ones(n)
        padding = "zeros"
    else:  # a film is never mirrored (the heart is on one side): small rotations, zoom and shifts only
        angle = _uniform(n, -0.09, 0.09, gen)
        scale = _uniform(n, 0.9, 1.1, gen)
        shift = 0.05
        flip = torch.ones(n)
        padding = "zeros"
    sx, sy = scale * aspect, scale / aspect
    tx, ty = _uniform(n, -shift, shift, gen), _uniform(n, -shift, shift, gen)
    row_x = torch.stack([torch.cos(angle) / sx * flip, -torch.sin(angle) / sy, tx], 1)
    row_y = torch.stack([torch.sin(angle) / sx * flip, torch.cos(angle) / sy, ty], 1)
    grid = F.affine_grid(torch.stack([row_x, row_y], 1), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def _processing(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Other machines' image processing: a film sharpened (unsharp mask) or softened, and tone-mapped
    harder than the mild default."""
    n, shape = x.shape[0], (x.shape[0], 1, 1, 1)
    x = x.clamp(0, 1) ** torch.exp(_uniform(n, -0.45, 0.45, gen)).view(shape)
    blurred = F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    return x + (x - blurred) * _uniform(n, -0.8, 1.5, gen).view(shape)


def _intensity(x: torch.Tensor, gen: torch.Generator, recipe: str, bad_p: float) -> torch.Tensor:
    n = x.shape[0]
    shape = (n, 1, 1, 1)
    # Mild: the generators (and real films) already vary exposure; strong jitter here slowed learning a lot.
    gamma = torch.exp(_uniform(n, -0.15, 0.15, gen)).view(shape)
    x = x.clamp(0, 1) ** gamma
    x = x * _uniform(n, 0.92, 1.08, gen).view(shape)
    # Contrast stretch or squeeze around the image mean (phones' auto-contrast, HDR tone mapping).
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * torch.exp(_uniform(n, -0.25, 0.45, gen)).view(shape)
    if recipe == "skin":
        x = x * _uniform(n * 3, 0.93, 1.07, gen).view(n, 3, 1, 1)
        grey = x.mean(dim=1, keepdim=True)
        x = grey + (x - grey) * _uniform(n, 0.75, 1.25, gen).view(shape)
    # A few badly exposed copies: the model should still recognise the kind of image (the gate then
    # calls them too dark / too bright rather than "not a radiograph").
    bad = (torch.rand(n, generator=gen) < bad_p).float().view(shape)
    contrast = _uniform(n, 0.3, 0.7, gen).view(shape)
    offset = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).view(shape) * _uniform(
        n, 0.2, 0.4, gen
    ).view(shape)
    x = bad * (0.5 + (x - 0.5) * contrast + offset) + (1 - bad) * x
    x = x + torch.randn(x.shape, generator=gen) * _uniform(n, 0.0, 0.015, gen).view(shape)
    return x.clamp(0, 1)


def augment(pixels: torch.Tensor, gen: torch.Generator, recipe: str, bad_p: float) -> torch.Tensor:
    """uint8 pixels [N, C, H, W] → augmented floats in [0, 1] (same geometry rules as the input spec)."""
    x = _geometry(pixels.float() / 255.0, gen, recipe)
    if recipe == "chest_wide":
        x = _processing(x, gen)
    return _intensity(x, gen, recipe, bad_p)


def normalise(x01: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Floats in [0, 1] (pixel / 255) → the model input; the same math as
    ``xiaofei.inference.preprocess.preprocess``."""
    x = x01 * (255.0 / spec.scale)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


class WeightAverage:
    """An exponential moving average of a network's weights (Polyak averaging), with a warm-up so that
    the random initial weights are forgotten quickly; batch-norm statistics are copied, not averaged.
    On these small noisy sets the averaged weights validate far more steadily than the raw ones."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.net = copy.deepcopy(net).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for mine, theirs in zip(self.net.parameters(), net.parameters(), strict=True):
            mine.mul_(decay).add_(theirs.detach(), alpha=1 - decay)
        for buffer, source in zip(self.net.buffers(), net.buffers(), strict=True):
            buffer.copy_(source)


def _bar(iterable: Any, total: int, desc: str, enabled: bool | None) -> Any:
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(iterable, total=total, desc=desc, disable=not show, leave=False, dynamic_ncols=True)


@torch.no_grad()
def predict(
    net: nn.Module,
    data: Encoded,
    spec: InputSpec,
    *,
    batch_size: int = 128,
    progress: bool | None = None,
    desc: str = "predict",
) -> tuple[np.ndarray, np.ndarray]:
    """(logits [N, K], pooled features [N, C]) for encoded pixels, in eval mode."""
    net.eval()
    logits, pooled = [], []
    starts = range(0, len(data), batch_size)
    for start in _bar(starts, len(starts), desc, progress):
        x = normalise(torch.from_numpy(data.x[start : start + batch_size]).float() / 255.0, spec)
        out, features = net(x)
        logits.append(out.numpy())
        pooled.append(features.mean(dim=(2, 3)).numpy())
    k = getattr(getattr(net, "head", None), "out_features", 0)
    if not logits:
        return np.zeros((0, k), np.float32), np.zeros((0, 0), np.float32)
    return np.concatenate(logits), np.concatenate(pooled)


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    scores = []
    for c in range(k):
        tp = float(np.sum((pred == c) & (y == c)))
        fp = float(np.sum((pred == c) & (y != c)))
        fn = float(np.sum((pred != c) & (y == c)))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def train(
    net: CamNet,
    data: Encoded,
    val: Encoded,
    spec: InputSpec,
    config: TrainConfig,
    outliers: Encoded | None = None,
) -> dict[str, Any]:
    """Train in place; the weights of the epoch with the best validation macro-F1 are kept (with
    ``ema_decay``, the averaged weights are the ones validated and kept).

    Returns the history: per epoch the mean loss, validation accuracy and macro-F1.
    """
    set_determinism(config.seed, config.threads)
    gen = torch.Generator().manual_seed(config.seed)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    net.to(memory_format=layout)  # type: ignore[call-overload]  # (missing from torch's stubs)
    k = net.head.out_features
    weights = class_weights(data.y, k)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = max(1, math.ceil(len(data) / config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps, pct_start=0.15
    )
    average = WeightAverage(net, config.ema_decay) if config.ema_decay > 0 else None
    x_all = torch.from_numpy(data.x)
    y_all = torch.from_numpy(data.y)
    use_outliers = outliers is not None and len(outliers) > 0 and config.outlier_weight > 0
    x_out = torch.from_numpy(outliers.x) if use_outliers and outliers is not None else None
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        batches = range(steps)
        for b in _bar(batches, steps, f"epoch {epoch + 1}/{config.epochs}", config.progress):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            x = normalise(augment(x_all[idx], gen, config.augment, config.bad_exposure_p), spec)
            y = y_all[idx]
            if x_out is not None:
                pick = torch.randint(0, x_out.shape[0], (config.outlier_batch,), generator=gen)
                xo = normalise(augment(x_out[pick], gen, config.augment, 0.0), spec)
                logits, _ = net(torch.cat([x, xo]).contiguous(memory_format=layout))
                loss = F.cross_entropy(logits[: len(y)], y, weight=weights)
                # Outlier exposure: cross-entropy to the uniform distribution.
                loss = loss - config.outlier_weight * F.log_softmax(logits[len(y) :], dim=1).mean()
            else:
                logits, _ = net(x.contiguous(memory_format=layout))
                loss = F.cross_entropy(logits, y, weight=weights)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            if average is not None:
                average.update(net)
            total += float(loss.item())
        judged = average.net if average is not None else net
        val_logits, _ = predict(judged, val, spec, progress=False)
        pred = val_logits.argmax(1)
        f1 = macro_f1(val.y, pred, k)
        row = {
            "epoch": epoch + 1,
            "loss": total / steps,
            "val_accuracy": float(np.mean(pred == val.y)),
            "val_macro_f1": f1,
        }
        history.append(row)
        log.info("epoch %d/%d: %s", epoch + 1, config.epochs, {k: round(v, 4) for k, v in row.items()})
        if best is None or f1 > best[0]:
            best = (f1, epoch + 1, copy.deepcopy(judged.state_dict()))
    if best is not None:
        net.load_state_dict(best[2])
    net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    net.eval()
    return {"epochs": history, "best_epoch": best[1] if best else 0}
