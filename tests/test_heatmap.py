"""The heatmap shows where the model looked: on synthetic X-rays with a known lobar consolidation, the
CAM of the bundled pneumonia model peaks over the lesion; and the overlay is a real PNG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.pipeline.synthetic import make_chest_xray
from xiaofei import imaging
from xiaofei.heatmap import OVERLAY_MAX_SIDE, cam_on_image, render_overlay
from xiaofei.inference import OnnxModel, class_activation_map

PACKAGE = Path(__file__).resolve().parent.parent / "model" / "pneumonia"


@pytest.fixture(scope="module")
def model() -> OnnxModel:
    return OnnxModel.load(PACKAGE, threads=1)


def heat_for(model: OnnxModel, image: Image.Image) -> np.ndarray:
    spec = model.manifest.input
    batch, box = imaging.preprocess(image, spec)
    raw = model.run(batch)
    bacterial = model.manifest.label_ids.index("bacterial")
    cam = model.cam(raw.features, bacterial)
    return np.asarray(cam_on_image(cam, box, (spec.height, spec.width), image.size), dtype=np.float32) / 255


def test_cam_peaks_over_the_lesion(model: OnnxModel) -> None:
    near_peak, contrasts = 0, []
    for seed in range(1000, 1012):
        # GIVEN a synthetic X-ray with a consolidation whose mask we know
        image, mask = make_chest_xray(
            "bacterial", np.random.default_rng(seed), size=(384, 384), return_mask=True
        )
        if mask.sum() < 200:
            continue
        heat = heat_for(model, image)
        # THEN the lesion reaches (nearly) the heatmap's peak — a CAM cell is 16 px of the 224 px input,
        # so the very hottest pixel may sit just beside a small lesion…
        near_peak += float(heat[mask].max()) >= 0.8 * float(heat.max())
        # …and the lesion is much hotter on average than the rest of the image
        contrasts.append(float(heat[mask].mean()) / max(1e-6, float(heat[~mask].mean())))
    assert len(contrasts) >= 8
    assert near_peak >= 0.6 * len(contrasts), f"lesion at the peak in {near_peak}/{len(contrasts)} images"
    assert float(np.median(contrasts)) > 3.0


def test_cam_is_plain_class_weights_times_features() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((4, 3, 3)).astype(np.float32)
    weights = np.array([1.0, -1.0, 0.5, 0.0], dtype=np.float32)
    expected = np.maximum(np.tensordot(weights, features, axes=1), 0)
    np.testing.assert_allclose(class_activation_map(features, weights), expected / expected.max(), rtol=1e-6)
    assert class_activation_map(np.zeros((4, 3, 3), np.float32), weights).max() == 0  # no division by zero


def test_overlay_is_a_png_of_the_image_shape(model: OnnxModel) -> None:
    image = make_chest_xray("bacterial", np.random.default_rng(3), size=(600, 900))
    spec = model.manifest.input
    batch, box = imaging.preprocess(image, spec)
    raw = model.run(batch)
    png = render_overlay(image, model.cam(raw.features, 1), box, (spec.height, spec.width))
    with Image.open(io.BytesIO(png)) as overlay:
        assert overlay.format == "PNG" and overlay.mode == "RGB"
        assert max(overlay.size) == OVERLAY_MAX_SIDE
        assert overlay.size[0] / overlay.size[1] == pytest.approx(900 / 600, rel=0.01)
