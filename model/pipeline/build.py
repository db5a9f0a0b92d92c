"""One model package from one data source: train → evaluate → calibrate → fit the gate → export.

``build_package(config, source)`` writes ``config.out``::

    model.onnx  manifest.json  MODEL_CARD.md
    golden/     a small labelled evaluation set + index.json (the registry's evaluation gate)
    train/      weights.pt (PyTorch state dict), evaluation.json, confusion.png, reliability.png

A *source* provides the model's own images by split (``SyntheticSource`` for the bundled demo models,
``FolderSource`` for the real data sets); images of other kinds (for outlier exposure and to measure
the gate) are always synthetic, plus real photos when scikit-image's samples are installed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from xiaofei.inference.input_gate import kind_probabilities
from xiaofei.inference.manifest import InputSpec, Manifest

from . import calibrate, evaluate, input_gate, nets
from . import kind as kindgate
from .card import model_card
from .data import Dataset
from .export import build_manifest, check_onnx, export_onnx, sha256, write_json
from .nontarget import CHEST_BAD_CAPTURES, NON_TARGET_KINDS, SKIN_BAD_CAPTURES
from .sources import REAL_PHOTOS, Encoded, Job, encode_jobs, normalise, real_photo_dir, render
from .specs import TaskSpec
from .synthetic import CHEST_LABELS, SKIN_LABELS
from .train import TrainConfig, predict, train

log = logging.getLogger("model.pipeline")

# Seed streams: each kind of image draws from its own, so no image is in two sets.
(
    TRAIN,
    VAL,
    TEST,
    GOLDEN,
    OUTLIER,
    HELDOUT,
    SAMPLES,
    RECAPTURE,
    BAD,
    BAD_HELDOUT,
    PHOTO,
    VAL_RECAPTURE,
    GOLDEN_OOD,
) = range(1, 14)
# Out-of-domain items in the golden set: the registry's evaluation gate measures the input gate on them.
GOLDEN_OOD_KINDS = ("scene", "face", "document", "screenshot", "gray_photo", "blank")
FAULTS = {"chest": CHEST_BAD_CAPTURES, "skin": SKIN_BAD_CAPTURES}


@dataclass(frozen=True)
class Counts:
    """How many images of each set (per label, per kind or per fault, as named)."""

    train: dict[str, int]  # per label (may be imbalanced on purpose)
    val: int = 100  # per label
    test: int = 100  # per label
    outliers: int = 40  # per non-target kind (outlier exposure, training only)
    heldout: int = 40  # per non-target kind (measuring the gate)
    recaptures: int = 300  # re-captured training images (fitting the gate)
    bad: int = 60  # per exposure fault (fitting the gate)
    bad_heldout: int = 40  # per exposure fault (measuring the gate)
    golden: int = 10  # per label
    photo_crops: int = 3  # per real photo (0: none)


@dataclass(frozen=True)
class KindGate:
    """The input gate's kind model (``kind.py``): what it is fitted on, and how long it trains."""

    negatives: tuple[
        Path, ...
    ] = ()  # real images of other kinds; kind.FIT_SHARE of them fit, the rest held out
    positives: tuple[Path, ...] = ()  # extra real images of the model's kind, shared the same way
    per_kind: int = 120  # drawn negatives per modality (half as many per non-target kind)
    film_photos: int = 600  # phone photos of training films (chest)
    film_burns: int = 400  # training films with burnt-in markers and arrows (chest)
    real_copies: int = 4  # each real negative, differently augmented
    epochs: int = 8
    augment: str | None = None  # the augmentation recipe (train.py); None: the diagnostic model's


@dataclass(frozen=True)
class BuildConfig:
    task: TaskSpec
    out: Path
    version: str
    created_at: str
    counts: Counts
    seed: int = 0
    backbone: str = nets.SMALL
    width: int = 16
    members: int = 1  # > 1: that many networks trained apart (seed, seed + 1, ...), averaged (nets.ensemble)
    size: int | None = None  # None: the task's size (tests use a small one)
    pretrained: Path | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    target_accuracy: float = 0.95
    processes: int = 1
    demo: bool = True
    data_description: str = ""
    kind_gate: KindGate | None = None
    population: dict[str, str] | None = None  # who the training images came from ({"en", "zh"})
    real_data: Path | None = None  # shared/data: judge the built package on its real images (realsets.py)
    # A package built before with the same data and network: its trained weights are reused, so the gate
    # can be re-fitted and the package re-exported without training again.
    reuse_training_of: Path | None = None


class Source(Protocol):
    """The model's own images, by split."""

    synthetic: bool

    def clean(self, split: str) -> tuple[list[Job], list[int]]: ...
    def recaptures(self, split: str, n: int) -> list[Job]: ...
    def bad(self, split: str, n: int) -> list[Job]:
        """Poorly exposed images: usable ones from ``train`` (fit), unreadable ones otherwise (measure)."""
        ...

    def golden(self, n: int) -> tuple[list[Job], list[int]]: ...

    def files(self, split: str) -> list[str]:
        """The split's image files (none for drawn images)."""
        ...


_CODES = {"train": TRAIN, "val": VAL, "test": TEST}


class SyntheticSource:
    """Images drawn by ``synthetic.py``; every split has its own seed stream."""

    synthetic = True

    def __init__(self, task: TaskSpec, counts: Counts, seed: int) -> None:
        self.task, self.counts, self.seed = task, counts, seed

    def _per_label(self, split: str) -> dict[str, int]:
        if split == "train":
            return self.counts.train
        n = self.counts.val if split == "val" else self.counts.test
        return {label: n for label in self.task.label_ids}

    def clean(self, split: str) -> tuple[list[Job], list[int]]:
        jobs: list[Job] = []
        labels: list[int] = []
        for li, label in enumerate(self.task.label_ids):
            for i in range(self._per_label(split)[label]):
                jobs.append((self.task.family, label, (self.seed, _CODES[split], li, i)))
                labels.append(li)
        return jobs, labels

    def recaptures(self, split: str, n: int) -> list[Job]:
        code = RECAPTURE if split == "train" else VAL_RECAPTURE
        ids = self.task.label_ids
        return [(f"{self.task.family}_variant", ids[i % len(ids)], (self.seed, code, i)) for i in range(n)]

    def bad(self, split: str, n: int) -> list[Job]:
        """``train``: poor but usable captures (to fit the gate); else unreadable ones (to measure it)."""
        code, family = (BAD, "poor") if split == "train" else (BAD_HELDOUT, "bad")
        faults = FAULTS[self.task.family]
        return [
            (family, fault, (self.seed, code, fi, i)) for fi, fault in enumerate(faults) for i in range(n)
        ]

    def files(self, split: str) -> list[str]:
        return []

    def golden(self, n: int) -> tuple[list[Job], list[int]]:
        jobs: list[Job] = []
        labels: list[int] = []
        for li, label in enumerate(self.task.label_ids):
            for i in range(n):
                jobs.append((self.task.family, label, (self.seed, GOLDEN, li, i)))
                labels.append(li)
        return jobs, labels


class FolderSource:
    """A real data set read by ``data.py`` (files decoded as the service decodes uploads)."""

    synthetic = False

    def __init__(self, task: TaskSpec, dataset: Dataset, seed: int) -> None:
        self.task, self.dataset, self.seed = task, dataset, seed
        self.index = {label: i for i, label in enumerate(task.label_ids)}

    def clean(self, split: str) -> tuple[list[Job], list[int]]:
        items = self.dataset.items[split]
        return [("file", str(i.path), ()) for i in items], [self.index[i.label] for i in items]

    def _pick(self, split: str, n: int, code: int) -> list[str]:
        items = self.dataset.items[split]
        rng = np.random.default_rng([self.seed, code])
        return [str(items[int(j)].path) for j in rng.integers(0, len(items), n)]

    def recaptures(self, split: str, n: int) -> list[Job]:
        code = RECAPTURE if split == "train" else VAL_RECAPTURE
        family = "file_variant_cast" if self.task.family == "chest" else "file_variant"
        return [(family, path, (self.seed, code, i)) for i, path in enumerate(self._pick(split, n, code))]

    def bad(self, split: str, n: int) -> list[Job]:
        code, family = (BAD, "file_poor") if split == "train" else (BAD_HELDOUT, "file_bad")
        jobs: list[Job] = []
        for fi, (kind, _reason) in enumerate(FAULTS[self.task.family].items()):
            fault = kind.partition("_")[2]
            for i, path in enumerate(self._pick(split, n, code * 10 + fi)):
                jobs.append((family, f"{fault}|{path}", (self.seed, code, fi, i)))
        return jobs

    def files(self, split: str) -> list[str]:
        return [str(i.path) for i in self.dataset.items[split]]

    def golden(self, n: int) -> tuple[list[Job], list[int]]:
        jobs: list[Job] = []
        labels: list[int] = []
        for label in self.task.label_ids:
            items = [i for i in self.dataset.items["test"] if i.label == label][:n]
            jobs += [("file", str(i.path), ()) for i in items]
            labels += [self.index[label]] * len(items)
        return jobs, labels


def _other_family(task: TaskSpec) -> tuple[str, tuple[str, ...]]:
    return ("skin", SKIN_LABELS) if task.family == "chest" else ("chest", CHEST_LABELS)


def non_target_jobs(task: TaskSpec, seed: int, code: int, per_kind: int) -> tuple[list[Job], list[str]]:
    """Images of other kinds (and the other model's kind), with the reason the gate should give."""
    jobs: list[Job] = []
    expected: list[str] = []
    for ki, kind in enumerate(NON_TARGET_KINDS):
        for i in range(per_kind):
            jobs.append(("non_target", kind, (seed, code, ki, i)))
            expected.append("blank" if kind == "blank" else task.refusal)
    family, labels = _other_family(task)
    for i in range(per_kind * 2):
        jobs.append((family, labels[i % len(labels)], (seed, code, 100, i)))
        expected.append(task.refusal)
    return jobs, expected


def photo_jobs(seed: int, crops: int) -> list[Job]:
    if crops <= 0 or real_photo_dir() is None:
        return []
    return [
        ("photo", name, (seed, PHOTO, pi, i)) for pi, name in enumerate(REAL_PHOTOS) for i in range(crops)
    ]


KIND_POS, KIND_NEG, KIND_POS_VAL, KIND_NEG_VAL = 21, 22, 23, 24


@dataclass
class KindModel:
    net: nets.CamNet
    threshold: float
    positives: Encoded  # the re-captured positives it was fitted on (their statistics fit the gate too)
    report: dict[str, Any]
    real: Encoded | None = None  # the real images of the kind it was fitted on (fit share), if any


def _labelled(data: Encoded, label: int) -> Encoded:
    return Encoded(data.x, np.full(len(data), label, np.int64), data.kinds, data.stats)


def train_kind(
    config: BuildConfig, source: Source, splits: dict[str, Encoded], spec: InputSpec, geometry: InputSpec
) -> KindModel:
    """The kind model (``kind.py``): the training split and its re-captures against images of other kinds."""
    kg = config.kind_gate or KindGate()
    seed, task = config.seed, config.task
    other = _other_family(task)

    def enc(jobs: list[Job]) -> Encoded:
        return _encode(jobs, [0] * len(jobs), geometry, config.processes)

    # Real positives (fit share): four in five train the model, the fifth joins its validation set; all of
    # them, with the real negatives, set its threshold.
    real_jobs: list[Job] = [("file", str(p), ()) for p in kindgate.real_images(kg.positives, fit=True)]

    def variants(split: str, code: int, share: float) -> list[Job]:
        films = source.files(split) if task.family == "chest" else []  # photos of films, burnt-in text
        jobs = (
            kindgate.positive_variants(
                films, seed, code, round(kg.film_photos * share), round(kg.film_burns * share)
            )
            if films
            else []
        )
        return jobs + [job for i, job in enumerate(real_jobs) if (i % 5 == 0) == (split == "val")]

    files = source.files("train") if task.family == "chest" else []  # halves of films: lateral-like
    pos_extra = enc(variants("train", KIND_POS, 1.0) + source.recaptures("train", config.counts.recaptures))
    neg_real = kindgate.real_images(kg.negatives, fit=True)
    neg = enc(kindgate.negative_jobs(files, other, seed, KIND_NEG, kg.per_kind, neg_real, kg.real_copies))
    pos_val = enc(variants("val", KIND_POS_VAL, 0.25))
    neg_val = enc(
        kindgate.negative_jobs(
            source.files("val") if files else [], other, seed, KIND_NEG_VAL, max(4, kg.per_kind // 4)
        )
    )
    train_set = Encoded.concat([_labelled(splits["train"], 0), _labelled(pos_extra, 0), _labelled(neg, 1)])
    val_pos = Encoded.concat([splits["val"], pos_val])
    val_set = Encoded.concat([_labelled(val_pos, 0), _labelled(neg_val, 1)])
    torch.manual_seed(seed)
    net = kindgate.kind_net(task.channels, geometry.height)
    tc = config.train
    history = train(
        net,
        train_set,
        val_set,
        spec,
        TrainConfig(
            epochs=kg.epochs,
            batch_size=64,
            lr=3e-3,
            seed=seed,
            threads=tc.threads,
            augment=kg.augment or tc.augment,
            outlier_weight=0.0,
            bad_exposure_p=tc.bad_exposure_p,
            progress=tc.progress,
        ),
    )
    p_val = kind_probabilities(predict(net, val_pos, spec, progress=False)[0])
    p_neg = kind_probabilities(predict(net, neg_val, spec, progress=False)[0])
    p_real = p_real_negative = real_set = None
    if real_jobs:
        real_set = enc(real_jobs)
        p_real = kind_probabilities(predict(net, real_set, spec, progress=False)[0])
        negatives: list[Job] = [("file", str(p), ()) for p in neg_real]
        p_real_negative = kind_probabilities(predict(net, enc(negatives), spec, progress=False)[0])
    threshold = kindgate.fit_threshold(
        p_val, p_real=p_real, p_real_negative=p_real_negative, p_negative=p_neg
    )
    report = {
        "threshold": threshold,
        "fit": {
            "positives": len(splits["train"]) + len(pos_extra),
            "negatives": len(neg),
            "real_negatives": len(neg_real),
            "real_negatives_held_out": len(kindgate.real_images(kg.negatives, fit=False)),
            "real_positives": len(kindgate.real_images(kg.positives, fit=True)),
            "epochs": kg.epochs,
            "augment": kg.augment or tc.augment,
            "drawn_laterals": bool(files),
            "best_epoch": history["best_epoch"],
            "parameters": int(sum(p.numel() for p in net.parameters())),
        },
        "val": {
            "positives_accepted": round(float(np.mean(p_val >= threshold)), 4),
            "negatives_refused": round(float(np.mean(p_neg < threshold)), 4),
            "n_positives": len(p_val),
            "n_negatives": len(p_neg),
            **(
                {
                    "real_fit_positives_accepted": round(float(np.mean(p_real >= threshold)), 4),
                    "real_fit_negatives_refused": round(float(np.mean(p_real_negative < threshold)), 4),
                    "n_real_positives": len(p_real),
                    "n_real_negatives": len(p_real_negative),
                }
                if p_real is not None and p_real_negative is not None
                else {}
            ),
        },
    }
    log.info("kind model: %s", report["val"])
    return KindModel(net, threshold, pos_extra, report, real_set)


class _Steps:
    """Timing and a one-line log per pipeline step."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.times: dict[str, float] = {}

    def done(self, name: str, start: float) -> None:
        self.times[name] = round(time.perf_counter() - start, 1)
        log.info("%s: %.1f s", name, self.times[name])


def _encode(jobs: Sequence[Job], labels: Sequence[int], spec: InputSpec, processes: int) -> Encoded:
    return encode_jobs(jobs, labels, spec, processes=processes)


def _input_spec(task: TaskSpec, size: int, pixels: np.ndarray) -> InputSpec:
    """Mean and std per channel, measured on the training pixels (in units of pixel / 255)."""
    x = pixels.astype(np.float32) / 255.0
    mean = tuple(round(float(x[:, c].mean()), 4) for c in range(x.shape[1]))
    std = tuple(round(max(float(x[:, c].std()), 1e-3), 4) for c in range(x.shape[1]))
    return InputSpec("image", size, size, task.channels, task.resize, 255.0, mean, std, task.background)


def build_package(config: BuildConfig, source: Source) -> dict[str, Any]:
    """Build the package in ``config.out`` (replacing it); returns the evaluation."""
    task, counts, seed = config.task, config.counts, config.seed
    size = config.size or (nets.DEFAULT_SIZE[config.backbone] if config.backbone != nets.SMALL else task.size)
    steps = _Steps()
    geometry = InputSpec(
        "image",
        size,
        size,
        task.channels,
        task.resize,
        1.0,
        (0.0,) * task.channels,
        (1.0,) * task.channels,
        task.background,
    )
    k = len(task.labels)

    # The network first: a missing backbone (torchvision) fails before any image is read.
    torch.manual_seed(config.train.seed)
    net = nets.build(
        config.backbone,
        task.channels,
        k,
        pretrained=config.pretrained,
        width=config.width,
        members=config.members,
    )
    start = time.perf_counter()
    splits = {
        name: _encode(*source.clean(name), geometry, config.processes) for name in ("train", "val", "test")
    }
    spec = _input_spec(task, size, splits["train"].x)
    outlier_jobs, _ = non_target_jobs(task, seed, OUTLIER, counts.outliers)
    outliers = _encode(outlier_jobs, [-1] * len(outlier_jobs), geometry, config.processes)
    steps.done("images", start)

    start = time.perf_counter()
    if config.reuse_training_of is not None:
        history = _reuse_training(config.reuse_training_of, net)
    else:
        net, history = _train_members(config, splits, spec, outliers)
        _checkpoint(config, net, history)
    steps.done("training", start)

    start = time.perf_counter()
    out = {name: predict(net, data, spec, desc=f"predict {name}") for name, data in splits.items()}
    temperature = calibrate.fit_temperature(out["val"][0], splits["val"].y)
    probs = {
        name: (calibrate.softmax(out[name][0]), calibrate.softmax(out[name][0], temperature))
        for name in ("val", "test")
    }
    test_pred = probs["test"][1].argmax(1)
    metrics_test = evaluate.report(splits["test"].y, test_pred, task.label_ids)
    val_conf = probs["val"][1].max(1)
    val_correct = probs["val"][1].argmax(1) == splits["val"].y
    choice = calibrate.pick_threshold(val_conf, val_correct, config.target_accuracy)
    test_cov = calibrate.coverage_at(
        probs["test"][1].max(1), test_pred == splits["test"].y, choice["threshold"]
    )
    steps.done("evaluation", start)

    kind_model = None
    if config.kind_gate is not None:
        start = time.perf_counter()
        kind_model = train_kind(config, source, splits, spec, geometry)
        steps.done("kind model", start)

    start = time.perf_counter()
    recaptured = _encode(
        source.recaptures("train", counts.recaptures), [-1] * counts.recaptures, geometry, config.processes
    )
    if kind_model is not None:  # phone photos and burnt-in text are harmless re-captures too
        recaptured = Encoded.concat([recaptured, kind_model.positives])
    bad_jobs = source.bad("train", counts.bad)
    bad = _encode(bad_jobs, [-1] * len(bad_jobs), geometry, config.processes)
    wide = Encoded.concat([splits["train"], recaptured, bad])
    wide_logits, wide_pooled = predict(net, wide, spec, desc="predict gate fit set")
    quality = input_gate.fit_quality(
        kind=task.gate_kind,
        refusal=task.refusal,
        input_size=(size, size),
        clean_stats=splits["train"].stats,
        recapture_stats=recaptured.stats,
        bad_stats=bad.stats,
        train_pooled=out["train"][1],
        train_y=splits["train"].y,
        k=k,
        wide_pooled=wide_pooled,
        wide_logits=wide_logits,
        clean_logits=out["train"][0],
        kind_model=None
        if kind_model is None
        else {
            "output": "kind",
            "threshold": kind_model.threshold,
            "population_warning": _population_warning(config),
            "fit": kind_model.report,
        },
        real_stats=kind_model.real.stats if kind_model is not None and kind_model.real is not None else None,
    )
    steps.done("gate fit", start)

    thresholds = {
        "uncertain_confidence": round(choice["threshold"], 6),
        "uncertain_margin": 0.0,
        "target_accuracy": config.target_accuracy,
        "coverage": round(choice["coverage"], 4),
    }
    training = _training_info(config, source, splits, spec, history, net, size)
    ece = {
        "ece_before": round(calibrate.ece(probs["test"][0], splits["test"].y), 4),
        "ece_after": round(calibrate.ece(probs["test"][1], splits["test"].y), 4),
        "ece_val_before": round(calibrate.ece(probs["val"][0], splits["val"].y), 4),
        "ece_val_after": round(calibrate.ece(probs["val"][1], splits["val"].y), 4),
    }
    split_name = "synthetic-test" if source.synthetic else "test"
    binary = (
        evaluate.pneumonia_binary(splits["test"].y, probs["test"][1])
        if task.label_ids == ("normal", "bacterial", "viral")
        else None
    )
    metrics: dict[str, Any] = {
        **({"binary": binary} if binary else {}),
        "split": split_name,
        "n": metrics_test["n"],
        "accuracy": metrics_test["accuracy"],
        "macro_f1": metrics_test["macro_f1"],
        "per_class": metrics_test["per_class"],
        **ece,
        "ece_bins": 15,
        "uncertain": {
            "threshold": thresholds["uncertain_confidence"],
            "target_accuracy": config.target_accuracy,
            "coverage_val": round(choice["coverage"], 4),
            "accuracy_kept_val": round(choice["accuracy_kept"], 4),
            "coverage_test": round(test_cov["coverage"], 4),
            "accuracy_kept_test": round(test_cov["accuracy_kept"], 4),
        },
    }
    created = build_manifest(
        task=task,
        version=config.version,
        created_at=config.created_at,
        demo=config.demo,
        spec=spec,
        net=net,
        temperature=temperature,
        thresholds=thresholds,
        quality=quality,
        training=training,
        metrics=metrics,
        kind_output=kind_model is not None,
        population=config.population,
    )

    start = time.perf_counter()
    kind_net = kind_model.net if kind_model else None
    gate_report = _measure_gate(
        config, source, Manifest.parse(created), net, kind_net, spec, geometry, splits
    )
    metrics["gate"] = gate_report["summary"]
    steps.done("gate evaluation", start)

    start = time.perf_counter()
    evaluation = {
        "model": task.name,
        "version": config.version,
        "test": metrics_test,
        "calibration": {
            "temperature": temperature,
            **ece,
            "reliability_test_after": calibrate.reliability(probs["test"][1], splits["test"].y),
        },
        "uncertain": metrics["uncertain"],
        "gate": gate_report,
        "training": history,
    }
    _write_package(
        config, source, net, kind_net, spec, created, evaluation, metrics_test, probs, splits, steps
    )
    steps.done("export", start)
    if config.real_data is not None:
        start = time.perf_counter()
        _judge_on_real_data(config, source, created, evaluation)
        steps.done("real data", start)
    evaluation["timings_s"] = steps.times
    write_json(config.out / "train" / "evaluation.json", evaluation)
    return evaluation


def _train_members(
    config: BuildConfig, splits: dict[str, Encoded], spec: InputSpec, outliers: Encoded
) -> tuple[nets.CamNet, dict[str, Any]]:
    """Train ``config.members`` networks apart, each seeded on its own; one network, or their ensemble.

    The history is the first member's (``epochs``, ``best_epoch``) plus, for an ensemble, every member's."""
    trained, histories = [], []
    for i in range(config.members):
        member_config = dataclasses.replace(config.train, seed=config.train.seed + i)
        torch.manual_seed(member_config.seed)
        member = nets.build(
            config.backbone,
            config.task.channels,
            len(config.task.labels),
            pretrained=config.pretrained,
            width=config.width,
        )
        histories.append(train(member, splits["train"], splits["val"], spec, member_config, outliers))
        log.info("member %d/%d trained (best epoch %d)", i + 1, config.members, histories[-1]["best_epoch"])
        trained.append(member)
    history = dict(histories[0])
    if config.members > 1:
        history["members"] = histories
    return nets.ensemble(trained), history


def _checkpoint(config: BuildConfig, net: nets.CamNet, history: dict[str, Any]) -> None:
    """The trained weights beside the package (``<out>.trained``): a later step that fails can be
    rerun with ``--reuse-training-of`` that folder instead of training again."""
    folder = config.out.with_name(config.out.name + ".trained") / "train"
    folder.mkdir(parents=True, exist_ok=True)
    nets.save_weights(
        net,
        folder / "weights.pt",
        backbone=config.backbone,
        in_channels=config.task.channels,
        width=config.width,
    )
    write_json(folder / "evaluation.json", {"training": history})


def _reuse_training(package: Path, net: nets.CamNet) -> dict[str, Any]:
    """Load ``package``'s trained weights into ``net``; its training history as ``train`` returns it."""
    saved = torch.load(package / "train" / "weights.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(saved["state_dict"])
    net.eval()
    history: dict[str, Any] = read_evaluation(package)["training"]
    log.info("reusing the trained weights of %s (best epoch %s)", package, history["best_epoch"])
    return history


def _judge_on_real_data(
    config: BuildConfig, source: Source, manifest: dict[str, Any], evaluation: dict[str, Any]
) -> None:
    """The package, through the serving code, on shared/data; the figures go into the card and manifest."""
    from xiaofei.inference.onnx_model import OnnxModel

    from . import realsets

    assert config.real_data is not None
    model = OnnxModel.load(config.out, threads=config.train.threads)
    if config.task.family == "chest":
        test_files = [Path(p) for p in source.files("test")]
        report = realsets.chest_report(model, config.real_data, test_files, config.seed)
    else:
        report = realsets.skin_report(model, config.real_data)
    evaluation["real_sets"] = report
    manifest["metrics"]["real_data"] = {
        name: (value.get("held_out", value)) for name, value in report.items()
    }
    Manifest.parse(manifest)
    write_json(config.out / "manifest.json", manifest)
    (config.out / "MODEL_CARD.md").write_text(model_card(manifest, evaluation), encoding="utf-8")


def _training_info(
    config: BuildConfig,
    source: Source,
    splits: dict[str, Encoded],
    spec: InputSpec,
    history: dict[str, Any],
    net: nets.CamNet,
    size: int,
) -> dict[str, Any]:
    counts = {
        name: {lab: int(np.sum(data.y == i)) for i, lab in enumerate(config.task.label_ids)}
        for name, data in splits.items()
    }
    tc = config.train
    return {
        "synthetic": source.synthetic,
        "data": config.data_description,
        "counts": counts,
        "seed": config.seed,
        "epochs": tc.epochs,
        "best_epoch": history["best_epoch"],
        "best_epochs": [h["best_epoch"] for h in history.get("members", [history])],
        "ema_decay": tc.ema_decay,
        "backbone": config.backbone,
        "width": config.width if config.backbone == nets.SMALL else None,
        "members": config.members,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "multiply_adds": nets.count_flops(net, (1, spec.channels, size, size)),
        "pretrained": str(config.pretrained.name) if config.pretrained else None,
        "optimiser": f"AdamW lr {tc.lr} (one-cycle), weight decay {tc.weight_decay}, batch {tc.batch_size}",
        "loss": "class-weighted cross-entropy"
        + (f" + outlier exposure (weight {tc.outlier_weight})" if tc.outlier_weight > 0 else ""),
        "augmentation": "skin: flips, 90° turns, ±15° rotation, zoom, colour/brightness jitter, noise"
        if tc.augment == "skin"
        else "chest: ±5° rotation, zoom, shifts (no mirroring), gamma/gain, noise",
        "badly_exposed_share": tc.bad_exposure_p,
        "torch": torch.__version__,
    }


def _measure_gate(
    config: BuildConfig,
    source: Source,
    manifest: Manifest,
    net: nets.CamNet,
    kind_net: nets.CamNet | None,
    spec: InputSpec,
    geometry: InputSpec,
    splits: dict[str, Encoded],
) -> dict[str, Any]:
    """Acceptance on validation images, rejection of held-out images of other kinds and bad exposures."""
    task, counts, seed = config.task, config.counts, config.seed

    def verdicts(data: Encoded) -> list[str]:
        logits, pooled = predict(net, data, spec, progress=False)
        kinds = predict(kind_net, data, spec, progress=False)[0] if kind_net is not None else None
        return input_gate.outcomes(manifest, data.stats, pooled, logits, kinds)

    report: dict[str, Any] = {}
    report["val"] = input_gate.summarise(verdicts(splits["val"]))
    recapture_jobs = source.recaptures("val", max(1, counts.recaptures // 3))
    report["val_recaptured"] = input_gate.summarise(
        verdicts(_encode(recapture_jobs, [-1] * len(recapture_jobs), geometry, config.processes))
    )
    jobs, expected = non_target_jobs(task, seed, HELDOUT, counts.heldout)
    data = _encode(jobs, [-1] * len(jobs), geometry, config.processes)
    found = verdicts(data)
    report["non_target"] = input_gate.summarise(found, expected)
    report["non_target_by_kind"] = {
        kind: input_gate.summarise(
            [v for v, d in zip(found, data.kinds, strict=True) if d.endswith(":" + kind)]
        )
        for kind in NON_TARGET_KINDS
    }
    other = _other_family(task)[0]
    report["non_target_by_kind"][f"{other}_images"] = input_gate.summarise(
        [v for v, d in zip(found, data.kinds, strict=True) if d.startswith(other + ":")]
    )
    bad_jobs = source.bad("val", counts.bad_heldout)
    faults = FAULTS[task.family]
    bad_expected = [faults[j[1]] if j[0] == "bad" else faults[_fault_kind(task, j[1])] for j in bad_jobs]
    report["bad_exposure"] = input_gate.summarise(
        verdicts(_encode(bad_jobs, [-1] * len(bad_jobs), geometry, config.processes)), bad_expected
    )
    photos = photo_jobs(seed, counts.photo_crops)
    if photos:
        report["real_photos"] = input_gate.summarise(
            verdicts(_encode(photos, [-1] * len(photos), geometry, 1))
        )
        report["real_photos"]["source"] = (
            "scikit-image bundled sample photos, random crops (never used to fit)"
        )
    report["summary"] = {
        "acceptance_val": report["val"]["accepted"],
        "acceptance_val_recaptured": report["val_recaptured"]["accepted"],
        "rejection_non_target": report["non_target"]["rejected"],
        "right_reason_non_target": report["non_target"].get("right_reason", 0.0),
        "rejection_bad_exposure": report["bad_exposure"]["rejected"],
        "right_reason_bad_exposure": report["bad_exposure"].get("right_reason", 0.0),
        "rejection_real_photos": report["real_photos"]["rejected"] if photos else None,
        "n_val": report["val"]["n"],
        "n_non_target": report["non_target"]["n"],
        "n_real_photos": len(photos),
    }
    return report


def _population_warning(config: BuildConfig) -> dict[str, str]:
    """The "outside_training_data" warning, naming who the training images came from and giving examples
    of the model's own family (films for the chest model, photos for the skin model)."""
    drawn = {"en": "synthetic images drawn by this project", "zh": "本项目绘制的合成图像"}
    who = config.population or (drawn if config.demo else {"en": "the training images", "zh": "训练图片"})
    if config.task.family == "chest":
        examples = {
            "en": "for example an adult's film, another kind of machine or a photo of a film",
            "zh": "例如成人胸片、其他设备拍摄的片子或翻拍的胶片",
        }
    else:
        examples = {
            "en": "for example a real clinical photo, another body site, skin tone, camera or light",
            "zh": "例如真实的临床照片、其他部位、肤色、相机或光照",
        }
    return {
        "en": f"This image is unlike the model's training images ({who['en']}), {examples['en']}. The model "
        "was not validated on such images: read the result with extra care.",
        "zh": f"这张图片与模型的训练图片（{who['zh']}）差别较大，{examples['zh']}。模型未在此类图片上验证过，"
        "请更谨慎地看待结果。",
    }


def _fault_kind(task: TaskSpec, file_kind: str) -> str:
    fault = file_kind.partition("|")[0]
    return f"{'xray' if task.family == 'chest' else 'skin'}_{fault}"


# Golden images are kept small (the package ships them), but larger than the model input.
GOLDEN_SIDE = 320


def _save_image(image: Image.Image, path: Path) -> None:
    if max(image.size) > GOLDEN_SIDE:
        scale = GOLDEN_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if path.suffix == ".png":
        image.save(path, "PNG", optimize=True)
    else:
        image.save(path, "JPEG", quality=85, optimize=True)


def _write_package(
    config: BuildConfig,
    source: Source,
    net: nets.CamNet,
    kind_net: nets.CamNet | None,
    spec: InputSpec,
    manifest: dict[str, Any],
    evaluation: dict[str, Any],
    metrics_test: dict[str, Any],
    probs: dict[str, tuple[np.ndarray, np.ndarray]],
    splits: dict[str, Encoded],
    steps: _Steps,
) -> None:
    out = config.out
    if out.exists():
        shutil.rmtree(out)
    (out / "train").mkdir(parents=True)
    task = config.task
    onnx_path = out / "model.onnx"
    graph = net if kind_net is None else kindgate.Gated(net, kind_net)
    export_onnx(graph, onnx_path, spec)
    sample = normalise(splits["test"].x[:4], spec)
    evaluation["onnx_max_abs_diff"] = check_onnx(onnx_path, graph, sample, spec)
    manifest["sha256"] = sha256(onnx_path)
    Manifest.parse(manifest)
    write_json(out / "manifest.json", manifest)
    nets.save_weights(
        net,
        out / "train" / "weights.pt",
        backbone=config.backbone,
        in_channels=task.channels,
        width=config.width,
    )
    cm = np.asarray(metrics_test["confusion_matrix"]["rows_true_cols_predicted"])
    split_name = manifest["metrics"]["split"]
    evaluate.plot_confusion(
        out / "train" / "confusion.png",
        cm,
        task.label_ids,
        f"{task.name} {config.version}: {split_name} confusion matrix",
    )
    calibrate.plot_reliability(
        out / "train" / "reliability.png",
        probs["test"][0],
        probs["test"][1],
        splits["test"].y,
        f"{task.name} {config.version}: reliability on {split_name}",
    )
    if config.counts.golden > 0:
        _write_golden(config, source, out / "golden")
    else:  # real images may not ship: the operator uploads the site's golden set (docs/OPERATOR.md)
        manifest["files"].pop("golden", None)
        Manifest.parse(manifest)
        write_json(out / "manifest.json", manifest)
    (out / "MODEL_CARD.md").write_text(model_card(manifest, evaluation), encoding="utf-8")


def _write_golden(config: BuildConfig, source: Source, folder: Path) -> None:
    """A small labelled evaluation set + out-of-domain items, for the registry's evaluation gate."""
    task = config.task
    folder.mkdir()
    jobs, labels = source.golden(config.counts.golden)
    items: list[dict[str, Any]] = []
    for n, (job, label) in enumerate(zip(jobs, labels, strict=True)):
        name = f"{task.label_ids[label]}-{n:03d}.{'png' if task.channels == 1 and n % 5 == 4 else 'jpg'}"
        _save_image(render(job), folder / name)
        items.append({"file": name, "label": task.label_ids[label]})
    family, labels_other = _other_family(task)
    ood_jobs: list[Job] = [
        ("non_target", kind, (config.seed, GOLDEN_OOD, i)) for i, kind in enumerate(GOLDEN_OOD_KINDS)
    ]
    ood_jobs += [(family, labels_other[i], (config.seed, GOLDEN_OOD, 100 + i)) for i in range(2)]
    for n, job in enumerate(ood_jobs):
        name = f"ood-{job[1] if job[0] == 'non_target' else family}-{n:03d}.jpg"
        _save_image(render(job), folder / name)
        items.append({"file": name, "label": None, "ood": True})
    write_json(
        folder / "index.json",
        {
            "model": task.name,
            "synthetic": source.synthetic,
            "note": (
                "drawn from seed streams never used in training"
                if source.synthetic
                else "from the test split"
            )
            + "; items with label null are out of domain: the input gate should refuse them",
            "items": items,
        },
    )


def save_samples(task: TaskSpec, folder: Path, seed: int, per_label: dict[str, int]) -> list[str]:
    """Upload-like sample images (800–1200 px JPEGs) for the web page and the tests."""
    from .synthetic import make_chest_xray, make_skin

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for li, label in enumerate(task.label_ids):
        for i in range(per_label.get(label, 0)):
            rng = np.random.default_rng([seed, SAMPLES, li, i])
            side = int(rng.integers(800, 1201))
            h, w = (
                (side, int(side * rng.uniform(0.8, 0.95)))
                if task.family == "chest"
                else (int(side * 0.75), side)
            )
            image = (
                make_chest_xray(label, rng, size=(h, w))
                if task.family == "chest"
                else make_skin(label, rng, size=(h, w))
            )
            name = f"{task.name}-{label}-{i + 1}.jpg"
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=85, optimize=True)
            (folder / name).write_bytes(buf.getvalue())
            written.append(name)
    return written


def read_evaluation(package: Path) -> dict[str, Any]:
    return dict(json.loads((package / "train" / "evaluation.json").read_text(encoding="utf-8")))
