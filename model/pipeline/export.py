"""Export: ONNX (logits + last-conv features), the manifest, and the model card.

The ONNX graph has one input (``input.name``, [1, C, H, W] float32) and two outputs, ``logits`` [1, K]
and ``features`` [1, C', h, w]; the linear head's weights and bias go into the manifest's ``cam`` field,
so serving computes plain CAM in numpy. The exported graph is checked against the PyTorch module.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from xiaofei.inference.manifest import InputSpec, Manifest

from .nets import CamNet
from .specs import TaskSpec

OPSET = 17


def _output_names(net: torch.nn.Module) -> list[str]:
    """``logits``, ``features`` and, for a graph with the input gate's kind model, ``kind``."""
    return ["logits", "features"] + (["kind"] if hasattr(net, "kind") else [])


def export_onnx(net: torch.nn.Module, path: Path, spec: InputSpec) -> None:
    net.eval()
    dummy = torch.zeros(1, spec.channels, spec.height, spec.width)
    with warnings.catch_warnings():
        # torch ≥ 2.9 deprecates the TorchScript exporter; the dynamo one needs onnxscript, which we skip.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (dummy,),
            str(path),
            input_names=[spec.name],
            output_names=_output_names(net),
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def check_onnx(
    path: Path, net: torch.nn.Module, batch: np.ndarray, spec: InputSpec, tolerance: float = 1e-3
) -> float:
    """Largest |ONNX − PyTorch| over logits and features for a few inputs; raises when it exceeds
    ``tolerance`` × the outputs' magnitude (at least 1): float32 sums over a deep backbone's large
    activations differ by more than an absolute 1e-3 between two correct runtimes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    worst = worst_relative = 0.0
    net.eval()
    for x in batch:
        x1 = x[None].astype(np.float32)
        outputs = session.run(_output_names(net), {spec.name: x1})
        with torch.no_grad():
            expected = [t.numpy() for t in net(torch.from_numpy(x1))]
        for got, want in zip(outputs, expected, strict=True):
            diff = float(np.abs(got - want).max())
            worst = max(worst, diff)
            worst_relative = max(worst_relative, diff / max(1.0, float(np.abs(want).max())))
    if worst_relative > tolerance:
        raise RuntimeError(f"ONNX export differs from PyTorch by {worst:.2e} ({worst_relative:.2e} relative)")
    return worst


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _r(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def build_manifest(
    *,
    task: TaskSpec,
    version: str,
    created_at: str,
    demo: bool,
    spec: InputSpec,
    net: CamNet,
    temperature: float,
    thresholds: dict[str, float],
    quality: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, Any],
    sha: str = "0" * 64,
    kind_output: bool = False,
    population: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest as a dict, in the schema of ``xiaofei/inference/manifest.py``."""
    weight = net.head.weight.detach().numpy().astype(np.float64)
    bias = net.head.bias.detach().numpy().astype(np.float64)
    manifest = {
        "schema": 1,
        "name": task.name,
        "version": version,
        "task": task.task,
        "demo": demo,
        "created_at": created_at,
        "description": {"en": task.description_en, "zh": task.description_zh},
        "intended_use": {"en": task.intended_use_en, "zh": task.intended_use_zh},
        "out_of_scope": {"en": task.out_of_scope_en, "zh": task.out_of_scope_zh},
        **({"trained_on": population} if population else {}),
        "labels": [
            {
                "id": lab.id,
                "en": lab.en,
                "zh": lab.zh,
                "description_en": lab.description_en,
                "description_zh": lab.description_zh,
            }
            for lab in task.labels
        ],
        "input": {
            "name": spec.name,
            "size": [spec.height, spec.width],
            "channels": spec.channels,
            "resize": spec.resize,
            "scale": spec.scale,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "background": spec.background,
            "why": task.size_reason,
        },
        "outputs": {"logits": "logits", "features": "features", **({"kind": "kind"} if kind_output else {})},
        "cam": {
            "weights": [[_r(v) for v in row] for row in cast("list[list[float]]", weight.tolist())],
            "bias": [_r(v) for v in bias],
        },
        "temperature": _r(temperature),
        "thresholds": thresholds,
        "quality": quality,
        "sha256": sha,
        "training": training,
        "metrics": metrics,
        "files": {
            "model_card": "MODEL_CARD.md",
            "golden": "golden/index.json",
            "evaluation": "train/evaluation.json",
            "weights": "train/weights.pt",
            "confusion_matrix": "train/confusion.png",
            "reliability_diagram": "train/reliability.png",
        },
    }
    Manifest.parse(manifest)  # fail here, not at serving time
    return manifest


def _flat(value: Any) -> bool:
    """A list that holds only numbers (or lists of numbers): written on one line."""
    return isinstance(value, list) and all(
        isinstance(v, (int, float)) or (isinstance(v, list) and all(isinstance(u, (int, float)) for u in v))
        for v in value
    )


def dumps(value: Any, indent: int = 0) -> str:
    """JSON for humans: objects indented, numeric arrays (CAM weights, gate statistics) one line each."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {dumps(v, indent + 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and not _flat(value):
        items = [inner + dumps(v, indent + 2) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":") if _flat(value) else (", ", ": "))


def write_json(path: Path, data: Any) -> None:
    path.write_text(dumps(data) + "\n", encoding="utf-8")
