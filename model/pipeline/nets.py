"""Networks: the small bundled demo backbone, and torchvision backbones for the real data.

Every network here returns ``(logits [N, K], features [N, C, h, w])`` where ``features`` is the last
convolutional feature map and ``logits = head(mean(features over h, w))`` with one linear layer, so
plain CAM (head weights × feature map) is exact and the ONNX export has both outputs.

``build(name, in_channels, num_classes, pretrained=None)``:

- ``"xiaofei_small"``: pure torch, ~0.2 M parameters, ~0.1 GFLOP at 224×224 (about a millisecond in
  ONNX Runtime on one thread): the bundled demo models, sized for the serving speed targets.
- ``"resnet18"``, ``"mobilenet_v3_small"``, ``"mobilenet_v3_large"``, ``"efficientnet_b0"``,
  ``"inception_v3"``: torchvision (an optional install). Pretrained weights are read only from a
  local file (``pretrained``), never downloaded; a 1-channel input sums the first conv's RGB kernels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

SMALL = "xiaofei_small"
TORCHVISION = ("resnet18", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "inception_v3")
BACKBONES = (SMALL, *TORCHVISION)
# The input size each backbone was designed for (inception_v3 needs 299; the others 224).
DEFAULT_SIZE = {name: 224 for name in BACKBONES} | {"inception_v3": 299}


class BackboneUnavailable(RuntimeError):
    """The requested backbone needs a package that is not installed (torchvision)."""


def _conv(cin: int, cout: int, stride: int = 1, groups: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cin, stride, groups=cin), _conv(cin, cout, k=1))


class CamNet(nn.Module):
    """A feature extractor + global average pool + one linear layer; forward → (logits, features)."""

    def __init__(self, body: nn.Module, channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = body
        self.channels = channels
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(features.mean(dim=(2, 3))), features


class Members(nn.Module):
    """Several bodies of one architecture side by side: their feature maps concatenated by channel."""

    def __init__(self, bodies: list[nn.Module]) -> None:
        super().__init__()
        self.bodies = nn.ModuleList(bodies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([body(x) for body in self.bodies], dim=1)


def ensemble(members: list[CamNet]) -> CamNet:
    """One CamNet whose logits are the mean of the members' logits, trained apart (different seeds).

    The head over the concatenated features holds each member's head weights / m, so the logits are the
    members' average and plain CAM on the concatenated features stays exact."""
    if len(members) == 1:
        return members[0]
    m = len(members)
    channels = sum(net.channels for net in members)
    combined = CamNet(Members([net.body for net in members]), channels, members[0].head.out_features)
    with torch.no_grad():
        combined.head.weight.copy_(torch.cat([net.head.weight for net in members], dim=1) / m)
        combined.head.bias.copy_(torch.stack([net.head.bias for net in members]).mean(dim=0))
    return combined


def small_body(in_channels: int, width: int = 16) -> tuple[nn.Module, int]:
    """Stride 16 (224 → 14×14 features): plain convs early (cheap at low width), separable later."""
    w = width
    body = nn.Sequential(
        _conv(in_channels, w, stride=2),  # 112
        _conv(w, 2 * w, stride=2),  # 56
        _conv(2 * w, 4 * w, stride=2),  # 28
        _separable(4 * w, 4 * w),
        _separable(4 * w, 4 * w),
        _conv(4 * w, 8 * w, stride=2),  # 14
        _separable(8 * w, 8 * w),
        _separable(8 * w, 8 * w),
    )
    return body, 8 * w


def _torchvision() -> Any:
    try:
        import torchvision
    except Exception as exc:  # ImportError, or a torchvision built for another torch
        raise BackboneUnavailable(
            "this backbone needs torchvision, which is not installed (or does not match this torch): "
            "`pip install torchvision` for your torch version, or use --backbone xiaofei_small"
        ) from exc
    return torchvision


def _adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A conv for ``in_channels`` inputs: 1 channel sums the RGB kernels (keeps pretrained responses)."""
    if conv.in_channels == in_channels:
        return conv
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        (conv.kernel_size[0], conv.kernel_size[1]),
        (conv.stride[0], conv.stride[1]),
        conv.padding,  # type: ignore[arg-type]
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        weight = (
            conv.weight.sum(dim=1, keepdim=True) if in_channels == 1 else conv.weight.mean(1, keepdim=True)
        )
        new.weight.copy_(weight.repeat(1, in_channels, 1, 1) if in_channels != 1 else weight)
        if conv.bias is not None and new.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _load_pretrained(model: nn.Module, path: Path | str) -> None:
    """Load a local torchvision state dict; the classifier (which we replace) may not match."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < len(own) // 2:
        raise ValueError(f"{path}: fewer than half of the weights fit this backbone; wrong file?")
    model.load_state_dict(usable, strict=False)


def _torchvision_body(name: str, in_channels: int, pretrained: Path | str | None) -> tuple[nn.Module, int]:
    tv = _torchvision()
    models = tv.models
    if name == "inception_v3":
        net = models.inception_v3(weights=None, aux_logits=False, init_weights=pretrained is None)
    else:
        net = getattr(models, name)(weights=None)
    if pretrained:
        _load_pretrained(net, pretrained)
    if name == "resnet18":
        net.conv1 = _adapt_first_conv(net.conv1, in_channels)
        body = nn.Sequential(
            net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4
        )
        return body, 512
    if name == "inception_v3":
        net.Conv2d_1a_3x3.conv = _adapt_first_conv(net.Conv2d_1a_3x3.conv, in_channels)
        net.transform_input = False
        parts = [
            "Conv2d_1a_3x3",
            "Conv2d_2a_3x3",
            "Conv2d_2b_3x3",
            "maxpool1",
            "Conv2d_3b_1x1",
            "Conv2d_4a_3x3",
            "maxpool2",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
        ]
        return nn.Sequential(*(getattr(net, p) for p in parts)), 2048
    # mobilenet_v3_* and efficientnet_b0: ``features`` ends with the last conv block.
    first = net.features[0][0]
    net.features[0][0] = _adapt_first_conv(first, in_channels)
    channels = {"mobilenet_v3_small": 576, "mobilenet_v3_large": 960, "efficientnet_b0": 1280}[name]
    return net.features, channels


def build(
    name: str,
    in_channels: int,
    num_classes: int,
    *,
    pretrained: Path | str | None = None,
    width: int = 16,
    members: int = 1,
) -> CamNet:
    """A ``CamNet`` with the named backbone (see the module docstring); ``members`` > 1: the shape of an
    ``ensemble`` of that many (untrained: for loading saved weights)."""
    if members > 1:
        return ensemble(
            [
                build(name, in_channels, num_classes, pretrained=pretrained, width=width)
                for _ in range(members)
            ]
        )
    if name == SMALL:
        if pretrained:
            raise ValueError("xiaofei_small has no pretrained weights; train it from scratch")
        body, channels = small_body(in_channels, width)
    elif name in TORCHVISION:
        body, channels = _torchvision_body(name, in_channels, pretrained)
    else:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return CamNet(body, channels, num_classes)


def member_count(net: CamNet) -> int:
    return len(net.body.bodies) if isinstance(net.body, Members) else 1


def save_weights(net: CamNet, path: Path, *, backbone: str, in_channels: int, width: int = 16) -> None:
    """The state dict plus what is needed to rebuild the module (``load_torch_model``)."""
    config = {
        "backbone": backbone,
        "in_channels": in_channels,
        "num_classes": net.head.out_features,
        "width": width,
        "members": member_count(net),
    }
    torch.save({"config": config, "state_dict": net.state_dict()}, path)


def load_torch_model(package_dir: Path | str) -> CamNet:
    """The PyTorch module of a model package, from ``train/weights.pt`` (eval mode): the eager baseline."""
    package_dir = Path(package_dir)
    saved = torch.load(package_dir / "train" / "weights.pt", map_location="cpu", weights_only=True)
    config = saved["config"]
    manifest = json.loads((package_dir / "manifest.json").read_text(encoding="utf-8"))
    if (
        config["num_classes"] != len(manifest["labels"])
        or config["in_channels"] != manifest["input"]["channels"]
    ):
        raise ValueError(f"{package_dir}: train/weights.pt does not match manifest.json")
    net = build(
        config["backbone"],
        config["in_channels"],
        config["num_classes"],
        width=config["width"],
        members=config.get("members", 1),
    )
    net.load_state_dict(saved["state_dict"])
    return net.eval()


def count_flops(net: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one input of ``shape`` (× 2 = FLOPs)."""
    total = 0

    def conv_hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += int(output.numel()) * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    hooks: list[Callable[[], None]] = []
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(conv_hook).remove)
    with torch.no_grad():
        net.eval()(torch.zeros(shape))
    for remove in hooks:
        remove()
    return total
