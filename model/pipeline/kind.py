"""The input gate's kind model: is this the kind of image the diagnostic model reads?

A diagnostic model's own features tell how far an image is from its *training population* (a pediatric
film from one hospital), not whether it is a chest film at all: an adult film from another hospital is
far from Kermany's children but must be read (with a warning), while a CT slice must be refused. So the
gate asks the first question of a separate small network, trained for it alone:

- *positives*: the training split's images, phone photos of them (``modalities.photo_of_film``) and
  copies with burnt-in markers, text and arrows;
- *negatives*: drawn images of other modalities and views (``modalities``), the synthetic photos,
  documents and screenshots of ``nontarget.py``, the other model's kind, and — when the build is given a
  folder of real images of other kinds (``--negatives``) — a fixed share of them (``FIT_SHARE``,
  chosen by a hash of the file name: the rest is held out for measuring the gate).

The network (``kind_net``) reads the diagnostic model's own input, averaged down to about 64 px: the
kind of an image is in its layout, not in fine detail. It is exported in the same ONNX graph as a third
output (``Gated``), so serving runs one session; its two logits are (target, other).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import IMAGE_SUFFIXES
from .modalities import MODALITY_KINDS, VIEW_KINDS
from .nets import CamNet, _conv, _separable
from .nontarget import NON_TARGET_KINDS
from .sources import Job

KIND_LABELS = ("target", "other")
KIND_SIDE = 64  # the side the kind network sees, about
FIT_SHARE = 0.5  # of a folder of real negatives, the share used to fit; the rest is held out


def kind_net(in_channels: int, size: int, width: int = 16) -> CamNet:
    """A ~0.03 M-parameter network on the input averaged to about ``KIND_SIDE`` px; 2 logits."""
    pool = max(1, size // KIND_SIDE)
    body = nn.Sequential(
        nn.AvgPool2d(pool),
        _conv(in_channels, width, stride=2),
        _conv(width, 2 * width, stride=2),
        _separable(2 * width, 2 * width),
        _conv(2 * width, 4 * width, stride=2),
        _separable(4 * width, 4 * width),
    )
    return CamNet(body, 4 * width, len(KIND_LABELS))


class Gated(nn.Module):
    """The exported graph: the diagnostic network's (logits, features) and the kind network's logits."""

    def __init__(self, net: CamNet, kind: CamNet) -> None:
        super().__init__()
        self.net, self.kind = net, kind

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, features = self.net(x)
        return logits, features, self.kind(x)[0]


def held_out(path: Path | str) -> bool:
    """Whether a real image is kept out of the fit: a stable hash of its name (about 1 − FIT_SHARE), the
    same in every build and test, so the held-out share is never fitted whatever the seed."""
    digest = hashlib.sha256(f"xiaofei-gate:{Path(path).name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 >= FIT_SHARE


def real_images(folders: Sequence[Path], *, fit: bool) -> list[Path]:
    """The fit (or held-out) share of the images below ``folders`` (DICOM included), sorted."""
    suffixes = (*IMAGE_SUFFIXES, ".dcm")
    files = sorted(
        p
        for folder in folders
        for p in Path(folder).rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes
    )
    return [p for p in files if held_out(p) != fit]


def positive_variants(paths: Sequence[str], seed: int, code: int, photos: int, burnt: int) -> list[Job]:
    """Phone photos of films and films with burnt-in text, from ``paths`` (picked by the seed)."""
    rng = np.random.default_rng([seed, code])
    jobs: list[Job] = []
    for family, n in (("film_photo", photos), ("film_burn", burnt)):
        for i in range(n):
            jobs.append((family, paths[int(rng.integers(0, len(paths)))], (seed, code, len(jobs), i)))
    return jobs


def negative_jobs(
    film_paths: Sequence[str],
    other: tuple[str, Sequence[str]],
    seed: int,
    code: int,
    per_kind: int,
    real: Sequence[Path] = (),
    real_copies: int = 1,
) -> list[Job]:
    """Drawn modalities and views, lateral-like halves of films, non-target images, the other model's kind
    and real images of other kinds (each ``real_copies`` times: augmentation makes the copies differ)."""
    rng = np.random.default_rng([seed, code])
    jobs: list[Job] = []
    # Other views of the chest (drawn laterals) only where the target is a chest film (``film_paths``):
    # for any other kind a chest film is already among the negatives, as the other model's kind.
    for ki, kind in enumerate((*MODALITY_KINDS, *VIEW_KINDS) if film_paths else MODALITY_KINDS):
        jobs += [("modality", kind, (seed, code, ki, i)) for i in range(per_kind)]
    for ki, kind in enumerate(NON_TARGET_KINDS):
        jobs += [("non_target", kind, (seed, code, 50 + ki, i)) for i in range(per_kind // 2)]
    if film_paths:
        for i in range(per_kind * 2):
            path = film_paths[int(rng.integers(0, len(film_paths)))]
            jobs.append(("hemithorax", path, (seed, code, 90, i)))
    family, labels = other
    jobs += [(family, labels[i % len(labels)], (seed, code, 100, i)) for i in range(per_kind)]
    for c in range(real_copies):
        jobs += [("file", str(p), (seed, code, 200 + c)) for p in real]
    return jobs


def fit_threshold(
    p_positive: np.ndarray,
    quantile: float = 0.995,
    cap: float = 0.5,
    *,
    p_real: np.ndarray | None = None,
    p_real_negative: np.ndarray | None = None,
    p_negative: np.ndarray | None = None,
    real_quantile: float = 0.97,
    negative_refusal: float = 0.97,
) -> float:
    """Accept at least ``quantile`` of the positive validation images, never demanding more than ``cap``.

    Real photographs of the kind score far lower than drawn ones, and a few dozen of them are lost among
    hundreds of drawings. When there are real ones (``p_real``: the fit share's, in-sample, hence the
    margin of half), the threshold also accepts ``real_quantile`` of them, but stays above the real
    negatives of the fit share (1.5 × their 99th percentile, ``p_real_negative``) and still refuses
    ``negative_refusal`` of the validation negatives (``p_negative``: drawn documents, screens, scenes,
    other modalities; the issue's target for other kinds). The held-out real images are never seen here:
    they judge the result.
    """
    low = float(np.quantile(np.asarray(p_positive, np.float64), 1 - quantile)) * 0.9
    if p_real is not None and len(p_real):
        real_low = float(np.quantile(np.asarray(p_real, np.float64), 1 - real_quantile)) * 0.5
        if p_real_negative is not None and len(p_real_negative):
            real_low = max(real_low, 1.5 * float(np.quantile(np.asarray(p_real_negative, np.float64), 0.99)))
        if p_negative is not None and len(p_negative):
            real_low = max(real_low, float(np.quantile(np.asarray(p_negative, np.float64), negative_refusal)))
        low = min(low, real_low)
    return float(f"{min(cap, max(0.01, low)):.6g}")
