"""The two bundled demo packages, rebuilt from scratch: ``python -m model.pipeline demo --out model``.

Deterministic: the same code gives the same images, weights, ONNX bytes and manifests (``created_at``
is the demo release date below, or ``SOURCE_DATE_EPOCH`` when set, not the wall clock).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .build import BuildConfig, Counts, KindGate, SyntheticSource, build_package, save_samples
from .specs import PNEUMONIA, SKIN, TaskSpec
from .train import TrainConfig

log = logging.getLogger("model.pipeline")

# 1.1: the input gate has a kind model; 1.2: its threshold and colour ranges are fitted to real photos too
VERSION = "1.2.0-demo"
RELEASE_DATE = "2026-12-04T00:00:00Z"
SEED = 2026

CHEST_DATA = (
    "synthetic frontal chest radiographs drawn by model/pipeline/synthetic.py (body outline, ribs, spine, "
    "clavicles, heart, two lung fields with vessels; bacterial = one dense, well-bounded lobar opacity at a "
    "random place in one lung; viral = diffuse bilateral reticular markings and haze; random size 256-512 "
    "px, "
    "aspect, position, tilt, exposure, noise, side markers), with a Kermany-like class imbalance"
)
SKIN_DATA = (
    "synthetic colour close-ups of skin drawn by model/pipeline/synthetic.py (five skin tones from light to "
    "dark, mottling, pores, lines, hair, uneven light; one lesion pattern per class: colour, border, surface "
    "and number of lesions as described in the labels; random size 256-448 px)"
)

DEMOS: dict[str, dict[str, Any]] = {
    "pneumonia": {
        "task": PNEUMONIA,
        "counts": Counts(
            train={"normal": 300, "bacterial": 540, "viral": 360},
            val=100,
            test=100,
            outliers=40,
            heldout=40,
            recaptures=300,
            bad=60,
            bad_heldout=40,
            golden=10,
            photo_crops=3,
        ),
        "train": TrainConfig(epochs=8, augment="chest", seed=SEED),
        "data": CHEST_DATA,
        # No chest samples: a drawn film is not a sample a real model should be shown reading.
        "samples": {},
    },
    "skin": {
        "task": SKIN,
        "counts": Counts(
            train=dict.fromkeys(SKIN.label_ids, 150),
            val=40,
            test=40,
            outliers=30,
            heldout=30,
            recaptures=240,
            bad=50,
            bad_heldout=30,
            golden=10,
            photo_crops=3,
        ),
        "train": TrainConfig(epochs=8, augment="skin", seed=SEED),
        "data": SKIN_DATA,
        "samples": {
            "psoriasis": 1,
            "basal_cell_carcinoma": 1,
            "lichen_planus": 1,
            "seborrheic_keratosis": 1,
            "pemphigus": 1,
            "normal_skin": 1,
        },
    },
}


def created_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RELEASE_DATE


def skin_gate(data: Path) -> KindGate:
    """The skin gate's kind model on real images: clinical photos (fit share) against other kinds.

    The photos (DermNet NZ, no licence given) may fit and test the input gate only, never the
    classifier: the classifier stays trained on synthetic images, and the package stays a demo."""
    return KindGate(
        positives=(data / "skin-photos",),
        negatives=(data / "not-chest", data / "kermany-native"),
        per_kind=60,
        real_copies=3,
    )


def build_demo(
    name: str, out: Path, *, processes: int = 2, threads: int = 2, data: Path | None = None
) -> dict[str, Any]:
    """One demo package; with ``data`` (shared/data) the skin gate is fitted on real photos too."""
    demo = DEMOS[name]
    task: TaskSpec = demo["task"]
    gate = skin_gate(data) if data is not None and name == "skin" else None
    config = BuildConfig(
        task=task,
        out=out / task.name,
        version=VERSION,
        created_at=created_at(),
        counts=demo["counts"],
        seed=SEED,
        train=TrainConfig(**{**demo["train"].__dict__, "threads": threads}),
        processes=processes,
        demo=True,
        data_description=demo["data"],
        kind_gate=gate,
        real_data=data if gate is not None else None,
    )
    started = time.perf_counter()
    evaluation = build_package(config, SyntheticSource(task, config.counts, SEED))
    save_samples(task, out / "samples", SEED, demo["samples"])
    log.info("%s built in %.0f s", name, time.perf_counter() - started)
    return evaluation
