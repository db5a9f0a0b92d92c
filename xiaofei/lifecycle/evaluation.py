"""The evaluation gate: may a published model version take traffic?

``evaluate(registry, name, version)`` checks, in order, and stops at the first failure with a reason
(English and Chinese) that names the check:

1. ``manifest``  — the manifest parses against the schema, and its name and version match the registry path
2. ``sha256``    — model.onnx is the file the manifest describes
3. ``onnx_load`` — ONNX Runtime can load it
4. ``signature`` — input name and [C, H, W], logits (one column per label) and features (one channel per
   CAM weight) match the manifest, checked on a real run
5. ``labels``    — same labels in the same order as the serving version, unless ``"label_change": true``
6. ``golden``    — accuracy, macro-F1, per-class recall and expected calibration error on the golden set
   against the policy, and accuracy / macro-F1 against the serving version on the same images
7. ``input_gate`` — the input gate's acceptance rate on the golden images, and its rejection rate on the
   golden set's out-of-domain items (or, if it has none, the rate the pipeline measured in the manifest)
8. ``reviewed``  — the site's reviewed films (doctors' reads, ``records.reviewed.reviewed_films``): the
   candidate's agreement with the doctors, and its class-balanced form, against the serving version's
   on the same films; rejects only when the policy's ``reviewed_max_regression`` asks it to
9. ``latency``   — p95 of one inference on this CPU
10. ``size``     — model.onnx bytes

The result is written to ``models/{name}/{version}/evaluation.json``: verdict, reasons, every check with
its time, the metrics, the confusion matrix, per-class figures, the serving version's figures, the policy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from xiaofei.errors import AppError, ImageError, ManifestError, ModelUnavailable, NotFound, Rejected
from xiaofei.inference import input_gate
from xiaofei.inference.manifest import Manifest
from xiaofei.inference.onnx_model import OnnxModel, available_cpus, sha256_file, signature_mismatch
from xiaofei.inference.reading import read_image
from xiaofei.lifecycle.metrics import classification_metrics, percentile
from xiaofei.lifecycle.policy import Policy
from xiaofei.lifecycle.registry import Registry, golden_prefix, version_key
from xiaofei.records.reviewed import reviewed_films

log = logging.getLogger(__name__)

MIN_LATENCY_SAMPLES = 20
CHECKS = (
    "manifest",
    "sha256",
    "onnx_load",
    "signature",
    "labels",
    "golden",
    "input_gate",
    "reviewed",
    "latency",
    "size",
)


# ------------------------------------------------------------------------------------- the golden set


@dataclass(frozen=True)
class GoldenItem:
    file: str
    label: str | None  # None: an out-of-domain image the input gate should refuse
    data: bytes


def load_golden(registry: Registry, name: str) -> tuple[list[GoldenItem], str]:
    """The golden items and the sha256 of the index (so two evaluations can tell they used the same set)."""
    prefix = golden_prefix(name)
    index_bytes = registry.store.get(prefix + "index.json")
    index = json.loads(index_bytes)
    items = []
    for entry in index["items"]:
        file = str(entry["file"])
        label = entry.get("label")
        ood = bool(entry.get("ood")) or label in (None, "", "ood")
        items.append(GoldenItem(file, None if ood else str(label), registry.store.get(prefix + file)))
    return items, hashlib.sha256(index_bytes).hexdigest()


@dataclass
class GoldenRun:
    """One model's pass over the golden set."""

    probabilities: list[NDArray[Any]] = field(default_factory=list)  # in-domain items, in label order
    accepted: list[bool] = field(default_factory=list)  # in-domain items: the input gate let them through
    ood_refused: list[bool] = field(default_factory=list)  # out-of-domain items: the input gate refused them
    infer_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # files that could not be decoded


def run_golden(model: OnnxModel, items: list[GoldenItem], max_bytes: int, max_pixels: int) -> GoldenRun:
    """Each item read as a prediction reads it (``reading.read_image``, without the heatmap)."""
    out = GoldenRun()
    for item in items:
        try:
            reading = read_image(model, item.data, max_bytes=max_bytes, max_pixels=max_pixels)
        except ImageError:
            out.failures.append(item.file)
            continue
        out.infer_ms.append(reading.run_ms)
        if item.label is None:
            out.ood_refused.append(not reading.accepted)
        else:
            out.probabilities.append(np.asarray(reading.result.probabilities, dtype=np.float64))
            out.accepted.append(reading.accepted)
    return out


def latency_samples(model: OnnxModel, items: list[GoldenItem], first: list[float]) -> list[float]:
    """At least ``MIN_LATENCY_SAMPLES`` timings of one inference (the golden pass's own, topped up)."""
    samples = list(first)
    spec = model.manifest.input
    batch = np.zeros((1, spec.channels, spec.height, spec.width), dtype=np.float32)
    while len(samples) < MIN_LATENCY_SAMPLES:
        started = time.perf_counter()
        model.run(batch)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


# ------------------------------------------------------------------------------------------- the gate


@dataclass
class _Run:
    name: str
    version: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    out: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def check(self, check: str) -> Iterator[dict[str, Any]]:
        entry: dict[str, Any] = {"check": check, "ok": False}
        self.checks.append(entry)
        started = time.perf_counter()
        try:
            yield entry
            entry["ok"] = True
        finally:
            entry["ms"] = round((time.perf_counter() - started) * 1000, 1)


def evaluate(
    registry: Registry,
    name: str,
    version: str,
    *,
    threads: int = 0,
    max_bytes: int = 10_000_000,
    max_pixels: int = 40_000_000,
    cache_dir: Path | str | None = None,
    by: str = "gate",
    write: bool = True,
) -> dict[str, Any]:
    """Run the checks in order and return (and by default write) the evaluation of ``name`` ``version``."""
    started = time.perf_counter()
    run = _Run(name, version)
    policy = registry.load_policy(name)
    verdict, reasons = "passed", []
    with tempfile.TemporaryDirectory(prefix="xiaofei-gate-") as tmp:
        try:
            _checks(
                run,
                registry,
                policy,
                Path(tmp),
                threads or available_cpus(),
                max_bytes,
                max_pixels,
                Path(cache_dir) if cache_dir else Path(tmp) / "cache",
            )
        except Rejected as rejected:
            verdict = "rejected"
            reasons.append(
                {"check": rejected.check, "en": rejected.en, "zh": rejected.zh, **rejected.details}
            )
            log.warning(
                "model version rejected",
                extra={"model": name, "version": version, "check": rejected.check, "reason": rejected.en},
            )
    evaluation = {
        "name": name,
        "version": version,
        "verdict": verdict,
        "reasons": reasons,
        "checks": run.checks,
        **run.out,
        "policy": policy.to_json(),
        "timings_ms": {
            **{c["check"]: c["ms"] for c in run.checks},
            "total": round((time.perf_counter() - started) * 1000, 1),
        },
        "environment": _environment(threads),
        "evaluated_at": registry.now(),
        "evaluated_by": by,
    }
    if write:
        registry.write_evaluation(name, version, evaluation)
    return evaluation


def _checks(
    run: _Run,
    registry: Registry,
    policy: Policy,
    tmp: Path,
    threads: int,
    max_bytes: int,
    max_pixels: int,
    cache_dir: Path,
) -> None:
    name, version = run.name, run.version
    package = tmp / "candidate"
    package.mkdir()
    with run.check("manifest"):
        manifest = _check_manifest(registry, name, version, package)
    with run.check("sha256"):
        _check_sha256(registry, name, version, manifest, package)
    with run.check("onnx_load"):
        session = _check_loads(package / "model.onnx")
    with run.check("signature"):
        _check_signature(session, manifest)
    del session
    with run.check("labels"):
        serving_manifest = _check_labels(registry, name, manifest)
    with run.check("golden") as entry:
        items, golden_sha = _golden_items(registry, name, manifest)
        model = _load(package, threads)
        try:
            candidate = run_golden(model, items, max_bytes, max_pixels)
        except ModelUnavailable:  # ONNX Runtime failed on a real image (it ran on zeros)
            raise Rejected(
                "golden", "the model fails while reading golden images.", "模型在读取金标准图片时出错。"
            ) from None
        figures = _figures(candidate, items, manifest)
        run.out.update({"metrics": figures.pop("summary"), **figures})
        run.out["golden"] = {
            "items": sum(1 for i in items if i.label),
            "ood_items": sum(1 for i in items if not i.label),
            "index_sha256": golden_sha,
            "undecodable": candidate.failures,
        }
        run.out["serving"] = _serving_baseline(
            registry, name, serving_manifest, items, cache_dir, threads, max_bytes, max_pixels
        )
        entry["note"] = _check_golden(run.out, policy, manifest)
    with run.check("input_gate"):
        _check_input_gate(run.out["metrics"], candidate, manifest, policy)
    with run.check("reviewed") as entry:
        entry["note"] = _check_reviewed(
            run,
            registry,
            policy,
            model,
            manifest,
            serving_manifest,
            cache_dir,
            threads,
            max_bytes,
            max_pixels,
        )
    with run.check("latency"):
        samples = latency_samples(model, items, candidate.infer_ms)
        metrics = run.out["metrics"]
        metrics["p50_ms"] = round(statistics.median(samples), 2)
        metrics["p95_ms"] = round(percentile(samples, 95), 2)
        metrics["latency_samples"] = len(samples)
        if metrics["p95_ms"] > policy.max_p95_ms:
            raise Rejected(
                "latency",
                f"p95 latency {metrics['p95_ms']:.1f} ms is over the budget of {policy.max_p95_ms:.0f} ms.",
                f"p95 延迟 {metrics['p95_ms']:.1f} 毫秒，超过预算 {policy.max_p95_ms:.0f} 毫秒。",
            )
    with run.check("size"):
        size = (package / "model.onnx").stat().st_size
        run.out["metrics"]["model_bytes"] = size
        if size > policy.max_model_bytes:
            raise Rejected(
                "size",
                f"model.onnx is {size} bytes, over the limit of {policy.max_model_bytes}.",
                f"model.onnx 大小为 {size} 字节，超过上限 {policy.max_model_bytes}。",
            )


def _check_manifest(registry: Registry, name: str, version: str, package: Path) -> Manifest:
    try:
        data = registry.manifest_bytes(name, version)
    except NotFound:
        raise Rejected("manifest", "manifest.json is missing.", "缺少 manifest.json。") from None
    try:
        manifest = Manifest.loads(data)
        input_gate.check_manifest(manifest)  # the input gate's fitted section too
    except ManifestError as exc:
        raise Rejected("manifest", exc.en, exc.zh, **exc.details) from None
    if manifest.name != name or manifest.version != version:
        raise Rejected(
            "manifest",
            f"the manifest says {manifest.name} {manifest.version}, but it was published "
            f"as {name} {version}.",
            f"清单中的名称和版本（{manifest.name} {manifest.version}）与发布位置（{name} {version}）不一致。",
        )
    (package / "manifest.json").write_bytes(data)
    return manifest


def _check_sha256(registry: Registry, name: str, version: str, manifest: Manifest, package: Path) -> None:
    try:
        data = registry.store.get(version_key(name, version, "model.onnx"))
    except NotFound:
        raise Rejected("sha256", "model.onnx is missing.", "缺少 model.onnx。") from None
    (package / "model.onnx").write_bytes(data)
    actual = sha256_file(package / "model.onnx")
    if actual != manifest.sha256:
        raise Rejected(
            "sha256",
            "the sha256 of model.onnx does not match the manifest.",
            "model.onnx 的 sha256 与清单不一致。",
            expected=manifest.sha256,
            actual=actual,
        )


def _check_loads(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's exception types are not exported
        message = re.sub(
            r"(/[^\s:]+)+", "<file>", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        )
        raise Rejected(
            "onnx_load",
            f"ONNX Runtime cannot load model.onnx: {message[:200]}",
            "ONNX Runtime 无法加载 model.onnx。",
        ) from None


def _check_signature(session: Any, manifest: Manifest) -> None:
    problem = signature_mismatch(session, manifest)
    if problem is not None:
        raise Rejected("signature", *problem)


def _check_labels(registry: Registry, name: str, manifest: Manifest) -> Manifest | None:
    pointer = registry.pointer(name)
    if pointer is None or pointer.version == manifest.version:
        return None
    try:
        serving = registry.manifest(name, pointer.version)
    except (NotFound, ManifestError):
        return None
    if serving.label_ids != manifest.label_ids and manifest.raw.get("label_change") is not True:
        raise Rejected(
            "labels",
            f"labels {manifest.label_ids} differ from the serving version's "
            f'{serving.label_ids} (order matters); declare "label_change": true if intended.',
            f"类别 {manifest.label_ids} 与正在服务的版本 {serving.label_ids} 不一致（顺序也须一致）；"
            '如确为有意更改，请在清单中声明 "label_change": true。',
        )
    return serving


def _golden_items(registry: Registry, name: str, manifest: Manifest) -> tuple[list[GoldenItem], str]:
    if not registry.ensure_golden(name):
        raise Rejected(
            "golden",
            "there is no golden set for this model (xiaofei model golden NAME DIR).",
            "该模型没有金标准评估集（xiaofei model golden NAME DIR）。",
        )
    try:
        items, sha = load_golden(registry, name)
    except (NotFound, ValueError, KeyError, TypeError):
        raise Rejected(
            "golden",
            "the golden set is incomplete or its index.json is malformed.",
            "金标准集不完整或 index.json 格式错误。",
        ) from None
    unknown = sorted({i.label for i in items if i.label and i.label not in manifest.label_ids})
    if unknown:
        raise Rejected(
            "golden",
            f"golden labels {unknown} are not labels of this model.",
            f"金标准集中的类别 {unknown} 不是该模型的类别。",
        )
    if not any(i.label for i in items):
        raise Rejected("golden", "the golden set has no labelled images.", "金标准集没有带标签的图片。")
    return items, sha


def _load(package: Path, threads: int) -> OnnxModel:
    try:
        return OnnxModel.load(package, threads=threads)
    except ModelUnavailable as exc:
        reason = str(exc.details.get("reason", "the package cannot be loaded"))
        raise Rejected(
            "golden", f"the model cannot be loaded for evaluation: {reason}.", "无法加载模型进行评估。"
        ) from None


def _figures(run: GoldenRun, items: list[GoldenItem], manifest: Manifest) -> dict[str, Any]:
    labels = manifest.label_ids
    truth_labels = [i.label for i in items if i.label is not None and i.file not in run.failures]
    truth = np.asarray([labels.index(label) for label in truth_labels], dtype=np.int64)
    probabilities = np.vstack(run.probabilities) if run.probabilities else np.zeros((0, len(labels)))
    figures = classification_metrics(truth, probabilities, labels)
    summary = {k: figures.pop(k) for k in ("accuracy", "macro_f1", "ece", "ece_noise95")}
    summary["n"] = int(truth.size)
    summary["acceptance_rate"] = round(float(np.mean(run.accepted)), 4) if run.accepted else 0.0
    if run.accepted and any(run.accepted):
        accepted = np.asarray(run.accepted)
        summary["accuracy_accepted"] = round(float((probabilities.argmax(1) == truth)[accepted].mean()), 4)
    return {"summary": summary, **figures}


def _serving_baseline(
    registry: Registry,
    name: str,
    serving: Manifest | None,
    items: list[GoldenItem],
    cache_dir: Path,
    threads: int,
    max_bytes: int,
    max_pixels: int,
) -> dict[str, Any] | None:
    """The serving version's figures on the same golden images (None: no serving version to compare)."""
    if serving is None:
        return None
    try:
        model = OnnxModel.load(registry.fetch(name, serving.version, cache_dir), threads=threads)
    except AppError as exc:
        log.warning("serving version cannot be evaluated", extra={"model": name, "code": exc.code})
        return {"version": serving.version, "error": exc.code}
    run = run_golden(model, items, max_bytes, max_pixels)
    figures = _figures(run, items, serving)
    return {"version": serving.version, "metrics": figures["summary"], "per_class": figures["per_class"]}


def _check_golden(out: dict[str, Any], policy: Policy, manifest: Manifest) -> str:
    metrics, per_class = out["metrics"], out["per_class"]
    if out["golden"]["undecodable"]:
        raise Rejected(
            "golden",
            f"golden images cannot be read: {out['golden']['undecodable'][:5]}.",
            "金标准集中有无法读取的图片。",
        )
    floors: list[tuple[str, float, float, str]] = [
        ("accuracy", metrics["accuracy"], policy.min_accuracy, "准确率"),
        ("macro-F1", metrics["macro_f1"], policy.min_macro_f1, "宏平均 F1"),
    ]
    for label, figures in per_class.items():
        if figures["support"]:
            floors.append(
                (f"recall of '{label}'", figures["recall"], policy.recall_floor(label), f"'{label}' 召回率")
            )
    for what, value, floor, zh in floors:
        if value < floor:
            raise Rejected(
                "golden",
                f"{what} {value:.3f} is below the policy minimum {floor:.3f}.",
                f"{zh} {value:.3f} 低于策略下限 {floor:.3f}。",
                metric=what,
                value=value,
                limit=floor,
            )
    # On a small golden set a perfectly calibrated model still shows some ECE: only the excess counts.
    excess = round(max(0.0, metrics["ece"] - metrics["ece_noise95"]), 4)
    metrics["ece_excess"] = excess
    if excess > policy.max_ece:
        raise Rejected(
            "golden",
            f"calibration error (ECE) {metrics['ece']:.3f} exceeds what chance explains on "
            f"{metrics['n']} images ({metrics['ece_noise95']:.3f}) by {excess:.3f}, more than the policy "
            f"maximum {policy.max_ece:.3f}.",
            f"校准误差 (ECE) {metrics['ece']:.3f} 比 {metrics['n']} 张图片上的随机波动"
            f"（{metrics['ece_noise95']:.3f}）高出 {excess:.3f}，超过策略上限 {policy.max_ece:.3f}。",
            metric="ece",
            value=metrics["ece"],
            limit=policy.max_ece,
        )
    serving = out.get("serving") or {}
    base = serving.get("metrics")
    if not base:
        return (
            "no serving version to compare with"
            if not serving
            else "the serving version could not be evaluated"
        )
    for key, zh in (("accuracy", "准确率"), ("macro_f1", "宏平均 F1")):
        drop = base[key] - metrics[key]
        if drop > policy.max_regression:
            raise Rejected(
                "golden",
                f"{key} {metrics[key]:.3f} is worse than the serving version {serving['version']}"
                f" ({base[key]:.3f}) by more than {policy.max_regression:.3f}.",
                f"{zh} {metrics[key]:.3f} 比正在服务的版本 {serving['version']}（{base[key]:.3f}）"
                f"下降超过 {policy.max_regression:.3f}。",
                metric=key,
                value=metrics[key],
                serving=base[key],
            )
    return f"compared with serving version {serving['version']}"


def reviewed_score(
    model: OnnxModel, items: list[GoldenItem], max_bytes: int, max_pixels: int
) -> dict[str, Any]:
    """Agreement with the doctors' labels on the reviewed films: the share the model accepted *and*
    labelled as the doctor did (a refusal counts as a miss), and the mean of that share per class."""
    labels = model.manifest.label_ids
    run = run_golden(model, items, max_bytes, max_pixels)
    truth = [i.label for i in items if i.file not in run.failures]
    hits = [
        bool(ok) and labels[int(np.argmax(p))] == t
        for p, ok, t in zip(run.probabilities, run.accepted, truth, strict=True)
    ]
    per_class = {
        label: round(float(np.mean([h for h, t in zip(hits, truth, strict=True) if t == label])), 4)
        for label in labels
        if label in truth
    }
    return {
        "cases": len(hits),
        "agreement": round(float(np.mean(hits)), 4) if hits else 0.0,
        "balanced": round(float(np.mean(list(per_class.values()))), 4) if per_class else 0.0,
        "per_class": per_class,
        "refused": int(sum(1 for ok in run.accepted if not ok)),
    }


def _check_reviewed(
    run: _Run,
    registry: Registry,
    policy: Policy,
    model: OnnxModel,
    manifest: Manifest,
    serving: Manifest | None,
    cache_dir: Path,
    threads: int,
    max_bytes: int,
    max_pixels: int,
) -> str:
    items = [
        GoldenItem(f"record:{film.record_id}", film.label, film.data)  # a record id, never a user id
        for film in reviewed_films(registry.store, run.name)
        if film.label in manifest.label_ids
    ]
    out: dict[str, Any] = {"cases": len(items), "policy_max_regression": policy.reviewed_max_regression}
    run.out["reviewed"] = out
    if not items:
        return "no reviewed films on this site"
    out["candidate"] = reviewed_score(model, items, max_bytes, max_pixels)
    if serving is not None:
        try:
            baseline = OnnxModel.load(registry.fetch(run.name, serving.version, cache_dir), threads=threads)
            out["serving"] = {
                "version": serving.version,
                **reviewed_score(baseline, items, max_bytes, max_pixels),
            }
        except AppError as exc:
            out["serving"] = {"version": serving.version, "error": exc.code}
    if policy.reviewed_max_regression is None:
        return f"scored on {len(items)} reviewed films (the policy does not require it)"
    if len(items) < policy.reviewed_min_cases:
        return f"{len(items)} reviewed films, fewer than the policy's {policy.reviewed_min_cases}: not judged"
    base = out.get("serving") or {}
    if "agreement" not in base:
        return "no serving version to compare with on the reviewed films"
    for key, zh in (("agreement", "与医生的一致率"), ("balanced", "按类别平均的一致率")):
        drop = base[key] - out["candidate"][key]
        if drop > policy.reviewed_max_regression:
            raise Rejected(
                "reviewed",
                f"on {len(items)} films reviewed by this site's doctors, {key} {out['candidate'][key]:.3f} "
                f"is worse than the serving version {base['version']} ({base[key]:.3f}) by more than "
                f"{policy.reviewed_max_regression:.3f}.",
                f"在本站医生审阅的 {len(items)} 张片子上，{zh} {out['candidate'][key]:.3f} 比正在服务的版本 "
                f"{base['version']}（{base[key]:.3f}）下降超过 {policy.reviewed_max_regression:.3f}。",
                metric=f"reviewed_{key}",
                value=out["candidate"][key],
                serving=base[key],
            )
    return f"compared with serving version {base['version']} on {len(items)} reviewed films"


def _check_input_gate(metrics: dict[str, Any], run: GoldenRun, manifest: Manifest, policy: Policy) -> None:
    if metrics["acceptance_rate"] < policy.min_acceptance_rate:
        raise Rejected(
            "input_gate",
            f"the input gate accepts only {metrics['acceptance_rate']:.1%} of the golden "
            f"images (policy minimum {policy.min_acceptance_rate:.1%}).",
            f"输入检查只接受了 {metrics['acceptance_rate']:.1%} 的金标准图片（策略下限 "
            f"{policy.min_acceptance_rate:.1%}）。",
        )
    if run.ood_refused:
        metrics["rejection_rate"] = round(float(np.mean(run.ood_refused)), 4)
        metrics["rejection_source"] = "golden"
    else:
        rate = manifest_rate(manifest.raw, "rejection_non_target", "rejection_rate")
        metrics["rejection_rate"] = rate
        metrics["rejection_source"] = "manifest" if rate is not None else None
    if policy.min_rejection_rate is None:
        return
    rate = metrics["rejection_rate"]
    if rate is None:
        raise Rejected(
            "input_gate",
            "the input gate's rejection rate is unknown: the golden set has no "
            "out-of-domain images and the manifest reports none.",
            "无法得知输入检查的拒绝率：金标准集没有域外图片，清单中也没有记录。",
        )
    if rate < policy.min_rejection_rate:
        raise Rejected(
            "input_gate",
            f"the input gate refuses only {rate:.1%} of out-of-domain images "
            f"(policy minimum {policy.min_rejection_rate:.1%}).",
            f"输入检查只拒绝了 {rate:.1%} 的域外图片（策略下限 {policy.min_rejection_rate:.1%}）。",
        )


def manifest_rate(raw: dict[str, Any], *keys: str) -> float | None:
    """A rate the pipeline measured and recorded in the manifest (``metrics.gate.<key>``, first key found)."""
    found = raw.get("metrics")
    metrics: dict[str, Any] = found if isinstance(found, dict) else {}
    for node in (metrics.get("gate"), metrics):
        if not isinstance(node, dict):
            continue
        for key in keys:
            value = node.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
                return float(value)
    return None


def _environment(threads: int) -> dict[str, Any]:
    import onnxruntime as ort

    return {"cpus": available_cpus(), "threads": threads or available_cpus(), "onnxruntime": ort.__version__}
