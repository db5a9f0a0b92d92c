"""The heatmap shows where the model looked: the CAM is class weights times features, and the layer is a
real transparent PNG that lines up with the image, clear where the model did not look and tinted where it
did. Whether the bundled model looks at the lungs of real films is measured on ``kermany-native`` in
tests/test_real_data.py (drawn films with a known lesion cannot judge a model trained on real ones)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.pipeline.synthetic import make_chest_xray
from xiaofei.imaging import image_io
from xiaofei.imaging.heatmap import (
    LAYER_MAX_SIDE,
    MAX_ALPHA,
    cam_on_image,
    composite,
    layer_size,
    render_layer,
)
from xiaofei.inference.manifest import InputSpec
from xiaofei.inference.onnx_model import OnnxModel, class_activation_map
from xiaofei.inference.preprocess import preprocess

PACKAGE = Path(__file__).resolve().parent.parent / "model" / "pneumonia"


@pytest.fixture(scope="module")
def model() -> OnnxModel:
    return OnnxModel.load(PACKAGE, threads=1)


def test_cam_is_plain_class_weights_times_features() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((4, 3, 3)).astype(np.float32)
    weights = np.array([1.0, -1.0, 0.5, 0.0], dtype=np.float32)
    expected = np.maximum(np.tensordot(weights, features, axes=1), 0)
    np.testing.assert_allclose(class_activation_map(features, weights), expected / expected.max(), rtol=1e-6)
    assert class_activation_map(np.zeros((4, 3, 3), np.float32), weights).max() == 0  # no division by zero


def test_layer_is_a_transparent_png_of_the_image_shape(model: OnnxModel) -> None:
    image = make_chest_xray("bacterial", np.random.default_rng(3), size=(600, 900))
    spec = model.manifest.input
    batch, box = preprocess(image, spec)
    raw = model.run(batch)
    cam = model.cam(raw.features, 1)
    png = render_layer(image.size, cam, box, (spec.height, spec.width))
    with Image.open(io.BytesIO(png)) as layer:
        assert layer.format == "PNG" and layer.mode == "P" and "transparency" in layer.info
        assert max(layer.size) == LAYER_MAX_SIDE
        assert layer.size[0] / layer.size[1] == pytest.approx(900 / 600, rel=0.01)
        rgba = np.asarray(layer.convert("RGBA"), dtype=np.float32)
    # THEN the layer's opacity follows the CAM mapped onto the image: clear where it is cold, at most
    # MAX_ALPHA where it is hottest, and (jet's dark) red there
    heat = np.asarray(cam_on_image(cam, box, (spec.height, spec.width), layer_size(image.size)), np.float32)
    np.testing.assert_allclose(rgba[..., 3], np.floor(heat * MAX_ALPHA), atol=1)
    hottest = np.unravel_index(np.argmax(heat), heat.shape)
    assert rgba[..., 3].max() <= 255 * MAX_ALPHA + 1
    r, g, b, _ = rgba[hottest]
    assert r >= 120 and g < 60 and b < 60


def test_small_images_keep_their_size_and_the_long_side_is_capped() -> None:
    assert layer_size((200, 100)) == (200, 100)
    assert layer_size((100, 100)) == (100, 100)
    assert layer_size((4000, 3000)) == (LAYER_MAX_SIDE, round(LAYER_MAX_SIDE * 0.75))
    assert layer_size((1, 5000)) == (1, LAYER_MAX_SIDE)


def test_composite_tints_only_where_the_layer_is_hot() -> None:
    # GIVEN a grey image and a CAM that is hot in its left half only
    image = Image.new("L", (300, 200), 128)
    cam = np.zeros((14, 14), np.float32)
    cam[:, :7] = 1.0
    box = image_io.Box(0, 0, 224, 224)
    picture = np.asarray(composite(image, render_layer(image.size, cam, box, (224, 224))), dtype=int)
    # THEN the right edge keeps its grey and the left edge turns red-ish, and the size is the image's
    assert picture.shape == (200, 300, 3)
    assert np.abs(picture[:, -10:] - 128).max() <= 2
    left = picture[:, :10].reshape(-1, 3).mean(axis=0)
    assert left[0] > 90 and left[1] < 60 and left[2] < 60


def test_a_centre_crop_model_heats_only_the_part_it_saw() -> None:
    # GIVEN a wide 300×100 image read by a centre-crop model, and a CAM that is hot everywhere
    spec = InputSpec("image", 224, 224, 1, "center_crop", 255.0, (0.5,), (0.25,), 0.0)
    _, box = preprocess(Image.new("L", (300, 100), 128), spec)
    heat = np.asarray(cam_on_image(np.ones((14, 14), np.float32), box, (224, 224), (300, 100)))
    # THEN the middle third (what the model saw) is hot and the sides it never saw stay clear
    assert heat[:, 105:195].min() == 255
    assert heat[:, :95].max() == 0 and heat[:, 205:].max() == 0
