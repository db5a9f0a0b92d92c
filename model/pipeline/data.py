"""Readers for the real data sets, de-duplication, and splits by patient.

- Kermany et al. 2018 chest X-rays: ``{train,val,test}/{NORMAL,PNEUMONIA}/``. Bacterial vs viral is
  only in the file name (``person12_bacteria_47.jpeg``, ``person12_virus_93.jpeg``); normals are
  ``IM-0115-0001.jpeg`` or ``NORMAL2-IM-0317-0001.jpeg``. The patient is ``personN`` for pneumonia and
  ``IM-XXXX`` / ``NORMAL2-IM-XXXX`` for normals: images of one patient must stay in one split.
- Class-per-folder (the skin set): ``ROOT/<class>/*.jpg``, or ``ROOT/{train,val,test}/<class>/*.jpg``.
  Without patient ids each file is its own group, unless ``group_pattern`` (a regex with a ``group``
  named group, matched against the file name) says which files belong together.

Exact duplicates (same MD5) are removed before splitting: one copy is kept, and a file whose copies
carry different labels is dropped altogether. Every decision is counted in ``Dataset.notes``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp")
SPLITS = ("train", "val", "test")
# Some files carry an extra image number (``person447_virus_921_1``, ``IM-0429-0001-0002``).
_PNEUMONIA = re.compile(r"^(?P<group>person\d+)_(?P<kind>bacteria|virus)_\d+(?:_\d+)?$", re.IGNORECASE)
_NORMAL = re.compile(r"^(?P<group>(?:NORMAL2-)?IM-\d+)(?:-\d+)+$", re.IGNORECASE)


@dataclass(frozen=True)
class Item:
    path: Path
    label: str
    group: str  # the patient (or whatever must not be split across train / val / test)
    source_split: str | None = None  # the split folder the file came from, if any


@dataclass
class Dataset:
    labels: tuple[str, ...]
    items: dict[str, list[Item]]  # split → items
    notes: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        return {s: dict(Counter(i.label for i in items)) for s, items in self.items.items()}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def kermany_label(path: Path) -> tuple[str, str] | None:
    """(label, patient) from a Kermany file name and folder; None when the name does not fit."""
    stem, folder = path.stem, path.parent.name.upper()
    if folder == "PNEUMONIA":
        m = _PNEUMONIA.match(stem)
        if m:
            return ("bacterial" if m["kind"].lower() == "bacteria" else "viral"), m["group"].lower()
    elif folder == "NORMAL":
        m = _NORMAL.match(stem)
        if m:
            return "normal", m["group"].upper()
    return None


def read_kermany(root: Path | str) -> tuple[list[Item], dict[str, int]]:
    """Every image under ``root`` in the Kermany layout, with its label, patient and split folder."""
    root = Path(root)
    items, notes = [], Counter[str]()
    for path in _images(root):
        parsed = kermany_label(path)
        if parsed is None:
            notes["skipped_unrecognised_name"] += 1
            continue
        split = path.parent.parent.name.lower()
        items.append(Item(path, parsed[0], parsed[1], split if split in SPLITS else None))
    if not items:
        raise ValueError(f"{root}: no images in the Kermany layout ({{train,test}}/{{NORMAL,PNEUMONIA}}/...)")
    return items, dict(notes)


def read_folders(
    root: Path | str, labels: Sequence[str] | None = None, group_pattern: str | None = None
) -> tuple[list[Item], dict[str, int]]:
    """Class-per-folder images; ``labels`` (folder names) restricts and orders the classes."""
    root = Path(root)
    pattern = re.compile(group_pattern) if group_pattern else None
    split_dirs = [root / s for s in SPLITS if (root / s).is_dir()]
    bases: list[tuple[Path, str | None]] = [(d, d.name) for d in split_dirs] or [(root, None)]
    items, notes = [], Counter[str]()
    for base, split in bases:
        for class_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            if labels is not None and class_dir.name not in labels:
                notes["skipped_unknown_class_folder"] += 1
                continue
            for path in _images(class_dir):
                group = path.stem
                if pattern is not None:
                    m = pattern.search(path.name)
                    if m is None:
                        notes["skipped_no_group_match"] += 1
                        continue
                    group = m["group"]
                items.append(
                    Item(
                        path, class_dir.name, f"{class_dir.name}/{group}" if pattern is None else group, split
                    )
                )
    if not items:
        raise ValueError(f"{root}: no images in class folders")
    return items, dict(notes)


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def deduplicate(items: Iterable[Item]) -> tuple[list[Item], dict[str, int]]:
    """Keep one file per MD5 (test copies win, so the test set is never thinned); drop label conflicts."""
    by_hash: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_hash[md5_file(item.path)].append(item)
    rank = {"test": 0, "val": 1, "train": 2, None: 3}
    kept, notes = [], Counter[str]()
    for copies in by_hash.values():
        if len({c.label for c in copies}) > 1:
            notes["dropped_duplicates_with_conflicting_labels"] += len(copies)
            continue
        copies.sort(key=lambda c: (rank[c.source_split], str(c.path)))
        kept.append(copies[0])
        notes["dropped_exact_duplicates"] += len(copies) - 1
        if len({c.source_split for c in copies}) > 1:
            notes["duplicates_across_split_folders"] += 1
    kept.sort(key=lambda i: str(i.path))
    return kept, dict(notes)


def split_by_group(items: Sequence[Item], fractions: dict[str, float], seed: int) -> dict[str, list[Item]]:
    """Assign whole groups to splits, stratified by each group's majority label, reproducibly."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        groups[item.group].append(item)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key in sorted(groups):
        majority = Counter(i.label for i in groups[key]).most_common(1)[0][0]
        by_label[majority].append(key)
    rng = np.random.default_rng(seed)
    names = list(fractions)
    total = sum(fractions.values())
    out: dict[str, list[Item]] = {name: [] for name in names}
    for label in sorted(by_label):
        keys = by_label[label]
        order = [keys[i] for i in rng.permutation(len(keys))]
        start = 0
        for n, name in enumerate(names):
            end = len(order) if n == len(names) - 1 else start + round(len(order) * fractions[name] / total)
            for key in order[start:end]:
                out[name].extend(groups[key])
            start = end
    return {name: sorted(v, key=lambda i: str(i.path)) for name, v in out.items()}


def make_splits(
    items: list[Item],
    labels: Sequence[str],
    *,
    seed: int,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Dataset:
    """De-duplicate, then split by group. A ``test`` folder is kept as the test set (the official split);
    otherwise test is cut by patient like val. Groups that straddle the official test folder and the
    others are removed from the non-test side (counted), so no patient is in two splits."""
    kept, notes = deduplicate(items)
    official_test = [i for i in kept if i.source_split == "test"]
    if official_test:
        test_groups = {i.group for i in official_test}
        rest = [i for i in kept if i.source_split != "test"]
        leaking = [i for i in rest if i.group in test_groups]
        if leaking:
            notes["removed_images_of_test_patients"] = len(leaking)
        rest = [i for i in rest if i.group not in test_groups]
        splits = split_by_group(rest, {"train": 1 - val_fraction, "val": val_fraction}, seed)
        splits["test"] = official_test
    else:
        splits = split_by_group(
            kept,
            {"train": 1 - val_fraction - test_fraction, "val": val_fraction, "test": test_fraction},
            seed,
        )
    unknown = {i.label for s in splits.values() for i in s} - set(labels)
    if unknown:
        raise ValueError(f"labels not in the model's label list: {sorted(unknown)}")
    for name in SPLITS:
        if not splits.get(name):
            raise ValueError(f"the {name} split is empty: not enough patients")
    return Dataset(tuple(labels), {s: splits[s] for s in SPLITS}, notes)
