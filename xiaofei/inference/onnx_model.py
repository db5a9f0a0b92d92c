"""Inference: a verified model package → one ONNX Runtime session → calibrated probabilities and CAM.

Three steps, each a plain function over arrays: ``OnnxModel.run`` (the session), ``classify`` (softmax
with the manifest's temperature, sorted probabilities, the uncertain flag) and ``class_activation_map``
(plain CAM: the classifier's weights × the last feature map, in numpy — no gradients, no torch).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xiaofei.errors import ModelUnavailable
from xiaofei.inference.manifest import Manifest

log = logging.getLogger(__name__)


def available_cpus() -> int:
    """CPUs this process may really use: the affinity mask, capped by a cgroup CPU quota.

    ONNX Runtime's default is the host's core count, which oversubscribes a function given a fraction
    of the host (long, throttled tails), so the session's thread count comes from here.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def _cgroup_cpu_quota() -> float | None:
    try:  # cgroup v2: "max 100000" or "150000 100000"
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:  # cgroup v1
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class RawOutput:
    logits: NDArray[Any]  # [K]
    features: NDArray[Any]  # [C, h, w]
    kind: NDArray[Any] | None = None  # [2]: the input gate's (target, other) logits, when the graph has them

    @property
    def pooled(self) -> NDArray[Any]:
        """Global-average-pooled features [C]: what the classifier (and the input gate) see."""
        return np.asarray(self.features.mean(axis=(1, 2)), dtype=np.float32)


@dataclass(frozen=True)
class Classification:
    probabilities: NDArray[Any]  # [K] in label order, calibrated, summing to 1
    order: tuple[int, ...]  # label indices, most probable first
    confidence: float
    margin: float  # top minus runner-up
    uncertain: bool

    @property
    def top(self) -> int:
        return self.order[0]


class OnnxModel:
    """One model version: its manifest and its ONNX Runtime session (built once, reused)."""

    def __init__(self, manifest: Manifest, session: Any, package_dir: Path) -> None:
        self.manifest = manifest
        self.session = session
        self.package_dir = package_dir
        self._cam_weights = np.asarray(manifest.cam_weights, dtype=np.float32)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def load(cls, package_dir: Path | str, *, threads: int = 0) -> OnnxModel:
        """Load and verify a package; any disagreement → ``ModelUnavailable`` (the reason is logged)."""
        package_dir = Path(package_dir)
        try:
            manifest = Manifest.loads((package_dir / "manifest.json").read_bytes())
        except OSError as exc:
            raise _unavailable(package_dir, "manifest.json cannot be read") from exc
        onnx_path = package_dir / "model.onnx"
        try:
            actual = sha256_file(onnx_path)
        except OSError as exc:
            raise _unavailable(package_dir, "model.onnx cannot be read") from exc
        if actual != manifest.sha256:
            raise _unavailable(package_dir, "sha256 of model.onnx does not match the manifest")
        session = _new_session(onnx_path, threads or available_cpus())
        # Its run on zeros is also the warm-up: the first run allocates and plans, paid at load, not on
        # the first request.
        problem = signature_mismatch(session, manifest)
        if problem is not None:
            raise _unavailable(package_dir, problem[0])
        return cls(manifest, session, package_dir)

    def run(self, batch: NDArray[Any]) -> RawOutput:
        m = self.manifest
        names = [m.logits_output, m.features_output] + ([m.kind_output] if m.kind_output else [])
        try:
            outputs = self.session.run(names, {m.input.name: batch.astype(np.float32, copy=False)})
        except Exception as exc:  # onnxruntime raises its own (unexported) exception types
            raise ModelUnavailable() from exc
        logits, features = (np.asarray(o[0], dtype=np.float32) for o in outputs[:2])
        kind = np.asarray(outputs[2][0], dtype=np.float32) if m.kind_output else None
        return RawOutput(logits, features, kind)

    def classify(self, logits: NDArray[Any]) -> Classification:
        return classify(logits, self.manifest)

    def cam(self, features: NDArray[Any], class_index: int) -> NDArray[Any]:
        return class_activation_map(features, self._cam_weights[class_index])


def _unavailable(package_dir: Path, reason: str) -> ModelUnavailable:
    log.error("model package refused", extra={"package": package_dir.name, "reason": reason})
    return ModelUnavailable(details={"reason": reason})


def _new_session(onnx_path: Path, threads: int) -> Any:
    import onnxruntime as ort  # imported here so routes that serve no model never pay for it

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn a fractional-CPU function's quota while waiting.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise _unavailable(onnx_path.parent, "model.onnx cannot be loaded by ONNX Runtime") from exc


def signature_mismatch(session: Any, manifest: Manifest) -> tuple[str, str] | None:
    """How an ONNX Runtime session disagrees with its manifest (English, Chinese), or None if it agrees.

    The one signature rule, applied when a package is loaded for serving and by the evaluation gate's
    ``signature`` check: an input named as the manifest says, of rank 4, whose fixed sizes are [C, H, W];
    the logits, features (and kind, if the manifest has one) outputs by name, of rank 2 / 4 / 2, with
    fixed sizes one column per label / one channel per CAM weight / two columns; then one run on zeros of
    the manifest's shape (the warm-up of a loaded model) whose outputs must have exactly those shapes.
    A symbolic size in the graph passes the declared check and is judged by the run.
    """
    spec = manifest.input
    inputs = {i.name: list(i.shape) for i in session.get_inputs()}
    outputs = {o.name: list(o.shape) for o in session.get_outputs()}
    if spec.name not in inputs:
        return (
            f"the model has no input named '{spec.name}' (it has: {', '.join(inputs)}).",
            f"模型没有名为 '{spec.name}' 的输入。",
        )
    declared = inputs[spec.name]
    expected = [spec.channels, spec.height, spec.width]
    if len(declared) != 4 or not _fits(declared[1:], expected):
        return (
            f"the model's input shape {declared} does not match the manifest's "
            f"[N, {spec.channels}, {spec.height}, {spec.width}].",
            f"模型输入形状 {declared} 与清单 [N, {spec.channels}, {spec.height}, {spec.width}] 不一致。",
        )
    labels, channels = len(manifest.labels), len(manifest.cam_weights[0])
    wanted: list[tuple[str, list[int | None]]] = [
        (manifest.logits_output, [labels]),
        (manifest.features_output, [channels, None, None]),
    ]
    if manifest.kind_output is not None:
        wanted.append((manifest.kind_output, [2]))
    for name, sizes in wanted:
        if name not in outputs:
            return f"the model has no output named '{name}'.", f"模型没有名为 '{name}' 的输出。"
        shape = outputs[name]
        if len(shape) != 1 + len(sizes) or not _fits(shape[1:], sizes):
            return (
                f"the output '{name}' is declared as {shape}, expected [N, "
                + ", ".join("?" if d is None else str(d) for d in sizes)
                + "].",
                f"输出 '{name}' 的声明形状 {shape} 与清单不一致。",
            )
    names = [name for name, _ in wanted]
    try:
        ran = session.run(names, {spec.name: np.zeros((1, *expected), dtype=np.float32)})
    except Exception:  # onnxruntime raises its own (unexported) exception types
        return "the model fails on an input of the manifest's shape.", "模型无法处理清单所述形状的输入。"
    logits, features = ran[0], ran[1]
    if np.shape(logits) != (1, labels):
        return (
            f"logits have shape {list(np.shape(logits))}, expected [1, {labels}] (one column per label).",
            f"logits 形状为 {list(np.shape(logits))}，应为 [1, {labels}]。",
        )
    if np.ndim(features) != 4 or np.shape(features)[1] != channels:
        return (
            f"features have shape {list(np.shape(features))}, expected [1, {channels}, h, w] "
            "(one channel per CAM weight).",
            f"特征形状为 {list(np.shape(features))}，应为 [1, {channels}, h, w]。",
        )
    if manifest.kind_output is not None and np.shape(ran[2]) != (1, 2):
        return (
            f"the kind output has shape {list(np.shape(ran[2]))}, expected [1, 2].",
            f"kind 输出形状为 {list(np.shape(ran[2]))}，应为 [1, 2]。",
        )
    return None


def _fits(declared: Sequence[Any], expected: Sequence[int | None]) -> bool:
    """Each fixed (integer) size of ``declared`` equals the expected one (None: any size)."""
    return all(not isinstance(d, int) or e is None or d == e for d, e in zip(declared, expected, strict=True))


def softmax(logits: NDArray[Any], temperature: float = 1.0) -> NDArray[Any]:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max()
    e = np.exp(z)
    return np.asarray(e / e.sum())


def classify(logits: NDArray[Any], manifest: Manifest) -> Classification:
    probs = softmax(logits, manifest.temperature)
    order = tuple(int(i) for i in np.argsort(-probs, kind="stable"))
    confidence = float(probs[order[0]])
    margin = confidence - float(probs[order[1]])
    uncertain = confidence < manifest.uncertain_confidence or margin < manifest.uncertain_margin
    return Classification(probs, order, confidence, margin, uncertain)


def class_activation_map(features: NDArray[Any], class_weights: NDArray[Any]) -> NDArray[Any]:
    """Plain CAM for a GAP + linear head: Σ_k w_ck · A_k, ReLU, scaled to [0, 1]. Shape [h, w]."""
    cam = np.tensordot(class_weights, features, axes=([0], [0]))
    cam = np.maximum(cam, 0.0)
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).astype(np.float32)
