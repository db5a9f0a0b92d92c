"""The model manifest: the single source of truth for serving a model package.

A model package is a folder (or a registry prefix) with ``model.onnx`` and ``manifest.json``.
Serving never hard-codes a label, a size or a normalisation: it reads them from here. The pipeline in
``model/pipeline`` writes manifests; ``Manifest.parse`` validates them (missing or malformed fields →
``ManifestError`` with the field's path), so a broken package is refused before it is loaded.

Schema (version 1), abridged; ``model/pneumonia/manifest.json`` is a full example::

    schema: 1
    name, version, task, demo (bool), created_at
    description: {en, zh}
    intended_use: {en, zh}
    labels: [{id, en, zh, description_en, description_zh}]       # in logit order
    input:  {name, size: [H, W], channels: 1|3, resize: "letterbox"|"center_crop"|"stretch",
             scale: 255.0, mean: [..channels], std: [..channels], background: 0}
    outputs: {logits: NAME, features: NAME, kind?: NAME}            # features: [1, C, h, w] last conv
                                                  # kind (optional): [1, 2], the input gate's (target, other)
    cam: {weights: [[C floats] per label], bias: [per label]}       # the classifier head, for CAM
    temperature: float                                              # fitted on the validation split
    thresholds: {uncertain_confidence: float, uncertain_margin: float, target_accuracy: float,
                 coverage: float}
    quality: {...}                                         # input gate: see xiaofei/inference/input_gate.py
    sha256: hex of model.onnx
    training: {data, synthetic (bool), seed, epochs, backbone, ...}
    metrics: {split: "...", accuracy, macro_f1, per_class: {...}, ece_before, ece_after, ...}
    files: {model_card: "MODEL_CARD.md", ...}                      # optional extras
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from xiaofei.errors import ManifestError

SCHEMA_VERSION = 1
RESIZE_POLICIES = ("letterbox", "center_crop", "stretch")


@dataclass(frozen=True)
class Label:
    id: str
    en: str
    zh: str
    description_en: str = ""
    description_zh: str = ""


@dataclass(frozen=True)
class InputSpec:
    name: str
    height: int
    width: int
    channels: int
    resize: str
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    background: float = 0.0


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    task: str
    demo: bool
    labels: tuple[Label, ...]
    input: InputSpec
    logits_output: str
    features_output: str
    cam_weights: tuple[tuple[float, ...], ...]
    cam_bias: tuple[float, ...]
    temperature: float
    uncertain_confidence: float
    uncertain_margin: float
    sha256: str
    quality: dict[str, Any] = field(default_factory=dict)
    kind_output: str | None = None  # the input gate's kind logits (target, other), when the graph has them
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label_ids(self) -> list[str]:
        return [label.id for label in self.labels]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Manifest:
        return _parse(data)

    @classmethod
    def loads(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError("manifest.json is not valid JSON", "manifest.json 不是有效的 JSON") from exc
        if not isinstance(data, dict):
            raise ManifestError("manifest.json must be an object", "manifest.json 必须是对象")
        return _parse(data)

    def public(self) -> dict[str, Any]:
        """What callers may see: no weights, no fitted statistics."""
        raw = self.raw
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "demo": self.demo,
            "trained_on": raw.get("trained_on"),
            "clinically_validated": False,  # no bundled model has been; a site's own validation is separate
            "description": raw.get("description", {}),
            "intended_use": raw.get("intended_use", {}),
            "labels": [label.__dict__ for label in self.labels],
            "input": {"size": [self.input.height, self.input.width], "channels": self.input.channels},
            "training": raw.get("training", {}),
            "metrics": raw.get("metrics", {}),
            "thresholds": raw.get("thresholds", {}),
        }


def _optional_name(data: dict[str, Any], output: str) -> str | None:
    value = data.get("outputs", {}).get(output)
    if value is not None and not isinstance(value, str):
        raise _bad(f"outputs.{output}", "must be a string", "必须是字符串")
    return value


def _need(data: dict[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ManifestError(
                f"manifest field '{path}' is missing", f"模型清单缺少字段 '{path}'", details={"field": path}
            )
        node = node[part]
    if isinstance(node, bool) and kind in (int, float, (int, float)):
        raise ManifestError(
            f"manifest field '{path}' has the wrong type",
            f"模型清单字段 '{path}' 类型错误",
            details={"field": path},
        )
    if not isinstance(node, kind):
        raise ManifestError(
            f"manifest field '{path}' has the wrong type",
            f"模型清单字段 '{path}' 类型错误",
            details={"field": path},
        )
    return node


def _floats(values: Any, path: str, length: int | None = None) -> tuple[float, ...]:
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ManifestError(
            f"manifest field '{path}' must be a list of numbers",
            f"模型清单字段 '{path}' 必须是数字列表",
            details={"field": path},
        )
    if length is not None and len(values) != length:
        raise ManifestError(
            f"manifest field '{path}' must have {length} values",
            f"模型清单字段 '{path}' 应有 {length} 个值",
            details={"field": path},
        )
    return tuple(float(v) for v in values)


def _bad(path: str, en: str, zh: str) -> ManifestError:
    return ManifestError(
        f"manifest field '{path}': {en}", f"模型清单字段 '{path}'：{zh}", details={"field": path}
    )


def _parse(data: dict[str, Any]) -> Manifest:
    if _need(data, "schema", int) != SCHEMA_VERSION:
        raise _bad("schema", f"unsupported version (expected {SCHEMA_VERSION})", "版本不受支持")
    labels_raw = _need(data, "labels", list)
    if len(labels_raw) < 2:
        raise _bad("labels", "needs at least two labels", "至少需要两个类别")
    labels = []
    for i, item in enumerate(labels_raw):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item.get(k) for k in ("id", "en", "zh")
        ):
            raise _bad(f"labels[{i}]", "needs id, en and zh", "需要 id、en 和 zh")
        labels.append(
            Label(
                item["id"],
                item["en"],
                item["zh"],
                str(item.get("description_en", "")),
                str(item.get("description_zh", "")),
            )
        )
    if len({label.id for label in labels}) != len(labels):
        raise _bad("labels", "ids must be unique", "类别 id 必须唯一")

    size = _need(data, "input.size", list)
    if len(size) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 1024 for v in size
    ):
        raise _bad(
            "input.size", "must be [height, width] between 16 and 1024", "必须是 16 到 1024 之间的 [高, 宽]"
        )
    channels = _need(data, "input.channels", int)
    if channels not in (1, 3):
        raise _bad("input.channels", "must be 1 or 3", "必须是 1 或 3")
    resize = _need(data, "input.resize", str)
    if resize not in RESIZE_POLICIES:
        raise _bad("input.resize", f"must be one of {', '.join(RESIZE_POLICIES)}", "取值无效")
    std = _floats(_need(data, "input.std", list), "input.std", channels)
    if any(s <= 0 for s in std):
        raise _bad("input.std", "must be positive", "必须为正数")
    spec = InputSpec(
        name=_need(data, "input.name", str),
        height=size[0],
        width=size[1],
        channels=channels,
        resize=resize,
        scale=float(_need(data, "input.scale", (int, float))),
        mean=_floats(_need(data, "input.mean", list), "input.mean", channels),
        std=std,
        background=float(data["input"].get("background", 0.0)),
    )

    weights_raw = _need(data, "cam.weights", list)
    if len(weights_raw) != len(labels):
        raise _bad("cam.weights", "needs one row per label", "每个类别需要一行权重")
    width = len(weights_raw[0]) if weights_raw and isinstance(weights_raw[0], list) else 0
    weights = tuple(_floats(row, f"cam.weights[{i}]", width) for i, row in enumerate(weights_raw))
    if width == 0:
        raise _bad("cam.weights", "rows must not be empty", "权重不能为空")
    bias = _floats(_need(data, "cam.bias", list), "cam.bias", len(labels))

    temperature = float(_need(data, "temperature", (int, float)))
    if not 0.05 <= temperature <= 20:
        raise _bad("temperature", "must be between 0.05 and 20", "必须在 0.05 到 20 之间")
    confidence = float(_need(data, "thresholds.uncertain_confidence", (int, float)))
    margin = float(_need(data, "thresholds.uncertain_margin", (int, float)))
    if not (0 <= confidence <= 1 and 0 <= margin <= 1):
        raise _bad("thresholds", "must be between 0 and 1", "必须在 0 到 1 之间")
    sha = _need(data, "sha256", str)
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise _bad("sha256", "must be 64 lower-case hex digits", "必须是 64 位小写十六进制")
    quality = data.get("quality", {})
    if not isinstance(quality, dict):
        raise _bad("quality", "must be an object", "必须是对象")

    return Manifest(
        name=_need(data, "name", str),
        version=_need(data, "version", str),
        task=_need(data, "task", str),
        demo=bool(_need(data, "demo", bool)),
        labels=tuple(labels),
        input=spec,
        logits_output=_need(data, "outputs.logits", str),
        features_output=_need(data, "outputs.features", str),
        cam_weights=weights,
        cam_bias=bias,
        temperature=temperature,
        uncertain_confidence=confidence,
        uncertain_margin=margin,
        sha256=sha,
        quality=quality,
        kind_output=_optional_name(data, "kind"),
        raw=data,
    )
