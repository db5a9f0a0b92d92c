"""The bundled pneumonia package, trained on the real Kermany films: ``make models``.

``python -m model.pipeline models --data ../shared/data --out model`` rebuilds ``model/pneumonia`` from
``kermany224`` (the official train and val folders of Kermany et al. 2018, 224×224 stretched) with a
patient-disjoint train / val / test split of its own (the official test split is not in shared/data),
and the input gate's kind model from drawn images of other kinds plus the fit share of ``not-chest``.
Seeded; the figures of ``realsets`` on the rest of shared/data go into the model card.

Resize policy: the stored films were squashed to 224×224 whatever their shape, so the model has only
ever seen squashed chests. Serving squashes too (``resize: "stretch"``): a native-resolution film then
gives the model the same picture as its stored copy (checked on ``kermany-native``), whereas letterboxing
would show it a chest of proportions it never saw in training.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .build import BuildConfig, Counts, FolderSource, KindGate, build_package
from .data import make_splits, read_kermany
from .specs import PNEUMONIA
from .train import TrainConfig

log = logging.getLogger("model.pipeline")

VERSION = "2.1.0"
RELEASE_DATE = "2026-12-04T00:00:00Z"
SEED = 2026
SIZE = 192
WIDTH = 32
EPOCHS = 24

POPULATION = {
    "en": "children aged 1-5, frontal (AP) films from one hospital in Guangzhou, China (Kermany et al. 2018)",
    "zh": "1-5 岁儿童、来自中国广州一家医院的正位（前后位）胸片（Kermany 等 2018）",
}
TASK = dataclasses.replace(
    PNEUMONIA,
    size=SIZE,
    resize="stretch",
    size_reason=f"{SIZE}×{SIZE}, 1 channel, stretched: the training films were stored squashed to a square "
    "whatever their shape, so serving squashes every film the same way (a native-resolution film then gives "
    f"the same picture as its stored copy). {SIZE} px keeps a 4× wider network than the demo's within the "
    "training budget of this 2-core machine; consolidations and interstitial patterns are coarse at that "
    "size.",
)


def created_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return RELEASE_DATE


def build_pneumonia(
    data: Path,
    out: Path,
    *,
    epochs: int = EPOCHS,
    processes: int = 2,
    threads: int = 2,
    reuse_training_of: Path | None = None,
) -> Any:
    items, notes = read_kermany(data / "kermany224")
    dataset = make_splits(items, TASK.label_ids, seed=SEED)
    dataset.notes.update(notes)
    counts = {s: dict(sorted(c.items())) for s, c in dataset.counts().items()}
    description = (
        "Kermany et al. 2018 (Cell), pediatric chest X-rays (CC BY 4.0): the official train and val folders "
        "as stored at 224×224 (stretched), "
        f"{sum(len(v) for v in dataset.items.values())} films after MD5 de-duplication, split by patient "
        f"(seed {SEED}) into train / val / test: {counts}. The official test split was not available: every "
        "test figure is on this project's own patient-disjoint test split."
    )
    config = BuildConfig(
        task=TASK,
        out=out / TASK.name,
        version=VERSION,
        created_at=created_at(),
        counts=Counts(train={}, recaptures=300, bad=60, bad_heldout=40, golden=0, photo_crops=3),
        seed=SEED,
        width=WIDTH,
        train=TrainConfig(
            epochs=epochs, lr=3e-3, seed=SEED, threads=threads, augment="chest", outlier_weight=0.0
        ),
        processes=processes,
        demo=False,
        data_description=description,
        kind_gate=KindGate(negatives=(data / "not-chest",), augment="chest_wide"),
        population=POPULATION,
        real_data=data,
        reuse_training_of=reuse_training_of,
    )
    started = time.perf_counter()
    evaluation = build_package(config, FolderSource(TASK, dataset, SEED))
    log.info("pneumonia built in %.0f s", time.perf_counter() - started)
    return evaluation


def write_golden(data: Path, out: Path, *, per_class: int = 20) -> Path:
    """A golden set for the evaluation gate from shared/data, written to ``out`` (never into the project:
    the films may not be redistributed): ``per_class`` films of each class from this package's own
    patient-disjoint *test* split (never trained on, nor used to fit the gate), and out-of-domain items
    (``"label": null``) from the held-out share of ``not-chest`` (other modalities and body parts). No
    laterals: this package refuses only about half of them (its card), so with them every candidate would
    fail the default policy's 95% rejection floor; add them once a model refuses laterals. For a test store
    or a first evaluation; a site uploads its own doctors' reads (docs/OPERATOR.md)."""
    import random
    import shutil

    from .export import write_json
    from .kind import held_out
    from .realsets import NOT_CHEST_KINDS, images

    dataset = make_splits(read_kermany(data / "kermany224")[0], TASK.label_ids, seed=SEED)
    by_class: dict[str, list[Path]] = {label: [] for label in TASK.label_ids}
    for item in dataset.items["test"]:
        by_class[item.label].append(item.path)
    out.mkdir(parents=True, exist_ok=True)
    pick = random.Random(SEED)
    entries: list[dict[str, Any]] = []
    for label, paths in by_class.items():
        for n, path in enumerate(sorted(pick.sample(sorted(paths), min(per_class, len(paths))))):
            name = f"{label}-{n:03d}{path.suffix.lower()}"
            shutil.copyfile(path, out / name)
            entries.append({"file": name, "label": label})
    others: list[Path] = []
    for kind in NOT_CHEST_KINDS:
        others += [p for p in images(data / "not-chest" / kind) if held_out(p)][:2]
    for n, path in enumerate(others):
        name = f"ood-{path.parent.name}-{n:03d}{path.suffix.lower()}"
        shutil.copyfile(path, out / name)
        entries.append({"file": name, "label": None, "ood": True})
    note = (
        f"{per_class} films a class from the patient-disjoint test split of kermany224 (seed {SEED}); "
        "label null: held-out images of other modalities and body parts, which the input gate should refuse "
        "(no laterals yet: the bundled gate refuses only about half of them)"
    )
    write_json(out / "index.json", {"model": TASK.name, "synthetic": False, "note": note, "items": entries})
    return out
