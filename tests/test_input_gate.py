"""The input gate (xiaofei/inference/input_gate.py): its rules on hand-made statistics, and the bundled
models' gates on images the models never saw (fresh seeds, real photos shipped with scikit-image when
installed)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from model.pipeline.nontarget import make_bad_capture, make_non_target
from model.pipeline.sources import REAL_PHOTOS, real_photo_dir
from model.pipeline.synthetic import CHEST_LABELS, SKIN_LABELS, make_chest_xray, make_skin
from tests import films
from xiaofei.errors import ManifestError
from xiaofei.imaging import image_io
from xiaofei.imaging.tilt import tilt_degrees
from xiaofei.inference import input_gate
from xiaofei.inference.manifest import Manifest
from xiaofei.inference.onnx_model import OnnxModel
from xiaofei.inference.preprocess import preprocess

MODELS = Path(__file__).resolve().parent.parent / "model"
SEED = 424242  # not a seed stream the pipeline uses


@pytest.fixture(scope="module")
def chest() -> OnnxModel:
    return OnnxModel.load(MODELS / "pneumonia", threads=1)


@pytest.fixture(scope="module")
def skin() -> OnnxModel:
    return OnnxModel.load(MODELS / "skin", threads=1)


def verdict(model: OnnxModel, image: Image.Image) -> input_gate.QualityReport:
    """The serving path: preprocess → ONNX → the gate on the decoded image."""
    batch, _ = preprocess(image, model.manifest.input)
    raw = model.run(batch)
    return input_gate.assess(image, raw.pooled, raw.logits, model.manifest, raw.kind)


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *key])


def real_film(i: int, label: str = "NORMAL") -> Image.Image:
    """A native-resolution Kermany film, decoded as serving decodes it (skips without shared/data)."""
    data = films.real(i, label)
    return image_io.decode(data, max_bytes=1 << 30, max_pixels=200_000_000, min_side=512).image


def exposed(film: Image.Image, gain: float, offset: float) -> Image.Image:
    a = np.asarray(film.convert("L"), np.float32) * gain + offset
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")


# --- the bundled chest model (trained on real films: its acceptance is tested on real films) ----------


def test_chest_model_accepts_real_films(chest: OnnxModel) -> None:
    reports = [verdict(chest, real_film(i, ("NORMAL", "PNEUMONIA")[i % 2])) for i in range(12)]
    assert sum(r.ok for r in reports) >= 11, [r.reason for r in reports]
    ok = next(r for r in reports if r.ok)
    assert ok.reason is None and ok.message is None and {"kind_p", "mahalanobis"} <= set(ok.scores)


def test_chest_model_accepts_a_film_on_a_warm_light_box(chest: OnnxModel) -> None:
    film = real_film(5).convert("RGB")
    a = np.asarray(film, np.float32) * np.array([1.0, 0.97, 0.92], np.float32)  # warm light-box cast
    report = verdict(chest, Image.fromarray(a.astype(np.uint8), "RGB"))
    assert report.ok, report.reason


@pytest.mark.parametrize("kind", ["scene", "objects", "face", "gray_photo", "texture", "screenshot"])
def test_chest_model_refuses_photos_and_screens(chest: OnnxModel, kind: str) -> None:
    for i in range(3):
        report = verdict(chest, make_non_target(kind, rng(3, i)))
        assert not report.ok
        assert report.reason in ("not_a_radiograph", "low_contrast"), report.reason
        assert report.message is not None and report.message["zh"] and report.message["en"]


def test_chest_model_refuses_documents_colour_photos_and_blanks_with_the_right_reason(
    chest: OnnxModel,
) -> None:
    for i in range(3):
        assert verdict(chest, make_non_target("document", rng(4, i))).reason == "not_a_radiograph"
        assert verdict(chest, make_skin(SKIN_LABELS[i], rng(5, i))).reason == "not_a_radiograph"
        assert verdict(chest, make_non_target("face", rng(6, i))).reason == "not_a_radiograph"
    for colour in (0, 255, (200, 30, 30)):
        blank = Image.new("RGB" if isinstance(colour, tuple) else "L", (600, 500), colour)
        assert verdict(chest, blank).reason == "blank"


def test_chest_model_says_why_a_real_film_cannot_be_read(chest: OnnxModel) -> None:
    film = real_film(7)
    mean = float(np.asarray(film.convert("L"), np.float32).mean())
    assert verdict(chest, exposed(film, 0.3, 0)).reason == "too_dark"
    assert verdict(chest, exposed(film, 0.3, 178)).reason == "too_bright"
    assert verdict(chest, exposed(film, 0.12, mean * 0.88)).reason == "low_contrast"
    assert verdict(chest, film.resize((80, 90))).reason == "too_small"
    report = verdict(chest, film.resize((200, 180)))
    assert "low_resolution" in {w["code"] for w in report.warnings}


@pytest.mark.skipif(real_photo_dir() is None, reason="scikit-image's sample photos are not installed")
def test_both_models_refuse_real_photos(chest: OnnxModel, skin: OnnxModel) -> None:
    folder = real_photo_dir()
    assert folder is not None
    refused = {"pneumonia": 0, "skin": 0}
    for name in REAL_PHOTOS:
        with Image.open(folder / name) as im:
            im.load()
            photo = image_io.normalize_mode(im).copy()
        refused["pneumonia"] += not verdict(chest, photo).ok
        refused["skin"] += not verdict(skin, photo).ok
    # Issue 11: photos are 100% refused by the chest model. The skin demo's gate, fitted to accept real
    # clinical photos too (1.2.0-demo), lets three pass (the cat, the stained slide, the retina): 19 of 22.
    assert refused["pneumonia"] == len(REAL_PHOTOS), refused
    assert refused["skin"] >= 19, refused
    for name in ("astronaut.png", "camera.png", "chelsea.png", "coffee.png"):
        with Image.open(folder / name) as im:
            im.load()
            assert verdict(chest, image_io.normalize_mode(im).copy()).reason == "not_a_radiograph", name


def test_tilt_of_a_film_is_estimated_from_its_mirror_symmetry() -> None:
    upright, turned = [], []
    for i in range(20):
        film = make_chest_xray(CHEST_LABELS[i % 3], rng(12, i))
        upright.append(tilt_degrees(film))
        angle = 12 if i % 2 else -12
        turned.append((angle, tilt_degrees(film.rotate(angle, Image.Resampling.BILINEAR))))
    # THEN an upright film is never called turned, and a turned one is found, the right way round
    assert max(abs(t) for t in upright) < input_gate.TILT_WARN_DEGREES, upright
    close = [abs(est - angle) <= 4 for angle, est in turned]
    assert sum(close) >= 17, turned


def test_a_turned_real_film_is_read_with_a_rotated_warning(chest: OnnxModel, skin: OnnxModel) -> None:
    film = real_film(2, "PNEUMONIA")
    report = verdict(chest, film.rotate(14, Image.Resampling.BILINEAR, fillcolor=0))
    assert report.ok and "rotated" in {w["code"] for w in report.warnings}, report
    assert report.scores["tilt_degrees"] >= input_gate.TILT_WARN_DEGREES
    # skin photos are taken at any angle: no tilt is measured for them
    assert "tilt_degrees" not in verdict(skin, make_skin(SKIN_LABELS[0], rng(13, 1))).scores


# --- the bundled skin model ---------------------------------------------------------------------------


def test_skin_model_accepts_skin_photos(skin: OnnxModel) -> None:
    reports = [verdict(skin, make_skin(SKIN_LABELS[i % 8], rng(8, i))) for i in range(16)]
    assert sum(r.ok for r in reports) >= 15, [r.reason for r in reports]


def test_skin_model_refuses_radiographs_and_documents(skin: OnnxModel) -> None:
    for i in range(4):
        assert verdict(skin, make_chest_xray(CHEST_LABELS[i % 3], rng(9, i))).reason == "not_skin"
    if films.realsets.shared_data() is not None:
        assert verdict(skin, real_film(1, "PNEUMONIA")).reason == "not_skin"
    for kind in ("document", "screenshot", "scene", "gray_photo"):
        assert verdict(skin, make_non_target(kind, rng(10, 0))).reason == "not_skin", kind


def test_skin_model_says_a_badly_lit_photo_is_too_dark_or_too_bright_not_other_skin(skin: OnnxModel) -> None:
    # GIVEN skin photos taken in the dark or washed out by a flash
    # (1.1.0-demo: 20 of 20 dark ones told too_dark; of the washed-out ones 8 too_bright, 11 not_skin: a
    # flash drains the colour that tells skin, below the fitted saturation floor)
    for fault, reason, told_right in (("skin_dark", "too_dark", 18), ("skin_bright", "too_bright", 6)):
        reports = [verdict(skin, make_bad_capture(fault, rng(11, i))) for i in range(20)]
        # THEN none is read, and the dark ones are told what to fix rather than that they are not skin
        assert not any(r.ok for r in reports)
        told = [r.reason for r in reports]
        assert told.count(reason) >= told_right, (fault, told)


# --- the rules, on hand-made statistics ---------------------------------------------------------------


def _manifest_with(quality_block: Any) -> Manifest:
    data = json.loads((MODELS / "pneumonia" / "manifest.json").read_text(encoding="utf-8"))
    data["quality"] = quality_block
    return Manifest.parse(data)


def _stats(**overrides: float) -> dict[str, float]:
    base = {
        "width": 800.0,
        "height": 900.0,
        "min_side": 800.0,
        "aspect": 1.125,
        "brightness": 110.0,
        "contrast": 70.0,
        "dark_fraction": 0.2,
        "bright_fraction": 0.0,
        "saturation": 0.0,
        "skin_fraction": 0.0,
        "edge_density": 0.05,
        "entropy": 5.0,
    }
    return {**base, **overrides}


TARGET, OTHER = np.array([5.0, -5.0], np.float32), np.array([-5.0, 5.0], np.float32)  # kind logits


def test_rule_order_with_a_kind_model_on_hand_made_statistics(chest: OnnxModel) -> None:
    manifest = chest.manifest
    q = manifest.raw["quality"]
    assert "kind_model" in q, "the bundled chest gate decides the kind with its kind model"
    pooled = np.asarray(q["mahalanobis"]["means"][0], np.float32)  # a class mean: distance 0
    logits = np.array([6.0, -3.0, -3.0], np.float32)
    lo, hi = q["exposure"]["brightness"]

    def decide(
        kind: np.ndarray = TARGET, features: np.ndarray = pooled, **kw: float
    ) -> input_gate.QualityReport:
        return input_gate.decide(_stats(**kw), features, logits, manifest, kind)

    def reason(kind: np.ndarray = TARGET, **kw: float) -> str | None:
        return decide(kind, **kw).reason

    assert reason() is None
    assert reason(contrast=0.1) == "blank"
    assert reason(min_side=q["min_side"] - 1) == "too_small"
    assert reason(saturation=0.9) == "not_a_radiograph"  # colour: no kind model needed
    assert reason(OTHER) == "not_a_radiograph"
    # the kind comes before the exposure: a dark image of another kind is not a dark chest film
    assert reason(OTHER, brightness=lo - 5) == "not_a_radiograph"
    assert reason(brightness=lo - 5) == "too_dark"
    assert reason(brightness=hi + 5) == "too_bright"
    assert reason(dark_fraction=q["exposure"]["dark_fraction_max"] + 0.01) == "too_dark"
    assert reason(contrast=q["exposure"]["contrast_min"] - 1) == "low_contrast"
    threshold = q["kind_model"]["threshold"]
    just_below = np.array([0.0, -np.log(threshold / (1 - threshold)) + 0.05], np.float32)
    assert reason(just_below) == "not_a_radiograph"
    # far from the training films' features: answered, with the population warning
    far = decide(features=pooled + 100.0)
    assert far.ok and "outside_training_data" in {w["code"] for w in far.warnings}
    warning = next(w for w in far.warnings if w["code"] == "outside_training_data")
    assert "1-5" in warning["en"] and warning["zh"]
    with pytest.raises(ManifestError):  # a gate with a kind model cannot run without its output
        input_gate.decide(_stats(), pooled, logits, manifest, None)


def test_rule_order_without_a_kind_model_on_hand_made_statistics(chest: OnnxModel) -> None:
    block = copy.deepcopy(chest.manifest.raw["quality"])
    del block["kind_model"]
    block["kind_ranges"]["edge_density"] = [0.01, 0.2]
    manifest = _manifest_with(block)
    q = block
    pooled = np.asarray(q["mahalanobis"]["means"][0], np.float32)
    logits = np.array([6.0, -3.0, -3.0], np.float32)
    lo, hi = q["exposure"]["brightness"]

    def reason(**kw: float) -> str | None:
        return input_gate.decide(_stats(**kw), pooled, logits, manifest).reason

    assert reason() is None
    assert reason(contrast=0.1) == "blank"
    dim = (q["blank_contrast"] + q["exposure"]["washed_out_contrast"]) / 2  # not blank, but washed out
    assert reason(brightness=lo / 3, contrast=dim) == "too_dark"
    assert reason(saturation=0.9, brightness=lo / 3, contrast=dim) == "not_a_radiograph"  # colour first
    assert (
        reason(brightness=min(254, hi * 1.3), contrast=q["exposure"]["washed_out_contrast"] / 2)
        == "too_bright"
    )
    assert reason(edge_density=0.5, brightness=240) == "not_a_radiograph"  # a white page keeps its contrast
    assert reason(brightness=lo - 5) == "too_dark"
    assert reason(brightness=hi + 5) == "too_bright"
    assert reason(contrast=q["exposure"]["contrast_min"] - 1) == "low_contrast"
    assert input_gate.decide(_stats(), pooled + 100.0, logits, manifest).reason == "not_a_radiograph"


def test_every_reason_and_warning_has_both_languages() -> None:
    assert set(input_gate.MESSAGES) == set(input_gate.REASONS)
    for text in (*input_gate.MESSAGES.values(), *input_gate.WARNINGS.values()):
        assert text["en"] and text["zh"] and text["en"] != text["zh"]


def test_a_model_without_a_gate_says_so(chest: OnnxModel) -> None:
    manifest = _manifest_with({})
    report = input_gate.assess(
        Image.new("L", (300, 300), 128), np.zeros(128, np.float32), np.zeros(3), manifest
    )
    assert report.ok and [w["code"] for w in report.warnings] == ["no_input_gate"]


@pytest.mark.parametrize(
    "path, value",
    [
        ("version", 99),
        ("refusal", "maybe"),
        ("exposure.brightness", [200, 100]),
        ("mahalanobis.precision", [[1.0, 2.0]]),
        ("mahalanobis.means", "x"),
        ("energy.threshold", "high"),
    ],
)
def test_a_malformed_gate_is_a_manifest_error(chest: OnnxModel, path: str, value: Any) -> None:
    block = copy.deepcopy(chest.manifest.raw["quality"])
    node = block
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    manifest = _manifest_with(block)
    with pytest.raises(ManifestError) as caught:
        input_gate.check_manifest(manifest)
    assert caught.value.details["field"].startswith("quality.")


def test_image_stats_of_simple_images() -> None:
    grey = input_gate.image_stats(Image.new("L", (640, 480), 100))
    assert grey["contrast"] == 0 and grey["brightness"] == pytest.approx(100) and grey["saturation"] == 0
    assert grey["aspect"] == pytest.approx(640 / 480) and grey["min_side"] == 480
    red = input_gate.image_stats(Image.new("RGB", (300, 300), (200, 40, 40)))
    assert red["saturation"] == pytest.approx(0.8, abs=0.01) and red["skin_fraction"] == 0
    skin_tone = input_gate.image_stats(Image.new("RGB", (300, 300), (220, 170, 140)))
    assert skin_tone["skin_fraction"] == 1.0
    # Colour statistics are ratios: a darker exposure of the same colours keeps them.
    darker = input_gate.image_stats(Image.new("RGB", (300, 300), (110, 85, 70)))
    assert darker["skin_fraction"] == 1.0 and darker["saturation"] == pytest.approx(
        skin_tone["saturation"], abs=0.02
    )
    stripes = np.zeros((200, 200), np.uint8)
    stripes[:, ::4] = 255
    assert input_gate.image_stats(Image.fromarray(stripes))["edge_density"] > 0.3
