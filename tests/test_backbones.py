"""The torchvision backbones of the pipeline (resnet18, mobilenet_v3, efficientnet_b0, inception_v3).

torchvision does not import beside the CPU torch that `make test` installs, so these tests skip there;
they run in an environment with a matching torch + torchvision (see README, "The model pipeline"):

    pip install torch==2.14.1 torchvision==0.29.1 -e '.[dev]' && pytest tests/test_backbones.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.pipeline import nets
from model.pipeline.build import BuildConfig, Counts, SyntheticSource, build_package
from model.pipeline.export import check_onnx, export_onnx
from model.pipeline.specs import PNEUMONIA, SKIN
from model.pipeline.synthetic import make_chest_xray
from model.pipeline.train import TrainConfig
from xiaofei.inference.manifest import InputSpec
from xiaofei.inference.onnx_model import OnnxModel
from xiaofei.inference.preprocess import preprocess


def _torchvision_works() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # not installed, or built for another torch
        return False
    return True


pytestmark = [  # slow: trains torchvision backbones
    pytest.mark.slow,
    pytest.mark.skipif(not _torchvision_works(), reason="torchvision does not import beside this torch"),
]

# Small inputs keep the tests quick; inception_v3 needs at least 75 px.
SIZES = {name: 96 for name in nets.TORCHVISION} | {"inception_v3": 128}


def _spec(channels: int, size: int) -> InputSpec:
    return InputSpec("image", size, size, channels, "letterbox", 255.0, (0.5,) * channels, (0.25,) * channels)


def _settle_batch_norm(net: torch.nn.Module, x: torch.Tensor) -> None:
    """Give the untrained net the normalisation statistics of ``x``, as training would: with its fresh
    ones (mean 0, variance 1) activations of the deep nets grow without bound in eval mode."""
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the passes below
    net.train()
    with torch.no_grad():
        net(x)
    net.eval()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", nets.TORCHVISION)
def test_backbone_gives_exact_cam_outputs_and_exports_to_onnx(
    name: str, channels: int, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    net = nets.build(name, channels, 3)
    size = SIZES[name]
    x = torch.randn(4, channels, size, size)
    _settle_batch_norm(net, x)
    with torch.no_grad():
        logits, features = net(x)
    # THEN the logits are the linear head of the pooled last feature map: plain CAM is exact
    assert logits.shape == (4, 3) and features.ndim == 4 and features.shape[1] == net.head.in_features
    assert torch.allclose(logits, features.mean(dim=(2, 3)) @ net.head.weight.T + net.head.bias, atol=1e-4)
    # AND the ONNX export gives the same two outputs as the module
    spec = _spec(channels, size)
    path = tmp_path / "model.onnx"
    export_onnx(net, path, spec)
    check_onnx(path, net, x.numpy(), spec)  # raises beyond 1e-3 of the outputs' magnitude


def test_pretrained_weights_come_from_a_local_file(tmp_path: Path) -> None:
    import torchvision

    # GIVEN a torchvision state dict on disk (as a team downloads it once, never at run time)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    colour = nets.build("resnet18", 3, 8, pretrained=path)
    gray = nets.build("resnet18", 1, 3, pretrained=path)
    # THEN the colour model starts from those weights, and the grayscale one sums the RGB kernels
    assert torch.equal(colour.body[0].weight, reference.conv1.weight)
    assert torch.equal(colour.body[4][0].conv1.weight, reference.layer1[0].conv1.weight)
    assert torch.allclose(gray.body[0].weight, reference.conv1.weight.sum(dim=1, keepdim=True))
    # AND a file for another network is refused rather than half-loaded
    other = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), other)
    with pytest.raises(ValueError, match="fewer than half"):
        nets.build("resnet18", 3, 8, pretrained=other)


@pytest.mark.parametrize("task", [PNEUMONIA, SKIN], ids=["pneumonia", "skin"])
def test_tiny_build_with_a_torchvision_backbone_serves(task: object, tmp_path: Path) -> None:
    # GIVEN a tiny synthetic run with mobilenet_v3_small (train → evaluate → calibrate → gate → export)
    counts = Counts(
        train={label: 6 for label in task.label_ids},  # type: ignore[attr-defined]
        val=4,
        test=4,
        outliers=2,
        heldout=2,
        recaptures=6,
        bad=2,
        bad_heldout=2,
        golden=2,
        photo_crops=0,
    )
    config = BuildConfig(
        task=task,  # type: ignore[arg-type]
        out=tmp_path / "package",
        version="0.0.1-tv",
        created_at="2026-01-01T00:00:00Z",
        counts=counts,
        seed=3,
        backbone="mobilenet_v3_small",
        size=96,
        train=TrainConfig(epochs=1, augment=task.family, seed=3, threads=2, progress=False),  # type: ignore[attr-defined]
        data_description="tiny test set",
    )
    build_package(config, SyntheticSource(task, counts, 3))  # type: ignore[arg-type]
    # THEN the serving code loads the package and reads an image with it, heatmap included
    model = OnnxModel.load(config.out, threads=1)
    assert model.manifest.raw["training"]["backbone"] == "mobilenet_v3_small"
    image = make_chest_xray("viral", np.random.default_rng(0), size=(300, 260))
    batch, _ = preprocess(image, model.manifest.input)
    raw = model.run(batch)
    result = model.classify(raw.logits)
    assert abs(float(result.probabilities.sum()) - 1) < 1e-5
    cam = model.cam(raw.features, result.top)
    assert cam.shape == raw.features.shape[1:] and cam.min() >= 0 and cam.max() <= 1
