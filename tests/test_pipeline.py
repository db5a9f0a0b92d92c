"""The model pipeline: synthetic images, the real-data readers, the networks, calibration, and a tiny
end-to-end build (train → evaluate → calibrate → fit the gate → export) loaded by the serving code."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from model.pipeline import calibrate, evaluate, nets
from model.pipeline.build import BuildConfig, Counts, FolderSource, SyntheticSource, build_package
from model.pipeline.data import (
    deduplicate,
    kermany_label,
    make_splits,
    read_folders,
    read_kermany,
    split_by_group,
)
from model.pipeline.nontarget import NON_TARGET_KINDS, capture_variant, make_bad_capture, make_non_target
from model.pipeline.specs import PNEUMONIA, SKIN, TaskSpec
from model.pipeline.synthetic import CHEST_LABELS, SKIN_LABELS, make_chest_xray, make_skin, mask_box
from model.pipeline.train import TrainConfig, set_determinism, train
from xiaofei.errors import ManifestError
from xiaofei.inference.manifest import Manifest

pytestmark = pytest.mark.slow  # trains small models

ROOT = Path(__file__).resolve().parent.parent


# --- synthetic images ---------------------------------------------------------------------------------


def test_generators_are_deterministic_and_seed_sensitive() -> None:
    # GIVEN the same seed twice, and another seed
    a, mask_a = make_chest_xray("bacterial", np.random.default_rng(7), return_mask=True)
    b, mask_b = make_chest_xray("bacterial", np.random.default_rng(7), return_mask=True)
    c = make_chest_xray("bacterial", np.random.default_rng(8))
    # THEN the same seed gives the same pixels and mask, another seed another image
    assert a.tobytes() == b.tobytes() and np.array_equal(mask_a, mask_b)
    assert a.tobytes() != c.tobytes()
    assert (
        make_skin("psoriasis", np.random.default_rng(3)).tobytes()
        == make_skin("psoriasis", np.random.default_rng(3)).tobytes()
    )
    assert (
        make_non_target("document", np.random.default_rng(1)).tobytes()
        == make_non_target("document", np.random.default_rng(1)).tobytes()
    )


def test_chest_lesion_masks_follow_the_label() -> None:
    sides = set()
    for seed in range(6):
        image, mask = make_chest_xray("bacterial", np.random.default_rng(seed), return_mask=True)
        assert (
            image.mode == "L" and 256 <= min(image.size) <= 512 and mask.shape == (image.height, image.width)
        )
        box = mask_box(mask)
        assert box is not None
        # A lobar opacity: a compact region, a small share of the image, at a random place.
        assert 0.002 < mask.mean() < 0.15
        sides.add(box[0] + box[2] > image.width)
    assert sides == {True, False}, "consolidations should appear in both lungs"
    _, normal_mask = make_chest_xray("normal", np.random.default_rng(0), return_mask=True)
    assert not normal_mask.any()
    _, viral_mask = make_chest_xray("viral", np.random.default_rng(0), return_mask=True)
    left, right = viral_mask[:, : viral_mask.shape[1] // 2], viral_mask[:, viral_mask.shape[1] // 2 :]
    assert left.any() and right.any(), "viral markings are bilateral"


def test_every_skin_class_and_non_target_kind_renders() -> None:
    for label in SKIN_LABELS:
        image, mask = make_skin(label, np.random.default_rng(1), return_mask=True)
        assert image.mode == "RGB" and mask.shape == (image.height, image.width)
        assert mask.any() == (label != "normal_skin")
    for kind in NON_TARGET_KINDS:
        image = make_non_target(kind, np.random.default_rng(2))
        assert image.mode in ("L", "RGB") and min(image.size) >= 256
    for kind in ("xray_dark", "xray_bright", "xray_flat", "skin_dark"):
        assert make_bad_capture(kind, np.random.default_rng(3)).size
    film = make_chest_xray("normal", np.random.default_rng(4))
    photo = capture_variant(film, np.random.default_rng(5), colour_cast=True)
    assert photo.format == "JPEG"
    with pytest.raises(ValueError):
        make_chest_xray("covid", np.random.default_rng(0))
    assert SKIN.label_ids == SKIN_LABELS and PNEUMONIA.label_ids == CHEST_LABELS


def test_every_drawn_modality_renders_and_a_lateral_has_its_bright_column_at_the_back() -> None:
    from model.pipeline.modalities import MODALITY_KINDS, VIEW_KINDS, make_modality

    for kind in (*MODALITY_KINDS, *VIEW_KINDS):
        image = make_modality(kind, np.random.default_rng(6))
        assert image.mode == "L" and 256 <= image.height <= 640, kind
        again = make_modality(kind, np.random.default_rng(6))
        assert np.array_equal(np.asarray(image), np.asarray(again)), kind
    with pytest.raises(ValueError, match="unknown modality"):
        make_modality("pet", np.random.default_rng(0))
    # A frontal film's brightest column is the spine in the middle; a lateral's is near one edge.
    for seed in range(6):
        columns = np.asarray(make_modality("lateral", np.random.default_rng(seed)), np.float32).mean(axis=0)
        assert abs(int(np.argmax(columns)) / len(columns) - 0.5) > 0.15, seed


# --- real-data readers --------------------------------------------------------------------------------


def _write(path: Path, seed: int, content: bytes | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        path.write_bytes(content)
        return
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 48), dtype=np.uint8), "L").save(path, "JPEG")


def _kermany_tree(root: Path) -> None:
    """A tiny tree named like the real one: patients with several images, a duplicate across splits."""
    n = 0
    for split in ("train", "test"):
        for p in range(6 if split == "train" else 2):
            pid = p + (100 if split == "test" else 0)
            for i in range(2):
                _write(root / split / "NORMAL" / f"IM-{pid:04d}-{i + 1:04d}.jpeg", n := n + 1)
                _write(root / split / "NORMAL" / f"NORMAL2-IM-{pid:04d}-{i + 1:04d}.jpeg", n := n + 1)
                _write(root / split / "PNEUMONIA" / f"person{pid}_bacteria_{n}.jpeg", n := n + 1)
                _write(root / split / "PNEUMONIA" / f"person{pid}_virus_{n}.jpeg", n := n + 1)
    # Exact duplicates: one across splits, and one with a conflicting label.
    (root / "train" / "NORMAL" / "IM-0999-0001.jpeg").write_bytes(
        (root / "test" / "NORMAL" / "IM-0100-0001.jpeg").read_bytes()
    )
    bacterial = sorted((root / "train" / "PNEUMONIA").glob("person0_bacteria_*.jpeg"))[0]
    (root / "train" / "PNEUMONIA" / "person50_virus_1.jpeg").write_bytes(bacterial.read_bytes())
    (root / "train" / "PNEUMONIA" / ".DS_Store").write_bytes(b"junk")
    (root / "train" / "PNEUMONIA" / "notes.jpeg").write_bytes(b"junk")


def test_kermany_names_give_label_and_patient() -> None:
    assert kermany_label(Path("x/PNEUMONIA/person1_bacteria_1.jpeg")) == ("bacterial", "person1")
    assert kermany_label(Path("x/PNEUMONIA/person1_virus_6.jpeg")) == ("viral", "person1")
    assert kermany_label(Path("x/NORMAL/IM-0115-0001.jpeg")) == ("normal", "IM-0115")
    assert kermany_label(Path("x/NORMAL/NORMAL2-IM-0317-0001.jpeg")) == ("normal", "NORMAL2-IM-0317")
    assert kermany_label(Path("x/NORMAL/person1_virus_6.jpeg")) is None  # wrong folder for the name
    assert kermany_label(Path("x/PNEUMONIA/IM-0115-0001.jpeg")) is None


def test_kermany_reader_dedupes_and_splits_by_patient(tmp_path: Path) -> None:
    # GIVEN a Kermany-like tree with duplicates and junk
    _kermany_tree(tmp_path)
    items, notes = read_kermany(tmp_path)
    assert notes == {"skipped_unrecognised_name": 1}
    assert {i.label for i in items} == {"normal", "bacterial", "viral"}
    # WHEN it is de-duplicated and split
    dataset = make_splits(items, PNEUMONIA.label_ids, seed=3, val_fraction=0.34)
    # THEN the conflicting pair is dropped, the cross-split copy kept in test only
    assert dataset.notes["dropped_duplicates_with_conflicting_labels"] == 2
    assert dataset.notes["dropped_exact_duplicates"] == 1
    assert dataset.notes["duplicates_across_split_folders"] == 1
    # the official test folder is the test split, and no patient is in two splits
    assert all(i.source_split == "test" for i in dataset.items["test"])
    groups = {s: {i.group for i in v} for s, v in dataset.items.items()}
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    names = [p.path.name for s in dataset.items.values() for p in s]
    assert len(names) == len(set(names))
    # and the same seed gives the same split
    again = make_splits(read_kermany(tmp_path)[0], PNEUMONIA.label_ids, seed=3, val_fraction=0.34)
    assert [i.path for i in again.items["val"]] == [i.path for i in dataset.items["val"]]


def test_split_by_group_keeps_patients_whole_and_stratifies(tmp_path: Path) -> None:
    items, _ = read_kermany(_tree_without_test(tmp_path))
    kept, _ = deduplicate(items)
    splits = split_by_group(kept, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=1)
    where: dict[str, str] = {}
    for name, part in splits.items():
        for item in part:
            assert where.setdefault(item.group, name) == name
    assert all({i.label for i in part} for part in splits.values())


def _tree_without_test(root: Path) -> Path:
    for p in range(8):
        for i in range(2):
            _write(root / "all" / "NORMAL" / f"IM-{p:04d}-{i:04d}.jpeg", 1000 + 10 * p + i)
            _write(root / "all" / "PNEUMONIA" / f"person{p}_virus_{i}.jpeg", 2000 + 10 * p + i)
    return root


def test_class_folders_with_and_without_patient_ids(tmp_path: Path) -> None:
    for label in ("psoriasis", "pemphigus"):
        for i in range(4):
            _write(tmp_path / label / f"pt{i % 2}-{label}-{i}.jpg", hash((label, i)) % 1000)
    _write(tmp_path / "unknown_class" / "a.jpg", 5)
    items, notes = read_folders(tmp_path, SKIN.label_ids)
    assert len(items) == 8 and notes == {"skipped_unknown_class_folder": 1}
    assert len({i.group for i in items}) == 8  # no patient ids: each file is its own group
    items, _ = read_folders(tmp_path, SKIN.label_ids, group_pattern=r"^(?P<group>pt\d+)-")
    assert {i.group for i in items} == {"pt0", "pt1"}


# --- networks -----------------------------------------------------------------------------------------


def test_small_net_shapes_and_exact_cam() -> None:
    net = nets.build(nets.SMALL, 1, 3).eval()
    x = torch.randn(2, 1, 224, 224)
    with torch.no_grad():
        logits, features = net(x)
    assert logits.shape == (2, 3) and features.shape == (2, 128, 14, 14)
    # The logits are the linear head of the pooled features: plain CAM is exact.
    expected = features.mean(dim=(2, 3)) @ net.head.weight.T + net.head.bias
    assert torch.allclose(logits, expected, atol=1e-5)
    assert 20e6 < nets.count_flops(net, (1, 1, 224, 224)) < 80e6  # multiply-adds: a few ms on one thread


def test_an_ensemble_answers_the_mean_of_its_members_with_an_exact_cam(tmp_path: Path) -> None:
    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        members.append(nets.build(nets.SMALL, 1, 3, width=8).eval())
    combined = nets.ensemble(members).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        logits, features = combined(x)
        mean = torch.stack([m(x)[0] for m in members]).mean(dim=0)
    assert torch.allclose(logits, mean, atol=1e-5)
    assert features.shape[1] == 2 * members[0].channels and nets.member_count(combined) == 2
    # One linear head over the concatenated feature maps: plain CAM stays exact for the ensemble.
    expected = features.mean(dim=(2, 3)) @ combined.head.weight.T + combined.head.bias
    assert torch.allclose(logits, expected, atol=1e-5)
    # Saved and rebuilt from its config alone, it is the same network.
    (tmp_path / "train").mkdir()
    nets.save_weights(
        combined, tmp_path / "train" / "weights.pt", backbone=nets.SMALL, in_channels=1, width=8
    )
    manifest = {"labels": [{}, {}, {}], "input": {"channels": 1}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with torch.no_grad():
        assert torch.equal(nets.load_torch_model(tmp_path)(x)[0], logits)
    assert nets.ensemble(members[:1]) is members[0]


def test_the_weight_average_forgets_the_start_and_follows_the_weights() -> None:
    from model.pipeline.train import WeightAverage

    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage(net, decay=0.9)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for _ in range(200):
        average.update(net)
    assert torch.allclose(average.net.weight, torch.ones(1, 2), atol=1e-6)
    assert average.net is not net and float(net.weight.sum()) == 2.0


def test_the_kind_models_wide_recipe_varies_framing_and_processing_and_keeps_the_range() -> None:
    from model.pipeline.train import augment

    pixels = torch.from_numpy(np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (4, 1, 48, 1)))
    mild = augment(pixels, torch.Generator().manual_seed(5), "chest", 0.0)
    wide = augment(pixels, torch.Generator().manual_seed(5), "chest_wide", 0.0)
    assert wide.shape == pixels.shape and float(wide.min()) >= 0.0 and float(wide.max()) <= 1.0
    # Wider than the diagnostic model's recipe: the copies differ more from the film they came from.
    base = pixels.float() / 255.0
    assert float((wide - base).abs().mean()) > float((mild - base).abs().mean())


def test_torchvision_backbones_fail_clearly_without_torchvision() -> None:
    try:
        import torchvision  # noqa: F401
    except Exception:
        with pytest.raises(nets.BackboneUnavailable, match="torchvision"):
            nets.build("resnet18", 1, 3)
    else:  # where torchvision works, the adapted backbone gives the same two outputs
        logits, features = nets.build("resnet18", 1, 3).eval()(torch.zeros(1, 1, 224, 224))
        assert logits.shape == (1, 3) and features.shape[:2] == (1, 512)
    with pytest.raises(ValueError, match="unknown backbone"):
        nets.build("vgg", 1, 3)


# --- metrics and calibration --------------------------------------------------------------------------


def test_report_and_confusion_matrix() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    out = evaluate.report(y, pred, ["a", "b", "c"])
    assert out["confusion_matrix"]["rows_true_cols_predicted"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert out["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert out["per_class"]["b"] == {
        "precision": pytest.approx(2 / 3, abs=1e-4),
        "recall": 1.0,
        "f1": pytest.approx(0.8, abs=1e-4),
        "support": 2,
    }


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 3))
    # Labels drawn from softmax(logits / 2): the raw logits are over-confident by a factor of 2.
    p = calibrate.softmax(logits, 2.0)
    y = np.array([rng.choice(3, p=row) for row in p])
    t = calibrate.fit_temperature(logits, y)
    assert t == pytest.approx(2.0, rel=0.1)
    assert calibrate.ece(calibrate.softmax(logits, t), y) < calibrate.ece(calibrate.softmax(logits), y) / 2


def test_uncertain_threshold_is_the_lowest_that_reaches_the_target() -> None:
    confidence = np.linspace(1.0, 0.4, 100)
    correct = np.ones(100, bool)
    correct[[5, 30, 50, 60, 70, 80, 90]] = False
    # The 60 most confident answers are 57/60 = 95% right; any larger set is below 95%.
    choice = calibrate.pick_threshold(confidence, correct, target=0.95)
    assert choice["threshold"] == pytest.approx(confidence[59])
    assert choice["coverage"] == pytest.approx(0.6) and choice["accuracy_kept"] == pytest.approx(0.95)
    # A target nothing reaches flags (nearly) everything.
    assert calibrate.pick_threshold(confidence, np.zeros(100, bool), 0.95)["coverage"] <= 0.01


# --- end to end ---------------------------------------------------------------------------------------

TINY = Counts(
    train={"normal": 10, "bacterial": 12, "viral": 10},
    val=6,
    test=6,
    outliers=2,
    heldout=2,
    recaptures=8,
    bad=3,
    bad_heldout=2,
    golden=2,
    photo_crops=0,
)


def _tiny_config(out: Path, task: TaskSpec = PNEUMONIA, counts: Counts = TINY, seed: int = 5) -> BuildConfig:
    return BuildConfig(
        task=task,
        out=out,
        version="0.0.1-test",
        created_at="2026-01-01T00:00:00Z",
        counts=counts,
        seed=seed,
        size=64,
        train=TrainConfig(epochs=2, augment=task.family, seed=seed, threads=2, progress=False),
        data_description="tiny test set",
    )


def test_tiny_synthetic_build_exports_a_servable_package(tmp_path: Path) -> None:
    # GIVEN a tiny synthetic training run (64 px, two epochs)
    out = tmp_path / "pneumonia"
    evaluation = build_package(_tiny_config(out), SyntheticSource(PNEUMONIA, TINY, 5))
    # THEN the package has every file, and the manifest parses with the serving code
    for name in (
        "model.onnx",
        "manifest.json",
        "MODEL_CARD.md",
        "golden/index.json",
        "train/weights.pt",
        "train/evaluation.json",
        "train/confusion.png",
        "train/reliability.png",
    ):
        assert (out / name).is_file(), name
    manifest = Manifest.loads((out / "manifest.json").read_bytes())
    raw = manifest.raw
    assert manifest.demo and raw["training"]["synthetic"] and raw["metrics"]["split"] == "synthetic-test"
    assert (
        manifest.input.height == 64 and manifest.input.channels == 1 and manifest.input.resize == "letterbox"
    )
    assert raw["quality"]["kind"] == "radiograph" and raw["metrics"]["gate"]["n_non_target"] > 0
    assert {"ece_before", "ece_after"} <= set(raw["metrics"]) and 0.05 <= manifest.temperature <= 20
    assert all(lab["description_en"] and lab["description_zh"] for lab in raw["labels"])
    assert evaluation["onnx_max_abs_diff"] < 1e-3
    golden = json.loads((out / "golden" / "index.json").read_text())
    assert {i["label"] for i in golden["items"]} == {"normal", "bacterial", "viral", None}
    assert all((out / "golden" / i["file"]).is_file() for i in golden["items"])
    assert sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) < 3_000_000
    # AND the serving code loads it (sha256, signature), classifies and runs the input gate
    from xiaofei.inference import input_gate
    from xiaofei.inference.onnx_model import OnnxModel
    from xiaofei.inference.preprocess import preprocess

    model = OnnxModel.load(out, threads=1)
    image = make_chest_xray("bacterial", np.random.default_rng(99))
    batch, _ = preprocess(image, model.manifest.input)
    raw_out = model.run(batch)
    assert raw_out.logits.shape == (3,) and raw_out.features.shape == (128, 4, 4)
    result = model.classify(raw_out.logits)
    assert result.probabilities.sum() == pytest.approx(1.0)
    report = input_gate.assess(image, raw_out.pooled, raw_out.logits, model.manifest)
    assert report.reason in (None, *input_gate.REASONS)
    # AND the PyTorch baseline rebuilt from train/weights.pt gives the same outputs
    torch_net = nets.load_torch_model(out)
    with torch.no_grad():
        logits, features = torch_net(torch.from_numpy(batch))
    assert np.allclose(logits[0].numpy(), raw_out.logits, atol=1e-3)
    assert np.allclose(features[0].numpy(), raw_out.features, atol=1e-3)


def test_a_build_of_an_averaged_ensemble_serves_as_one_network(tmp_path: Path) -> None:
    # GIVEN a tiny build of two members, each validated on its moving average of the weights
    out = tmp_path / "pneumonia"
    config = dataclasses.replace(
        _tiny_config(out),
        members=2,
        train=TrainConfig(epochs=2, augment="chest", seed=5, threads=2, progress=False, ema_decay=0.9),
        width=8,
    )
    evaluation = build_package(config, SyntheticSource(PNEUMONIA, TINY, 5))
    # THEN one ONNX graph serves both (the export check passed), its features are both members' maps
    manifest = Manifest.loads((out / "manifest.json").read_bytes())
    training = manifest.raw["training"]
    assert training["members"] == 2 and len(training["best_epochs"]) == 2 and training["ema_decay"] == 0.9
    assert len(evaluation["training"]["members"]) == 2 and evaluation["onnx_max_abs_diff"] < 1e-3
    assert len(manifest.raw["cam"]["weights"][0]) == 2 * 8 * 8
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    epochs = ", ".join(map(str, training["best_epochs"]))
    assert "moving average of the weights (decay 0.9) was validated after every epoch" in card
    assert f"epochs {epochs}" in card
    # AND the PyTorch baseline rebuilt from train/weights.pt is the same ensemble
    assert nets.member_count(nets.load_torch_model(out)) == 2


def test_a_build_whose_manifest_the_server_would_refuse_stops_before_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pipeline has no manifest checks of its own: it relies on Manifest.parse, so a bad field must
    # stop the build with the serving code's error, naming the field, before any package is written.
    from model.pipeline import build

    def out_of_range_temperature(**kwargs: Any) -> dict[str, Any]:
        manifest = real_build_manifest(**kwargs)
        manifest["temperature"] = 50.0
        return manifest

    real_build_manifest = build.build_manifest
    monkeypatch.setattr(build, "build_manifest", out_of_range_temperature)
    out = tmp_path / "pneumonia"
    with pytest.raises(ManifestError) as err:
        build_package(_tiny_config(out), SyntheticSource(PNEUMONIA, TINY, 5))
    assert err.value.details == {"field": "temperature"} and "temperature" in err.value.en
    assert not (out / "manifest.json").exists() and not (out / "model.onnx").exists()


def test_training_is_deterministic(tmp_path: Path) -> None:
    from model.pipeline.sources import encode_jobs
    from xiaofei.inference.manifest import InputSpec

    source = SyntheticSource(PNEUMONIA, TINY, 11)
    spec = InputSpec("image", 48, 48, 1, "letterbox", 255.0, (0.3,), (0.3,), 0.0)
    geometry = InputSpec("image", 48, 48, 1, "letterbox", 1.0, (0.0,), (1.0,), 0.0)
    data = encode_jobs(*source.clean("train"), geometry)
    val = encode_jobs(*source.clean("val"), geometry)
    weights = []
    for _ in range(2):
        set_determinism(11, 2)
        net = nets.build(nets.SMALL, 1, 3, width=8)
        train(net, data, val, spec, TrainConfig(epochs=1, seed=11, progress=False))
        weights.append(torch.cat([p.flatten() for p in net.state_dict().values() if p.is_floating_point()]))
    assert torch.equal(weights[0], weights[1])


def test_real_data_path_on_a_kermany_tree_of_synthetic_films(tmp_path: Path) -> None:
    # GIVEN a Kermany-layout folder of JPEG films named like the real ones
    root = tmp_path / "chest_xray"
    n = 0
    for split, patients in (("train", 14), ("test", 3)):
        for p in range(patients):
            for label, folder, name in (
                ("normal", "NORMAL", f"IM-{p + 1000 * (split == 'test'):04d}-0001.jpeg"),
                ("bacterial", "PNEUMONIA", f"person{p + 1000 * (split == 'test')}_bacteria_{n}.jpeg"),
                ("viral", "PNEUMONIA", f"person{p + 1000 * (split == 'test')}_virus_{n + 1}.jpeg"),
            ):
                n += 2
                image = make_chest_xray(label, np.random.default_rng([77, n]), size=(300, 260))
                (root / split / folder).mkdir(parents=True, exist_ok=True)
                image.save(root / split / folder / name, "JPEG", quality=90)
    # WHEN the real-data path trains on it
    from model.pipeline.__main__ import main

    out = tmp_path / "out"
    dataset = make_splits(read_kermany(root)[0], PNEUMONIA.label_ids, seed=0, val_fraction=0.3)
    counts = Counts(
        train={}, outliers=2, heldout=2, recaptures=6, bad=2, bad_heldout=2, golden=2, photo_crops=0
    )
    config = _tiny_config(out, counts=counts)
    build_package(config, FolderSource(PNEUMONIA, dataset, 0))
    # THEN it is a package too, whose training is not marked synthetic, evaluated on the test folder
    manifest = Manifest.loads((out / "manifest.json").read_bytes())
    assert manifest.raw["training"]["synthetic"] is False and manifest.raw["metrics"]["split"] == "test"
    assert manifest.raw["training"]["counts"]["test"] == {"normal": 3, "bacterial": 3, "viral": 3}
    # AND asking the command line for a torchvision backbone fails with a clear message, not a trace
    if not _has_torchvision():
        code = main(
            [
                "train",
                "--data",
                str(root),
                "--layout",
                "kermany",
                "--backbone",
                "resnet18",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        assert code == 2


def _has_torchvision() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:
        return False
    return True
